"""The performance panel's three charts: their light and dark looks, their axes, and how they draw points.

The charts hold no data of their own: the panel passes finished point lists to ``draw``,
and the colours of the theme applied to ``set_colors``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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

from reflexia.core.models.catalog import precision_rank
from reflexia.core.models.ladder import LADDER
from reflexia.ui.markdown_html import ColorScheme


@dataclass(frozen=True)
class ChartColors:
    """The colours of the charts in one theme (a chart cannot read the style sheet).

    Attributes:
        background: Behind the plots; the panel's own background in the style sheet matches it.
        text: Chart titles.
        muted: Axis labels and legend names.
        grid: Grid lines.
        border: Axis lines.
        accent: Tokens per second, and Reflexia's memory.
        amber: Time to first token.
        grey: The system's memory.
        teal: The rung step line.
        red: Governor switch markers.
    """

    background: QColor
    text: QColor
    muted: QColor
    grid: QColor
    border: QColor
    accent: QColor
    amber: QColor
    grey: QColor
    teal: QColor
    red: QColor


# The palettes of resources/style.qss and style-dark.qss (surface, text, secondary text, grid, borders,
# the accent); in the dark the series' colours are lighter, to keep their contrast.
LIGHT_CHARTS = ChartColors(
    background=QColor("#ffffff"),
    text=QColor("#1f2430"),
    muted=QColor("#505766"),
    grid=QColor("#eef0f4"),
    border=QColor("#d5d9e0"),
    accent=QColor("#3b5bfd"),
    amber=QColor("#d9820f"),
    grey=QColor("#8a909c"),
    teal=QColor("#13968f"),
    red=QColor("#e0525c"),
)
DARK_CHARTS = ChartColors(
    background=QColor("#1f2229"),
    text=QColor("#e6e8ee"),
    muted=QColor("#a9afbb"),
    grid=QColor("#2a2e37"),
    border=QColor("#3a3f4a"),
    accent=QColor("#6d86ff"),
    amber=QColor("#e9a23b"),
    grey=QColor("#7d8493"),
    teal=QColor("#2bb5ac"),
    red=QColor("#ff6b74"),
)


def chart_colors(scheme: ColorScheme) -> ChartColors:
    """The chart colours of the "light" or "dark" theme."""
    return DARK_CHARTS if scheme == "dark" else LIGHT_CHARTS


#: Left, top, right, bottom; the right margin leaves room for the "now" label under the plot's edge.
CHART_MARGINS = QMargins(2, 0, 14, 2)
#: The row of "no model loaded" on the rung chart, below the ladder's first rung.
UNLOADED_ROW = -1.0
MIN_SPAN_S = 60.0  # a fresh panel shows a minute, not ten with all data squeezed at the right edge


def rung_rows(labels: Iterable[str | None] = ()) -> tuple[str, ...]:
    """The rows of the rung chart, lowest first: the ladder's rungs and every other label in ``labels``.

    A model at a quantization off the ladder (``q4_1``, ``q6_k``, ``iq4_xs``) gets a row of its
    own, labelled with its name and placed among the rungs by its bits per weight, so the chart
    never shows a q4_1 model on the q4_k_m row. Labels llama.cpp does not name sort lowest.
    """
    shown = {label.lower() for label in labels if label is not None}
    return tuple(sorted(shown | set(LADDER), key=precision_rank))


def rung_row(label: str | None, rows: Sequence[str] = LADDER) -> float:
    """Where a quantization label is drawn on the rung chart: its row among ``rows`` (:func:`rung_rows`)."""
    if label is None:
        return UNLOADED_ROW
    key = label.lower()
    if key not in rows:
        rows = rung_rows([*rows, key])
    return float(rows.index(key))


def _font(pixels: int = 11, weight: QFont.Weight = QFont.Weight.Normal) -> QFont:
    font = QFont()
    font.setPixelSize(pixels)
    font.setWeight(weight)
    return font


def legend_title(
    title: str, entries: Sequence[tuple[str, str, QColor]], muted: QColor = LIGHT_CHARTS.muted
) -> str:
    """A chart title that is its legend too: ``title  ━ name  ● name`` in the series' colours.

    One line instead of a title row and a legend row: in a 360 px side panel the height
    goes to the plots. The names are in ``muted``, the title in the chart's title colour.
    """
    items = "&nbsp;&nbsp; ".join(
        f'<span style="color:{color.name()}">{mark}</span>&nbsp;<span style="color:{muted.name()};'
        f' font-weight:400; font-size:11px">{html.escape(name)}</span>'
        for mark, name, color in entries
    )
    return f"{html.escape(title)}&nbsp;&nbsp;&nbsp; {items}"


def _chart() -> QChart:
    chart = QChart()
    chart.setTitleFont(_font(12, QFont.Weight.DemiBold))
    chart.setBackgroundRoundness(0)
    chart.setMargins(QMargins(CHART_MARGINS))
    chart.layout().setContentsMargins(2, 6, 2, 2)
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)  # an animation repaints for a second
    chart.legend().hide()  # the title is the legend (legend_title)
    return chart


def _paint_chart(chart: QChart, view: QChartView, colors: ChartColors) -> None:
    chart.setTitleBrush(QBrush(colors.text))
    chart.setBackgroundBrush(QBrush(colors.background))
    view.setStyleSheet(f"background: {colors.background.name()}; border: none;")


def _view(chart: QChart, name: str, min_height: int) -> QChartView:
    view = QChartView(chart)
    view.setObjectName(name)
    view.setRenderHint(QPainter.RenderHint.Antialiasing)
    view.setMinimumHeight(min_height)
    return view


def _style(axis: QAbstractAxis, *, grid: bool = True) -> None:
    axis.setLabelsFont(_font())
    axis.setGridLineVisible(grid)
    axis.setMinorGridLineVisible(False)
    axis.setTruncateLabels(False)  # "-4 min" must never read "-4 ..."


def _paint_axis(axis: QAbstractAxis, colors: ChartColors, labels: QColor | None = None) -> None:
    axis.setLabelsColor(labels or colors.muted)
    axis.setLinePen(QPen(colors.border, 1))
    axis.setGridLinePen(QPen(colors.grid, 1))


def _value_axis(*, grid: bool = True) -> QValueAxis:
    axis = QValueAxis()
    _style(axis, grid=grid)
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


def _line(name: str) -> QLineSeries:
    series = QLineSeries()
    series.setName(name)
    return series


def _paint_line(series: QLineSeries, color: QColor, width: float = 2.0) -> None:
    pen = QPen(color, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    series.setPen(pen)
    series.setColor(color)


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

    def __init__(self, colors: ChartColors = LIGHT_CHARTS) -> None:
        self.chart = _chart()
        self.x_axis = _value_axis()
        self.tokens_axis = _value_axis()
        self.ttft_axis = _value_axis(grid=False)  # the tok/s grid serves both
        self.chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(self.tokens_axis, Qt.AlignmentFlag.AlignLeft)
        self.chart.addAxis(self.ttft_axis, Qt.AlignmentFlag.AlignRight)
        self.tokens = _line("tok/s")
        self.ttft = _line("first token (ms)")
        for series, axis in ((self.tokens, self.tokens_axis), (self.ttft, self.ttft_axis)):
            series.setPointsVisible(True)
            series.setMarkerSize(3.5)  # a radius for line series (a diameter for scatter series)
            _add(self.chart, series, self.x_axis, axis)
        self.view = _view(self.chart, "replyChart", 140)
        self.set_colors(colors)
        self.draw([])

    def set_colors(self, colors: ChartColors) -> None:
        """Paint the chart in a theme's colours."""
        self.chart.setTitle(
            legend_title(
                "Replies",
                [("━", "tok/s", colors.accent), ("━", "first token (ms)", colors.amber)],
                colors.muted,
            )
        )
        _paint_chart(self.chart, self.view, colors)
        _paint_axis(self.x_axis, colors)
        _paint_axis(self.tokens_axis, colors, colors.accent)
        _paint_axis(self.ttft_axis, colors, colors.amber)
        _paint_line(self.tokens, colors.accent, 1.5)
        _paint_line(self.ttft, colors.amber, 1.5)

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

    def __init__(self, colors: ChartColors = LIGHT_CHARTS) -> None:
        self.chart = _chart()
        self.time_axis = _category_axis()
        self.gb_axis = _value_axis()
        self.chart.addAxis(self.time_axis, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(self.gb_axis, Qt.AlignmentFlag.AlignLeft)
        self.system = _line("System used")
        self.process = _line("Reflexia")
        for series in (self.system, self.process):
            _add(self.chart, series, self.time_axis, self.gb_axis)
        self.view = _view(self.chart, "memoryChart", 140)
        self.set_colors(colors)
        self._span_s = 0.0
        self.draw([], [], MIN_SPAN_S)

    def set_colors(self, colors: ChartColors) -> None:
        """Paint the chart in a theme's colours."""
        self.chart.setTitle(
            legend_title(
                "Memory (GB)",
                [("━", "Reflexia", colors.accent), ("━", "system used", colors.grey)],
                colors.muted,
            )
        )
        _paint_chart(self.chart, self.view, colors)
        for axis in (self.time_axis, self.gb_axis):
            _paint_axis(axis, colors)
        _paint_line(self.system, colors.grey, 1.5)
        _paint_line(self.process, colors.accent)

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

    def __init__(self, colors: ChartColors = LIGHT_CHARTS) -> None:
        self.chart = _chart()
        self.time_axis = _category_axis()
        self.rung_axis = _category_axis()
        self.rows: tuple[str, ...] = ()
        self.set_rows(rung_rows())
        self.chart.addAxis(self.time_axis, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(self.rung_axis, Qt.AlignmentFlag.AlignLeft)
        self.steps = _line("rung")
        self.switches = QScatterSeries()
        self.switches.setName("governor switch (hover)")
        self.switches.setMarkerShape(QScatterSeries.MarkerShape.MarkerShapeCircle)
        self.switches.setMarkerSize(11)
        for series in (self.steps, self.switches):
            _add(self.chart, series, self.time_axis, self.rung_axis)
        self.view = _view(self.chart, "rungChart", 150)
        self.set_colors(colors)
        self._span_s = 0.0
        self.draw([], [], MIN_SPAN_S)

    def set_colors(self, colors: ChartColors) -> None:
        """Paint the chart in a theme's colours."""
        self.chart.setTitle(
            legend_title(
                "Quantization",
                [("━", "rung", colors.teal), ("●", "governor switch", colors.red)],
                colors.muted,
            )
        )
        _paint_chart(self.chart, self.view, colors)
        for axis in (self.time_axis, self.rung_axis):
            _paint_axis(axis, colors)
        _paint_line(self.steps, colors.teal)
        self.switches.setBrush(QBrush(colors.red))
        # A ring in the background's colour lifts the marker off the line.
        self.switches.setPen(QPen(colors.background, 1.5))

    def set_rows(self, rows: tuple[str, ...]) -> None:
        """Label the rung axis with ``rows``, lowest first, under "unloaded" (see :func:`rung_rows`)."""
        if rows == self.rows:
            return  # relabelling is the costly part; the rows change only when a new rung shows up
        self.rows = rows
        for label in self.rung_axis.categoriesLabels():
            self.rung_axis.remove(label)
        self.rung_axis.setStartValue(UNLOADED_ROW - 0.5)
        self.rung_axis.append("unloaded", UNLOADED_ROW)
        for index, rung in enumerate(rows):
            self.rung_axis.append(rung, float(index))
        self.rung_axis.setRange(UNLOADED_ROW - 0.5, len(rows) - 0.5)  # room for a marker on the top row

    def draw(self, steps: list[QPointF], switches: list[QPointF], span_s: float) -> None:
        """Show the step line and the switch markers (x: seconds before now, y: rows of :attr:`rows`)."""
        if span_s != self._span_s:
            self._span_s = span_s
            set_time_span(self.time_axis, span_s)
        self.steps.replace(steps)
        self.switches.replace(switches)
