"""Where a reply ends when the model has no end-of-turn token for it.

A base model continuing a transcript does not stop after its answer: it goes on to write
the user's next line. The reply ends before that line, and while it streams, text that may
turn out to begin such a line is held back, so the user never sees half of "User:".
"""

from __future__ import annotations


class ReplyEnd:
    """Watches a streamed reply for any of ``stops``. Used by one thread."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = stops
        self._longest = max(len(s) for s in stops)
        self.text = ""  # the reply so far, cut before a stop once one was seen
        self.ended = False
        self._shown = 0

    def add(self, piece: str) -> str:
        """Take the next piece of the reply; returns the text that can be shown now."""
        start = max(0, len(self.text) - self._longest + 1)
        self.text += piece
        found = [at for at in (self.text.find(stop, start) for stop in self._stops) if at >= 0]
        if found:
            self.text = self.text[: min(found)].rstrip()
            self.ended = True
            return self._show(len(self.text))
        # Hold back what may begin a stop, and the whitespace before it (a cut reply loses it).
        visible = self.text[: len(self.text) - self._stop_prefix_length()].rstrip()
        return self._show(len(visible))

    def finish(self) -> str:
        """The text still held back when the reply ended for another reason (EOS, length, stop)."""
        return self._show(len(self.text))

    def _stop_prefix_length(self) -> int:
        """Length of the longest end of the text that a stop starts with."""
        for length in range(min(self._longest - 1, len(self.text)), 0, -1):
            tail = self.text[-length:]
            if any(stop.startswith(tail) for stop in self._stops):
                return length
        return 0

    def _show(self, upto: int) -> str:
        shown = self.text[self._shown : upto] if upto > self._shown else ""
        self._shown = max(self._shown, upto)
        return shown
