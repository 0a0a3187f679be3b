"""What the main window says about the memory governor: its switches and the rungs it would make.

``GovernorNotices`` is a mixin of ``MainWindow`` (as ``ConversationActions`` is). Its banners
carry the topic ``governor``, so a load the user makes themselves (another model) dismisses them:
they were about the family that was loaded before.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Slot

from reflexia.core.memory.governor import Decision
from reflexia.services.governor_service import GovernorService, RungSuggestion
from reflexia.services.quantization import QuantizationService
from reflexia.ui.banner import Banner
from reflexia.ui.markup import markup
from reflexia.ui.performance_panel import PerformancePanel

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow

    _Window = QMainWindow
else:
    _Window = object

GOVERNOR = "governor"


class GovernorNotices(_Window):
    """The governor's notices in the window's banner (GUI thread only)."""

    _governor: GovernorService
    _quantization: QuantizationService
    banner: Banner
    performance: PerformancePanel

    def setup_governor_notices(self) -> None:
        """Listen to the governor; call once the banner and the performance panel exist."""
        self._governor_made_rung = False
        self._suggested_families: set[str] = set()  # each family's missing rung is offered once
        self._governor.switched.connect(self._on_governor_switched)
        self._governor.rung_suggested.connect(self._on_rung_suggested)

    def governor_made_rung(self) -> bool:
        """Whether the rung just made was the governor's (its own notice already says so); resets."""
        made, self._governor_made_rung = self._governor_made_rung, False
        return made

    def dismiss_governor_notice(self, request_id: int) -> None:
        """A model finished loading: unless the governor loaded it, its notices are out of date."""
        if not self._governor.made_load(request_id):
            self.banner.dismiss(GOVERNOR)

    @Slot(object)
    def _on_governor_switched(self, decision: Decision) -> None:
        # The governor connects to the quantizer before this window does, so a rung it had
        # made is announced here first; the quantizer's own notice is then skipped.
        made = " (made just now by the quantizer)" if decision.needs_quantization else ""
        self._governor_made_rung = decision.needs_quantization
        self.performance.add_switch(time.monotonic(), decision.from_rung, decision.to_rung, decision.reason)
        self.banner.show_message(
            markup("<b>Switched to {}</b>{} — {}", decision.to_rung, made, decision.reason),
            "info",
            topic=GOVERNOR,
        )

    @Slot(object)
    def _on_rung_suggested(self, suggestion: RungSuggestion) -> None:
        if suggestion.family_key in self._suggested_families:
            return
        self._suggested_families.add(suggestion.family_key)
        rung, source, family = suggestion.wanted.rung, suggestion.source, suggestion.family_name

        def make() -> None:
            self._quantization.quantize(source, rung, family)

        self.banner.show_message(
            markup(
                "<b>A {} file of {} would help</b> — {}. Reflexia makes new model files only when you "
                "ask (or turn on <b>Make rungs automatically</b> in the settings).",
                rung,
                family,
                suggestion.wanted.reason,
            ),
            "warning",
            (f"Make {rung}", make),
            topic=GOVERNOR,
        )
