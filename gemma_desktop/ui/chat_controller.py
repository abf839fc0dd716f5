"""The send flow: count, check the fit, store, stream the reply into its row; stop, regenerate."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gemma_desktop.core.chat import Continuation
from gemma_desktop.core.conversation import (
    StoredTurn,
    build_messages,
    check_fit,
    turns_from_store,
)
from gemma_desktop.core.errors import ContextOverflowError, UserError
from gemma_desktop.ui.attachments import AttachmentManager, PendingAttachment
from gemma_desktop.ui.chat_view import ChatView
from gemma_desktop.ui.composer import Composer
from gemma_desktop.ui.message_widget import MessageWidget
from gemma_desktop.ui.preferences import Preferences
from gemma_desktop.ui.status_bar import StatusBar
from gemma_desktop.ui.workers import ProgressRelay, TaskRunner, TokenBatcher

log = logging.getLogger(__name__)

# Streamed text is written to the database at most this often (crash safety vs. writes).
SAVE_INTERVAL_S = 0.25
CONTEXT_DEBOUNCE_MS = 300


@dataclass
class _Reply:
    """A reply being written: where it is stored, what arrived, and its live speed."""

    conversation_id: int
    message_id: int
    messages: list[Any]
    text: str = ""
    widget: MessageWidget | None = None
    started_at: float = 0.0
    saved_at: float = 0.0
    first_token_at: float = 0.0
    pieces: list[int] = field(default_factory=lambda: [0])  # tokens seen (engine thread)
    max_tokens: int = 0
    thinking: bool = False  # the prompt asked the model to think
    thought: str = ""
    thought_count: list[int] = field(default_factory=lambda: [0])  # set on the engine thread
    thought_base_tokens: int = 0  # thought tokens of the reply this one carries on
    thought_base_s: float = 0.0
    thought_started_at: float = 0.0
    thought_ended: bool = False
    limit_setting: str = "reply"  # which setting the limit came from: "reply" or "thinking"
    speed_base: int = 0  # tokens of the earlier part of a continued reply (not timed now)
    earlier: Any = None  # the stored message a continuation started from, restored on failure

    @property
    def thought_tokens(self) -> int:
        """Thought tokens so far (the engine's count, which includes any carried over)."""
        return max(self.thought_base_tokens, self.thought_count[0])

    def thought_seconds(self, now: float) -> float:
        """Seconds spent thinking so far."""
        if not self.thought_started_at:
            return self.thought_base_s
        return self.thought_base_s + now - self.thought_started_at


@dataclass
class _Draft:
    """What a conversation's composer held when the user left it (attachments are kept by
    the AttachmentManager under the same id)."""

    text: str = ""
    error: str = ""
    note: bool = False  # the message is a neutral note, not an error


def stored_turns(store: Any, conversation_id: int) -> list[StoredTurn]:
    """The conversation's messages as prompt turns, attachments folded in, thoughts left out."""
    return turns_from_store(store, conversation_id)


class ChatController(QObject):
    """Runs the chat of the conversation shown, keeping the GUI thread free.

    Threading: GUI thread only. Engine calls return futures delivered through the
    TaskRunner; tokens arrive through a TokenBatcher (~30 updates/s); prompt progress
    through a ProgressRelay. Only one reply is written at a time (the engine is one
    thread): switching conversations is allowed while it streams, the reply keeps going
    into its own stored row and is shown again when its conversation is reopened.
    Signals: `reply_started(int)` / `reply_finished(int, str)` with the conversation id
    (and final status), `conversation_changed(int)` after a title or order change.
    """

    reply_started = Signal(int)
    reply_finished = Signal(int, str)
    conversation_changed = Signal(int)
    context_counted = Signal(int, int)

    def __init__(self, store: Any, engine: Any, runner: TaskRunner, view: ChatView,
                 composer: Composer, attachments: AttachmentManager, status: StatusBar,
                 preferences: Preferences, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._engine = engine
        self._runner = runner
        self._view = view
        self._composer = composer
        self._attachments = attachments
        self._status = status
        self._prefs = preferences
        self.conversation_id: int | None = None
        self.model_id: str | None = None  # the registry id of the loaded model
        self._reply: _Reply | None = None
        self._preparing = False
        self._batcher = TokenBatcher(self)
        self._batcher.batch_ready.connect(self._on_batch_ready)
        self._batcher.thinking_ready.connect(self._on_thinking_ready)
        self._progress = ProgressRelay(self)
        self._progress.progressed.connect(self._on_prompt_progressed)
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(CONTEXT_DEBOUNCE_MS)
        self._count_timer.timeout.connect(self._on_count_timer)
        self._count_seq = 0
        self._drafts: dict[int, _Draft] = {}
        self._restoring = False
        composer.send_requested.connect(self._on_send_requested)
        composer.stop_requested.connect(self.stop)
        composer.regenerate_requested.connect(self.regenerate)
        composer.thinking_toggled.connect(self._on_thinking_toggled)
        composer.text_edited.connect(self.schedule_context_count)
        attachments.changed.connect(self.schedule_context_count)
        # A changed draft makes an earlier "does not fit" (or any send error) stale.
        composer.text_edited.connect(self._on_draft_changed)
        attachments.changed.connect(self._on_draft_changed)
        self.refresh_thinking()

    # ----- state -----------------------------------------------------------------------------

    @property
    def generating(self) -> bool:
        """True while a reply is being written."""
        return self._reply is not None

    @property
    def busy(self) -> bool:
        """True while a message is being prepared or a reply written."""
        return self._preparing or self._reply is not None

    @property
    def reply_conversation_id(self) -> int | None:
        """The conversation whose reply is being written, if any."""
        return None if self._reply is None else self._reply.conversation_id

    def shutdown(self) -> None:
        """At quit: stop the reply and store what was written as 'stopped' (GUI thread)."""
        self._count_timer.stop()
        if self._reply is None:
            return
        self._engine.stop()
        self._batcher.flush()
        reply, self._reply = self._reply, None
        try:
            # 'closed': the note says why it stopped; the statistics known so far are kept.
            self._store.update_message(reply.message_id, content=reply.text,
                                       thinking=reply.thought, status="stopped",
                                       finish_reason="closed", stats=_partial_stats(reply))
        except UserError as exc:
            log.warning("could not save the stopped reply: %s", exc)

    def _set_preparing(self, preparing: bool) -> None:
        """While a message is counted and stored, Regenerate has nothing to act on."""
        self._preparing = preparing
        if preparing:
            self._composer.set_can_regenerate(False)
            self._update_actions(self._view.messages())
        else:
            self._update_regenerate()

    # ----- thinking --------------------------------------------------------------------------

    def model_can_think(self) -> bool:
        """True when the loaded model's template has a thinking switch."""
        info = self._engine.model
        return bool(info is not None and getattr(info, "supports_thinking", False))

    def thinking_on(self, conversation_id: int | None = None) -> bool:
        """Whether this conversation's next reply is asked to think first."""
        conversation_id = self.conversation_id if conversation_id is None else conversation_id
        if conversation_id is None or not self.model_can_think():
            return False
        try:
            choice = self._store.get_conversation(conversation_id).thinking
        except (UserError, LookupError) as exc:
            log.warning("cannot read the thinking switch: %s", exc)
            choice = None
        return self._prefs.think_by_default if choice is None else bool(choice)

    def max_tokens(self, thinking: bool) -> int:
        """The reply limit: thinking and answer share one, larger when thinking."""
        return self._prefs.thinking_max_tokens if thinking else self._prefs.max_tokens

    @Slot()
    def refresh_thinking(self) -> None:
        """Show the Think switch for the model loaded and the conversation shown."""
        info = self._engine.model
        if info is None:
            self._composer.set_thinking_available(False, "Thinking: load a model first.")
        elif not self.model_can_think():
            self._composer.set_thinking_available(
                False, f"{info.name} cannot think first: its chat template has no thinking "
                "switch. Gemma 4 models can.")
        else:
            self._composer.set_thinking_available(True, "")
        self._composer.set_thinking(self.thinking_on())
        self._update_regenerate()  # Continue / Answer now need a loaded model
        self.schedule_context_count()

    @Slot(bool)
    def _on_thinking_toggled(self, on: bool) -> None:
        if self.conversation_id is None:
            return
        try:
            self._store.set_thinking(self.conversation_id, on)
        except UserError as exc:
            self._composer.show_error(str(exc))
        self.schedule_context_count()

    def system_prompt(self) -> str:
        """The shown conversation's system prompt."""
        if self.conversation_id is None:
            return ""
        return str(self._store.get_conversation(self.conversation_id).system_prompt)

    # ----- drafts ----------------------------------------------------------------------------

    @Slot()
    def _on_draft_changed(self) -> None:
        if not self._restoring:
            self._composer.clear_error()

    def _save_draft(self, conversation_id: int) -> None:
        error, note = self._composer.error
        self._drafts[conversation_id] = _Draft(self._composer.text, error, note)

    def _restore_draft(self, conversation_id: int) -> None:
        draft = self._drafts.pop(conversation_id, _Draft())
        self._restoring = True
        try:
            self._attachments.switch_to(conversation_id)
            if self._composer.text != draft.text:
                self._composer.set_text(draft.text)
            self._composer.show_error(draft.error, note=draft.note)
        finally:
            self._restoring = False

    def forget_draft(self, conversation_id: int) -> None:
        """Drop a deleted conversation's draft and pending attachments."""
        self._drafts.pop(conversation_id, None)
        self._attachments.forget(conversation_id)
        if conversation_id == self.conversation_id:
            self._restoring = True
            self._composer.clear()
            self._composer.clear_error()
            self._restoring = False

    def clear_errors(self) -> None:
        """Forget every conversation's inline error (the settings they were about changed)."""
        self._composer.clear_error()
        for draft in self._drafts.values():
            draft.error, draft.note = "", False

    def _show_error(self, conversation_id: int, message: str, *, note: bool = False) -> None:
        """Show the message in its conversation's composer, now or when it is opened again."""
        if conversation_id == self.conversation_id:
            self._composer.show_error(message, note=note)
        else:
            draft = self._drafts.setdefault(conversation_id, _Draft())
            draft.error, draft.note = message, note

    # ----- opening ---------------------------------------------------------------------------

    def open_conversation(self, conversation_id: int) -> None:
        """Show a conversation from the store; a reply still streaming into it is re-attached.

        The composer's text, pending attachments and inline error belong to the conversation:
        they are kept when the user leaves it and come back when it is opened again.
        """
        if self._reply is not None and self._reply.widget is not None:
            self._reply.widget = None
        previous = self.conversation_id
        self.conversation_id = conversation_id
        if previous != conversation_id:
            if previous is not None:
                self._save_draft(previous)
            self._restore_draft(conversation_id)
        self._composer.set_thinking(self.thinking_on())
        live = self._reply is not None and self._reply.conversation_id == conversation_id
        if not live:
            self._status.set_speed(None)
        self._view.clear()
        attachments = self._store.attachments_by_message(conversation_id)
        for message in self._store.list_messages(conversation_id):
            widget = self._view.add_message(message.role, message_id=message.id)
            for record in attachments.get(message.id, []):
                widget.add_attachment_chip(record.name, _attachment_detail(record),
                                           "\n".join(record.warnings))
            if self._reply is not None and self._reply.message_id == message.id:
                self._reattach(self._reply, widget)
            else:
                if message.thinking or not message.stats.get("thinking_complete", True):
                    widget.show_thinking(message.thinking, message.stats)
                widget.set_text(message.content)
                widget.finish(message.status, message.finish_reason, message.stats)
            widget.continue_requested.connect(
                lambda mode, mid=message.id: self.continue_reply(mid, mode))
        self._view.scroll_to_bottom()
        self._update_regenerate()
        self.schedule_context_count()

    # ----- sending ---------------------------------------------------------------------------

    @Slot(str)
    def _on_send_requested(self, text: str) -> None:
        self.send(text)

    def send(self, text: str) -> None:
        """Send the composer's text with the ready attachments (nothing is lost on failure)."""
        if self.busy or self.conversation_id is None:
            return
        ready = self._attachments.ready()
        if not text.strip() and not ready:
            return
        if self._engine.model is None:
            self._composer.show_error("The model is not loaded yet; wait until the status bar "
                                      "says Ready, or choose a model.")
            return
        if self._attachments.busy:
            self._composer.show_error("Attachments are still being read; send when their "
                                      "chips show the token count.")
            return
        self._composer.clear_error()
        conversation_id = self.conversation_id
        new_turn = StoredTurn("user", text.strip(), tuple(a.as_turn() for a in ready))
        turns = [*stored_turns(self._store, conversation_id), new_turn]
        messages = build_messages(self.system_prompt(), turns)
        thinking = self.thinking_on(conversation_id)
        self._set_preparing(True)
        self._runner.watch(
            self._engine.render(messages, thinking=thinking),
            on_done=lambda r: self._on_send_counted(conversation_id, text, ready, messages, r[1],
                                                    thinking),
            on_error=lambda exc: self._on_prepare_failed(exc, conversation_id),
        )

    def _fits(self, prompt_tokens: int, ready: list[PendingAttachment],
              conversation_id: int, thinking: bool) -> bool:
        info = self._engine.model
        try:
            check_fit(prompt_tokens, info.n_ctx, self.max_tokens(thinking),
                      {a.name: a.tokens or 0 for a in ready},
                      n_ctx_max=info.n_ctx_train, window=True)
        except ContextOverflowError as exc:
            self._set_preparing(False)
            self._show_error(conversation_id, str(exc))
            return False
        return True

    def _on_send_counted(self, conversation_id: int, text: str, ready: list[PendingAttachment],
                         messages: list[Any], prompt_tokens: int, thinking: bool) -> None:
        if not self._fits(prompt_tokens, ready, conversation_id, thinking):
            return
        model_id = self.model_id
        store = self._store

        def persist() -> tuple[Any, Any, str | None]:
            user = store.add_message(conversation_id, "user", text.strip(), model_id=model_id)
            for item in ready:
                doc = item.document
                store.add_attachment(
                    conversation_id, user.id, path=str(doc.path), name=doc.name, kind=doc.kind,
                    content_hash=doc.content_hash, pages=doc.pages, token_count=item.tokens or 0,
                    text=doc.text, warnings=list(doc.warnings),
                )
            reply = store.add_message(conversation_id, "assistant", "", status="streaming",
                                      model_id=model_id)
            title = store.auto_title(conversation_id, text or ready[0].name) if text or ready \
                else None
            return user, reply, title

        sent = self._attachments.take(ready)
        if self.conversation_id == conversation_id:
            self._composer.clear()
        elif conversation_id in self._drafts:
            self._drafts[conversation_id].text = ""

        def stored(result: tuple[Any, Any, str | None]) -> None:
            user, reply, _title = result
            not_sent = self._attachments.take_failed(conversation_id)
            if not_sent:
                # Never dropped silently: one line says which files stayed behind and why.
                reasons = "; ".join(f"{i.name} ({i.error})" if i.error else i.name
                                    for i in not_sent)
                self._show_error(conversation_id, f"Not sent: {reasons}", note=True)
            if self.conversation_id == conversation_id:
                widget = self._view.add_message("user", user.content, message_id=user.id)
                for item in sent:
                    widget.add_attachment_chip(item.name, item.detail,
                                               "\n".join(item.document.warnings))
            self.conversation_changed.emit(conversation_id)
            self._start_reply(conversation_id, reply.id, messages, thinking)

        def failed(exc: BaseException) -> None:
            self._set_preparing(False)
            self._attachments.restore(sent, conversation_id)
            if self.conversation_id != conversation_id:
                draft = self._drafts.setdefault(conversation_id, _Draft())
                draft.text = draft.text or text
            elif not self._composer.text:
                self._composer.set_text(text)
            self._show_error(conversation_id, str(exc) if isinstance(exc, UserError)
                             else f"Unexpected error: {exc}")

        self._runner.run(persist, on_done=stored, on_error=failed)

    def _on_prepare_failed(self, exc: BaseException, conversation_id: int) -> None:
        self._set_preparing(False)
        if isinstance(exc, UserError):
            self._show_error(conversation_id, str(exc))
        else:
            self._show_error(conversation_id, f"Unexpected error: {exc}")
            self._runner.task_failed.emit(exc)

    # ----- regenerate ------------------------------------------------------------------------

    @Slot()
    def regenerate(self) -> None:
        """Delete the last reply and write it again from the same history."""
        if self.busy or self.conversation_id is None or self._engine.model is None:
            return
        conversation_id = self.conversation_id
        messages_ = self._store.list_messages(conversation_id)
        if not messages_ or messages_[-1].role != "assistant":
            return
        last = messages_[-1]
        self._store.delete_messages_from(last.id)
        self._view.remove_from(last.id)
        messages = build_messages(self.system_prompt(), stored_turns(self._store, conversation_id))
        thinking = self.thinking_on(conversation_id)
        self._set_preparing(True)

        def counted(result: tuple[Any, int]) -> None:
            if not self._fits(result[1], [], conversation_id, thinking):
                return
            reply = self._store.add_message(conversation_id, "assistant", "", status="streaming",
                                            model_id=self.model_id)
            self._start_reply(conversation_id, reply.id, messages, thinking)

        self._runner.watch(self._engine.render(messages, thinking=thinking), on_done=counted,
                           on_error=lambda exc: self._on_prepare_failed(exc, conversation_id))

    # ----- continuing a reply cut short --------------------------------------------------------

    def continue_reply(self, message_id: int, mode: str) -> None:
        """Carry on the last reply: "more" with another full limit, "answer" to answer now."""
        if self.busy or self.conversation_id is None or self._engine.model is None:
            return
        conversation_id = self.conversation_id
        stored = self._store.list_messages(conversation_id)
        if not stored or stored[-1].id != message_id or stored[-1].role != "assistant":
            self._composer.show_error("Only the last reply can be continued.", note=True)
            return
        message = stored[-1]
        stats = message.stats
        thinking = bool(stats.get("thinking")) or bool(message.thinking)
        # The exact tokens carry on precisely (and from the cache), but only with their model.
        same_model = stats.get("token_ids_model") == self.model_id
        continuation = Continuation(
            thinking=message.thinking, answer=message.content,
            close_thought=mode == "answer",
            thinking_tokens=int(stats.get("thinking_tokens") or 0),
            completion_tokens=int(stats.get("completion_tokens") or 0),
            thinking_s=float(stats.get("thinking_s") or 0.0),
            token_ids=tuple(stats.get("token_ids") or ()) if same_model else (),
        )
        # "more" gives the limit shown on the button (the one the reply had) again; an answer
        # gets the ordinary reply limit.
        if mode == "more":
            limit = int(stats.get("max_tokens") or 0) or self.max_tokens(thinking)
        else:
            limit = self._prefs.max_tokens
        try:
            messages = build_messages(self.system_prompt(), turns_from_store(
                self._store, conversation_id, before=message_id))
            self._store.update_message(message_id, status="streaming")
        except UserError as exc:
            self._composer.show_error(str(exc))
            return
        widget = self._widget_for(message_id)
        self._start_reply(conversation_id, message_id, messages, thinking, widget=widget,
                          continuation=continuation, max_tokens=limit, earlier=message)

    def _widget_for(self, message_id: int) -> MessageWidget | None:
        return next((w for w in self._view.messages() if w.message_id == message_id), None)

    # ----- streaming -------------------------------------------------------------------------

    def _start_reply(self, conversation_id: int, message_id: int, messages: list[Any],
                     thinking: bool, *, widget: MessageWidget | None = None,
                     continuation: Continuation | None = None,
                     max_tokens: int | None = None, earlier: Any = None) -> None:
        now = time.monotonic()
        limit = max_tokens or self.max_tokens(thinking)
        answer_only = continuation is not None and continuation.close_thought
        reply = _Reply(conversation_id, message_id, messages, started_at=now, saved_at=now,
                       max_tokens=limit, thinking=thinking, earlier=earlier,
                       limit_setting="thinking" if thinking and not answer_only else "reply")
        if continuation is not None:
            reply.text = continuation.answer
            reply.thought = continuation.thinking
            reply.thought_base_tokens = continuation.thinking_tokens
            reply.thought_base_s = continuation.thinking_s
            reply.pieces[0] = reply.speed_base = continuation.completion_tokens
            # An answer already begun, or one asked for now, means the thought is over.
            reply.thought_ended = bool(continuation.answer) or continuation.close_thought
        if self.conversation_id == conversation_id:
            if widget is None:
                widget = self._view.add_message("assistant", message_id=message_id)
                widget.continue_requested.connect(
                    lambda mode, mid=message_id: self.continue_reply(mid, mode))
            widget.set_actions([])
            self._reattach(reply, widget)
            self._view.scroll_to_bottom()
        self._reply = reply
        self._preparing = False
        self._composer.set_generating(True)
        self._status.set_state("Reading prompt 0 %")
        self._status.set_speed(None)
        counter, thought_counter = reply.pieces, reply.thought_count
        batcher = self._batcher

        def on_token(piece: str) -> None:  # engine thread: no Qt calls besides the buffer
            counter[0] += 1
            batcher.push(piece)

        def on_thinking(piece: str) -> None:  # engine thread
            counter[0] += 1
            batcher.push_thinking(piece)

        def on_thought_tokens(count: int) -> None:  # engine thread: a plain int store
            thought_counter[0] = count

        batcher.start()
        future = self._engine.generate(
            messages, max_tokens=limit, thinking=thinking, continuation=continuation,
            on_token=on_token, on_thinking=on_thinking,
            on_prompt_progress=self._progress.report, on_thought_tokens=on_thought_tokens,
        )
        self._runner.watch(future, on_done=lambda r: self._on_generated(reply, r),
                           on_error=lambda e: self._on_generation_failed(reply, e))
        self.reply_started.emit(conversation_id)

    def _reattach(self, reply: _Reply, widget: MessageWidget) -> None:
        """Show a reply being written in a (new) widget: thought, answer so far, live state."""
        reply.widget = widget
        widget.begin_stream(reply.text)
        if not reply.thought and not reply.thought_started_at:
            return
        now = time.monotonic()
        if reply.thought_ended:
            widget.show_thinking(reply.thought, {
                "thinking_s": reply.thought_seconds(now),
                "thinking_tokens": reply.thought_tokens, "thinking_complete": True})
            widget.thinking.set_expanded(not self._prefs.fold_thinking)
        else:
            widget.begin_thinking(reply.thought, elapsed_s=reply.thought_seconds(now),
                                  tokens=reply.thought_tokens)

    @Slot(str)
    def _on_thinking_ready(self, piece: str) -> None:
        reply = self._reply
        if reply is None:
            return
        now = time.monotonic()
        if not reply.thought_started_at:
            reply.thought_started_at = now
            if not reply.first_token_at:
                reply.first_token_at = now
            self._status.set_state("Thinking")
        reply.thought += piece
        if reply.widget is not None:
            reply.widget.append_thinking(piece, reply.thought_tokens)
        self._show_speed(reply, now)
        if now - reply.saved_at >= SAVE_INTERVAL_S:
            reply.saved_at = now
            self._store.update_message(reply.message_id, thinking=reply.thought)

    def _end_thought(self, reply: _Reply, now: float) -> None:
        """The answer began: the thought is over, and its panel folds (if so set)."""
        reply.thought_ended = True
        if reply.thought_started_at:
            reply.thought_base_s = reply.thought_seconds(now)
            reply.thought_started_at = 0.0
        if reply.widget is not None and reply.thought:
            reply.widget.end_thinking(seconds=reply.thought_base_s, tokens=reply.thought_tokens,
                                      complete=True, collapse=self._prefs.fold_thinking)

    def _show_speed(self, reply: _Reply, now: float) -> None:
        tokens = reply.pieces[0] - reply.speed_base
        shown = reply.conversation_id == self.conversation_id
        if shown and tokens > 1 and now > reply.first_token_at:
            self._status.set_speed((tokens - 1) / (now - reply.first_token_at))

    @Slot(str)
    def _on_batch_ready(self, piece: str) -> None:
        reply = self._reply
        if reply is None:
            return
        now = time.monotonic()
        if not reply.thought_ended and (reply.thought or reply.thought_started_at):
            self._end_thought(reply, now)
        reply.thought_ended = True
        if not reply.first_token_at:
            reply.first_token_at = now
        if not reply.text or self._status.state_label.text() != "Generating":
            self._status.set_state("Generating")
        reply.text += piece
        if reply.widget is not None:
            reply.widget.append(piece)
        self._show_speed(reply, now)
        if now - reply.saved_at >= SAVE_INTERVAL_S:
            reply.saved_at = now
            self._store.update_message(reply.message_id, content=reply.text,
                                       thinking=reply.thought)

    @Slot(int, int)
    def _on_prompt_progressed(self, done: int, total: int) -> None:
        if self._reply is not None and not self._reply.first_token_at:
            self._status.set_prompt_progress(done, total)

    def _on_generated(self, reply: _Reply, result: Any) -> None:
        self._batcher.flush()
        status = "stopped" if result.finish_reason == "cancelled" else "done"
        stats: dict[str, Any] = {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "reused_tokens": result.reused_tokens,
            "ttft_s": round(result.ttft_s, 4),
            "decode_tokens_per_s": round(result.decode_tokens_per_s, 2),
            "prompt_eval_s": round(result.prompt_eval_s, 4),
            "max_tokens": reply.max_tokens,
            "limit_setting": reply.limit_setting,
        }
        if result.length_limit:
            stats["length_limit"] = result.length_limit
        reply_ids = getattr(result, "reply_token_ids", None)
        resumable = result.finish_reason == "length" or not result.thinking_complete
        if resumable and reply_ids:
            # Kept so "Continue" resumes from exactly these tokens (with this model only).
            stats["token_ids"] = list(reply_ids)
            stats["token_ids_model"] = self.model_id
        if result.finish_reason == "repetition":
            stats["repeated"] = result.repeated
        if reply.thinking or result.thinking or not result.thinking_complete:
            stats.update(thinking=reply.thinking, thinking_tokens=result.thinking_tokens,
                         thinking_s=round(result.thinking_s, 2),
                         thinking_complete=result.thinking_complete,
                         answered=bool(result.text.strip()))
        reply.thought = result.thinking or reply.thought
        text = result.text or reply.text
        if reply.widget is not None and (reply.thought or not result.thinking_complete):
            # A thought that already ended when the answer began keeps the fold state the
            # user left it in; only its final numbers change.
            reply.widget.end_thinking(
                seconds=result.thinking_s, tokens=result.thinking_tokens,
                complete=result.thinking_complete,
                collapse=(not reply.thought_ended and self._prefs.fold_thinking
                          and result.thinking_complete))
        self._finish(reply, text, status, result.finish_reason, stats)
        if reply.conversation_id == self.conversation_id:
            self._status.set_speed(result.decode_tokens_per_s or None)

    def _on_generation_failed(self, reply: _Reply, exc: BaseException) -> None:
        self._batcher.flush()
        message = str(exc) if isinstance(exc, UserError) else f"Unexpected error: {exc}"
        if not isinstance(exc, UserError):
            log.error("generation failed", exc_info=exc)
        earlier = reply.earlier
        if earlier is not None:
            # Carrying on failed: the reply stays as it was, with its Continue actions, and
            # the message says what went wrong.
            reply.thought = earlier.thinking
            if reply.widget is not None and (earlier.thinking or not earlier.stats.get(
                    "thinking_complete", True)):
                reply.widget.show_thinking(earlier.thinking, earlier.stats)
            self._show_error(reply.conversation_id, f"The reply could not be continued: "
                             f"{message}")
            self._finish(reply, earlier.content, earlier.status, earlier.finish_reason or "",
                         earlier.stats)
            return
        stats: dict[str, Any] = {"error": message}
        if reply.thought:
            stats.update(_partial_stats(reply))
            stats["error"] = message
        if reply.widget is not None and reply.thought and not reply.thought_ended:
            reply.widget.end_thinking(seconds=reply.thought_seconds(time.monotonic()),
                                      tokens=reply.thought_tokens, complete=False,
                                      collapse=False)
        self._finish(reply, reply.text, "error", "error", stats)

    def _finish(self, reply: _Reply, text: str, status: str, finish_reason: str,
                stats: dict[str, Any]) -> None:
        self._reply = None
        try:
            self._store.update_message(reply.message_id, content=text, thinking=reply.thought,
                                       status=status, finish_reason=finish_reason, stats=stats)
        except UserError as exc:
            self._show_error(reply.conversation_id, f"The reply could not be saved: {exc}")
        if reply.widget is not None:
            # The engine's final text wins over the batches (it includes the decoder's tail).
            reply.widget.finish(status, finish_reason, stats, text=text)
        self._composer.set_generating(False)
        self._status.set_state("Ready")
        self._update_regenerate()
        self.schedule_context_count()
        self.reply_finished.emit(reply.conversation_id, status)

    @Slot()
    def stop(self) -> None:
        """Stop the reply being written; it keeps its text and ends 'stopped'."""
        if self._reply is not None:
            self._engine.stop()

    # ----- context meter ---------------------------------------------------------------------

    @Slot()
    def schedule_context_count(self) -> None:
        """Count the context again in ~300 ms (typing restarts the wait)."""
        self._count_timer.start()

    @Slot()
    def _on_count_timer(self) -> None:
        info = self._engine.model
        if info is None or self.conversation_id is None:
            self._status.set_context(0, 0)
            return
        if self._reply is not None:
            return  # counted again when the reply ends; the engine is busy meanwhile
        turns = stored_turns(self._store, self.conversation_id)
        ready = self._attachments.ready()
        text = self._composer.text.strip()
        if text or ready:
            turns.append(StoredTurn("user", text, tuple(a.as_turn() for a in ready)))
        messages = build_messages(self.system_prompt(), turns)
        self._count_seq += 1
        seq = self._count_seq
        n_ctx = info.n_ctx

        def counted(result: tuple[Any, int]) -> None:
            if seq == self._count_seq:
                self._status.set_context(result[1], n_ctx)
                self.context_counted.emit(result[1], n_ctx)

        # The think switch adds its token to the prompt, so the meter counts with it.
        self._runner.watch(self._engine.render(messages, thinking=self.thinking_on()),
                           on_done=counted,
                           on_error=lambda exc: log.debug("context count failed: %s", exc))

    def _update_regenerate(self) -> None:
        widgets = self._view.messages()
        self._composer.set_can_regenerate(
            not self.busy and bool(widgets) and widgets[-1].role == "assistant")
        self._update_actions(widgets)

    def _update_actions(self, widgets: list[MessageWidget]) -> None:
        """Offer Continue / Answer now under the last reply only, when it was cut short."""
        if self.conversation_id is None:
            return
        last = widgets[-1] if widgets else None
        for widget in widgets:
            if widget is not last or self.busy:
                widget.set_actions([])
        if last is None or last.role != "assistant" or last.message_id is None or self.busy:
            return
        try:
            message = self._store.get_message(last.message_id)
        except LookupError:
            return
        last.set_actions(reply_actions(message.status, message.finish_reason, message.stats,
                                       self._engine.model is not None))


def reply_actions(status: str, finish_reason: str | None, stats: dict[str, Any],
                  model_loaded: bool) -> list[tuple[str, str, str]]:
    """The actions offered under a reply that ended early: (mode, label, tooltip)."""
    if not model_loaded or status not in ("done", "stopped"):
        return []
    if stats.get("length_limit") == "context":
        return []  # more room needs a larger context; the note says so
    limit = int(stats.get("max_tokens") or 0)
    more = f" (+{limit:,} tokens)" if limit else ""
    if not stats.get("thinking_complete", True) and not stats.get("answered", True):
        actions = []
        if finish_reason != "repetition":  # a thought going round in circles needs no more
            actions.append(("more", f"Continue thinking{more}",
                            "Let the model think further, then answer."))
        actions.append(("answer", "Answer now",
                        "End the thinking here and have the model write its answer "
                        "(up to Max reply length)."))
        return actions
    if status == "done" and finish_reason == "length":
        return [("more", f"Continue{more}", "Write more of this reply.")]
    return []


def _partial_stats(reply: _Reply) -> dict[str, Any]:
    """What is known of a reply cut short: tokens so far, speed, time to first token."""
    tokens = reply.pieces[0]
    stats: dict[str, Any] = {"completion_tokens": tokens}
    timed = tokens - reply.speed_base
    if reply.thought:
        stats.update(thinking=reply.thinking, thinking_tokens=reply.thought_tokens,
                     thinking_s=round(reply.thought_seconds(time.monotonic()), 2),
                     thinking_complete=reply.thought_ended, answered=bool(reply.text.strip()))
    if reply.first_token_at:
        stats["ttft_s"] = round(reply.first_token_at - reply.started_at, 4)
        elapsed = time.monotonic() - reply.first_token_at
        if timed > 1 and elapsed > 0:
            stats["decode_tokens_per_s"] = round((timed - 1) / elapsed, 2)
    return stats


def _attachment_detail(record: Any) -> str:
    parts = []
    if record.pages:
        parts.append(f"{record.pages} page" + ("" if record.pages == 1 else "s"))
    parts.append(f"{record.token_count:,} tokens")
    return " · ".join(parts)
