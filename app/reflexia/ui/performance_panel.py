"""The live performance panel: reply speed, memory over time and the quantization rung.

Data arrives about once a second (memory) and once per reply. The panel keeps it in plain
bounded buffers and draws only while visible, at most four times a second, so feeding a
hidden panel costs a deque append per call. The charts take the colours of the theme
applied to the application (``reflexia.ui.theme``) and change with it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from PySide6.QtCharts import QChart, QXYSeries
from PySide6.QtCore import QEvent, QPointF, Qt, QTimer, Slot
from PySide6.QtGui import QCursor, QHideEvent, QShowEvent
from PySide6.QtWidgets import QToolTip, QVBoxLayout, QWidget

from reflexia.core.engine.values import GenerationStats
from reflexia.core.memory.monitor import MemorySample
from reflexia.core.units import GB
from reflexia.ui.markdown_html import ColorScheme
from reflexia.ui.performance_charts import (
    CHART_MARGINS,
    MIN_SPAN_S,
    MemoryChart,
    ReplyChart,
    RungChart,
    chart_colors,
    rung_row,
    rung_rows,
)
from reflexia.ui.theme import applied_scheme

WINDOW_S = 600.0  # the memory and rung charts show the last ten minutes
MAX_SAMPLES = 600  # about one a second: the window's worth
MAX_REPLIES = 200
MAX_RUNG_EVENTS = 400
FLUSH_MS = 250  # at most four redraws a second while visible


@dataclass(frozen=True)
class _Reply:
    number: int
    tokens_per_s: float
    ttft_ms: float
    rung: str
    role: str


@dataclass(frozen=True)
class _Switch:
    time_s: float
    from_rung: str | None
    to_rung: str
    reason: str


@dataclass(frozen=True)
class PerformanceSummary:
    """What the charts show now, read back from their series (not from the buffers).

    Attributes:
        tokens_per_s: The tok/s points, oldest reply first.
        ttft_ms: The time-to-first-token points, in milliseconds.
        process_gb: This process's resident memory points.
        system_used_gb: The system's used memory points.
        rung_points: Points of the rung step line.
        last_rung: The rung the step line ends on (None: unloaded, or nothing drawn yet).
        switch_markers: Governor switch markers in the window.
        redraws: How often the charts were redrawn since the panel was built.
    """

    tokens_per_s: tuple[float, ...]
    ttft_ms: tuple[float, ...]
    process_gb: tuple[float, ...]
    system_used_gb: tuple[float, ...]
    rung_points: int
    last_rung: str | None
    switch_markers: int
    redraws: int


def _ys(series: QXYSeries) -> tuple[float, ...]:
    return tuple(point.y() for point in series.points())


class PerformancePanel(QWidget):
    """Three small charts: per-reply speed, memory over the last ten minutes, and the rung.

    Everything runs on the GUI thread. Times (``time_s``) are monotonic seconds, the clock of
    :class:`MemorySample`; the time axis ends ("now") at the newest time the panel was given.
    The charts' colours follow the theme: a style sheet change makes the panel check it.

    Signals:
        None: the panel only shows what it is given.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("performancePanel")
        # A Python subclass of QWidget paints a style sheet's background only when asked to.
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setMinimumSize(340, 500)
        self._replies: deque[_Reply] = deque(maxlen=MAX_REPLIES)
        self._samples: deque[MemorySample] = deque(maxlen=MAX_SAMPLES)
        self._rungs: deque[tuple[float, str | None]] = deque(maxlen=MAX_RUNG_EVENTS)
        self._switches: deque[_Switch] = deque(maxlen=MAX_RUNG_EVENTS)
        self._reply_count = 0
        self._now: float | None = None
        self._replies_dirty = self._time_dirty = False
        self._plotted_rung: str | None = None
        self._redraws = 0
        self._over_switch = False
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)
        self._scheme: ColorScheme = applied_scheme()
        colors = chart_colors(self._scheme)
        self.replies, self.memory, self.rungs = ReplyChart(colors), MemoryChart(colors), RungChart(colors)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.replies.view, 5)
        layout.addWidget(self.memory.view, 5)
        layout.addWidget(self.rungs.view, 4)
        for series in (self.replies.tokens, self.replies.ttft):
            series.hovered.connect(self._on_reply_hovered)
        for series in (self.memory.process, self.memory.system):
            series.hovered.connect(self._on_memory_hovered)
        self.rungs.steps.hovered.connect(self._on_step_hovered)
        self.rungs.switches.hovered.connect(self._on_switch_hovered)
        self._natural_left = {id(self.memory.chart): 0.0, id(self.rungs.chart): 0.0}
        self.memory.chart.plotAreaChanged.connect(self._memory_plot_area_changed)
        self.rungs.chart.plotAreaChanged.connect(self._rung_plot_area_changed)

    # ---- the API: buffers only, drawing is scheduled ------------------------------------------

    def add_reply(self, stats: GenerationStats, rung: str, role: str) -> None:
        """Add a finished reply generated at ``rung`` by ``role`` (one point per series)."""
        self._reply_count += 1
        self._replies.append(_Reply(self._reply_count, stats.tokens_per_s, stats.ttft_s * 1000, rung, role))
        self._replies_dirty = True
        self._schedule()

    @Slot(object)
    def add_sample(self, sample: MemorySample) -> None:
        """Add one memory sample; what falls out of the ten-minute window is dropped."""
        self._samples.append(sample)
        self._advance(sample.time_s)

    def set_rung(self, rung: str | None, time_s: float) -> None:
        """A model at ``rung`` was loaded at ``time_s`` (None: no model is loaded any more)."""
        self._add_rung(time_s, rung)

    def add_switch(self, time_s: float, from_rung: str | None, to_rung: str, reason: str) -> None:
        """Mark a governor switch to ``to_rung``; the marker's tooltip gives ``reason``."""
        self._switches.append(_Switch(time_s, from_rung, to_rung, reason))
        self._add_rung(time_s, to_rung)

    def summary(self) -> PerformanceSummary:
        """What the charts hold now."""
        return PerformanceSummary(
            tokens_per_s=_ys(self.replies.tokens),
            ttft_ms=_ys(self.replies.ttft),
            process_gb=_ys(self.memory.process),
            system_used_gb=_ys(self.memory.system),
            rung_points=self.rungs.steps.count(),
            last_rung=self._plotted_rung,
            switch_markers=self.rungs.switches.count(),
            redraws=self._redraws,
        )

    @property
    def color_scheme(self) -> ColorScheme:
        """The scheme the charts are coloured for."""
        return self._scheme

    @Slot(str)
    def set_color_scheme(self, scheme: str) -> None:
        """Colour the charts for the "light" or "dark" theme."""
        value: ColorScheme = "dark" if scheme == "dark" else "light"
        if value != self._scheme:
            self._scheme = value
            colors = chart_colors(value)
            for chart in (self.replies, self.memory, self.rungs):
                chart.set_colors(colors)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """A new application style sheet may be the other theme's."""
        if event.type() == QEvent.Type.StyleChange:
            self.set_color_scheme(applied_scheme())
        super().changeEvent(event)

    def switch_tooltip(self, x: float) -> str:
        """The tooltip of the switch marker nearest ``x`` (seconds before the axis's "now")."""
        if not self._switches or self._now is None:
            return ""
        at = self._now + x
        switch = min(self._switches, key=lambda s: abs(s.time_s - at))
        return f"Switched {switch.from_rung or 'from no model'} → {switch.to_rung}\n{switch.reason}"

    def _add_rung(self, time_s: float, rung: str | None) -> None:
        if self._rungs:
            time_s = max(time_s, self._rungs[-1][0])  # a late call must not draw a step backwards
        if not self._rungs or self._rungs[-1][1] != rung:  # a load after a switch to it is no step
            self._rungs.append((time_s, rung))
        self._advance(time_s)

    def _advance(self, time_s: float) -> None:
        self._now = time_s if self._now is None else max(self._now, time_s)
        start = self._now - WINDOW_S
        while self._samples and self._samples[0].time_s < start:
            self._samples.popleft()
        # One rung event before the window is kept: it says which rung the window starts on.
        while len(self._rungs) > 1 and self._rungs[1][0] <= start:
            self._rungs.popleft()
        while self._switches and self._switches[0].time_s < start:
            self._switches.popleft()
        self._time_dirty = True
        self._schedule()

    def _schedule(self) -> None:
        # Hidden: the buffers are all (showEvent draws once). Visible: one timer coalesces calls.
        if self.isVisible() and not self._flush_timer.isActive():
            self._flush_timer.start()

    # ---- drawing --------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Draw what arrived while hidden, once, in the theme applied now."""
        super().showEvent(event)
        # A panel never shown yet was never polished, so a theme change sent it no StyleChange.
        self.set_color_scheme(applied_scheme())
        self._flush()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        """Stop drawing until shown again."""
        self._flush_timer.stop()
        super().hideEvent(event)

    @Slot()
    def _flush(self) -> None:
        if not (self._replies_dirty or self._time_dirty):
            return
        self._redraws += 1
        if self._replies_dirty:
            self._replies_dirty = False
            self.replies.draw([(r.number, r.tokens_per_s, r.ttft_ms) for r in self._replies])
        if self._time_dirty and self._now is not None:
            self._time_dirty = False
            self._draw_time_charts(self._now)

    def _draw_time_charts(self, now: float) -> None:
        # x is seconds before now: every point moves each second, so the series are replaced
        # whole (at most 600 points each: about a millisecond for all of them).
        oldest = min(
            self._samples[0].time_s if self._samples else now, self._rungs[0][0] if self._rungs else now
        )
        span = min(WINDOW_S, max(MIN_SPAN_S, now - oldest))
        span = min(WINDOW_S, -(-span // 60) * 60)  # whole minutes: the axis relabels rarely
        start = now - span
        samples = [s for s in self._samples if s.time_s >= start]
        self.memory.draw(
            [QPointF(s.time_s - now, s.process_rss_bytes / GB) for s in samples],
            [QPointF(s.time_s - now, s.used_bytes / GB) for s in samples],
            span,
        )
        # A rung off the ladder (q4_1) in the window gets a row of its own before anything is drawn.
        rows = rung_rows([*(r for _t, r in self._rungs), *(s.to_rung for s in self._switches)])
        self.rungs.set_rows(rows)
        steps: list[QPointF] = []
        row: float | None = None
        for time_s, rung in self._rungs:
            if time_s > start:
                if row is not None:
                    if not steps:
                        steps.append(QPointF(-span, row))  # the rung the window starts on
                    steps.append(QPointF(time_s - now, row))
                steps.append(QPointF(time_s - now, rung_row(rung, rows)))
            row, self._plotted_rung = rung_row(rung, rows), rung
        if row is not None:
            if not steps:
                steps.append(QPointF(-span, row))
            steps.append(QPointF(0.0, row))
        switches = [
            QPointF(s.time_s - now, rung_row(s.to_rung, rows)) for s in self._switches if s.time_s >= start
        ]
        self.rungs.draw(steps, switches, span)

    @Slot()
    def _memory_plot_area_changed(self) -> None:
        self._align_time_charts(self.memory.chart)

    @Slot()
    def _rung_plot_area_changed(self) -> None:
        self._align_time_charts(self.rungs.chart)

    def _align_time_charts(self, laid_out: QChart) -> None:
        # The memory and rung charts share a time axis: line their plot areas up although their
        # y labels ("2.5", "unloaded") differ in width. A chart's natural left edge is known only
        # right after its own layout (new margins apply later), so each is measured as it reports.
        extra = laid_out.margins().left() - CHART_MARGINS.left()
        self._natural_left[id(laid_out)] = laid_out.plotArea().left() - extra
        target = max(self._natural_left.values())
        for chart in (self.memory.chart, self.rungs.chart):
            margins = chart.margins()
            wanted = CHART_MARGINS.left() + round(target - self._natural_left[id(chart)])
            if margins.left() != wanted:
                margins.setLeft(wanted)
                chart.setMargins(margins)

    # ---- tooltips -------------------------------------------------------------------------------

    @Slot(QPointF, bool)
    def _on_switch_hovered(self, point: QPointF, state: bool) -> None:
        self._over_switch = state
        self._tooltip(self.switch_tooltip(point.x()) if state else "")

    @Slot(QPointF, bool)
    def _on_step_hovered(self, point: QPointF, state: bool) -> None:
        if self._over_switch:
            return  # leaving the line must not hide the marker's tooltip
        if not state or self._now is None:
            self._tooltip("")
            return
        # A marker sits on the line's corner and the line may take its hover: near one, it wins.
        axis, width = self.rungs.time_axis, max(1.0, self.rungs.chart.plotArea().width())
        tolerance_s = 8 * (axis.max() - axis.min()) / width
        at = self._now + point.x()
        if any(abs(s.time_s - at) <= tolerance_s for s in self._switches):
            self._tooltip(self.switch_tooltip(point.x()))
            return
        rung = next(
            (r for t, r in reversed(self._rungs) if t <= at), self._rungs[0][1] if self._rungs else None
        )
        self._tooltip(f"Rung: {rung or 'no model loaded'}")

    @Slot(QPointF, bool)
    def _on_memory_hovered(self, point: QPointF, state: bool) -> None:
        if not state or not self._samples or self._now is None:
            self._tooltip("")
            return
        at = self._now + point.x()
        sample = min(self._samples, key=lambda s: abs(s.time_s - at))
        self._tooltip(
            f"Reflexia {sample.process_rss_bytes / GB:.1f} GB\n"
            f"System {sample.used_bytes / GB:.1f} of {sample.total_bytes / GB:.0f} GB used "
            f"({sample.used_percent:.0f}%)"
        )

    @Slot(QPointF, bool)
    def _on_reply_hovered(self, point: QPointF, state: bool) -> None:
        reply = next((r for r in self._replies if r.number == round(point.x())), None)
        if not state or reply is None:
            self._tooltip("")
            return
        role = f" · {reply.role}" if reply.role else ""
        self._tooltip(
            f"Reply {reply.number} · {reply.rung}{role}\n"
            f"{reply.tokens_per_s:.0f} tok/s · first token after {reply.ttft_ms:.0f} ms"
        )

    def _tooltip(self, text: str) -> None:
        if text:
            QToolTip.showText(QCursor.pos(), text, self)
        else:
            QToolTip.hideText()
