"""How full the model's context is, and when the oldest turns will be left out.

Read off each reply's own figures (prompt and reply tokens, and the context of the model that
made it), never off what is loaded now. Shown in the status bar as "Context 1,234 / 4,096".
"""

from __future__ import annotations

from typing import Final

from PySide6.QtWidgets import QLabel, QWidget

from reflexia.core.engine.values import GenerationResult
from reflexia.ui.markup import set_label_text, tooltip_text

#: From this share on, the next turns will soon push the oldest ones out.
NEARLY_FULL: Final = 0.8


class ContextMeter(QLabel):
    """The conversation's share of the context after the last reply."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("contextMeter")
        self.used = 0
        self.context_size = 0
        self.clear()

    def clear(self) -> None:
        """A new or empty conversation: nothing is in the context yet."""
        self.used = self.context_size = 0
        set_label_text(self, "")
        self.setToolTip("")
        self.hide()

    def show_reply(self, result: GenerationResult) -> None:
        """The context as the reply left it (its prompt, the reply, what was left out)."""
        size = result.made_by.context_length
        if size <= 0 or result.from_cache:
            return
        stats = result.stats
        self.used, self.context_size = stats.prompt_tokens + stats.completion_tokens, size
        share = self.used / size
        set_label_text(self, f"Context {self.used:,} / {size:,}")
        if stats.left_out_messages:
            why = (
                f"The conversation is longer than the {size:,}-token context: its {stats.left_out_messages} "
                "oldest messages were left out of this reply, the system prompt kept."
            )
        elif share >= NEARLY_FULL:
            why = (
                f"{share:.0%} of the {size:,}-token context is in use: in a few more turns the oldest "
                "messages will be left out (the system prompt stays)."
            )
        else:
            why = f"{share:.0%} of the {size:,}-token context is in use."
        self.setToolTip(tooltip_text(why))
        self.setProperty(
            "level", "full" if stats.left_out_messages else "high" if share >= NEARLY_FULL else ""
        )
        self.style().unpolish(self)
        self.style().polish(self)
        self.show()
