"""The model catalog: Gemma 4 variants, their files and the numbers the memory estimate needs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from gemma_desktop.core.errors import UserError


@dataclass(frozen=True)
class Architecture:
    """What decides a model's KV cache and compute buffers."""

    layers: int
    sliding_window: int
    kv_sliding_layers: int  # layers with their own sliding-window KV (shared-KV layers excluded)
    kv_global_layers: int
    kv_heads_sliding: int
    kv_heads_global: int
    head_dim_sliding: int
    head_dim_global: int
    hidden: int
    vocab: int
    experts: int = 0
    experts_active: int = 0


@dataclass(frozen=True)
class ModelFile:
    """One downloadable GGUF (and its vision projector, when there is one)."""

    quant: str
    repo: str
    file: str
    size: int
    approximate: bool = False
    mmproj_file: str | None = None
    mmproj_size: int = 0
    bundled: bool = False


@dataclass(frozen=True)
class CatalogModel:
    """A model variant with its files."""

    id: str
    name: str
    rung: str  # "edge", "throughput", "logic" or "starter"
    capabilities: tuple[str, ...]
    max_context: int
    arch: Architecture
    files: tuple[ModelFile, ...]

    def file(self, quant: str | None = None) -> ModelFile:
        """The file for a quantisation (the first listed when none is asked for)."""
        if quant is None:
            return self.files[0]
        for candidate in self.files:
            if candidate.quant.lower() == quant.lower():
                return candidate
        known = ", ".join(f.quant for f in self.files)
        raise UserError(f"{self.name} has no {quant} file.", hint=f"Choose one of: {known}.")


def _model(data: dict[str, Any]) -> CatalogModel:
    files = []
    for item in data["files"]:
        mmproj = item.get("mmproj") or {}
        files.append(
            ModelFile(
                quant=item["quant"], repo=item["repo"], file=item["file"], size=int(item["size"]),
                approximate=bool(item.get("approximate", False)),
                mmproj_file=mmproj.get("file"), mmproj_size=int(mmproj.get("size", 0)),
                bundled=bool(item.get("bundled", False)),
            )
        )
    return CatalogModel(
        id=data["id"], name=data["name"], rung=data["rung"],
        capabilities=tuple(data["capabilities"]), max_context=int(data["max_context"]),
        arch=Architecture(**data["arch"]), files=tuple(files),
    )


def load_catalog() -> tuple[CatalogModel, ...]:
    """The catalog shipped with the app (resources/catalog.json)."""
    text = resources.files("gemma_desktop.resources").joinpath("catalog.json").read_text("utf-8")
    return tuple(_model(item) for item in json.loads(text)["models"])


def find_model(name: str) -> CatalogModel:
    """A catalog model by id or name, case-insensitive ("e4b" and "gemma-4-e4b" both work)."""
    wanted = name.strip().lower()
    models = load_catalog()
    for model in models:
        if wanted in (model.id, model.name.lower()) or model.id.endswith("-" + wanted):
            return model
    known = ", ".join(model.id for model in models)
    raise UserError(f"No model called {name!r} in the catalog.", hint=f"Known models: {known}.")
