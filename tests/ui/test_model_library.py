"""The model library with real widgets, a real local download server and real GGUF files."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QLabel

from gemma_desktop.core.catalog import CatalogModel, ModelFile, load_catalog
from gemma_desktop.core.discover import HF_CACHE, LM_STUDIO
from gemma_desktop.core.fit import COMFORT, GIB, SYSTEM_RESERVE, estimate, recommend
from gemma_desktop.core.models import ModelRegistry
from gemma_desktop.core.paths import resolve_paths
from gemma_desktop.core.secrets import NOT_SET, SAVED, SESSION_ONLY, TokenStore
from gemma_desktop.ui.download_manager import DownloadManager, download_key
from gemma_desktop.ui.first_run import format_size
from gemma_desktop.ui.model_library import (
    CHECKING,
    FILE_HINT,
    NOTHING_FOUND,
    PROJECTOR_HINT,
    REPO_HINT,
    ModelCard,
    ModelLibraryDialog,
)
from gemma_desktop.ui.workers import TaskRunner
from tests.hf_server import FILENAME, REPO, HFServer, hub_online
from tests.tiny_gguf import write_gguf
from tests.ui.test_hardware_view import FakeHardware
from tests.unit.test_secrets import BrokenKeyring, MemoryKeyring

MMPROJ = "mmproj-gemma-test-Q8_0.gguf"
OTHER = "other-test-Q4_K_M.gguf"
SERVED_ID = "gemma-4-e4b"  # the card whose file the local server holds
TOKEN = "hf_SecretTokenValue123"
HARDWARE = FakeHardware(available_ram=12 * GIB, total_ram=16 * GIB)
GEMMA4 = ["gemma-4-e2b", "gemma-4-e4b", "gemma-4-26b-a4b", "gemma-4-31b"]
SLOW = (64 << 10, 0.02)  # about 3 MB/s: slow enough to pause, quick enough for the tests
FAST = (1 << 20, 0.005)


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    hub_online(monkeypatch)  # the downloads ask the local server through huggingface_hub


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Real GGUF bytes: a 4 MB model, its projector and a second model for the Hub section."""
    folder = tmp_path_factory.mktemp("gguf")
    return {
        FILENAME: write_gguf(folder / FILENAME, size=4 << 20, seed=1).read_bytes(),
        MMPROJ: write_gguf(folder / MMPROJ, arch="clip", name="Tiny projector",
                           size=256 << 10, seed=2).read_bytes(),
        OTHER: write_gguf(folder / OTHER, name="Other tiny model", size=512 << 10,
                          seed=3).read_bytes(),
    }


def served_catalog(files: dict[str, bytes]) -> tuple[CatalogModel, ...]:
    """The real catalog, with E4B's only file the model (and projector) the server holds,
    and E2B's only file the other served model."""
    e4b = ModelFile("Q4_K_M", REPO, FILENAME, size=len(files[FILENAME]),
                    mmproj_file=MMPROJ, mmproj_size=len(files[MMPROJ]))
    e2b = ModelFile("Q4_K_M", REPO, OTHER, size=len(files[OTHER]))
    served = {SERVED_ID: e4b, "gemma-4-e2b": e2b}
    return tuple(
        dataclasses.replace(m, files=(served[m.id],)) if m.id in served else m
        for m in load_catalog()
    )


def checked(hardware: Any = HARDWARE) -> Callable[[Path], tuple[Any, Any, Any]]:
    """A check that reports a fake computer and the real recommendation for it."""
    models = load_catalog()
    return lambda _models_dir: (hardware, models, recommend(models, hardware))


class Library:
    """The dialog's collaborators on tmp_path: runner, registry, token store, managers."""

    def __init__(self, qtbot: Any, tmp_path: Path) -> None:
        self.qtbot = qtbot
        self.tmp_path = tmp_path
        self.paths = resolve_paths(tmp_path / "data").ensure()
        self.models_dir = self.paths.models
        self.runner = TaskRunner()
        self.registry = ModelRegistry(self.paths)
        self.keyring = MemoryKeyring()
        self.tokens = TokenStore(self.keyring)
        self.managers: list[DownloadManager] = []
        self.empty = tmp_path / "nothing here"

    def manager(self, endpoint: str = "http://127.0.0.1:9") -> DownloadManager:
        self.managers.append(DownloadManager(self.models_dir, endpoint=endpoint))
        return self.managers[-1]

    def dialog(self, downloads: DownloadManager, *, keep: bool = True,
               **kwargs: Any) -> ModelLibraryDialog:
        kwargs.setdefault("check", checked())
        kwargs.setdefault("locations", lambda: [(HF_CACHE, self.empty)])
        dialog = ModelLibraryDialog(self.runner, downloads, self.registry, self.tokens,
                                    self.models_dir, **kwargs)
        if keep:
            self.qtbot.addWidget(dialog)
        dialog.show()
        return dialog

    def close(self) -> None:
        for manager in self.managers:
            manager.shutdown()
        self.runner.shutdown()


@pytest.fixture
def library(qtbot: Any, tmp_path: Path) -> Iterator[Library]:
    parts = Library(qtbot, tmp_path)
    yield parts
    parts.close()


def served_card(qtbot: Any, dialog: ModelLibraryDialog) -> ModelCard:
    """The E4B card, once it has looked in the models folder."""
    card = dialog.cards[SERVED_ID]
    qtbot.waitUntil(lambda: card.flow.state != "loading", timeout=5_000)
    return card


def wait_rows(qtbot: Any, dialog: ModelLibraryDialog, count: int) -> None:
    """Until the files found on disk are listed and shown (rows appear on the next pass)."""
    rows = dialog.found
    qtbot.waitUntil(lambda: len(rows.rows) == count and all(r.isVisible() for r in rows.rows),
                    timeout=5_000)


def get_ranges(server: HFServer, name: str) -> list[str | None]:
    """The Range header of every GET of one file."""
    return [g.headers.get("range") for g in server.gets() if g.path.endswith("/" + name)]


# Section 1: the Gemma 4 cards


def test_cards_show_each_model_with_its_fit_and_the_recommended_badge(
    qtbot: Any, library: Library
) -> None:
    release = threading.Event()
    result = checked()(library.models_dir)

    def slow_check(_models_dir: Path) -> Any:
        release.wait(5)
        return result

    dialog = library.dialog(library.manager(), check=slow_check)
    assert dialog.windowTitle() == "Models"
    assert list(dialog.cards) == GEMMA4  # the starter has no card
    assert all(card.verdict.text() == CHECKING for card in dialog.cards.values())
    release.set()
    qtbot.waitUntil(lambda: all(c.verdict.text() != CHECKING for c in dialog.cards.values()),
                    timeout=5_000)
    pick = result[2]
    assert pick is not None
    for model_id, card in dialog.cards.items():
        fit = estimate(card.model, card.file(), 8192, with_mmproj=card.with_mmproj(),
                       hardware=HARDWARE)
        assert fit.budget_bytes is not None
        if not fit.fits:
            expected = "Too big for this computer's memory"
        elif fit.total_bytes > fit.budget_bytes * COMFORT:
            expected = "Tight"
        else:
            expected = "Fits comfortably"
        assert card.verdict.text() == expected, model_id
        assert "GiB" in card.verdict.toolTip() and "8K" in card.verdict.toolTip()
        assert card.badge.isVisible() == (model_id == pick.model.id)
    assert dialog.cards["gemma-4-e2b"].verdict.text() == "Fits comfortably"
    assert dialog.cards["gemma-4-31b"].verdict.text() == "Too big for this computer's memory"
    assert dialog.cards[pick.model.id].file() == pick.file  # the recommended file is chosen
    chips = [c.text() for c in dialog.cards["gemma-4-e2b"].capabilities]
    assert chips == ["Text", "Images", "Audio", "Thinking"]
    assert "Audio" not in [c.text() for c in dialog.cards["gemma-4-31b"].capabilities]


def test_the_quantisation_chooser_and_the_image_part(qtbot: Any, library: Library) -> None:
    dialog = library.dialog(library.manager())
    card = dialog.cards["gemma-4-e2b"]
    qtbot.waitUntil(lambda: card.verdict.text() != CHECKING and card.flow.state == "idle",
                    timeout=5_000)
    assert card.combo.count() == len(card.model.files)
    assert card.file().mmproj_file is None and not card.vision.isVisible()
    index = next(i for i, f in enumerate(card.model.files) if f.mmproj_file)
    card.combo.setCurrentIndex(index)
    card.combo.activated.emit(index)
    assert card.vision.isVisible() and card.vision.isChecked()
    assert card.vision.text() == "Include image understanding (+557 MB)"
    assert [s.filename for s in card.steps()] == [card.file().file, card.file().mmproj_file]
    total = card.file().size + card.file().mmproj_size
    assert card.panel.status.text() == f"{format_size(total)} to download"
    card.vision.click()
    assert [s.filename for s in card.steps()] == [card.file().file]
    assert card.panel.download_button.isVisible()


def test_a_verdict_is_tight_when_little_memory_is_left(qtbot: Any, library: Library) -> None:
    e4b = next(m for m in load_catalog() if m.id == "gemma-4-e4b")
    needs = estimate(e4b, e4b.files[0], 8192, with_mmproj=True).total_bytes
    budget = int(needs / ((1 + COMFORT) / 2))  # between comfortable and too big
    tight = FakeHardware(available_ram=budget + SYSTEM_RESERVE, total_ram=32 * GIB)
    dialog = library.dialog(library.manager(), check=checked(tight))
    card = dialog.cards["gemma-4-e4b"]
    qtbot.waitUntil(lambda: card.verdict.text() != CHECKING, timeout=5_000)
    card.combo.setCurrentIndex(0)
    card.combo.activated.emit(0)
    assert card.verdict.text() == "Tight"
    assert "little memory to spare" in card.verdict.toolTip()


def test_download_the_model_and_its_projector_then_it_is_ready(
    qtbot: Any, library: Library, served: dict[str, bytes]
) -> None:
    with HFServer(served[FILENAME], files={MMPROJ: served[MMPROJ]}) as server:
        dialog = library.dialog(library.manager(server.base), catalog=served_catalog(served))
        card = served_card(qtbot, dialog)
        assert card.flow.state == "idle" and card.vision.isChecked()
        with qtbot.waitSignal(dialog.model_ready, timeout=5_000) as ready:
            card.panel.download_button.click()
            assert card.flow.state == "downloading" and not card.combo.isEnabled()
        order = [g.path.rsplit("/", 1)[-1] for g in server.gets()]
    entry = ready.args[0]
    model, projector = library.models_dir / FILENAME, library.models_dir / MMPROJ
    assert model.read_bytes() == served[FILENAME]
    assert projector.read_bytes() == served[MMPROJ]
    assert order == [FILENAME, MMPROJ]  # the model first
    assert entry.path == model.resolve() and entry.mmproj == projector.resolve()
    assert [(e.id, e.mmproj) for e in library.registry.list()] == [(entry.id, entry.mmproj)]
    assert card.flow.state == "installed" and card.panel.status.text() == "✓ Installed"
    assert card.panel.use_button.isVisible() and card.combo.isEnabled()
    with qtbot.waitSignal(dialog.model_ready, timeout=5_000) as again:
        card.panel.use_button.click()
    assert again.args[0].id == entry.id
    qtbot.waitUntil(lambda: library.runner.pending == 0, timeout=5_000)
    for _ in range(2):  # another choice and back: the card knows the files are there now
        card.vision.click()
        assert card.flow.state == "installed"


def test_pause_then_resume_carries_on_from_the_part(
    qtbot: Any, library: Library, served: dict[str, bytes]
) -> None:
    with HFServer(served[FILENAME], files={MMPROJ: served[MMPROJ]}) as server:
        server.behaviour.throttle = SLOW
        dialog = library.dialog(library.manager(server.base), catalog=served_catalog(served))
        card = served_card(qtbot, dialog)
        card.panel.download_button.click()
        qtbot.waitUntil(lambda: card.panel.bar.value() > 100, timeout=5_000)
        assert " of " in card.panel.status.text()
        card.panel.pause_button.click()
        qtbot.waitUntil(lambda: card.flow.state == "paused", timeout=5_000)
        part = library.models_dir / (FILENAME + ".part")
        kept = part.stat().st_size
        assert 0 < kept < len(served[FILENAME])
        assert card.panel.status.text().startswith("Paused at ")
        assert card.panel.resume_button.isVisible() and not card.panel.pause_button.isVisible()
        server.behaviour.throttle = FAST
        with qtbot.waitSignal(dialog.model_ready, timeout=5_000):
            card.panel.resume_button.click()
        ranges = get_ranges(server, FILENAME)
    assert ranges[-1] == f"bytes={kept}-"
    assert (library.models_dir / FILENAME).read_bytes() == served[FILENAME]
    assert not part.exists()


def test_a_part_left_by_a_previous_run_shows_as_paused_and_resumes(
    qtbot: Any, library: Library, served: dict[str, bytes]
) -> None:
    kept = 1 << 20
    part = library.models_dir / (FILENAME + ".part")
    part.write_bytes(served[FILENAME][:kept])
    with HFServer(served[FILENAME], files={MMPROJ: served[MMPROJ]}) as server:
        dialog = library.dialog(library.manager(server.base), catalog=served_catalog(served))
        card = served_card(qtbot, dialog)
        total = len(served[FILENAME]) + len(served[MMPROJ])
        assert card.flow.state == "paused"
        assert card.panel.status.text() == f"Paused at {format_size(kept)} of {format_size(total)}"
        assert card.panel.bar.isHidden() and card.panel.resume_button.isVisible()
        with qtbot.waitSignal(dialog.model_ready, timeout=5_000) as ready:
            card.panel.resume_button.click()
        ranges = get_ranges(server, FILENAME)
    assert ranges == [f"bytes={kept}-"]
    assert ready.args[0].mmproj == (library.models_dir / MMPROJ).resolve()


def test_a_projector_part_left_by_a_previous_run_resumes_alone(
    qtbot: Any, library: Library, served: dict[str, bytes]
) -> None:
    (library.models_dir / FILENAME).write_bytes(served[FILENAME])  # the model had finished
    kept = 100_000
    (library.models_dir / (MMPROJ + ".part")).write_bytes(served[MMPROJ][:kept])
    with HFServer(served[FILENAME], files={MMPROJ: served[MMPROJ]}) as server:
        dialog = library.dialog(library.manager(server.base), catalog=served_catalog(served))
        card = served_card(qtbot, dialog)
        done = len(served[FILENAME]) + kept
        total = len(served[FILENAME]) + len(served[MMPROJ])
        assert card.flow.state == "paused" and card.vision.isChecked()
        assert card.panel.status.text() == f"Paused at {format_size(done)} of {format_size(total)}"
        with qtbot.waitSignal(dialog.model_ready, timeout=5_000) as ready:
            card.panel.resume_button.click()
        fetched = [(g.path.rsplit("/", 1)[-1], g.headers.get("range")) for g in server.gets()]
    assert fetched == [(MMPROJ, f"bytes={kept}-")]  # the finished model is not fetched again
    assert ready.args[0].mmproj == (library.models_dir / MMPROJ).resolve()


def test_a_second_download_pauses_the_first_until_it_is_resumed(
    qtbot: Any, library: Library, served: dict[str, bytes]
) -> None:
    with HFServer(served[FILENAME], files={MMPROJ: served[MMPROJ], OTHER: served[OTHER]}
                  ) as server:
        server.behaviour.throttle = SLOW
        downloads = library.manager(server.base)
        dialog = library.dialog(downloads, catalog=served_catalog(served))
        first, second = served_card(qtbot, dialog), dialog.cards["gemma-4-e2b"]
        first.panel.download_button.click()
        qtbot.waitUntil(lambda: first.panel.bar.value() > 20, timeout=5_000)
        second.panel.download_button.click()
        qtbot.waitUntil(lambda: first.flow.state == "paused", timeout=5_000)
        assert second.flow.state == "downloading"
        assert first.panel.status.text().startswith("Paused at ")
        first.panel.resume_button.click()  # takes the worker back
        qtbot.waitUntil(lambda: second.flow.state == "paused", timeout=5_000)
        assert first.flow.state == "downloading"
        server.behaviour.throttle = FAST
        with qtbot.waitSignal(dialog.model_ready, timeout=5_000):
            pass
        second.panel.resume_button.click()
        qtbot.waitUntil(lambda: second.flow.state == "installed", timeout=5_000)
    assert {e.path.name for e in library.registry.list()} == {FILENAME, OTHER}


def test_cancel_deletes_the_part_and_offers_the_download_again(
    qtbot: Any, library: Library, served: dict[str, bytes]
) -> None:
    with HFServer(served[FILENAME], files={MMPROJ: served[MMPROJ]}) as server:
        server.behaviour.throttle = SLOW
        downloads = library.manager(server.base)
        dialog = library.dialog(downloads, catalog=served_catalog(served))
        card = served_card(qtbot, dialog)
        card.panel.download_button.click()
        qtbot.waitUntil(lambda: card.panel.bar.value() > 50, timeout=5_000)
        card.panel.cancel_button.click()
        qtbot.waitUntil(lambda: card.flow.state == "idle", timeout=5_000)
    assert not (library.models_dir / (FILENAME + ".part")).exists()
    assert not (library.models_dir / FILENAME).exists()
    assert downloads.active() is None
    assert card.panel.download_button.isVisible() and card.combo.isEnabled()
    assert library.registry.list() == []


def test_a_damaged_download_fails_and_nothing_is_kept_or_added(
    qtbot: Any, library: Library, served: dict[str, bytes]
) -> None:
    with HFServer(served[FILENAME], files={MMPROJ: served[MMPROJ]}) as server:
        server.behaviour.corrupt = True
        dialog = library.dialog(library.manager(server.base), catalog=served_catalog(served))
        card = served_card(qtbot, dialog)
        ready: list[Any] = []
        dialog.model_ready.connect(ready.append)
        card.panel.download_button.click()
        qtbot.waitUntil(lambda: card.flow.state == "failed", timeout=5_000)
    assert "damaged" in card.panel.error.text() and card.panel.error.isVisible()
    assert card.panel.retry_button.isVisible()
    assert not (library.models_dir / FILENAME).exists()
    assert not (library.models_dir / (FILENAME + ".part")).exists()
    assert library.registry.list() == [] and ready == []


def test_closing_leaves_the_download_running_and_a_new_library_shows_it(
    qtbot: Any, library: Library, served: dict[str, bytes]
) -> None:
    with HFServer(served[FILENAME], files={MMPROJ: served[MMPROJ]}) as server:
        server.behaviour.throttle = SLOW
        downloads = library.manager(server.base)
        first = library.dialog(downloads, keep=False, catalog=served_catalog(served))
        card = served_card(qtbot, first)
        card.panel.download_button.click()
        qtbot.waitUntil(lambda: card.panel.bar.value() > 50, timeout=5_000)
        first.close()
        key = download_key(REPO, FILENAME)
        assert downloads.active() == key
        first.deleteLater()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)

        second = library.dialog(downloads, catalog=served_catalog(served))
        again = second.cards[SERVED_ID]
        assert again.flow.state == "downloading" and again.panel.bar.value() > 50
        assert " of " in again.panel.status.text()
        server.behaviour.throttle = FAST
        with qtbot.waitSignal(second.model_ready, timeout=5_000) as ready:
            pass
    assert ready.args[0].mmproj == (library.models_dir / MMPROJ).resolve()
    assert again.flow.state == "installed"


# Section 2: Hugging Face


def test_hugging_face_fields_are_checked_inline(qtbot: Any, library: Library) -> None:
    downloads = library.manager()
    dialog = library.dialog(downloads)
    box = dialog.hugging_face
    box.repo_edit.setText("gemma")
    box.panel.download_button.click()
    assert box.repo_error.isVisible() and box.repo_error.text() == REPO_HINT
    assert box.file_error.isVisible() and box.file_error.text() == FILE_HINT
    box.repo_edit.setText("unsloth/gemma-4-E4B-it-GGUF")
    box.file_edit.setText("gemma-4-E4B-it-Q4_K_M.bin")
    box.panel.download_button.click()
    assert not box.repo_error.isVisible() and box.file_error.text() == FILE_HINT
    box.file_edit.setText("mmproj-F16.gguf")
    box.panel.download_button.click()
    assert box.file_error.text() == PROJECTOR_HINT
    assert downloads.active() is None and box.flow.state == "idle"


def test_a_model_from_hugging_face_is_downloaded_and_added(
    qtbot: Any, library: Library, served: dict[str, bytes]
) -> None:
    with HFServer(served[FILENAME], files={OTHER: served[OTHER]}) as server:
        dialog = library.dialog(library.manager(server.base))
        box = dialog.hugging_face
        # A pasted link to the file works as well as the two fields.
        box.repo_edit.setText(f"https://huggingface.co/{REPO}/blob/main/{OTHER}")
        with qtbot.waitSignal(dialog.model_ready, timeout=5_000) as ready:
            box.panel.download_button.click()
    entry = ready.args[0]
    assert (box.repo_edit.text(), box.file_edit.text()) == (REPO, OTHER)
    assert entry.path == (library.models_dir / OTHER).resolve() and entry.mmproj is None
    assert [e.id for e in library.registry.list()] == [entry.id]
    assert box.panel.status.text() == "✓ Added to your models"


def test_the_token_is_saved_in_the_keyring_and_never_shown(
    qtbot: Any, library: Library
) -> None:
    dialog = library.dialog(library.manager())
    box = dialog.hugging_face
    qtbot.waitUntil(lambda: box.token_status.text() == NOT_SET, timeout=5_000)
    box.token_edit.setText(TOKEN)
    box.token_save.click()
    qtbot.waitUntil(lambda: box.token_status.text() == SAVED, timeout=5_000)
    assert box.token_edit.text() == "" and library.tokens.get() == TOKEN
    shown = [(w.text(), w.toolTip()) for w in dialog.findChildren(QLabel)]
    assert not [s for s in shown if TOKEN in s[0] or TOKEN in s[1]]
    box.token_forget.click()
    qtbot.waitUntil(lambda: box.token_status.text() == NOT_SET, timeout=5_000)
    assert library.tokens.get() is None


def test_without_a_keyring_the_token_is_kept_for_this_session_and_says_so(
    qtbot: Any, library: Library
) -> None:
    library.tokens = TokenStore(BrokenKeyring())
    dialog = library.dialog(library.manager())
    box = dialog.hugging_face
    qtbot.waitUntil(lambda: box.token_status.text() == SESSION_ONLY, timeout=5_000)
    assert box.token_status.isVisible()
    box.token_edit.setText(TOKEN)
    box.token_save.click()
    qtbot.waitUntil(lambda: box.token_save.isEnabled(), timeout=5_000)
    assert box.token_status.text() == SESSION_ONLY and box.token_status.isVisible()
    assert library.tokens.get() == TOKEN
    assert not [w for w in dialog.findChildren(QLabel) if TOKEN in w.text()]


# Section 3: files on this computer


def test_a_gguf_in_the_hugging_face_cache_is_listed_and_used_where_it_lies(
    qtbot: Any, library: Library, tmp_path: Path
) -> None:
    hub = tmp_path / "hub"
    blob = hub / "models--someone--model-GGUF" / "blobs" / "0a1b2c"
    blob.parent.mkdir(parents=True)
    write_gguf(blob, size=2 << 20, seed=4)
    link = hub / "models--someone--model-GGUF" / "snapshots" / "rev1" / "model-Q4_K_M.gguf"
    link.parent.mkdir(parents=True)
    link.symlink_to(blob)
    studio = tmp_path / "lmstudio"
    broken = studio / "someone" / "broken-Q4_K_M.gguf"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"\0" * (2 << 20))
    places = [(HF_CACHE, hub), (LM_STUDIO, studio)]

    dialog = library.dialog(library.manager(), locations=lambda: places)
    wait_rows(qtbot, dialog, 2)
    good, bad = dialog.found.rows
    assert good.name.text() == "model-Q4_K_M.gguf"
    assert good.detail.text() == "Hugging Face cache · 2.1 MB"
    assert bad.detail.text().startswith("LM Studio · ")
    assert good.toolTip() == str(link) and not good.added.isVisible()
    assert not dialog.found.status.isVisible()
    with qtbot.waitSignal(dialog.model_ready, timeout=5_000) as ready:
        good.use_button.click()
    entry = ready.args[0]
    assert entry.in_place and entry.path == blob.resolve()
    assert not list(library.models_dir.glob("*.gguf"))  # used where it lies, not copied
    assert good.added.isVisible()
    bad.use_button.click()
    qtbot.waitUntil(lambda: bad.error.isVisible(), timeout=5_000)
    assert "broken-Q4_K_M.gguf" in bad.error.text() and bad.use_button.isEnabled()
    assert [e.path for e in library.registry.list()] == [blob.resolve()]

    reopened = library.dialog(library.manager(), locations=lambda: places)
    wait_rows(qtbot, reopened, 2)
    assert reopened.found.rows[0].added.isVisible()  # already in the list: "Added"
    assert not reopened.found.rows[1].added.isVisible()


def test_nothing_found_says_where_it_looked(qtbot: Any, library: Library) -> None:
    dialog = library.dialog(library.manager())
    qtbot.waitUntil(lambda: dialog.found.status.text() == NOTHING_FOUND, timeout=5_000)
    assert dialog.found.status.isVisible() and dialog.found.rows == []


# How it looks


@pytest.mark.parametrize("dark", [False, True])
def test_screenshots(qtbot: Any, library: Library, served: dict[str, bytes], themed: Any,
                     tmp_path: Path, dark: bool) -> None:
    themed(dark)
    look = "dark" if dark else "light"
    big = next(m for m in load_catalog() if m.id == "gemma-4-26b-a4b").files[0]
    (library.models_dir / (big.file + ".part")).write_bytes(b"\0" * (3 << 20))
    hub = tmp_path / "hub" / "models--unsloth--gemma-3-4b-it-GGUF" / "snapshots" / "r"
    hub.mkdir(parents=True)
    write_gguf(hub / "gemma-3-4b-it-Q4_K_M.gguf", size=2 << 20, seed=5)
    with HFServer(served[FILENAME], files={MMPROJ: served[MMPROJ]}) as server:
        server.behaviour.throttle = SLOW
        downloads = library.manager(server.base)
        dialog = library.dialog(downloads, catalog=served_catalog(served),
                                locations=lambda: [(HF_CACHE, tmp_path / "hub")])
        card = served_card(qtbot, dialog)
        qtbot.waitUntil(lambda: card.verdict.text() != CHECKING and bool(dialog.found.rows),
                        timeout=5_000)
        card.panel.download_button.click()
        qtbot.waitUntil(lambda: card.panel.bar.value() > 150, timeout=5_000)
        dialog.hugging_face.repo_edit.setText("gemma")
        dialog.hugging_face.panel.download_button.click()
        QApplication.processEvents()  # lay out the inline messages before taking the picture
        dialog.grab().save(f"/tmp/model_library_{look}.png")
        dialog.scroll.verticalScrollBar().setValue(dialog.scroll.verticalScrollBar().maximum())
        QApplication.processEvents()
        dialog.grab().save(f"/tmp/model_library_bottom_{look}.png")
        dialog.page.grab().save(f"/tmp/model_library_full_{look}.png")
        downloads.shutdown()
