"""The live performance panel: what its charts show, and that it costs nothing while hidden."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QPoint, QPointF
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from reflexia.core.engine.values import GenerationStats
from reflexia.core.memory.monitor import MemorySample
from reflexia.core.units import GB
from reflexia.ui.performance_charts import rung_row, rung_rows
from reflexia.ui.performance_panel import FLUSH_MS, PerformancePanel

T0 = 5000.0  # monotonic seconds, as MemorySample.time_s


def stats(tokens_per_s: float, ttft_s: float) -> GenerationStats:
    return GenerationStats(
        prompt_tokens=120,
        cached_prompt_tokens=40,
        completion_tokens=200,
        ttft_s=ttft_s,
        prompt_tokens_per_s=900.0,
        tokens_per_s=tokens_per_s,
        total_s=2.0,
        stop_reason="eos",
    )


def sample(i: int, rss_gb: float = 2.5, used_gb: float = 11.0) -> MemorySample:
    total = 16 * GB
    return MemorySample(
        time_s=T0 + i,
        total_bytes=total,
        available_bytes=int(total - used_gb * GB),
        used_percent=used_gb / 16 * 100,
        process_rss_bytes=int(rss_gb * GB),
    )


@pytest.fixture
def panel(qtbot: QtBot) -> PerformancePanel:
    widget = PerformancePanel()
    qtbot.addWidget(widget)
    widget.resize(360, 640)
    return widget


def show(qtbot: QtBot, panel: PerformancePanel) -> None:
    panel.show()
    qtbot.waitExposed(panel)


def test_three_replies_are_three_points_with_their_values(qtbot: QtBot, panel: PerformancePanel) -> None:
    show(qtbot, panel)
    for tps, ttft in ((120.0, 0.25), (310.5, 0.08), (95.0, 0.3)):
        panel.add_reply(stats(tps, ttft), "q4_k_m", "Coder")

    qtbot.waitUntil(lambda: len(panel.summary().tokens_per_s) == 3, timeout=2000)
    shown = panel.summary()
    assert shown.tokens_per_s == (120.0, 310.5, 95.0)
    assert shown.ttft_ms == pytest.approx((250.0, 80.0, 300.0))
    assert [p.x() for p in panel.replies.tokens.points()] == [1.0, 2.0, 3.0]
    assert panel.replies.tokens_axis.max() >= 310.5 and panel.replies.ttft_axis.max() >= 300.0


def test_hovering_a_reply_names_its_rung_role_and_figures(qtbot: QtBot, panel: PerformancePanel) -> None:
    show(qtbot, panel)
    panel.add_reply(stats(120.0, 0.25), "q4_k_m", "Coder")
    panel.add_reply(stats(310.0, 0.08), "f16", "Writer")
    qtbot.waitUntil(lambda: panel.replies.tokens.count() == 2, timeout=2000)

    panel.replies.tokens.hovered.emit(QPointF(2.0, 310.0), True)

    qtbot.waitUntil(lambda: "Reply 2" in QToolTip.text(), timeout=2000)
    assert "f16" in QToolTip.text() and "Writer" in QToolTip.text()
    assert "310 tok/s" in QToolTip.text() and "80 ms" in QToolTip.text()
    QToolTip.hideText()


def test_memory_follows_the_samples_and_keeps_only_the_last_ten_minutes(
    qtbot: QtBot, panel: PerformancePanel
) -> None:
    show(qtbot, panel)
    for i in range(700):
        panel.add_sample(sample(i, rss_gb=2.0 + i / 1000, used_gb=10.0))

    qtbot.waitUntil(lambda: panel.memory.process.count() >= 590, timeout=2000)
    shown = panel.summary()
    assert 590 <= len(shown.process_gb) <= 601
    assert len(shown.system_used_gb) == len(shown.process_gb)
    assert shown.process_gb[-1] == pytest.approx(2.699)
    assert shown.process_gb[0] == pytest.approx(2.1, abs=0.011)
    assert shown.system_used_gb[-1] == pytest.approx(10.0)
    xs = [p.x() for p in panel.memory.process.points()]
    assert xs[-1] == 0.0 and xs[0] >= -600.0  # seconds before the newest sample
    assert panel.memory.time_axis.min() == -600.0 and panel.memory.time_axis.max() == 0.0
    assert panel.memory.gb_axis.max() >= 10.0


def test_a_governor_switch_is_a_marker_whose_tooltip_gives_the_reason(
    qtbot: QtBot, panel: PerformancePanel
) -> None:
    panel.set_rung("f16", T0)
    for i in range(60):
        panel.add_sample(sample(i))
    reason = "memory pressure high: 87% used, 1.9 GB free"
    panel.add_switch(T0 + 30, "f16", "q4_k_m", reason)
    show(qtbot, panel)

    shown = panel.summary()
    assert shown.switch_markers == 1 and shown.last_rung == "q4_k_m"
    marker = panel.rungs.switches.points()[0]
    assert (marker.x(), marker.y()) == (-29.0, rung_row("q4_k_m"))
    # Hover the marker where it is drawn, as a user would.
    # (Once laid out, the memory and rung plots line up on their shared time axis.)
    qtbot.waitUntil(
        lambda: abs(panel.rungs.chart.plotArea().left() - panel.memory.chart.plotArea().left()) < 1
    )
    scene_pos = panel.rungs.chart.mapToScene(panel.rungs.chart.mapToPosition(marker, panel.rungs.switches))
    where = panel.rungs.view.mapFromScene(scene_pos)
    qtbot.mouseMove(panel.rungs.view.viewport(), where + QPoint(0, 1))  # type: ignore[no-untyped-call]
    qtbot.mouseMove(panel.rungs.view.viewport(), where)  # type: ignore[no-untyped-call]

    qtbot.waitUntil(lambda: reason in QToolTip.text(), timeout=2000)
    assert "f16 → q4_k_m" in QToolTip.text()
    QToolTip.hideText()


def test_the_rung_is_a_step_line_over_the_time_axis(qtbot: QtBot, panel: PerformancePanel) -> None:
    show(qtbot, panel)
    panel.set_rung("f16", T0)
    panel.add_switch(T0 + 20, "f16", "q4_k_m", "pressure")
    panel.add_sample(sample(40))
    qtbot.waitUntil(lambda: panel.summary().rung_points == 4, timeout=2000)

    steps = [(p.x(), p.y()) for p in panel.rungs.steps.points()]
    assert steps == [(-40.0, 4.0), (-20.0, 4.0), (-20.0, 1.0), (0.0, 1.0)]
    assert panel.rungs.rung_axis.categoriesLabels() == ["unloaded", "q4_0", "q4_k_m", "q5_k_m", "q8_0", "f16"]

    panel.set_rung(None, T0 + 50)  # the model was unloaded
    qtbot.waitUntil(lambda: panel.summary().last_rung is None, timeout=2000)
    assert panel.rungs.steps.points()[-1].y() == rung_row(None) == -1.0


def test_off_ladder_rungs_get_rows_of_their_own_ordered_by_bits_per_weight() -> None:
    assert [rung_row(r) for r in ("q4_0", "q4_k_m", "q5_k_m", "q8_0", "f16")] == [0, 1, 2, 3, 4]
    rows = rung_rows(["Q4_1", "q6_k", "iq4_xs", "q2_k", "q5_0", None, "q8_0"])
    assert rows == ("q2_k", "iq4_xs", "q4_0", "q4_k_m", "q4_1", "q5_0", "q5_k_m", "q6_k", "q8_0", "f16")
    assert rung_row("q4_1", rows) == 4.0 and rung_row("Q8_0", rows) == 8.0 and rung_row(None, rows) == -1.0
    assert rung_rows(["bf16", "f32"])[-3:] == ("bf16", "f16", "f32")


def test_a_q4_1_model_is_drawn_on_its_own_labelled_row_not_at_q4_k_m(
    qtbot: QtBot, panel: PerformancePanel
) -> None:
    show(qtbot, panel)
    panel.set_rung("q4_k_m", T0)
    panel.add_switch(T0 + 20, "q4_k_m", "q4_1", "pressure")
    panel.add_sample(sample(40))
    qtbot.waitUntil(lambda: panel.summary().last_rung == "q4_1", timeout=2000)

    axis = panel.rungs.rung_axis
    labels = axis.categoriesLabels()
    assert labels == ["unloaded", "q4_0", "q4_k_m", "q4_1", "q5_k_m", "q8_0", "f16"]
    line = panel.rungs.steps.points()
    # The line ends on the row labelled q4_1, a whole row above where it started at q4_k_m.
    assert line[-1].y() == axis.endValue("q4_1") and line[0].y() == axis.endValue("q4_k_m")
    assert axis.endValue("q4_1") - axis.endValue("q4_k_m") == 1.0
    marker = panel.rungs.switches.points()[0]
    assert marker.y() == axis.endValue("q4_1")
    # On screen: a row apart, not a few pixels.
    chart = panel.rungs.chart
    qtbot.waitUntil(lambda: chart.plotArea().height() > 50)
    at_q4_1 = chart.mapToPosition(line[-1], panel.rungs.steps).y()
    at_q4_k_m = chart.mapToPosition(line[0], panel.rungs.steps).y()
    assert at_q4_k_m - at_q4_1 >= chart.plotArea().height() / (len(labels) + 1)


def test_a_hidden_panel_only_buffers_and_draws_once_when_shown(qtbot: QtBot, panel: PerformancePanel) -> None:
    panel.set_rung("q8_0", T0)
    for i in range(1000):
        panel.add_sample(sample(i))
        if i % 100 == 0:
            panel.add_reply(stats(200.0, 0.1), "q8_0", "")
    qtbot.wait(2 * FLUSH_MS)

    hidden = panel.summary()
    assert hidden.redraws == 0
    assert (len(hidden.process_gb), len(hidden.tokens_per_s), hidden.rung_points) == (0, 0, 0)

    show(qtbot, panel)
    shown = panel.summary()
    assert shown.redraws == 1
    assert 590 <= len(shown.process_gb) <= 600 and len(shown.tokens_per_s) == 10
    assert shown.last_rung == "q8_0"

    panel.hide()
    panel.add_sample(sample(1000))
    qtbot.wait(2 * FLUSH_MS)
    assert panel.summary().redraws == 1
    panel.show()
    assert panel.summary().redraws == 2


def test_feeding_a_visible_panel_never_blocks_the_gui_thread(qtbot: QtBot, panel: PerformancePanel) -> None:
    show(qtbot, panel)
    panel.set_rung("f16", T0)
    slowest_call = slowest_events = 0.0
    for i in range(1000):
        started = time.perf_counter()
        panel.add_sample(sample(i, rss_gb=2.0 + (i % 50) / 100))
        slowest_call = max(slowest_call, time.perf_counter() - started)
        if i % 25 == 0:  # let flushes and repaints run in between, as the event loop would
            started = time.perf_counter()
            QApplication.processEvents()
            slowest_events = max(slowest_events, time.perf_counter() - started)
        if i % 100 == 0:
            time.sleep(FLUSH_MS / 1000)

    # A redraw per sample would cost tens of ms; below that is scheduling noise on a busy machine.
    assert slowest_call < 0.05, f"one add_sample took {slowest_call * 1000:.1f} ms"
    assert slowest_events < 0.2, f"one event-loop pass took {slowest_events * 1000:.0f} ms"
    qtbot.waitUntil(lambda: len(panel.summary().process_gb) >= 590, timeout=2000)
    # Coalesced: far fewer redraws than samples.
    assert 1 <= panel.summary().redraws <= 40


def test_hovering_the_lines_names_the_memory_and_an_off_ladder_rung(
    qtbot: QtBot, panel: PerformancePanel
) -> None:
    show(qtbot, panel)
    panel.set_rung("q4_1", T0)
    for i in range(30):
        panel.add_sample(sample(i, rss_gb=2.5, used_gb=12.0))
    qtbot.waitUntil(lambda: panel.summary().last_rung == "q4_1", timeout=2000)
    assert panel.rungs.steps.points()[-1].y() == panel.rungs.rung_axis.endValue("q4_1")

    panel.rungs.steps.hovered.emit(QPointF(-5.0, panel.rungs.rung_axis.endValue("q4_1")), True)
    qtbot.waitUntil(lambda: "q4_1" in QToolTip.text(), timeout=2000)
    panel.memory.process.hovered.emit(QPointF(-3.0, 2.5), True)
    qtbot.waitUntil(lambda: "Reflexia 2.5 GB" in QToolTip.text(), timeout=2000)
    assert "12.0 of 16 GB used" in QToolTip.text()
    QToolTip.hideText()
