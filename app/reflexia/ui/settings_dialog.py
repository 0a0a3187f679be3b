"""The settings dialog, built from the settings models' own field metadata.

Each field's title labels it, its description is the help line under it, its bounds are the
spin box's range and its type picks the control. Every edit is validated with the models
themselves, so cross-field rules (critical above high pressure) show next to the field too.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from PySide6.QtCore import QEvent, QObject, QSize, Qt, Slot
from PySide6.QtGui import QIcon, QKeyEvent, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QScrollArea,
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from reflexia.core.config.field_errors import field_message, in_sentence
from reflexia.core.config.settings import (
    AgentSettings,
    ChatSettings,
    MemorySettings,
    SamplingSettings,
    Settings,
    SettingsChangeError,
    setting_field,
)
from reflexia.core.errors import ConfigError
from reflexia.services.settings_store import SettingsStore, effect
from reflexia.ui.setting_row import SettingRow, setting_title

# Both were defined here first; the dialog is where callers look for them.
__all__ = ["PAGES", "SettingRow", "SettingsDialog", "setting_title"]

#: The pages and the dotted settings on each, in order.
PAGES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    (
        "Model",
        (
            "paths.models_dir",
            "model.default_model",
            "model.context_length",
            "model.threads",
            "model.gpu_layers",
            "model.batch_size",
            "model.quantization_level",
        ),
    ),
    ("Sampling", tuple(f"sampling.{name}" for name in SamplingSettings.model_fields)),
    ("Memory", tuple(f"memory.{name}" for name in MemorySettings.model_fields)),
    (
        "Documents",
        ("rag.embeddings_model", "paths.vector_db_path", "rag.chunk_size", "rag.chunk_overlap", "rag.top_k"),
    ),
    ("Chat", tuple(f"chat.{name}" for name in ChatSettings.model_fields)),
    ("Menubar", tuple(f"agent.{name}" for name in AgentSettings.model_fields)),
    ("Ollama", ("ollama.host",)),
)


class SettingsDialog(QDialog):
    """Shows and edits the settings of a :class:`SettingsStore`, one page per topic.

    OK and Apply save the changed fields through the store; both are disabled while a field
    holds an invalid value. Fields set by ``.env`` or an environment variable are read-only.
    """

    def __init__(
        self, store: SettingsStore, parent: QWidget | None = None, statuses: Mapping[str, str] | None = None
    ) -> None:
        """``statuses``: how settings are doing now, by key (a global shortcut the system refused)."""
        super().__init__(parent)
        self._statuses = dict(statuses or {})
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")  # its colours are the app style sheet's (#settingsDialog)
        self.resize(640, 520)
        self._store = store
        self._rows: dict[str, SettingRow] = {}
        self._page_keys: list[tuple[str, ...]] = []
        self._last_edited: str | None = None

        self.page_list = QListWidget()
        self.page_list.setObjectName("settingsPages")
        self.page_list.setFixedWidth(140)
        self.page_list.setIconSize(QSize(14, 14))
        # Every page has an icon, blank unless a field needs fixing, so the titles stay aligned.
        self._warning_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        blank = QPixmap(14, 14)
        blank.fill(Qt.GlobalColor.transparent)
        self._blank_icon = QIcon(blank)
        self.pages = QStackedWidget()
        for title, keys in PAGES:
            self.page_list.addItem(title)
            self.pages.addWidget(self._make_page(title, keys))
            self._page_keys.append(keys)
        self.page_list.currentRowChanged.connect(self.pages.setCurrentIndex)

        self.note = QLabel()
        self.note.setObjectName("settingsNote")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.hide()
        buttons = QDialogButtonBox.StandardButton
        self.button_box = QDialogButtonBox(
            buttons.RestoreDefaults | buttons.Ok | buttons.Cancel | buttons.Apply
        )
        self.ok_button = self.button_box.button(buttons.Ok)
        self.apply_button = self.button_box.button(buttons.Apply)
        self.restore_button = self.button_box.button(buttons.RestoreDefaults)
        self.ok_button.setObjectName("primaryButton")
        # Per page, and it says so: restoring every page at once would undo settings the user
        # cannot see. The note after a click names the page and what changed.
        self.restore_button.setText("Restore this page's defaults")
        self.restore_button.setToolTip(
            "Put the settings on this page back to the shipped defaults; the other pages keep theirs. "
            "Nothing is saved until OK or Apply."
        )
        self.button_box.accepted.connect(self.accept)
        self.button_box.rejected.connect(self.reject)
        self.apply_button.clicked.connect(self.apply)
        self.restore_button.clicked.connect(self.restore_page_defaults)

        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        body.addWidget(self.page_list)
        body.addWidget(self.pages, 1)
        footer = QVBoxLayout()
        footer.setContentsMargins(16, 10, 16, 14)
        footer.setSpacing(10)
        footer.addWidget(self.note)
        footer.addWidget(self.button_box)
        rule = QFrame()
        rule.setObjectName("settingsRule")
        rule.setFrameShape(QFrame.Shape.HLine)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(body, 1)
        layout.addWidget(rule)
        layout.addLayout(footer)

        self._chain_tab_order()
        for sequence, step in (("Ctrl+PgDown", 1), ("Ctrl+PgUp", -1)):
            QShortcut(QKeySequence(sequence), self, lambda step=step: self._step_page(step))
        store.changed.connect(self._on_store_changed)
        self._show_sources()
        self.page_list.setCurrentRow(0)
        self.page_list.setFocus()
        self._validate()

    # --- building ---------------------------------------------------------------------------

    def _make_page(self, title: str, keys: tuple[str, ...]) -> QWidget:
        content = QWidget()
        content.setObjectName("settingsPage")
        grid = QGridLayout(content)
        grid.setContentsMargins(20, 14, 20, 10)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(3)
        heading = QLabel(title)
        heading.setObjectName("pageTitle")
        grid.addWidget(heading, 0, 0, 1, 2)
        next_load = [key for key in keys if effect(key) == "next_model_load"]
        if next_load:
            titles = [in_sentence(setting_title(key)) for key in next_load]
            listed = _join(titles)
            intro = QLabel(f"{listed[:1].upper()}{listed[1:]} apply from the next model load.")
            intro.setObjectName("pageIntro")
            intro.setWordWrap(True)
            grid.addWidget(intro, 1, 0, 1, 2)
        grid.setRowMinimumHeight(2, 8)
        row_index = 3
        settings, defaults = self._store.settings, self._store.defaults
        for key in keys:
            info = setting_field(tuple(key.split(".")))
            assert info is not None, f"no setting {key}"
            row = SettingRow(key, info, settings, defaults)
            self._rows[key] = row
            self._connect(row)
            editor_line = QHBoxLayout()
            editor_line.setSpacing(6)
            editor_line.addWidget(row.editor, 1 if isinstance(row.editor, QLineEdit) else 0)
            if row.suffix_label is not None:
                editor_line.addWidget(row.suffix_label)
            if row.choose_button is not None:
                editor_line.addWidget(row.choose_button)
                row.choose_button.clicked.connect(lambda _=False, row=row: self._choose_folder(row))
            if not isinstance(row.editor, QLineEdit):
                editor_line.addStretch(1)
            if isinstance(row.title_widget, QLabel):
                grid.addWidget(row.title_widget, row_index, 0, Qt.AlignmentFlag.AlignVCenter)
            grid.addLayout(editor_line, row_index, 1)
            details = QVBoxLayout()
            details.setContentsMargins(0, 0, 0, 8)
            details.setSpacing(2)
            row.show_status(self._statuses.get(key, ""))
            for label in (row.help_label, row.note_label, row.status_label, row.problem_label):
                details.addWidget(label)
            grid.addLayout(details, row_index + 1, 1)
            row_index += 2
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(row_index, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        return scroll

    def _connect(self, row: SettingRow) -> None:
        editor = row.editor
        if isinstance(editor, QCheckBox):
            editor.toggled.connect(self._on_edited)
        elif isinstance(editor, QComboBox):
            editor.currentIndexChanged.connect(self._on_edited)
        elif isinstance(editor, QLineEdit):
            editor.textChanged.connect(self._on_edited)
        elif isinstance(editor, QAbstractSpinBox):
            # The spin box's own textChanged skips text below the minimum; its line edit's does not.
            editor.lineEdit().textChanged.connect(self._on_edited)
            editor.installEventFilter(self)

    def _chain_tab_order(self) -> None:
        # The page list, then the fields top to bottom (only the visible page's take focus).
        chain: list[QWidget] = [self.page_list]
        for row in self._rows.values():
            chain += row.focus_widgets()
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _show_sources(self) -> None:
        for key, row in self._rows.items():
            source = self._store.source(key)
            row.set_locked(source.explanation() if source.external else None)

    # --- public -------------------------------------------------------------------------------

    def row(self, key: str) -> SettingRow:
        """The controls of the dotted setting ``key``."""
        return self._rows[key]

    def show_page(self, title: str) -> None:
        """Switch to the page called ``title``."""
        titles = [page for page, _keys in PAGES]
        self.page_list.setCurrentRow(titles.index(title))

    def changes(self) -> dict[str, Any]:
        """The edited fields' values by dotted key (only valid, changed, editable ones)."""
        result: dict[str, Any] = {}
        for key, row in self._rows.items():
            if not row.locked and row.is_changed():
                result[key] = row.read()[0]
        return result

    @Slot()
    def apply(self) -> bool:
        """Save the changes through the store; returns whether they were saved."""
        self._validate()
        if not self.ok_button.isEnabled():
            return False
        changes = self.changes()
        if not changes:
            self._set_note("Nothing to save.")
            return True
        try:
            problems = self._store.update(changes)
        except SettingsChangeError as exc:
            if exc.key in self._rows:
                self._rows[exc.key].show_problem(exc.reason)
            self._set_note(f"Not saved: {exc}", error=True)
            return False
        except (ConfigError, OSError) as exc:
            self._set_note(f"Not saved: {exc}", error=True)
            return False
        for row in self._rows.values():
            row.set_value(row.value_in(self._store.settings))
            row.original = row.value_in(self._store.settings)
        self._show_sources()
        self._validate()
        self._set_note(self._saved_note(changes, problems))
        return True

    @Slot()
    def accept(self) -> None:
        """Save, then close; stays open if saving failed."""
        if self.apply():
            super().accept()

    @Slot()
    def restore_page_defaults(self) -> None:
        """Put the current page's editable fields back to the shipped defaults (saved on OK/Apply).

        The note names the page and the fields that changed, so nobody wonders about the others.
        """
        page = PAGES[self.pages.currentIndex()][0]
        restored: list[str] = []
        kept: list[str] = []
        for key in self._page_keys[self.pages.currentIndex()]:
            row = self._rows[key]
            default = row.value_in(self._store.defaults)
            if row.locked:
                if row.value_in(self._store.settings) != default:
                    kept.append(row.title)
                continue
            before = row.read()[0]
            row.set_value(default)
            if row.read()[0] != before:
                restored.append(row.title)
        self._validate()
        if restored:
            note = f"{page} page: {_join(restored)} back to the shipped defaults; OK or Apply saves them."
        else:
            note = f"The {page} page already shows the shipped defaults."
        if kept:
            verb = "is" if len(kept) == 1 else "are"
            note += f" {_join(kept)} {verb} set outside Reflexia and kept."
        self._set_note(f"{note} Other pages are unchanged.")

    # --- reacting -------------------------------------------------------------------------------

    @Slot()
    def _on_edited(self) -> None:
        sender = self.sender()
        self._last_edited = next((key for key, row in self._rows.items() if row.owns(sender)), None)
        self._validate()

    @Slot(object, object)
    def _on_store_changed(self, settings: Settings, keys: frozenset[str]) -> None:
        # Someone else changed the settings: show their values where the user has not edited.
        for key in keys & self._rows.keys():
            row = self._rows[key]
            if not row.is_changed():
                row.set_value(row.value_in(settings))
            row.original = row.value_in(settings)
        self._validate()

    def _choose_folder(self, row: SettingRow) -> None:
        assert isinstance(row.editor, QLineEdit)
        start = row.editor.text() or row.editor.placeholderText().removeprefix("Default: ")
        start = str(Path(start).expanduser())
        folder = QFileDialog.getExistingDirectory(self, f"Choose the {row.title.lower()}", start)
        if folder:
            row.editor.setText(folder)
            row.editor.setFocus()

    def _step_page(self, step: int) -> None:
        self.page_list.setCurrentRow((self.page_list.currentRow() + step) % self.page_list.count())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        """Keep Enter in a spin box with a problem from correcting the value and pressing OK."""
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and not self.ok_button.isEnabled()
        ):
            return True
        return super().eventFilter(watched, event)

    # --- validation -----------------------------------------------------------------------------

    def _validate(self) -> None:
        problems: dict[str, str] = {}
        tree = self._store.settings.model_dump()
        for key, row in self._rows.items():
            value, problem = row.read()
            if problem is not None:
                problems[key] = problem
            else:
                section, name = key.split(".")
                tree[section][name] = value
        unplaced: list[str] = []
        try:
            Settings.model_validate(tree)
        except ValidationError as exc:
            for error in exc.errors():
                target = self._target(tuple(str(part) for part in error["loc"]))
                if target is None:
                    unplaced.append(str(error["msg"]))
                else:
                    problems.setdefault(target, self._message(error))
        for key, row in self._rows.items():
            row.show_problem(problems.get(key))
        for index, keys in enumerate(self._page_keys):
            item = self.page_list.item(index)
            bad = any(key in problems for key in keys)
            item.setIcon(self._warning_icon if bad else self._blank_icon)
            item.setToolTip("A field on this page needs fixing" if bad else "")
        valid = not problems and not unplaced
        self.ok_button.setEnabled(valid)
        self.apply_button.setEnabled(valid and bool(self.changes()))
        if unplaced:
            self._set_note("; ".join(unplaced), error=True)
        elif self.note.property("kind") == "error":
            self._set_note("")

    def _target(self, loc: tuple[str, ...]) -> str | None:
        """The field to show an error at: its own, or for a rule over a section the edited one."""
        dotted = ".".join(loc)
        if dotted in self._rows:
            return dotted
        under = [key for key in self._rows if key.startswith(f"{dotted}.") or not dotted]
        if self._last_edited in under:
            return self._last_edited
        edited = [key for key in under if self._rows[key].is_changed()]
        return next(iter(edited or under), None)

    def _message(self, error: ErrorDetails) -> str:
        # A rule names fields by their Python names; the user knows them by their titles.
        section = ".".join(str(part) for part in error["loc"])
        titles = {
            key.rsplit(".", 1)[-1]: row.title
            for key, row in self._rows.items()
            if key.startswith(f"{section}.")
        }
        row = self._rows.get(section)
        return field_message(error, title=row.title if row is not None else None, titles=titles)

    def _saved_note(self, changes: dict[str, Any], problems: list[str]) -> str:
        next_load = [self._rows[key].title for key in changes if effect(key) == "next_model_load"]
        parts = ["Saved."]
        if next_load:
            verb = "takes" if len(next_load) == 1 else "take"
            parts.append(f"{_join(next_load)} {verb} effect on the next model load.")
        return " ".join(parts + problems)

    def _set_note(self, text: str, *, error: bool = False) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))
        self.note.setProperty("kind", "error" if error else "info")
        self.note.style().unpolish(self.note)
        self.note.style().polish(self.note)


def _join(titles: list[str]) -> str:
    return titles[0] if len(titles) == 1 else f"{', '.join(titles[:-1])} and {titles[-1]}"
