"""The first-run wizard with real widgets, a real local download server and the real starter."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gemma_desktop.core.catalog import ModelFile, load_catalog
from gemma_desktop.core.download import Progress
from gemma_desktop.core.fit import GIB, recommend
from gemma_desktop.ui.download_manager import DownloadManager
from gemma_desktop.ui.first_run import FirstRunWizard, format_eta, progress_text
from gemma_desktop.ui.workers import TaskRunner
from tests.hf_server import FILENAME, REPO, HFServer, hub_online, make_data
from tests.ui.test_hardware_view import FakeHardware


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    hub_online(monkeypatch)  # the downloads ask the local server through huggingface_hub


HARDWARE = FakeHardware(available_ram=12 * GIB, total_ram=16 * GIB)


def served_check(size: int, hardware: Any = HARDWARE) -> Callable[[Path], tuple[Any, Any, Any]]:
    """A check whose pick is the real recommendation, pointed at the local server's file."""
    models = load_catalog()
    pick = recommend(models, hardware)
    assert pick is not None
    file = ModelFile(pick.file.quant, REPO, FILENAME, size=size)
    model = dataclasses.replace(pick.model, files=(file,))
    pick = dataclasses.replace(pick, model=model, file=file)
    return lambda _models_dir: (hardware, models, pick)


class Registered:
    """A register callback that records the paths it was given."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self.mmprojs: list[Path | None] = []

    def __call__(self, path: Path, mmproj: Path | None = None) -> Any:
        self.paths.append(path)
        self.mmprojs.append(mmproj)
        return dataclasses.make_dataclass("Entry", ["display_name", "path"])("Own", path)


@pytest.fixture
def parts(qtbot: Any, tmp_path: Path) -> Iterator[Any]:
    """A TaskRunner and DownloadManager on tmp_path/models; both shut down afterwards."""
    runner = TaskRunner()
    managers: list[DownloadManager] = []

    def manager(endpoint: str, models_dir: Path | None = None) -> DownloadManager:
        folder = models_dir or tmp_path / "models"
        managers.append(DownloadManager(folder, endpoint=endpoint))
        return managers[-1]

    yield runner, manager
    for item in managers:
        item.shutdown()
    runner.shutdown()


def make_wizard(qtbot: Any, runner: TaskRunner, downloads: DownloadManager, models_dir: Path,
                register: Callable[[Path], Any] | None = None,
                use_starter: Callable[[], Any] | None = None, **kwargs: Any) -> FirstRunWizard:
    kwargs.setdefault("locations", lambda: [])  # never the files of whoever runs the tests
    wizard = FirstRunWizard(runner, downloads, models_dir, register or Registered(),
                            use_starter or (lambda: None), **kwargs)
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def _wait_checked(qtbot: Any, wizard: FirstRunWizard) -> None:
    qtbot.waitUntil(lambda: wizard.check_label.text() != "Checking this computer…",
                    timeout=10_000)


def test_texts_are_plain_words() -> None:
    text = progress_text(Progress(123_000_000, 5_300_000_000, 12_300_000, 420.0))
    assert text == "123 MB of 5.3 GB · 12.3 MB/s · about 7 min left"
    assert format_eta(20) == "less than a minute left"
    assert format_eta(3 * 3600 + 600) == "about 3 h 10 min left"


def test_first_page_gives_the_reason_and_offers_the_download(
    qtbot: Any, tmp_path: Path, parts: Any
) -> None:
    runner, manager = parts
    check = served_check(1 << 20)
    wizard = make_wizard(qtbot, runner, manager("http://127.0.0.1:9"), tmp_path / "models",
                         check=check)
    assert wizard.page_name() == "check"
    _wait_checked(qtbot, wizard)
    pick = check(tmp_path)[2]
    assert wizard.check_label.text() == pick.reason
    assert wizard.download_button.isEnabled() and wizard.download_button.isChecked()
    assert wizard.download_button.title.text() == f"Download {pick.model.name} (1.0 MB)"
    assert [row.model_id for row in wizard.view.rows() if row.recommended] == [pick.model.id]


def test_nothing_fits_disables_the_download_and_says_why(
    qtbot: Any, tmp_path: Path, parts: Any
) -> None:
    runner, manager = parts
    tiny = FakeHardware(available_ram=1 * GIB, total_ram=2 * GIB)
    wizard = make_wizard(qtbot, runner, manager("http://127.0.0.1:9"), tmp_path / "models",
                         check=lambda _d: (tiny, load_catalog(), None))
    _wait_checked(qtbot, wizard)
    assert not wizard.download_button.isEnabled()
    assert "None fits" in wizard.download_button.detail.text()
    assert wizard.starter_button.isChecked()
    assert "starter" in wizard.check_label.text()


def test_a_failed_check_still_leaves_the_other_choices(
    qtbot: Any, tmp_path: Path, parts: Any
) -> None:
    runner, manager = parts

    def broken(_models_dir: Path) -> Any:
        raise OSError("no /proc here")

    wizard = make_wizard(qtbot, runner, manager("http://127.0.0.1:9"), tmp_path / "models",
                         check=broken)
    _wait_checked(qtbot, wizard)
    assert "no /proc here" in wizard.check_label.text()
    assert not wizard.download_button.isEnabled()
    assert wizard.starter_button.isEnabled() and wizard.existing_button.isEnabled()


def test_the_starter_choice_uses_the_starter_and_is_ready(
    qtbot: Any, tmp_path: Path, parts: Any
) -> None:
    runner, manager = parts
    calls: list[int] = []
    entry = Registered()(Path("starter.gguf"))

    def use_starter() -> Any:
        calls.append(1)
        return dataclasses.replace(entry, display_name="Gemma 3 270M (starter)")

    wizard = make_wizard(qtbot, runner, manager("http://127.0.0.1:9"), tmp_path / "models",
                         use_starter=use_starter, check=served_check(1 << 20))
    _wait_checked(qtbot, wizard)
    wizard.starter_button.click()
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.page_name() == "ready", timeout=10_000)
    assert calls == [1]
    assert wizard.ready_label.text() == "Gemma 3 270M (starter) is ready."
    wizard.start_button.click()
    assert wizard.result() == FirstRunWizard.DialogCode.Accepted
    assert wizard.chosen_entry.display_name == "Gemma 3 270M (starter)"


def test_a_bad_own_file_is_explained_on_the_first_page(
    qtbot: Any, tmp_path: Path, parts: Any
) -> None:
    from gemma_desktop.core.models import ModelRegistry
    from gemma_desktop.core.paths import resolve_paths

    runner, manager = parts
    registry = ModelRegistry(resolve_paths(tmp_path / "data").ensure())
    bogus = tmp_path / "notes.gguf"
    bogus.write_text("not a model")
    picks: list[Path | None] = [None, bogus]
    wizard = make_wizard(qtbot, runner, manager("http://127.0.0.1:9"), tmp_path / "models",
                         register=registry.add_local, check=served_check(1 << 20),
                         pick_file=lambda: picks.pop(0))
    _wait_checked(qtbot, wizard)
    wizard.existing_button.click()
    wizard.next_button.click()  # the file dialog was cancelled: nothing happens
    assert wizard.page_name() == "check" and wizard.next_button.isEnabled()
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.choice_error.isVisible(), timeout=10_000)
    assert "notes.gguf" in wizard.choice_error.text()
    assert wizard.page_name() == "check" and wizard.chosen_entry is None


@pytest.mark.model
def test_an_own_gguf_is_registered_where_it_lies(
    qtbot: Any, tmp_path: Path, parts: Any, starter_model_path: Path
) -> None:
    from gemma_desktop.core.models import ModelRegistry
    from gemma_desktop.core.paths import resolve_paths

    runner, manager = parts
    registry = ModelRegistry(resolve_paths(tmp_path / "data").ensure())
    wizard = make_wizard(qtbot, runner, manager("http://127.0.0.1:9"), tmp_path / "models",
                         register=registry.add_local, check=served_check(1 << 20),
                         pick_file=lambda: starter_model_path)
    _wait_checked(qtbot, wizard)
    wizard.existing_button.click()
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.page_name() == "ready", timeout=30_000)
    wizard.start_button.click()
    assert wizard.chosen_entry.path == starter_model_path.resolve()
    assert [e.id for e in registry.list()] == [wizard.chosen_entry.id]


@pytest.mark.model
def test_a_gguf_found_in_the_hugging_face_cache_is_offered_and_used_in_place(
    qtbot: Any, tmp_path: Path, parts: Any, starter_model_path: Path
) -> None:
    from gemma_desktop.core.discover import HF_CACHE
    from gemma_desktop.core.models import ModelRegistry
    from gemma_desktop.core.paths import resolve_paths

    runner, manager = parts
    cache = tmp_path / "hf" / "models--google--gemma" / "snapshots" / "abc"
    cache.mkdir(parents=True)
    found = cache / "gemma-found.gguf"
    found.write_bytes(starter_model_path.read_bytes())
    registry = ModelRegistry(resolve_paths(tmp_path / "data").ensure())
    wizard = make_wizard(qtbot, runner, manager("http://127.0.0.1:9"), tmp_path / "models",
                         register=registry.add_local, check=served_check(1 << 20),
                         pick_file=lambda: pytest.fail("the found file needs no file dialog"),
                         locations=lambda: [(HF_CACHE, tmp_path / "hf")])
    _wait_checked(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.found_list.count() == 2, timeout=10_000)
    assert "Found 1 model file in the Hugging Face cache" in wizard.existing_button.detail.text()
    assert not wizard.found_list.isVisible()  # only with its choice
    wizard.existing_button.click()
    assert wizard.found_list.isVisible()
    assert wizard.found_list.currentText().startswith("gemma-found.gguf")
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.page_name() == "ready", timeout=30_000)
    entry = wizard.chosen_entry
    assert entry.path == found.resolve() and entry.in_place
    assert not any((tmp_path / "data" / "models").glob("*.gguf"))  # used where it lies


@pytest.mark.model
def test_download_the_recommended_model_then_start_chatting(
    qtbot: Any, tmp_path: Path, parts: Any, starter_model_path: Path
) -> None:
    from gemma_desktop.core.models import ModelRegistry
    from gemma_desktop.core.paths import resolve_paths

    runner, manager = parts
    paths = resolve_paths(tmp_path / "data").ensure()
    registry = ModelRegistry(paths)
    data = starter_model_path.read_bytes()
    with HFServer(data) as server:
        server.behaviour.throttle = (8 << 20, 0.02)  # slow enough to see the bar move
        downloads = manager(server.base, paths.models)
        check = served_check(len(data))
        wizard = make_wizard(qtbot, runner, downloads, paths.models,
                             register=registry.add_local, check=check)
        _wait_checked(qtbot, wizard)
        wizard.download_button.click()
        wizard.next_button.click()
        assert wizard.page_name() == "download"
        qtbot.waitUntil(lambda: 0 < wizard.progress_bar.value() < 1000, timeout=30_000)
        assert " of " in wizard.status_label.text()
        qtbot.waitUntil(lambda: wizard.page_name() == "ready", timeout=60_000)
    name = check(tmp_path)[2].model.name
    assert wizard.ready_label.text() == f"{name} is ready."
    wizard.start_button.click()
    assert wizard.result() == FirstRunWizard.DialogCode.Accepted
    target = paths.models / FILENAME
    assert target.read_bytes() == data
    assert wizard.chosen_entry.path == target.resolve()
    assert [e.id for e in registry.list()] == [wizard.chosen_entry.id]


def test_pause_and_resume_on_the_download_page(
    qtbot: Any, tmp_path: Path, parts: Any
) -> None:
    runner, manager = parts
    data = make_data(4 << 20)
    register = Registered()
    with HFServer(data) as server:
        server.behaviour.throttle = (64 << 10, 0.02)
        wizard = make_wizard(qtbot, runner, manager(server.base), tmp_path / "models",
                             register=register, check=served_check(len(data)))
        _wait_checked(qtbot, wizard)
        wizard.next_button.click()  # the download is the default choice
        qtbot.waitUntil(lambda: wizard.progress_bar.value() > 100, timeout=20_000)
        wizard.pause_button.click()
        qtbot.waitUntil(lambda: wizard.pause_button.text() == "Resume", timeout=10_000)
        assert wizard.status_label.text().startswith("Paused.")
        stopped = wizard.progress_bar.value()
        assert 0 < stopped < 1000
        server.behaviour.throttle = (1 << 20, 0.01)
        wizard.pause_button.click()
        qtbot.waitUntil(lambda: wizard.page_name() == "ready", timeout=20_000)
        ranges = [g.headers.get("range") for g in server.gets()]
    assert ranges[-1] is not None and ranges[-1].startswith("bytes=")
    assert register.paths == [tmp_path / "models" / FILENAME]
    wizard.start_button.click()
    assert wizard.chosen_entry.path == tmp_path / "models" / FILENAME


def test_a_damaged_download_shows_the_error_and_retry_works(
    qtbot: Any, tmp_path: Path, parts: Any
) -> None:
    runner, manager = parts
    data = make_data(1 << 20)
    register = Registered()
    with HFServer(data) as server:
        server.behaviour.corrupt = True
        wizard = make_wizard(qtbot, runner, manager(server.base), tmp_path / "models",
                             register=register, check=served_check(len(data)))
        _wait_checked(qtbot, wizard)
        wizard.next_button.click()
        qtbot.waitUntil(lambda: wizard.error_label.isVisible(), timeout=10_000)
        assert "damaged" in wizard.error_label.text()
        assert wizard.retry_button.isVisible() and not wizard.pause_button.isVisible()
        server.behaviour.corrupt = False
        wizard.retry_button.click()
        qtbot.waitUntil(lambda: wizard.page_name() == "ready", timeout=10_000)
    assert not wizard.error_label.isVisible()
    assert register.paths == [tmp_path / "models" / FILENAME]


def test_cancel_goes_back_and_keeps_the_part(qtbot: Any, tmp_path: Path, parts: Any) -> None:
    runner, manager = parts
    data = make_data(4 << 20)
    with HFServer(data) as server:
        server.behaviour.throttle = (64 << 10, 0.02)
        downloads = manager(server.base)
        wizard = make_wizard(qtbot, runner, downloads, tmp_path / "models",
                             check=served_check(len(data)))
        _wait_checked(qtbot, wizard)
        wizard.next_button.click()
        qtbot.waitUntil(lambda: wizard.progress_bar.value() > 50, timeout=20_000)
        wizard.cancel_button.click()
        assert wizard.page_name() == "check"
        assert downloads.active() is None
        downloads.shutdown()
    assert (tmp_path / "models" / (FILENAME + ".part")).exists()


@pytest.mark.parametrize("dark", [False, True])
def test_screenshots_of_each_page(
    qtbot: Any, tmp_path: Path, parts: Any, themed: Any, dark: bool
) -> None:
    themed(dark)
    runner, manager = parts
    look = "dark" if dark else "light"
    data = make_data(2 << 20)
    with HFServer(data) as server:
        server.behaviour.throttle = (32 << 10, 0.05)
        downloads = manager(server.base)
        wizard = make_wizard(qtbot, runner, downloads, tmp_path / "models",
                             check=served_check(len(data)))
        _wait_checked(qtbot, wizard)
        wizard.grab().save(f"/tmp/wizard_check_{look}.png")
        wizard.next_button.click()
        qtbot.waitUntil(lambda: wizard.progress_bar.value() > 100, timeout=20_000)
        wizard.grab().save(f"/tmp/wizard_download_{look}.png")
        downloads.shutdown()
    wizard._show_error("Could not reach huggingface.co. Check the internet connection "
                       "and try again.")
    wizard.grab().save(f"/tmp/wizard_error_{look}.png")
    wizard._on_registered(Registered()(Path("x.gguf")))
    wizard.ready_label.setText("Gemma 4 E4B is ready.")
    wizard.grab().save(f"/tmp/wizard_ready_{look}.png")


def test_retry_after_a_failed_register_does_not_download_again(
    qtbot: Any, tmp_path: Path, parts: Any
) -> None:
    from gemma_desktop.core.errors import ModelFileError

    runner, manager = parts
    data = make_data(1 << 20)
    calls = Registered()

    def register(path: Path) -> Any:
        if not calls.paths:
            calls.paths.append(path)
            raise ModelFileError("gemma-test-Q4_K_M.gguf is not a GGUF model file.")
        return calls(path)

    with HFServer(data) as server:
        wizard = make_wizard(qtbot, runner, manager(server.base), tmp_path / "models",
                             register=register, check=served_check(len(data)))
        _wait_checked(qtbot, wizard)
        wizard.next_button.click()
        qtbot.waitUntil(lambda: wizard.error_label.isVisible(), timeout=10_000)
        assert "not a GGUF model file" in wizard.error_label.text()
        wizard.retry_button.click()
        qtbot.waitUntil(lambda: wizard.page_name() == "ready", timeout=10_000)
        gets = len(server.gets())
    assert gets == 1
    assert calls.paths == [tmp_path / "models" / FILENAME] * 2
