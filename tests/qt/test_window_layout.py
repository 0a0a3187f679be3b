"""The window's layout as a new user meets it: default size, docks open, nothing cut off or overlapping."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionComboBox, QWidget
from pytestqt.qtbot import QtBot

from reflexia.app import ReflexiaApp
from reflexia.ui.main_window import MainWindow
from reflexia.ui.theme import SCHEME_PROPERTY, Theme, apply_theme

TYPICAL_FOOTER = "46 tokens · 512.0 tok/s · first token 0.05 s · q4_k_m · Code Assistant · stopped"


@pytest.fixture(autouse=True)
def themed(qapp: QApplication) -> Iterator[None]:
    """The app's own style sheet, as a user sees it (its padding changes every width); removed after."""
    apply_theme(qapp, "light")
    yield
    theme = qapp.findChild(Theme)
    if theme is not None:
        theme.set_preference("system")
        shiboken6.delete(theme)
    qapp.setStyleSheet("")
    qapp.setProperty(SCHEME_PROPERTY, None)


def _header_widgets(window: MainWindow) -> list[QWidget]:
    header = window.findChild(QWidget, "header")
    assert header is not None
    title = header.findChild(QWidget, "appTitle")
    assert title is not None
    return [title, window.picker, window.role_picker, window.new_chat_button]


def _assert_header_fits(window: MainWindow, where: str) -> None:
    widgets = _header_widgets(window)
    header = widgets[0].parentWidget()
    assert header is not None
    for widget in widgets:
        wide = max(widget.minimumSizeHint().width(), widget.minimumWidth())
        assert widget.width() >= wide, f"{where}: {widget.objectName()} is {widget.width()} px, needs {wide}"
        assert header.rect().contains(widget.geometry()), f"{where}: {widget.objectName()} sticks out"
    for left, right in itertools.pairwise(widgets):
        assert not left.geometry().intersects(right.geometry()), (
            f"{where}: {left.objectName()} {left.geometry()} overlaps {right.objectName()} {right.geometry()}"
        )


def _wait_for_models(qtbot: QtBot, app: ReflexiaApp) -> None:
    qtbot.waitUntil(lambda: app.window.picker.count() > 3, timeout=10_000)  # the scan runs on a worker


@pytest.mark.parametrize("dock_name", ["documents_dock", "performance_dock"])
def test_the_header_fits_at_the_default_size_with_a_dock_open(qtbot: QtBot, make_app, dock_name: str) -> None:
    app = make_app()
    window = app.window
    _wait_for_models(qtbot, app)
    window.picker.show_current(app.library.snapshot.entries[0].report.path)  # the longest labels
    default = window.size()
    dock = getattr(window, dock_name)
    dock.show()
    qtbot.wait(100)
    assert window.size() == default  # the default size has room for a dock
    _assert_header_fits(window, f"default size, {dock_name}")
    window.resize(window.minimumSize())
    qtbot.wait(100)
    _assert_header_fits(window, f"minimum size {window.size().toTuple()}, {dock_name}")


def _painted_label(picker: QWidget) -> tuple[str, QRect]:
    """The text the model picker paints for its current item, and the field it paints it in."""
    option = QStyleOptionComboBox()
    picker.initStyleOption(option)  # type: ignore[attr-defined]
    field = picker.style().subControlRect(
        QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, picker
    )
    shown = getattr(picker, "shown_text", None)
    return (shown() if shown is not None else option.currentText), field


@pytest.fixture(scope="module")
def long_named_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model with the kind of name the Hub's models have (the tests' own are short)."""
    from reflexia.core.models.model_factory import make_model
    from reflexia.core.models.quantizer import quantize_model

    folder = tmp_path_factory.mktemp("long-names")
    name = "Meta-Llama-3.1-8B-Instruct-abliterated"
    source = make_model(folder / f"{name}-f16.gguf", size="tiny", seed=0, name=name)
    quantize_model(source, "q4_k_m")
    return folder


@pytest.mark.parametrize("dock_name", [None, "documents_dock", "performance_dock"])
@pytest.mark.parametrize("free_mb", [256, 1_048_576], ids=["fits", "too-large"])
def test_the_model_picker_keeps_the_verdict_visible(
    qtbot: QtBot, make_app, long_named_models: Path, dock_name: str | None, free_mb: int
) -> None:
    app = make_app({"memory": {"min_free_memory_mb": free_mb}}, models_dir=long_named_models)
    window = app.window
    qtbot.waitUntil(lambda: window.picker.count() > 3, timeout=10_000)
    if dock_name:
        getattr(window, dock_name).show()
    for entry in app.library.snapshot.entries:
        window.picker.show_current(entry.report.path)
        qtbot.wait(20)
        text, field = _painted_label(window.picker)
        verdict = entry.label.rsplit("·", 1)[1].strip()
        assert text.endswith(verdict), f"{entry.label!r} is shown as {text!r}"
        assert window.picker.fontMetrics().horizontalAdvance(text) <= field.width(), (
            f"{text!r} is wider than the {field.width()} px the picker paints it in"
        )


def test_a_typical_stats_line_fits_on_one_line_at_the_default_size(qtbot: QtBot, make_app) -> None:
    window = make_app().window
    bubble = window.chat_view.add_message("assistant", "Here is a function that reverses a list.")
    bubble.finish()
    bubble.set_footer(TYPICAL_FOOTER)
    qtbot.wait(100)
    footer = bubble.footer
    metrics = footer.fontMetrics()
    assert metrics.horizontalAdvance(TYPICAL_FOOTER) <= footer.contentsRect().width(), (
        f"the footer is given {footer.width()} px of the bubble's {bubble.width()}"
    )
    assert footer.height() < 2 * metrics.lineSpacing()  # one line
    copy = bubble.copy_button
    assert copy is not None and copy.isVisible()
    assert copy.geometry().left() > footer.geometry().right()  # beside the line, at the right
    bubble.set_footer("")  # e.g. a reply waiting for its turn, then running
    qtbot.wait(50)
    assert copy.width() < bubble.width() // 4 and copy.geometry().right() > bubble.width() - 40
