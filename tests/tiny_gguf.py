"""Test helper: small but real GGUF files (a chat model, a vision projector) via gguf."""

from __future__ import annotations

from pathlib import Path


def write_gguf(path: Path, *, arch: str = "gemma3", name: str = "Tiny Gemma",
               size: int = 1 << 20, seed: int = 0) -> Path:
    """Write a valid GGUF of about `size` bytes: metadata and one seeded float32 tensor.

    arch "clip" makes a vision projector (what the registry pairs with a model as its mmproj).
    """
    import numpy as np
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), arch=arch)
    writer.add_name(name)
    if arch != "clip":
        writer.add_context_length(8192)
        writer.add_file_type(15)  # Q4_K_M, as the file name of a real download would say
    values = np.random.default_rng(seed).standard_normal(max(size // 4, 32), dtype=np.float32)
    writer.add_tensor("v.weight" if arch == "clip" else "token_embd.weight", values)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
