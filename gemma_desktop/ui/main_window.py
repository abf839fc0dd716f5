"""The main window: sidebar, header with model picker and settings, chat pane, status bar."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gemma_desktop.core.errors import UserError
from gemma_desktop.core.secrets import TokenStore
from gemma_desktop.ui.attachments import AttachmentManager
from gemma_desktop.ui.chat_controller import ChatController
from gemma_desktop.ui.chat_pane import ChatPane
from gemma_desktop.ui.conversation_list import ConversationList
from gemma_desktop.ui.download_manager import DownloadManager
from gemma_desktop.ui.markdown_render import MarkdownRenderer
from gemma_desktop.ui.model_picker import ModelPicker
from gemma_desktop.ui.model_session import ModelSession
from gemma_desktop.ui.preferences import Preferences
from gemma_desktop.ui.settings_dialog import ChatSettings, SettingsDialog
from gemma_desktop.ui.status_bar import ElidedLabel, StatusBar
from gemma_desktop.ui.workers import TaskRunner

log = logging.getLogger(__name__)
DONE_NOTE_MS = 8000


class MainWindow(QMainWindow):
    """Wires the widgets to the controllers; owns the task runner and shuts the engine down.

    Threading: GUI thread only. Signals: `shown()` the first time the window is shown.
    Closing the window stops a reply (saved as 'stopped'), joins the workers and ends
    the engine thread.
    """

    shown = Signal()

    def __init__(self, store: Any, registry: Any, engine: Any, data_folder: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Gemma Desktop")
        self.resize(1180, 780)
        self.store = store
        self.engine = engine
        self.registry = registry
        self.data_folder = Path(data_folder)
        self.models_dir = self.data_folder / "models"
        self._shown_once = False
        self._closed = False
        self.runner = TaskRunner(self)
        self.runner.task_failed.connect(self._on_task_failed)
        self.preferences = Preferences(data_folder)
        self.tokens = TokenStore()
        # Owned here, not by a dialog: a download goes on when the dialog that started it closes.
        self.downloads = DownloadManager(self.models_dir, token_source=self.tokens.get,
                                         parent=self)
        self.welcome: Any = None
        self.library: Any = None
        self.renderer = MarkdownRenderer()

        self.sidebar = ConversationList()
        self.pane = ChatPane(self.renderer)
        self.status = StatusBar()
        self.setStatusBar(self.status)
        # Elided: a long title must never make the window wider.
        self.title_label = ElidedLabel("New chat", mode=Qt.TextElideMode.ElideRight)
        self.title_label.setObjectName("ConversationTitle")
        self.rename_button = QToolButton()
        self.rename_button.setText("✎")
        self.rename_button.setProperty("flat", True)
        self.rename_button.setToolTip("Rename this chat (or double-click it in the list)")
        self.model_picker = ModelPicker()
        self.settings_button = QPushButton("Settings")
        self.settings_button.setToolTip("Context size and reply length (all chats), "
                                        "system prompt (this chat)")
        self._build_layout()

        self.attachments = AttachmentManager(self.runner, engine, self.ask_password, self)
        self.chat = ChatController(store, engine, self.runner, self.pane.view, self.pane.composer,
                                   self.attachments, self.status, self.preferences, self)
        self.models = ModelSession(registry, engine, self.runner, self.preferences, self)
        self._connect()
        self._add_shortcuts()
        self._load_conversations()

    # ----- construction ----------------------------------------------------------------------

    def _build_layout(self) -> None:
        header = QWidget()
        header.setObjectName("Header")
        row = QHBoxLayout(header)
        row.setContentsMargins(24, 8, 16, 8)
        row.setSpacing(8)
        row.addWidget(self.title_label)
        row.addWidget(self.rename_button)  # right after the title it renames
        row.addStretch(1)
        row.addWidget(self.model_picker)
        row.addWidget(self.settings_button)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(header)
        column.addWidget(self.pane, 1)
        central = QWidget()
        columns = QHBoxLayout(central)
        columns.setContentsMargins(0, 0, 0, 0)
        columns.setSpacing(0)
        columns.addWidget(self.sidebar)  # fixed width, whatever the titles
        columns.addWidget(right, 1)
        self.setCentralWidget(central)

    def _connect(self) -> None:
        self.sidebar.new_requested.connect(self._on_new_requested)
        self.sidebar.conversation_selected.connect(self._on_conversation_selected)
        self.sidebar.rename_requested.connect(self._on_rename_requested)
        self.sidebar.delete_requested.connect(self._on_delete_requested)
        self.pane.files_dropped.connect(self.attachments.add_files)
        self.pane.composer.attach_requested.connect(self._on_attach_requested)
        self.pane.attachment_bar.remove_requested.connect(self.attachments.remove)
        self.attachments.changed.connect(self._on_attachments_changed)
        self.attachments.duplicate_found.connect(self.pane.attachment_bar.flash)
        self.chat.conversation_changed.connect(self._on_conversation_changed)
        self.chat.reply_started.connect(self._on_reply_started)
        self.model_picker.model_chosen.connect(self._on_model_chosen)
        self.model_picker.open_gguf_requested.connect(self._on_open_gguf_requested)
        self.model_picker.fit_requested.connect(self.show_hardware)
        self.model_picker.library_requested.connect(self.show_library)
        self.status.download_clicked.connect(self.show_library)
        self.downloads.progressed.connect(self._on_download_progress)
        self.downloads.finished.connect(self._on_download_finished)
        self.downloads.paused.connect(
            lambda key: self.status.set_download(f"Paused: {_file_name(key)}"))
        self.downloads.failed.connect(
            lambda key, _message: self.status.set_download(f"Download stopped: {_file_name(key)}"))
        self.settings_button.clicked.connect(self._on_settings_clicked)
        self.rename_button.clicked.connect(self._on_rename_clicked)
        self.models.loading_started.connect(self._on_loading_started)
        self.models.model_loaded.connect(self._on_model_loaded)
        self.models.load_failed.connect(self._on_load_failed)
        self.models.models_listed.connect(self.model_picker.set_entries)
        self.models.open_failed.connect(self._on_open_failed)

    def _add_shortcuts(self) -> None:
        # Esc stops a reply wherever the focus is (the composer handles it too when focused).
        self.stop_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self.stop_shortcut.activated.connect(self.chat.stop)
        self.quit_shortcut = QShortcut(QKeySequence("Ctrl+Q"), self)
        self.quit_shortcut.activated.connect(self.close)

    def start(self) -> None:
        """Load the default model in the background, or on a first run open the welcome wizard.

        The window is usable meanwhile. A first run is one where setup was never finished and
        no usable model is registered (a GGUF already in the models folder counts as one).
        """
        if self.preferences.setup_done:
            self.models.start()
            return
        self.runner.run(self.registry.list, on_done=self._on_first_models_listed,
                        on_error=lambda _exc: self.models.start())

    def _on_first_models_listed(self, entries: list[Any]) -> None:
        if self._closed:
            return
        if any(entry.available for entry in entries):
            self._finish_setup()
            self.models.start()
            return
        self.show_welcome()

    def _finish_setup(self) -> None:
        self.preferences.setup_done = True
        self.preferences.save()

    @Slot()
    def show_welcome(self) -> None:
        """The first-run wizard: check this computer, get a model, start chatting."""
        from gemma_desktop.ui.first_run import FirstRunWizard

        self.status.set_state("Setting up")
        wizard = FirstRunWizard(self.runner, self.downloads, self.models_dir,
                                self.registry.add_local, self.registry.ensure_starter, self)
        wizard.finished.connect(self._on_welcome_finished)
        self.welcome = wizard
        wizard.open()

    @Slot(int)
    def _on_welcome_finished(self, _result: int) -> None:
        wizard, self.welcome = self.welcome, None
        if self._closed:
            return  # the app is quitting: the wizard comes back next time
        self._finish_setup()
        entry = getattr(wizard, "chosen_entry", None)
        if entry is not None:
            self.models.load(entry)
        else:
            # Closed without choosing: the usual default (the starter when it is installed);
            # Download or add models… in the model menu brings every choice back.
            self.models.start()
        if wizard is not None:
            wizard.deleteLater()

    @Slot()
    def show_library(self) -> None:
        """The model library: download Gemma 4 models, add from Hugging Face, use found files.

        The dialog is made once and only hidden when closed, so a download it started still
        gets its vision projector and is registered while it is not on screen.
        """
        from gemma_desktop.ui.model_library import ModelLibraryDialog

        if self.library is None:
            self.library = ModelLibraryDialog(self.runner, self.downloads, self.registry,
                                              self.tokens, self.models_dir, self)
            self.library.model_ready.connect(self._on_library_model_ready)
        self.library.open()
        self.library.raise_()
        self.library.activateWindow()

    @Slot(str, object)
    def _on_download_progress(self, key: str, progress: Any) -> None:
        percent = 100 * progress.done // progress.total if progress.total else 0
        self.status.set_download(f"Downloading {_file_name(key)} · {percent} %")

    @Slot(str, object)
    def _on_download_finished(self, key: str, _path: Path) -> None:
        text = f"Downloaded {_file_name(key)}"
        self.status.set_download(text)
        # A finished download needs no lasting note; an unfinished one keeps its note.
        QTimer.singleShot(DONE_NOTE_MS, lambda: self._clear_download_note(text))

    def _clear_download_note(self, text: str) -> None:
        if not self._closed and self.status.download_button.text() == text:
            self.status.set_download(None)

    @Slot(object)
    def _on_library_model_ready(self, entry: Any) -> None:
        if self.library is not None and self.library.isVisible():
            if self.chat.generating:
                self.chat.stop()
            self.models.load(entry)
            return
        # Finished while the dialog was closed: never switch models under the user's feet.
        self.models.refresh_list()
        self.status.set_download(f"{entry.display_name} is ready: choose it in the model menu")

    # ----- conversations ---------------------------------------------------------------------

    def _load_conversations(self) -> None:
        conversations = self.store.list_conversations()
        if not conversations:
            conversations = [self.store.create_conversation()]
        current = self.chat.conversation_id or conversations[0].id
        self.sidebar.set_conversations(conversations, current)
        if self.chat.conversation_id != current:
            self._open(current)

    def _open(self, conversation_id: int) -> None:
        self.chat.open_conversation(conversation_id)
        self.title_label.set_full_text(self.store.get_conversation(conversation_id).title)
        self.pane.composer.edit.setFocus()

    @Slot()
    def _on_new_requested(self) -> None:
        current = self.chat.conversation_id
        if current is not None and not self.store.list_messages(current):
            self.pane.composer.edit.setFocus()  # already an empty chat: reuse it
            return
        conversation = self.store.create_conversation()
        self.sidebar.set_conversations(self.store.list_conversations(), conversation.id)
        self._open(conversation.id)

    @Slot(int)
    def _on_conversation_selected(self, conversation_id: int) -> None:
        if conversation_id != self.chat.conversation_id:
            self._open(conversation_id)

    @Slot(int, str)
    def _on_rename_requested(self, conversation_id: int, title: str) -> None:
        try:
            self.store.rename_conversation(conversation_id, title)
        except UserError as exc:
            QMessageBox.warning(self, "Rename chat", str(exc))
            return
        self._on_conversation_changed(conversation_id)

    @Slot()
    def _on_rename_clicked(self) -> None:
        if self.chat.conversation_id is not None:
            self.sidebar.ask_rename(self.chat.conversation_id)

    @Slot(int)
    def _on_delete_requested(self, conversation_id: int) -> None:
        if self.chat.generating and self.chat.reply_conversation_id == conversation_id:
            self.chat.stop()
            QMessageBox.information(self, "Delete chat", "A reply is still being written in "
                                    "this chat; it was stopped. Delete it again once it ends.")
            return
        self.store.delete_conversation(conversation_id)
        self.chat.forget_draft(conversation_id)
        if conversation_id == self.chat.conversation_id:
            self.chat.conversation_id = None
        self._load_conversations()

    @Slot(int)
    def _on_conversation_changed(self, conversation_id: int) -> None:
        self.sidebar.set_conversations(self.store.list_conversations(), self.chat.conversation_id)
        if conversation_id == self.chat.conversation_id:
            self.title_label.set_full_text(self.store.get_conversation(conversation_id).title)

    @Slot(int)
    def _on_reply_started(self, _conversation_id: int) -> None:
        self.status.set_model(self.model_picker.currentText())

    # ----- attachments -----------------------------------------------------------------------

    @Slot()
    def _on_attach_requested(self) -> None:
        from gemma_desktop.core.documents.loader import dialog_filter

        files, _ = QFileDialog.getOpenFileNames(self, "Attach documents", "", dialog_filter())
        if files:
            self.attachments.add_files([Path(f) for f in files])

    @Slot()
    def _on_attachments_changed(self) -> None:
        self.pane.attachment_bar.set_items(self.attachments.items)

    def ask_password(self, name: str, wrong: bool) -> str | None:
        """Ask for a PDF's password (modal, password echo)."""
        prompt = (f"The password for {name} was wrong. Try again:" if wrong
                  else f"{name} is protected with a password. Enter it to read the document:")
        text, ok = QInputDialog.getText(self, "Password needed", prompt,
                                        QLineEdit.EchoMode.Password)
        return text if ok and text else None

    # ----- models and settings ---------------------------------------------------------------

    @Slot(str)
    def _on_loading_started(self, name: str) -> None:
        self.status.set_state("Loading model…")
        if name:
            self.status.set_model(name)
        self.status.set_context(0, 0)

    @Slot(object, object)
    def _on_model_loaded(self, entry: Any, info: Any) -> None:
        self.chat.model_id = entry.id
        self.status.set_model(entry.display_name)
        self.status.set_state("Ready")
        description = getattr(entry, "description", "") or f"Model: {entry.display_name}"
        self.pane.view.empty_state.set_description(
            f"{entry.display_name}\n{description}\nContext window: {info.n_ctx:,} tokens. "
            "Everything stays on this computer.")
        self.attachments.recount()
        self.chat.refresh_thinking()

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self.status.set_state("No model")
        self.chat.refresh_thinking()
        self.pane.show_banner(f"The model could not be loaded: {message}")

    @Slot(str)
    def _on_model_chosen(self, model_id: str) -> None:
        if self.chat.generating:
            self.chat.stop()
        self.models.choose(model_id)

    @Slot()
    def _on_open_gguf_requested(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a GGUF model", "",
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.models.open_gguf(Path(path))

    @Slot()
    def show_hardware(self) -> None:
        """The hardware view: this computer and which Gemma 4 model fits it."""
        from gemma_desktop.ui.hardware_dialog import HardwareDialog

        dialog = HardwareDialog(self.runner, self.models_dir, self)
        self.hardware_dialog = dialog  # kept for tests; the dialog is modal
        dialog.open()

    @Slot(str)
    def _on_open_failed(self, message: str) -> None:
        QMessageBox.warning(self, "This model file cannot be used", message)

    @Slot()
    def _on_settings_clicked(self) -> None:
        conversation_id = self.chat.conversation_id
        entry = self.models.entry
        prefs = self.preferences
        current = ChatSettings(prefs.n_ctx, prefs.max_tokens, self.chat.system_prompt(),
                               prefs.thinking_max_tokens, prefs.think_by_default,
                               prefs.fold_thinking)
        # The loaded model's own maximum; the registry's record until one is loaded.
        max_ctx = getattr(self.engine.model, "n_ctx_train", None) \
            or getattr(entry, "context_length", None)
        dialog = SettingsDialog(current, max_ctx, self)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        chosen = dialog.settings()
        if conversation_id is not None and chosen.system_prompt != current.system_prompt:
            self.store.set_system_prompt(conversation_id, chosen.system_prompt)
        reload = chosen.n_ctx != current.n_ctx
        if reload or (chosen.max_tokens, chosen.thinking_max_tokens) != (
                current.max_tokens, current.thinking_max_tokens):
            self.chat.clear_errors()  # a "does not fit" message no longer holds
        prefs.n_ctx, prefs.max_tokens = chosen.n_ctx, chosen.max_tokens
        prefs.thinking_max_tokens = chosen.thinking_max_tokens
        prefs.fold_thinking = chosen.fold_thinking
        if prefs.think_by_default != chosen.think_by_default:
            prefs.think_by_default = chosen.think_by_default
            self.chat.refresh_thinking()  # chats that follow the default change with it
        prefs.save()
        if reload:
            if self.chat.generating:
                self.chat.stop()
            self.models.reload()
        self.chat.schedule_context_count()

    @Slot(object)
    def apply_theme(self, colors: Any) -> None:
        """Use the theme's code colours; shown messages are rendered again when idle."""
        self.renderer.set_colors(colors.code)
        if not self.chat.busy and self.chat.conversation_id is not None:
            self.chat.open_conversation(self.chat.conversation_id)

    # ----- errors and lifetime ---------------------------------------------------------------

    @Slot(object)
    def _on_task_failed(self, exc: BaseException) -> None:
        log.error("background task failed", exc_info=exc)
        self.show_unexpected_error(exc)

    def show_unexpected_error(self, exc: BaseException) -> None:
        """Non-modal notice; the traceback is in the log."""
        self.pane.show_banner(f"Unexpected error: {exc}. Details are in the log file; "
                              "the app keeps running.")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self.shown.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Save a reply being written as stopped, stop the engine, join every thread."""
        if self._closed:
            return
        self._closed = True
        for dialog in (self.welcome, self.library):
            if dialog is not None:
                dialog.close()
        self.downloads.shutdown()  # the .part file stays; the next start can resume it
        self.chat.shutdown()
        self.attachments.shutdown()
        self.engine.stop()
        self.runner.shutdown(wait=True)
        self.engine.shutdown()


def _file_name(key: str) -> str:
    """The file a download key names, without the repo and the .gguf ending."""
    name = key.rsplit("/", 1)[-1]
    return name[:-5] if name.lower().endswith(".gguf") else name
