"""The main window: model menu, conversation, input box and status bar."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QSettings, Qt, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from reflexia.core.engine.values import GenerationResult, ModelInfo, ModelRef
from reflexia.core.errors import ReflexiaError
from reflexia.core.memory.estimate import FitResult
from reflexia.core.memory.rung_report import largest_fitting_rung
from reflexia.core.units import human_size
from reflexia.services.chat_session import ChatSession, ReplyStarted
from reflexia.services.conversation_history import ConversationHistory
from reflexia.services.demo_model import DemoModelMaker
from reflexia.services.documents import DocumentsService
from reflexia.services.governor_service import GovernorService
from reflexia.services.inference import InferenceService
from reflexia.services.model_library import LibrarySnapshot, ModelLibraryService
from reflexia.services.quantization import QuantizationJob, QuantizationService
from reflexia.services.roles import RoleService
from reflexia.services.settings_store import SettingsStore
from reflexia.services.watched_folders import FolderWatcher
from reflexia.ui.banner import Banner
from reflexia.ui.chat_view import ChatView
from reflexia.ui.composer import Composer
from reflexia.ui.context_meter import ContextMeter
from reflexia.ui.conversation_actions import ConversationActions
from reflexia.ui.document_actions import DocumentActions
from reflexia.ui.governor_notices import GovernorNotices
from reflexia.ui.help_menu import HelpCommands
from reflexia.ui.markup import Markup, join_markup, markup, plain_label, set_label_text, shown
from reflexia.ui.memory_status import MemoryStatus
from reflexia.ui.menus import DockSwitch, build_menus
from reflexia.ui.model_details import ModelDetailsDialog
from reflexia.ui.model_picker import ModelPicker
from reflexia.ui.performance_panel import PerformancePanel
from reflexia.ui.role_dialog import RoleDialog
from reflexia.ui.role_picker import RolePicker
from reflexia.ui.settings_dialog import SettingsDialog
from reflexia.ui.sidebar import ConversationSidebar
from reflexia.ui.window_room import WindowRoom

#: Room for the conversations, the sidebar and one of the right-hand docks (Documents is the widest).
DEFAULT_SIZE = (1280, 800)


class MainWindow(ConversationActions, DocumentActions, GovernorNotices, QMainWindow):
    """Talks to the services only; never to llama.cpp directly.

    The conversation commands (open, export, find, delete, regenerate, edit the last message)
    come from :class:`ConversationActions`; the governor's notices from :class:`GovernorNotices`.
    """

    def __init__(
        self,
        inference: InferenceService,
        chat: ChatSession,
        *,
        library: ModelLibraryService,
        governor: GovernorService,
        quantization: QuantizationService,
        demo_model: DemoModelMaker,
        roles: RoleService,
        history: ConversationHistory,
        settings_store: SettingsStore,
        load_model: Callable[[Path, int | None, int | None], None],
        window_state: QSettings,
        documents: DocumentsService | None = None,
        folder_watcher: FolderWatcher | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Reflexia")
        self._inference = inference
        self._chat = chat
        self._library = library
        self._governor = governor
        self._quantization = quantization
        self._load_model = load_model
        self._demo_model = demo_model
        self._roles = roles
        self._history = history
        self._settings_store = settings_store
        self._setting_statuses: dict[str, str] = {}  # e.g. a global shortcut the system refused
        self._state = window_state

        self.picker = ModelPicker()
        self.role_picker = RolePicker(roles)
        self.new_chat_button = QPushButton("New chat")
        self.new_chat_button.setObjectName("toolbarButton")
        header = QWidget()
        header.setObjectName("header")
        header_row = QHBoxLayout(header)
        header_row.setContentsMargins(16, 10, 16, 10)
        title = QLabel("Reflexia")
        title.setObjectName("appTitle")
        header_row.addWidget(title)
        header_row.addSpacing(12)
        # The pickers are as wide as their longest items when there is room; narrowed, they elide
        # their text, down to a minimum the window keeps (its own minimum width follows the header's).
        header_row.addWidget(self.picker)
        header_row.addSpacing(8)
        header_row.addWidget(self.role_picker)
        header_row.addStretch(1)
        header_row.addWidget(self.new_chat_button)

        self.banner = Banner()
        self.chat_view = ChatView()
        self.composer = Composer()
        central = QWidget()
        central.setObjectName("central")
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(header)
        column.addWidget(self.banner)
        column.addWidget(self.chat_view, 1)
        column.addWidget(self.composer)
        self.setCentralWidget(central)

        self.sidebar = ConversationSidebar(history)
        # A Python subclass of QWidget paints its style sheet background (#sidebar) only when asked to.
        self.sidebar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.sidebar_dock = QDockWidget("Conversations", self)
        self.sidebar_dock.setObjectName("sidebarDock")
        self.sidebar_dock.setWidget(self.sidebar)
        self.sidebar_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetMovable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.sidebar_dock)
        self.performance = PerformancePanel()
        self.performance_dock = QDockWidget("Performance", self)
        self.performance_dock.setObjectName("performanceDock")
        self.performance_dock.setWidget(self.performance)
        self.performance_dock.setFeatures(self.sidebar_dock.features())
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.performance_dock)
        self.performance_dock.hide()  # opened from View > Performance; it costs nothing while hidden
        self.menu_actions = build_menus(self)
        self.dock_switches: list[DockSwitch] = []  # the View menu's checks, one per dock
        self.help = HelpCommands(self, self.menu_actions, self.show_error)
        self.setup_documents(documents, folder_watcher)

        self.model_label = plain_label("No model")  # model names come from GGUF metadata
        self.quant_label = plain_label("")
        self.speed_label = plain_label("")
        self.busy = QProgressBar()
        self.busy.setObjectName("busyIndicator")
        self.busy.setRange(0, 0)
        self.busy.setFixedWidth(120)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.memory_status = MemoryStatus(governor)
        status = self.statusBar()
        status.addPermanentWidget(self.busy)
        self.context_meter = ContextMeter()
        status.addPermanentWidget(self.context_meter)
        status.addPermanentWidget(self.memory_status)
        for label in (self.model_label, self.quant_label, self.speed_label):
            label.setObjectName("statusField")
            status.addPermanentWidget(label)

        self._wire()
        # The least width follows the docks open, so that the header's pickers never overlap.
        self.room = WindowRoom(self, header)
        self.refresh_models()
        self._restore_geometry()

    def _wire(self) -> None:
        self.picker.model_chosen.connect(self.request_load)
        self.role_picker.edit_requested.connect(self.edit_roles)
        self._library.scanned.connect(self._on_library_scanned)
        self._library.file_checked.connect(self._on_file_checked)
        self._library.check_failed.connect(self._on_check_failed)
        self._library.scan_failed.connect(self.show_error)
        self.setup_governor_notices()
        self.memory_status.quantize_requested.connect(self._quantization.quantize)
        self._quantization.started.connect(self._on_quantization_started)
        self._quantization.progress.connect(self._on_quantization_progress)
        self._quantization.finished.connect(self._on_quantization_finished)
        self._quantization.failed.connect(self._on_quantization_failed)
        self._quantization.cancelled.connect(self._on_quantization_cancelled)
        self.picker.open_requested.connect(self.open_model_file)
        self.chat_view.open_model_requested.connect(self.open_model_file)
        self.chat_view.demo_model_requested.connect(self._demo_model.start)
        self.chat_view.edit_requested.connect(self.edit_message)
        self._demo_model.started.connect(self._on_demo_model_started)
        self._demo_model.ready.connect(self._on_demo_model_ready)
        self._demo_model.failed.connect(self.show_error)
        self.new_chat_button.clicked.connect(self.new_chat)
        actions = self.menu_actions
        actions.new_chat.triggered.connect(self.new_chat)
        actions.open_model.triggered.connect(self.open_model_file)
        actions.close_window.triggered.connect(self.close)
        actions.quit.triggered.connect(QApplication.quit)
        actions.edit_roles.triggered.connect(self.edit_roles)
        actions.settings.triggered.connect(self.open_settings)
        actions.stop.triggered.connect(self._chat.stop)
        actions.find.triggered.connect(self._on_find)
        actions.regenerate.triggered.connect(self.regenerate)
        actions.edit_last.triggered.connect(self.edit_last_message)
        actions.export_conversation.triggered.connect(self._on_export_current)
        actions.model_details.triggered.connect(self.show_model_details)
        self.dock_switches.append(DockSwitch(actions.show_sidebar, self.sidebar_dock))
        self.dock_switches.append(DockSwitch(actions.show_performance, self.performance_dock))
        self._governor.sampled.connect(self.performance.add_sample)
        self.sidebar.open_requested.connect(self.open_conversation)
        self.sidebar.export_requested.connect(self.export_conversation)
        self.sidebar.deleted.connect(self._on_conversation_deleted)
        self._history.failed.connect(self.show_error)
        self._history.unavailable.connect(self.show_error)
        self._history.loaded.connect(self._on_conversation_loaded)
        self._history.restored.connect(self._on_turns_restored)
        self._history.exported.connect(self._on_exported)
        self.composer.send_requested.connect(self.send)
        self.composer.stop_requested.connect(self._chat.stop)
        inference = self._inference
        inference.model_loading.connect(self._on_model_loading)
        inference.model_loaded.connect(self._on_model_loaded)
        inference.model_load_failed.connect(self._on_model_load_failed)
        inference.model_unloaded.connect(self._on_model_unloaded)
        inference.request_refused.connect(self._on_request_refused)
        inference.busy_changed.connect(self.busy.setVisible)
        self._chat.reply_started.connect(self._on_reply_started)
        self._chat.reply_waiting.connect(self._on_reply_waiting)
        self._chat.reply_running.connect(self._on_reply_running)
        self._chat.reply_token.connect(self.chat_view.append_token)
        self._chat.reply_finished.connect(self._on_reply_finished)
        self._chat.reply_failed.connect(self._on_reply_failed)

    # -- actions -----------------------------------------------------------
    def refresh_models(self) -> None:
        """Rescan the models folder (off the GUI thread); the menu updates when it is done."""
        self._library.rescan()

    def _on_library_scanned(self, snapshot: LibrarySnapshot) -> None:
        self.picker.set_entries(
            [(e.label, e.report.path, e.report.message) for e in snapshot.entries if e.report.path]
        )
        if self._inference.model is None:
            where = str(self._library.models_dir)
            self.chat_view.set_empty_hint(
                markup(
                    "Choose a model from the menu above. Models are GGUF files in <b>{}</b>; "
                    "open one from anywhere with <b>Open GGUF…</b>, or create a small demo model "
                    "(random weights, for trying the app) with one click."
                    if snapshot.entries
                    else "No models yet. Put GGUF files in <b>{}</b>, open one from anywhere with "
                    "<b>Open GGUF…</b>, or create a small demo model (random weights, for trying the app).",
                    where,
                )
            )

    def request_load(self, path: Path) -> None:
        """Load ``path`` if it fits (with a shorter context if need be); else explain, offer "Load anyway"."""
        snapshot = self._library.snapshot
        entry = snapshot.entry_for(path) if snapshot else None
        if entry is None:
            self._library.check(path)  # not in the library: judge it on a worker first
            return
        report = entry.report
        self._load_if_it_fits(path, report.fit, report.max_context, report.message, report.gpu_layers)

    def _on_file_checked(self, path: Path, fit: FitResult) -> None:
        self._load_if_it_fits(path, fit.verdict, fit.max_context, fit.message, fit.gpu_layers)

    def _load_if_it_fits(
        self, path: Path, verdict: str, max_context: int, message: str, gpu_layers: int | None
    ) -> None:
        if verdict == "fits":
            self._load_model(path, None, gpu_layers)
            if gpu_layers is not None:  # Metal's working set holds only some layers: say so
                self.banner.show_message(markup("<b>Loaded partly on the GPU</b> ({}).", message), "info")
            return
        if verdict == "shorter_context":
            self._load_model(path, max_context, gpu_layers)
            self.banner.show_message(
                markup(
                    "<b>Loaded with a {}-token context</b> so that it fits in memory now ({}).",
                    max_context,
                    message,
                ),
                "info",
            )
            return
        snapshot = self._library.snapshot
        family = snapshot.catalog.find(path) if snapshot else None
        entries = snapshot.entries if snapshot and family else ()
        best = largest_fitting_rung([e.report for e in entries if family and e.family == family.display_name])
        advice = f" The largest rung that fits is {best}." if best else ""
        self.picker.show_current(self._inference.model.path if self._inference.model else None)
        self.banner.show_message(
            markup("<b>{} is too large for this machine now.</b> {}.{}", path.name, message, advice),
            "error",
            ("Load anyway", lambda: self._load_model(path, None, None)),
        )

    def open_model_file(self) -> None:
        """Ask for a GGUF file anywhere and load it."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a GGUF model", str(self._library.models_dir), "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.request_load(Path(path))

    def send(self, text: str) -> None:
        """Send the user's message, or explain why it cannot be sent now."""
        if not self._chat.send(text):
            self.composer.give_back(text)

    def new_chat(self) -> None:
        """Start an empty conversation (a reply still running is stopped and left behind)."""
        self._chat.new_chat()
        self.chat_view.clear()
        self.context_meter.clear()
        self.composer.set_replying(False)

    def open_settings(self) -> SettingsDialog:
        """Open the settings dialog (Cmd/Ctrl+,)."""
        dialog = SettingsDialog(self._settings_store, self, self._setting_statuses)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_model_details(self) -> ModelDetailsDialog | None:
        """Show the loaded model's details (from the header the library read; nothing is opened)."""
        model = self._inference.model
        if model is None:
            self.statusBar().showMessage("No model is loaded: pick one in the model menu first", 4000)
            return None
        snapshot = self._library.snapshot
        path = model.path
        family = snapshot.catalog.find(path) if snapshot is not None and path is not None else None
        entry = next((f for f in family.files if f.path == model.path), None) if family is not None else None
        dialog = ModelDetailsDialog(model, entry.info if entry is not None else None, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def set_setting_status(self, key: str, status: str) -> None:
        """How the setting ``key`` is doing now, shown under it in the settings ("" for nothing)."""
        self._setting_statuses[key] = status

    def edit_roles(self) -> RoleDialog:
        """Open the roles dialog (create, edit, duplicate, delete)."""
        dialog = RoleDialog(self._roles, self)
        dialog.setModal(True)
        dialog.show()
        return dialog

    @Slot(str)
    def show_error(self, message: Markup | str) -> None:
        """Show an error in the banner (uncaught exceptions from any thread arrive here)."""
        self.banner.show_message(message, "error")

    def show_problems(self, problems: tuple[str, ...] | list[str]) -> None:
        """Show configuration (or other start-up) problems in the banner."""
        if problems:
            self.banner.show_message(join_markup("<br>", [markup("{}", p) for p in problems]), "warning")

    # -- service events ----------------------------------------------------
    def _on_quantization_started(self, job: QuantizationJob) -> None:
        self.banner.show_message(
            markup("<b>Making {}</b> from {}… the app stays usable meanwhile.", job.rung, job.source.name),
            "info",
            ("Cancel", self._quantization.cancel),
        )
        self.busy.setRange(0, 0)
        self.busy.show()

    def _on_quantization_progress(self, done: int, total: int) -> None:
        self.busy.setRange(0, total)
        self.busy.setValue(done)
        self.statusBar().showMessage(f"Quantizing: {done}/{total} tensors")

    def _quantization_ended(self) -> None:
        self.busy.setRange(0, 0)
        self.busy.setVisible(self._inference.is_loading or self._inference.is_generating)
        self.statusBar().clearMessage()

    def _on_quantization_finished(self, path: Path) -> None:
        self._quantization_ended()
        self._library.rescan()
        if self.governor_made_rung():  # the governor's own notice already says so
            return
        self.banner.show_message(markup("<b>Made {}</b> — it is in the model menu now.", path.name), "info")

    def _on_quantization_failed(self, error: ReflexiaError) -> None:
        self._quantization_ended()
        self.banner.show_message(markup("<b>Quantization failed.</b> {}", error), "error")

    def _on_quantization_cancelled(self) -> None:
        self._quantization_ended()
        self.banner.show_message("Quantization cancelled; nothing was written.", "info")

    def _on_demo_model_started(self) -> None:
        self.statusBar().showMessage("Creating the demo model…")

    def _on_demo_model_ready(self, path: Path) -> None:
        self._library.rescan()
        self._load_model(path, None, None)

    def _on_check_failed(self, _path: Path, error: ReflexiaError) -> None:
        self._on_model_load_failed(0, error, self._inference.model)  # a check loads nothing

    def _on_request_refused(self, reason: str) -> None:
        self.statusBar().showMessage(reason, 5000)

    def _on_model_unloaded(self) -> None:
        self.performance.set_rung(None, time.monotonic())
        self._show_model(None)

    def _on_model_loading(self, _request_id: int, ref: ModelRef) -> None:
        # The menu stays usable: choosing another model supersedes this load.
        self.statusBar().showMessage(f"Loading {ref.label}…")
        set_label_text(self.model_label, f"Loading {ref.label}…")

    def _on_model_loaded(self, request_id: int, info: ModelInfo) -> None:
        self.performance.set_rung(info.quantization, time.monotonic())
        if self.banner.kind != "info":  # keep the governor's "Switched to …" notice
            self.banner.hide()
        self.dismiss_governor_notice(request_id)  # the user's own load: it was about the old model
        self._show_model(info)
        self.chat_view.set_empty_hint(
            markup(
                "<b>{}</b> ({}, {}-token context) is ready. "
                "Type a message below: <b>Enter</b> sends, <b>Shift+Enter</b> starts a new line.",
                info.name,
                info.quantization,
                info.context_length,
            )
        )
        self.statusBar().showMessage(f"Loaded {info.ref.label} in {info.load_s:.2f} s", 5000)
        self.composer.input.setFocus()

    def _on_model_load_failed(self, _request_id: int, error: ReflexiaError, still_loaded: object) -> None:
        self._show_model(still_loaded if isinstance(still_loaded, ModelInfo) else None)
        self.banner.show_message(markup("<b>Could not load the model.</b> {}", error), "error")
        self.statusBar().clearMessage()

    def _show_model(self, info: ModelInfo | None) -> None:
        self.picker.show_current(info.path if info else None)
        if info is None:
            self.model_label.setText("No model")
            self.quant_label.setText("")
            self.refresh_models()
            return
        size = human_size(info.file_size)
        set_label_text(self.model_label, f"{info.name} · {size} · ctx {info.context_length}")
        self.quant_label.setText(info.quantization)
        self.setWindowTitle(f"Reflexia — {shown(info.name, limit=80)}")

    def _on_reply_started(self, started: ReplyStarted) -> None:
        self.chat_view.add_message("user", started.message)
        self.chat_view.begin_reply()
        self.composer.set_replying(True)

    def _on_reply_waiting(self, place: int) -> None:
        ahead = "the other reply" if place == 1 else f"{place} other requests"
        notice = f"Waiting for {ahead} to finish… (Esc cancels)"
        self.statusBar().showMessage(notice)
        bubbles = self.chat_view.bubbles
        if bubbles and bubbles[-1].role == "assistant":
            bubbles[-1].set_footer(notice)  # where the reply will appear

    def _on_reply_running(self) -> None:
        self.statusBar().clearMessage()
        bubbles = self.chat_view.bubbles
        if bubbles and bubbles[-1].role == "assistant":
            bubbles[-1].set_footer("")

    def _on_reply_finished(self, result: GenerationResult) -> None:
        stats, made_by = result.stats, result.made_by  # what made this reply, not what is loaded now
        note = {"cancelled": "stopped", "length": "length limit", "context_full": "context full"}
        footer = (
            f"{stats.completion_tokens} tokens · {stats.tokens_per_s:.1f} tok/s · "
            f"first token {stats.ttft_s:.2f} s"
        )
        if made_by.rung:
            footer += f" · {made_by.rung}"
        if result.from_cache:
            footer = f"{stats.completion_tokens} tokens · answered from the response cache"
        if made_by.role:
            footer += f" · {made_by.role}"
        if stats.stop_reason in note:
            footer += f" · {note[stats.stop_reason]}"
        if stats.left_out_messages:
            footer += (
                f" · {stats.left_out_messages} earlier messages left out to fit the "
                f"{made_by.context_length}-token context"
            )
        self.chat_view.end_reply(result.text, footer)
        self.context_meter.show_reply(result)
        self.show_reply_sources(result)
        self.composer.set_replying(False)
        self.speed_label.setText(f"{stats.tokens_per_s:.1f} tok/s")
        if not result.from_cache and stats.completion_tokens:
            self.performance.add_reply(stats, made_by.rung, made_by.role)

    def _on_reply_failed(self, message: str, prompt: str) -> None:
        self.chat_view.end_reply(None)
        self.chat_view.remove_last("assistant")
        self.chat_view.remove_last("user")
        self.composer.set_replying(False)
        self.composer.give_back(prompt)
        self.banner.show_message(markup("<b>The reply failed.</b> {}", message), "error")

    # -- geometry ----------------------------------------------------------
    def _restore_geometry(self) -> None:
        geometry = self._state.value("main_window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*DEFAULT_SIZE)
        layout = self._state.value("main_window/layout")  # docks: shown or not, where, how wide
        if layout is not None:
            self.restoreState(layout)
        for switch in self.dock_switches:
            switch.follow()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        """Coming back to the window lists the conversations again (`reflexia chat --save` may add one)."""
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self._history.relist()  # read on the history's thread; the list changes in place
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        """Remember the window's geometry and layout."""
        self._state.setValue("main_window/geometry", self.saveGeometry())
        self._state.setValue("main_window/layout", self.saveState())
        self._state.sync()
        super().closeEvent(event)
