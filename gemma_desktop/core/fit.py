"""Memory fit: weights + KV cache + vision projector + compute buffers, against this machine."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gemma_desktop.core.catalog import Architecture, CatalogModel, ModelFile

GIB = 1 << 30
MIB = 1 << 20
DEFAULT_UBATCH = 512
# Bytes per cached value: ggml's q8_0 and q4_0 store 32 values in 34 and 18 bytes.
CACHE_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
# Kept free for the OS, the app and the document reader when deciding what fits.
SYSTEM_RESERVE = 1 * GIB
# A recommendation leaves this share of the budget unused: other programs and long chats grow.
COMFORT = 0.9
FIXED_OVERHEAD = 64 * MIB
PREFERRED_CONTEXT = 32768
CONTEXT_STEPS = (4096, 8192, 16384, 32768, 65536, 131072, 262144)


@dataclass(frozen=True)
class FitEstimate:
    """What a model needs at a context size, and whether this machine has it."""

    model_id: str
    quant: str
    n_ctx: int
    cache_type: str
    weights_bytes: int
    kv_bytes: int
    mmproj_bytes: int
    overhead_bytes: int
    total_bytes: int
    budget_bytes: int | None
    fits: bool | None
    n_gpu_layers: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


def kv_bytes(
    arch: Architecture,
    n_ctx: int,
    cache_type: str = "f16",
    *,
    n_ubatch: int = DEFAULT_UBATCH,
    swa_full: bool = False,
) -> int:
    """KV cache bytes: K and V for every layer that keeps its own cache.

    Sliding-window layers hold window + one batch of cells when swa_full is off (llama.cpp's
    rule); global layers hold the whole context.
    """
    per_value = CACHE_BYTES[cache_type]
    sliding_cells = n_ctx if swa_full else min(n_ctx, arch.sliding_window + n_ubatch)
    sliding = arch.kv_sliding_layers * arch.kv_heads_sliding * arch.head_dim_sliding
    global_ = arch.kv_global_layers * arch.kv_heads_global * arch.head_dim_global
    return int(2 * per_value * (sliding * sliding_cells + global_ * n_ctx))


def compute_bytes(arch: Architecture, n_ubatch: int = DEFAULT_UBATCH) -> int:
    """llama.cpp's compute buffer: one batch of logits over the vocabulary plus activations.

    Measured on the starter: 514.5 MiB = 4 x 512 x (262,144 + 2 x 640) bytes, whatever n_ctx.
    """
    return 4 * n_ubatch * (arch.vocab + 2 * arch.hidden)


def estimate(
    model: CatalogModel,
    file: ModelFile | None = None,
    n_ctx: int | None = None,
    *,
    cache_type: str = "f16",
    with_mmproj: bool = False,
    hardware: Any = None,
) -> FitEstimate:
    """The memory a model needs at `n_ctx` and, given a hardware probe, whether it fits."""
    file = file or model.file()
    n_ctx = min(n_ctx or model.max_context, model.max_context)
    weights = file.size
    kv = kv_bytes(model.arch, n_ctx, cache_type)
    mmproj = file.mmproj_size if with_mmproj else 0
    overhead = compute_bytes(model.arch) + FIXED_OVERHEAD
    total = weights + kv + mmproj + overhead
    notes: list[str] = []
    if model.arch.experts:
        notes.append(
            f"A mixture of experts: each token uses only {model.arch.experts_active} of its "
            f"{model.arch.experts} experts, so it runs fast, but all {model.arch.experts} must "
            "be in memory: it needs the memory of its full size, not of a small model."
        )
    budget, fits, gpu_layers = None, None, 0
    if hardware is not None:
        budget, gpu_layers = _budget(hardware, model, weights, total)
        fits = total <= budget
    return FitEstimate(
        model.id, file.quant, n_ctx, cache_type, weights, kv, mmproj, overhead, total, budget,
        fits, gpu_layers, tuple(notes),
    )


def _budget(hardware: Any, model: CatalogModel, weights: int, total: int) -> tuple[int, int]:
    """(bytes available to the model, layers to offload to the GPU)."""
    ram = max(0, int(hardware.available_ram) - SYSTEM_RESERVE)
    gpus = [g for g in hardware.gpus if not g.unified] if hardware.gpu_offload else []
    unified = [g for g in hardware.gpus if g.unified] if hardware.gpu_offload else []
    if unified:
        # Apple silicon: one pool; llama.cpp may use about three quarters of it for the GPU.
        return ram, model.arch.layers if total <= int(unified[0].total_bytes * 0.75) else 0
    if not gpus:
        return ram, 0
    vram = sum(int(g.free_bytes if g.free_bytes is not None else g.total_bytes) for g in gpus)
    vram = int(vram * 0.9)  # drivers and other programs keep some
    per_layer = weights / model.arch.layers
    rest = total - weights  # KV and buffers go with the offloaded layers; counted on the GPU
    layers = int(max(0, vram - rest) // per_layer) if per_layer else 0
    return ram + vram, min(model.arch.layers, layers)


def largest_context(
    model: CatalogModel,
    file: ModelFile | None,
    hardware: Any,
    cache_type: str = "f16",
    *,
    share: float = 1.0,
    with_mmproj: bool = False,
) -> int | None:
    """The largest standard context size that fits in `share` of this machine's budget."""
    best = None
    for n_ctx in CONTEXT_STEPS:
        if n_ctx > model.max_context:
            break
        fit = estimate(model, file, n_ctx, cache_type=cache_type, hardware=hardware,
                       with_mmproj=with_mmproj)
        if fit.budget_bytes is not None and fit.total_bytes <= fit.budget_bytes * share:
            best = n_ctx
    return best


@dataclass(frozen=True)
class Recommendation:
    """The model, file and context suggested for this machine, with the reason in words."""

    model: CatalogModel
    file: ModelFile
    n_ctx: int
    estimate: FitEstimate
    reason: str


def recommend(models: tuple[CatalogModel, ...], hardware: Any) -> Recommendation | None:
    """The most capable Gemma 4 model that fits, with room to spare, with a 32K context or
    more at 4 bits or more; else the first that fits at all; None when nothing fits."""
    order = {"logic": 0, "throughput": 1, "edge": 2}
    candidates = sorted(
        (m for m in models if m.rung in order),
        key=lambda m: (order[m.rung], -m.files[0].size),
    )
    fallback: Recommendation | None = None
    for model in candidates:
        for file in sorted(model.files, key=lambda f: -f.size):
            if file.approximate:
                continue
            # The projector is downloaded with the model so it can read images: count it.
            vision = file.mmproj_file is not None
            n_ctx = largest_context(model, file, hardware, share=COMFORT, with_mmproj=vision)
            if n_ctx is None:
                continue
            fit = estimate(model, file, n_ctx, hardware=hardware, with_mmproj=vision)
            choice = Recommendation(model, file, n_ctx, fit, _reason(model, file, fit))
            # Long documents are the point, and 2- and 3-bit files lose too much quality:
            # those only when nothing better fits.
            if n_ctx >= PREFERRED_CONTEXT and not _low_bit(file):
                return choice
            fallback = fallback or choice
    return fallback


def _low_bit(file: ModelFile) -> bool:
    return any(tag in file.quant.upper() for tag in ("Q2", "Q3", "IQ1", "IQ2"))


def _reason(model: CatalogModel, file: ModelFile, fit: FitEstimate) -> str:
    """One plain sentence on why this model suits the machine."""
    needs = fit.total_bytes / GIB
    has = (fit.budget_bytes or 0) / GIB
    where = "on the GPU" if fit.n_gpu_layers else "on the CPU"
    return (
        f"{model.name} ({file.quant}) needs about {needs:.1f} GiB with a "
        f"{fit.n_ctx:,}-token context and this machine has about {has:.1f} GiB free for it; "
        f"it runs {where}."
    )
