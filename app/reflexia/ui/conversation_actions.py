"""What the main window does with conversations: open, export, find, delete, regenerate, edit.

``ConversationActions`` is a mixin of ``MainWindow``: its methods use the window's
widgets and services, declared below so that type checks see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QDockWidget, QFileDialog

from reflexia.core.engine.conversation import ChatMessage
from reflexia.core.history.records import StoredConversation, StoredMessage
from reflexia.services.chat_session import ChatSession
from reflexia.services.conversation_history import ConversationHistory
from reflexia.services.roles import RoleService
from reflexia.ui.banner import Banner
from reflexia.ui.chat_view import ChatView
from reflexia.ui.composer import Composer
from reflexia.ui.context_meter import ContextMeter
from reflexia.ui.macos import set_dock_icon_visible
from reflexia.ui.markup import Markup, markup
from reflexia.ui.sidebar import ConversationSidebar

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow

    _Window = QMainWindow  # type checks see the window's own methods (statusBar, a parent for dialogs)
else:
    _Window = object  # at run time the window's other base, QMainWindow, comes after the mixin


class ConversationActions(_Window):
    """The conversation commands of the main window (GUI thread only).

    Used as ``class MainWindow(ConversationActions, QMainWindow)``; the window sets the
    attributes declared here in its ``__init__``.
    """

    _chat: ChatSession
    _history: ConversationHistory
    _roles: RoleService
    chat_view: ChatView
    context_meter: ContextMeter
    composer: Composer
    banner: Banner
    sidebar: ConversationSidebar
    sidebar_dock: QDockWidget

    if TYPE_CHECKING:

        def show_error(self, message: Markup | str) -> None:
            """Show an error in the banner (the window's)."""

        def set_documents_on(self, on: bool) -> None:
            """Answer this chat from the documents, or not (the window's, from DocumentActions)."""

    def open_conversation(self, conversation_id: str) -> None:
        """Continue a stored conversation: its messages, and the model's memory of it.

        The history thread reads it; :meth:`_on_conversation_loaded` shows it.
        """
        if not self._history.available or self._chat.is_replying:
            self.statusBar().showMessage("Wait for the reply to finish (or stop it) first", 4000)
            return
        self._history.open(conversation_id)

    @Slot(object, str)
    def _on_conversation_loaded(self, stored: StoredConversation, unanswered: str) -> None:
        self._show_stored(stored)
        self._restore_options(stored)
        self.sidebar.select(stored.id)
        if unanswered:
            self.composer.give_back(unanswered)
            self.statusBar().showMessage(
                "Your last message was not answered (Reflexia closed first): it is back in the input box",
                8000,
            )

    def _restore_options(self, stored: StoredConversation) -> None:
        """The conversation's own role and documents switch; not recorded (older ones): the role's."""
        if stored.expert_role:
            self._roles.choose(stored.expert_role)  # the picker follows (a deleted role: the current one)
        on = stored.use_documents
        self.set_documents_on(self._roles.current.use_documents if on is None else on)

    def _show_stored(self, stored: StoredConversation) -> None:
        self.chat_view.clear()
        self.context_meter.clear()  # known again after the next reply
        shown = [m for m in stored.messages if m.role in ("user", "assistant") and m.content]
        # Hundreds of messages open without a stall: the newest at once, older ones in slices.
        self.chat_view.load_messages(
            [
                (m.role, m.content, _stored_footer(m), m.sources)
                if m.role == "assistant"
                else (m.role, m.content, "")
                for m in shown
            ]
        )
        self.composer.set_replying(False)
        self.composer.input.setFocus()

    @Slot(object)
    def continue_from(self, session: ChatSession) -> None:
        """Open another client's conversation (the quick prompt's) here, kept in the history."""
        if self._chat.is_replying:
            self.statusBar().showMessage("Wait for the reply to finish (or stop it) first", 4000)
            return
        if self._history.available:
            self._history.adopt(session)  # stored on the history thread, in the order asked
        self._chat.resume(session.conversation_id, list(session.conversation.turns))
        self.chat_view.load_messages([(t.role, t.content, "") for t in session.conversation.turns])
        session.new_chat()  # the next quick question starts afresh; this one lives here now
        self.bring_to_front()

    def bring_to_front(self) -> None:
        """Show the window over the others (from the menubar, or a second launch)."""
        set_dock_icon_visible(True)
        if self.isMinimized():
            self.showNormal()
        else:
            self.show()
        self.raise_()
        self.activateWindow()

    def export_conversation(self, conversation_id: str, form: str) -> None:
        """Save a conversation as Markdown or JSON where the user chooses."""
        if not self._history.available:
            return
        suffix = {"md": "Markdown (*.md)", "json": "JSON (*.json)"}[form]
        path, _ = QFileDialog.getSaveFileName(self, "Export conversation", f"conversation.{form}", suffix)
        if path:  # written on the history thread: a failure reaches the banner through history.failed
            self._history.export(conversation_id, form, Path(path))

    @Slot(str)
    def _on_exported(self, path: str) -> None:
        self.statusBar().showMessage(f"Exported to {path}", 5000)

    def _on_export_current(self) -> None:
        self.export_conversation(self._chat.conversation_id, "md")

    def _on_find(self) -> None:
        self.sidebar_dock.show()
        self.sidebar.focus_search()

    def _on_conversation_deleted(self, conversation_id: str, title: str) -> None:
        if not self._chat.conversation.turns:  # it was the open one: the history started a new chat
            self.chat_view.clear()
        history = self._history
        self.banner.show_message(
            markup("Deleted <b>{}</b>.", title),
            "info",
            ("Undo", lambda: history.undo_delete(conversation_id)),
        )

    def regenerate(self) -> None:
        """Answer the last message again, replacing the last reply."""
        if self._chat.is_replying or not self._chat.conversation.turns:
            return
        if not self._chat.can_regenerate():  # no model: the exchange stays, and the status bar says why
            return
        self._history.take_back_user_message()
        self.chat_view.remove_from_user_message(0)
        if not self._chat.regenerate():
            self.statusBar().showMessage("Nothing to regenerate", 3000)

    def edit_last_message(self) -> None:
        """Put the last message back in the input box to change and send it again."""
        self.edit_message(0)

    @Slot(int)
    def edit_message(self, later: int) -> None:
        """Put one of the user's messages back in the input box; the turns after it are set aside.

        The banner offers Undo, which puts them back (window, chat session and history).

        Args:
            later: how many of the user's messages come after it (0: the last one).
        """
        if self._chat.is_replying:
            self.statusBar().showMessage("Wait for the reply to finish (or stop it) first", 4000)
            return
        before = list(self._chat.conversation.turns)
        text = self._chat.take_back_user_message(later)
        if not text:
            return
        self._history.take_back_user_message(later)
        self.chat_view.remove_from_user_message(later)
        self.composer.give_back(text)
        kept = list(self._chat.conversation.turns)
        edit = _Edit(self._chat.conversation_id, text, tuple(kept), tuple(before[len(kept) :]))
        self.banner.show_message(
            markup("Editing your message: {} turns after it were set aside.", len(edit.dropped)),
            "info",
            ("Undo", lambda: self.undo_edit(edit)),
        )

    def undo_edit(self, edit: _Edit) -> None:
        """Put back the turns an edit set aside, if the conversation has not gone on since."""
        chat = self._chat
        if (
            chat.is_replying
            or chat.conversation_id != edit.conversation_id
            or chat.conversation.turns != list(edit.kept)
        ):
            self.statusBar().showMessage("Too late to undo the edit: the conversation went on", 5000)
            return
        chat.resume(edit.conversation_id, [*edit.kept, *edit.dropped])
        if self.composer.input.toPlainText() == edit.text:
            self.composer.input.clear()
        if self._history.available:  # shown once stored again, with each reply's figures
            self._history.undo_take_back(edit.conversation_id)
        else:
            self.chat_view.load_messages([(t.role, t.content, "") for t in chat.conversation.turns])

    @Slot(object)
    def _on_turns_restored(self, stored: StoredConversation) -> None:
        if stored.id == self._chat.conversation_id:
            self._show_stored(stored)


@dataclass(frozen=True)
class _Edit:
    """What an edit set aside, to put back on Undo."""

    conversation_id: str
    text: str
    kept: tuple[ChatMessage, ...]
    dropped: tuple[ChatMessage, ...]


def _stored_footer(message: StoredMessage) -> str:
    stats = message.stats or {}
    parts = []
    if stats.get("completion_tokens") is not None:
        parts.append(f"{stats['completion_tokens']} tokens")
    if stats.get("tokens_per_s"):
        parts.append(f"{stats['tokens_per_s']} tok/s")
    parts += [p for p in (message.rung, message.expert_role) if p]
    mark = {"stopped": "stopped", "cut": "cut short"}.get(message.status)
    if mark:
        parts.append(mark)
    return " · ".join(parts)
