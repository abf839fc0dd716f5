"""The sidebar: New chat, and the conversations (most recent first) to open, rename, delete."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

_ID_ROLE = Qt.ItemDataRole.UserRole
# The sidebar keeps this width whatever the titles (long ones are elided).
SIDEBAR_WIDTH = 240
RENAME_TIP = "Double-click a chat to rename it; right-click to rename or delete."


class ConversationList(QFrame):
    """Sidebar listing conversations.

    Threading: GUI thread only. Signals: `conversation_selected(int)`, `new_requested()`,
    `rename_requested(int, str)`, `delete_requested(int)` (already confirmed by the user).
    """

    conversation_selected = Signal(int)
    new_requested = Signal()
    rename_requested = Signal(int, str)
    delete_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Sidebar")
        self.setFixedWidth(SIDEBAR_WIDTH)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 16, 12, 12)
        layout.setSpacing(8)
        title = QLabel("Gemma Desktop")
        title.setObjectName("SidebarTitle")
        layout.addWidget(title)
        self.new_button = QPushButton("+  New chat")
        self.new_button.setProperty("primary", True)
        self.new_button.clicked.connect(lambda: self.new_requested.emit())
        layout.addWidget(self.new_button)
        self.list = QListWidget()
        self.list.setObjectName("ConversationList")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setToolTip(RENAME_TIP)
        self.list.currentItemChanged.connect(self._on_current_item_changed)
        self.list.itemDoubleClicked.connect(self._on_item_double_clicked)
        self.list.customContextMenuRequested.connect(self._on_context_menu_requested)
        layout.addWidget(self.list, 1)
        self._updating = False

    def set_conversations(self, conversations: list[Any], current_id: int | None) -> None:
        """Show the conversations in the given order (the store's: most recent first)."""
        self._updating = True
        self.list.clear()
        for conversation in conversations:
            item = QListWidgetItem(conversation.title)
            item.setData(_ID_ROLE, conversation.id)
            item.setToolTip(f"{conversation.title}\n\n{RENAME_TIP}")
            self.list.addItem(item)
            if conversation.id == current_id:
                self.list.setCurrentItem(item)
        self._updating = False

    def current_id(self) -> int | None:
        """The selected conversation's id."""
        item = self.list.currentItem()
        return None if item is None else int(item.data(_ID_ROLE))

    def ids(self) -> list[int]:
        """Conversation ids in display order."""
        return [int(self.list.item(i).data(_ID_ROLE)) for i in range(self.list.count())]

    def ask_rename(self, conversation_id: int) -> None:
        """Ask for a new name and emit rename_requested."""
        item = self._item(conversation_id)
        if item is None:
            return
        title, ok = QInputDialog.getText(self, "Rename chat", "Name:", text=item.text())
        if ok and title.strip():
            self.rename_requested.emit(conversation_id, title.strip())

    def ask_delete(self, conversation_id: int) -> None:
        """Confirm, then emit delete_requested."""
        item = self._item(conversation_id)
        if item is None:
            return
        answer = QMessageBox.question(
            self, "Delete chat",
            f"Delete “{item.text()}” with all its messages and attachments? "
            "This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_requested.emit(conversation_id)

    def _item(self, conversation_id: int) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(_ID_ROLE) == conversation_id:
                return item
        return None

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_item_changed(self, current: QListWidgetItem | None,
                                 _previous: QListWidgetItem | None) -> None:
        if current is not None and not self._updating:
            self.conversation_selected.emit(int(current.data(_ID_ROLE)))

    @Slot(QListWidgetItem)
    def _on_item_double_clicked(self, item: QListWidgetItem) -> None:
        self.ask_rename(int(item.data(_ID_ROLE)))

    @Slot(QPoint)
    def _on_context_menu_requested(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        conversation_id = int(item.data(_ID_ROLE))
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.ask_rename(conversation_id))
        menu.addAction("Delete…", lambda: self.ask_delete(conversation_id))
        menu.exec(self.list.viewport().mapToGlobal(pos))
