"""Find GGUF models the user already has (Hugging Face cache, LM Studio) to use in place."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HF_CACHE = "huggingface-cache"
LM_STUDIO = "lm-studio"

MIN_SIZE = 1024 * 1024  # smaller files are test fixtures or vocab-only, not chat models
PARTIAL_SUFFIXES = (".incomplete", ".part", ".partial", ".download")


@dataclass(frozen=True)
class FoundModel:
    """A GGUF file found on disk; `path` is as found (may be a symlink), `size` is the target's."""

    path: Path
    source: str
    size: int
    name: str


def default_locations(
    home: Path | None = None, env: Mapping[str, str] | None = None
) -> list[tuple[str, Path]]:
    """Return (source, folder) pairs where other tools keep downloaded GGUF files."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    hub = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if hub:
        hf = Path(hub).expanduser()
    elif env.get("HF_HOME"):
        hf = Path(env["HF_HOME"]).expanduser() / "hub"
    elif env.get("XDG_CACHE_HOME"):
        hf = Path(env["XDG_CACHE_HOME"]).expanduser() / "huggingface" / "hub"
    else:
        hf = home / ".cache" / "huggingface" / "hub"
    # The same relative paths hold on Windows, where home is %USERPROFILE%.
    return [
        (HF_CACHE, hf),
        (LM_STUDIO, home / ".lmstudio" / "models"),
        (LM_STUDIO, home / ".cache" / "lm-studio" / "models"),
    ]


def find_ggufs(
    locations: Sequence[tuple[str, Path]], *, limit: int = 500, max_depth: int = 8
) -> list[FoundModel]:
    """Return chat-model GGUF files under the locations, sorted by source then name."""
    found: list[FoundModel] = []
    seen: set[Path] = set()
    for source, root in locations:
        if len(found) >= limit:
            break
        for path in _walk(root, max_depth):
            model = _examine(path, source, seen)
            if model is not None:
                found.append(model)
                if len(found) >= limit:
                    break
    return _sorted(found)


def _walk(root: Path, max_depth: int) -> Iterator[Path]:
    """Yield candidate files under root without following directory symlinks (loops)."""
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:  # missing, unreadable, or not a folder: nothing to offer there
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < max_depth:
                        stack.append((Path(entry.path), depth + 1))
                elif _wanted_name(entry.name):
                    yield Path(entry.path)
            except OSError:
                continue


def _wanted_name(name: str) -> bool:
    """True for a finished GGUF download that is not a vision projector."""
    lower = name.lower()
    if lower.endswith(PARTIAL_SUFFIXES) or not lower.endswith(".gguf"):
        return False
    # mmproj files pair with a chat model but cannot be loaded as one.
    return "mmproj" not in lower


def _examine(path: Path, source: str, seen: set[Path]) -> FoundModel | None:
    """Return the model at path if it is a real, big enough file not seen before."""
    try:
        # A file symlink is accepted: the HF cache links snapshots/ into blobs/.
        info = path.stat()
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):  # broken link or link loop
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size < MIN_SIZE or resolved in seen:
        return None
    seen.add(resolved)
    return FoundModel(path=path, source=source, size=info.st_size, name=path.name)


def _sorted(found: list[FoundModel]) -> list[FoundModel]:
    """Order for display: by source, then file name, then path for a stable tie-break."""
    return sorted(found, key=lambda m: (m.source, m.name.lower(), str(m.path)))
