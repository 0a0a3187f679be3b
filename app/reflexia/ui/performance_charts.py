"""The performance panel's three charts: their light look, their axes, and how they draw points.

The charts hold no data of their own: the panel passes finished point lists to ``draw``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from PySide6.QtCharts import (
    QAbstractAxis,
    QCategoryAxis,
    QChart,
    QChartView,
    QLineSeries,
    QScatterSeries,
    QValueAxis,
    QXYSeries,
)
from PySide6.QtCore import QMargins, QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen

from reflexia.core.models.catalog import nominal_bits_per_weight
from reflexia.core.models.ladder import LADDER

# The palette of resources/style.qss: text, secondary text, grid, borders, the accent.
TEXT, MUTED, GRID, BORDER = QColor("#1f2430"), QColor("#505766"), QColor("#eef0f4"), QColor("#d5d9e0")
ACCENT, AMBER, GREY, TEAL, RED = (QColor(c) for c in ("#3b5bfd", "#d9820f", "#8a909c", "#13968f", "#e0525c"))

#: Left, top, right, bottom; the right margin leaves room for the "now" label under the plot's edge.
CHART_MARGINS = QMargins(2, 0, 14, 2)
#: The row of "no model loaded" on the rung chart, below the ladder's first rung.
UNLOADED_ROW = -1.0
MIN_SPAN_S = 60.0  # a fresh panel shows a minute, not ten with all data squeezed at the right edge


def rung_row(label: str | None) -> float:
    """Where a quantization label is drawn on the rung chart: its index on the ladder.

    A label off the ladder (``q4_1``, ``q6_k``) is placed between the two rungs around it,
    in proportion to its bits per weight, so the step still shows truthfully whether the
    model got lighter or heavier; its name shows when the line is hovered. Labels below the
    ladder (or unknown) sit half a row under q4_0, wider ones than f16 half a row over it.
    """
    if label is None:
        return UNLOADED_ROW
    key = label.lower()
    if key in LADDER:
        return float(LADDER.index(key))
    bits = nominal_bits_per_weight(key)
    ladder_bits = [nominal_bits_per_weight(rung) or 0.0 for rung in LADDER]
    if bits is None or bits < ladder_bits[0]:
        return -0.5
    if bits >= ladder_bits[-1]:  # bf16 shares f16's row; f32 goes above
        return len(LADDER) - 1 + (0.0 if bits == ladder_bits[-1] else 0.5)
    index = max(i for i, low in enumerate(ladder_bits) if low <= bits)
    low, high = ladder_bits[index], ladder_bits[index + 1]
    return index + (bits - low) / (high - low)


def _font(pixels: int = 11, weight: QFont.Weight = QFont.Weight.Normal) -> QFont:
    font = QFont()
    font.setPixelSize(pixels)
    font.setWeight(weight)
    return font


def legend_title(title: str, entries: Sequence[tuple[str, str, QColor]]) -> str:
    """A chart title that is its legend too: ``title  ━ name  ● name`` in the series' colours.

    One line instead of a title row and a legend row: in a 360 px side panel the height
    goes to the plots.
    """
    items = "&nbsp;&nbsp; ".join(
        f'<span style="color:{color.name()}">{mark}</span>&nbsp;<span style="color:{MUTED.name()};'
        f' font-weight:400; font-size:11px">{html.escape(name)}</span>'
        for mark, name, color in entries
    )
    return f"{html.escape(title)}&nbsp;&nbsp;&nbsp; {items}"


def _light_chart(title: str) -> QChart:
    chart = QChart()
    chart.setTitle(title)
    chart.setTitleFont(_font(12, QFont.Weight.DemiBold))
    chart.setTitleBrush(QBrush(TEXT))
    chart.setBackgroundBrush(QBrush(QColor("#ffffff")))
    chart.setBackgroundRoundness(0)
    chart.setMargins(QMargins(CHART_MARGINS))
    chart.layout().setContentsMargins(2, 6, 2, 2)
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)  # an animation repaints for a second
    chart.legend().hide()  # the title is the legend (legend_title)
    return chart


def _view(chart: QChart, name: str, min_height: int) -> QChartView:
    view = QChartView(chart)
    view.setObjectName(name)
    view.setRenderHint(QPainter.RenderHint.Antialiasing)
    view.setMinimumHeight(min_height)
    view.setStyleSheet("background: #ffffff; border: none;")
    return view


def _style(axis: QAbstractAxis, *, grid: bool = True, color: QColor = MUTED) -> None:
    axis.setLabelsFont(_font())
    axis.setLabelsColor(color)
    axis.setLinePen(QPen(BORDER, 1))
    axis.setGridLinePen(QPen(GRID, 1))
    axis.setGridLineVisible(grid)
    axis.setMinorGridLineVisible(False)
    axis.setTruncateLabels(False)  # "-4 min" must never read "-4 ..."


def _value_axis(*, grid: bool = True, color: QColor = MUTED) -> QValueAxis:
    axis = QValueAxis()
    _style(axis, grid=grid, color=color)
    axis.setTickType(QValueAxis.TickType.TicksDynamic)  # ticks on multiples of the interval
    axis.setTickAnchor(0.0)
    axis.setMinorTickCount(0)
    axis.setLabelFormat("%.0f")
    return axis


def _category_axis() -> QCategoryAxis:
    axis = QCategoryAxis()
    _style(axis)
    axis.setLabelsPosition(QCategoryAxis.AxisLabelsPosition.AxisLabelsPositionOnValue)
    return axis


def _line(name: str, color: QColor, width: float = 2.0) -> QLineSeries:
    series = QLineSeries()
    series.setName(name)
    pen = QPen(color, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    series.setPen(pen)
    series.setColor(color)
    return series


def _add(chart: QChart, series: QXYSeries, *axes: QAbstractAxis) -> None:
    chart.addSeries(series)
    for axis in axes:
        series.attachAxis(axis)


def nice_step(span: float, intervals: int) -> float:
    """The smallest 1-2-2.5-5 step that covers ``span`` in ``intervals`` steps."""
    raw = max(span, 1e-9) / intervals
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(f * magnitude for f in (1.0, 2.0, 2.5, 5.0, 10.0) if f * magnitude >= raw * (1 - 1e-9))


def set_nice_range(axis: QValueAxis, highest: float, floor: float, intervals: int = 4) -> None:
    """Range 0 to a round number above ``highest``, in exactly ``intervals`` ticks.

    The fixed number of intervals keeps the grids of two y axes on one chart aligned.
    """
    step = nice_step(max(highest * 1.08, floor), intervals)
    axis.setTickInterval(step)
    axis.setRange(0.0, step * intervals)
    decimals = next(d for d in range(4) if abs(step * 10**d - round(step * 10**d)) < 1e-6 or d == 3)
    axis.setLabelFormat(f"%.{decimals}f")  # 2.5 must not read "3"


def set_time_span(axis: QCategoryAxis, span_s: float) -> None:
    """Show the last ``span_s`` seconds, labelled at round intervals from "-N min" to "now"."""
    for label in axis.categoriesLabels():
        axis.remove(label)
    step = next((s for s in (10, 15, 30, 60, 120, 300) if span_s / s <= 5), 600)
    axis.setStartValue(-span_s - 1e-3)  # a hair early: the left edge's label needs a category to end
    for tick in range(-int(span_s // step) * step, 1, step):
        axis.append("now" if tick == 0 else f"{tick // 60} min" if step >= 60 else f"{tick} s", float(tick))
    axis.setRange(-span_s, 0.0)


class ReplyChart:
    """Tokens per second and time to first token, one point per reply, on two y axes."""

    def __init__(self) -> None:
        self.chart = _light_chart(
            legend_title("Replies", [("━", "tok/s", ACCENT), ("━", "first token (ms)", AMBER)])
        )
        self.x_axis = _value_axis()
        self.tokens_axis = _value_axis(color=ACCENT)
        self.ttft_axis = _value_axis(grid=False, color=AMBER)  # the tok/s grid serves both
        self.chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(self.tokens_axis, Qt.AlignmentFlag.AlignLeft)
        self.chart.addAxis(self.ttft_axis, Qt.AlignmentFlag.AlignRight)
        self.tokens = _line("tok/s", ACCENT, 1.5)
        self.ttft = _line("first token (ms)", AMBER, 1.5)
        for series, axis in ((self.tokens, self.tokens_axis), (self.ttft, self.ttft_axis)):
            series.setPointsVisible(True)
            series.setMarkerSize(3.5)  # a radius for line series (a diameter for scatter series)
            _add(self.chart, series, self.x_axis, axis)
        self.view = _view(self.chart, "replyChart", 140)
        self.draw([])

    def draw(self, replies: Sequence[tuple[int, float, float]]) -> None:
        """Show ``(reply number, tokens/s, ttft ms)`` points; the axes fit them."""
        self.tokens.replace([QPointF(n, tps) for n, tps, _ in replies])
        self.ttft.replace([QPointF(n, ms) for n, _, ms in replies])
        first = replies[0][0] if replies else 1
        last = max(replies[-1][0] if replies else 1, first + 4)  # at least five slots
        self.x_axis.setRange(first - 0.5, last + 0.5)
        self.x_axis.setTickInterval(max(1.0, nice_step(last - first + 1, 6)))
        set_nice_range(self.tokens_axis, max((r[1] for r in replies), default=0.0), floor=10)
        set_nice_range(self.ttft_axis, max((r[2] for r in replies), default=0.0), floor=100)


class MemoryChart:
    """This process's resident memory and the system's used memory, in GB, over time."""

    def __init__(self) -> None:
        self.chart = _light_chart(
            legend_title("Memory (GB)", [("━", "Reflexia", ACCENT), ("━", "system used", GREY)])
        )
        self.time_axis = _category_axis()
        self.gb_axis = _value_axis()
        self.chart.addAxis(self.time_axis, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(self.gb_axis, Qt.AlignmentFlag.AlignLeft)
        self.system = _line("System used", GREY, 1.5)
        self.process = _line("Reflexia", ACCENT)
        for series in (self.system, self.process):
            _add(self.chart, series, self.time_axis, self.gb_axis)
        self.view = _view(self.chart, "memoryChart", 140)
        self._span_s = 0.0
        self.draw([], [], MIN_SPAN_S)

    def draw(self, process: list[QPointF], system: list[QPointF], span_s: float) -> None:
        """Show the points (x: seconds before now); the GB axis fits the system's use."""
        if span_s != self._span_s:  # relabelling is the costly part; the span changes by whole minutes
            self._span_s = span_s
            set_time_span(self.time_axis, span_s)
        self.process.replace(process)
        self.system.replace(system)
        set_nice_range(self.gb_axis, max((p.y() for p in system), default=0.0), floor=1.0)


class RungChart:
    """The quantization rung as a step line, with a marker at every governor switch."""

    def __init__(self) -> None:
        self.chart = _light_chart(
            legend_title("Quantization", [("━", "rung", TEAL), ("●", "governor switch", RED)])
        )
        self.time_axis = _category_axis()
        self.rung_axis = _category_axis()
        self.rung_axis.setStartValue(UNLOADED_ROW - 0.5)
        self.rung_axis.append("unloaded", UNLOADED_ROW)
        for index, rung in enumerate(LADDER):
            self.rung_axis.append(rung, float(index))
        self.rung_axis.setRange(UNLOADED_ROW - 0.5, len(LADDER) - 0.5)  # room for a marker on the top row
        self.chart.addAxis(self.time_axis, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(self.rung_axis, Qt.AlignmentFlag.AlignLeft)
        self.steps = _line("rung", TEAL)
        self.switches = QScatterSeries()
        self.switches.setName("governor switch (hover)")
        self.switches.setMarkerShape(QScatterSeries.MarkerShape.MarkerShapeCircle)
        self.switches.setMarkerSize(11)
        self.switches.setBrush(QBrush(RED))
        self.switches.setPen(QPen(QColor("#ffffff"), 1.5))  # a white ring lifts it off the line
        for series in (self.steps, self.switches):
            _add(self.chart, series, self.time_axis, self.rung_axis)
        self.view = _view(self.chart, "rungChart", 150)
        self._span_s = 0.0
        self.draw([], [], MIN_SPAN_S)

    def draw(self, steps: list[QPointF], switches: list[QPointF], span_s: float) -> None:
        """Show the step line and the switch markers (x: seconds before now, y: rung rows)."""
        if span_s != self._span_s:
            self._span_s = span_s
            set_time_span(self.time_axis, span_s)
        self.steps.replace(steps)
        self.switches.replace(switches)
