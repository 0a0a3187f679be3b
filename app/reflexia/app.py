"""Composition root: builds the core objects and services, wires them to the UI.

Everything is constructed here, explicitly, once; no module-level registries.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QSettings, Signal

from reflexia.core.config import paths
from reflexia.core.config.settings import LoadedSettings, Settings
from reflexia.core.engine.backend import Backend
from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend
from reflexia.core.engine.llama_cpp.options import LlamaOptions
from reflexia.core.engine.llama_cpp.version import build_problem, version_problem
from reflexia.core.engine.ollama.backend import OllamaBackend
from reflexia.core.engine.values import ModelRef, SamplingParams
from reflexia.core.history.store import default_history_path
from reflexia.core.roles.library import RoleLibrary
from reflexia.services.chat_session import ChatSession
from reflexia.services.conversation_history import ConversationHistory
from reflexia.services.demo_model import DemoModelMaker
from reflexia.services.documents import DocumentsService
from reflexia.services.governor_service import GovernorService
from reflexia.services.inference import InferenceService
from reflexia.services.last_model import LastModel
from reflexia.services.model_library import ModelLibraryService
from reflexia.services.quantization import QuantizationService
from reflexia.services.roles import RoleService
from reflexia.services.settings_effects import SettingsEffects
from reflexia.services.settings_store import SettingsStore
from reflexia.services.watched_folders import FolderWatcher
from reflexia.ui.main_window import MainWindow
from reflexia.ui.quick_prompt import QuickPrompt

log = logging.getLogger(__name__)

#: At quit, how long a stopped reply may take to come back and be stored (it stops within a token).
STOP_WAIT_S = 3.0


class ErrorRelay(QObject):
    """Carries uncaught exceptions from any thread to the GUI thread.

    Signals:
        error(str): a one-line description of what went wrong.
    """

    error = Signal(str)


@dataclass
class ReflexiaApp:
    """The wired application: what tests and the entry point hold on to."""

    store: SettingsStore
    effects: SettingsEffects
    library: ModelLibraryService
    governor: GovernorService
    quantization: QuantizationService
    inference: InferenceService
    chat: ChatSession
    history: ConversationHistory
    roles: RoleService
    demo_model: DemoModelMaker
    last_model: LastModel
    window: MainWindow
    errors: ErrorRelay
    documents: DocumentsService
    folder_watcher: FolderWatcher
    quick_session: ChatSession
    quick_prompt: QuickPrompt

    @property
    def settings(self) -> Settings:
        """The settings in force (they change when the user saves the settings dialog)."""
        return self.store.settings

    def load_model(
        self, path: Path, context_length: int | None = None, gpu_layers: int | None = None
    ) -> None:
        """Queue loading ``path``; the context and GPU layers override the configured ones (what fits)."""
        context = context_length or self.store.settings.model.context_length
        self.inference.load_model(ModelRef.file(path), context, gpu_layers=gpu_layers)

    def shutdown(self) -> None:
        """Stop sampling and generation, end the worker threads, free the model.

        A reply in progress is stopped first and its text so far is stored, marked stopped,
        as a Stop click would leave it: quitting loses nothing already on screen.
        """
        for session in (self.chat, self.quick_session):
            session.stop_for_quit()
        deadline = time.monotonic() + STOP_WAIT_S
        while (self.chat.is_replying or self.quick_session.is_replying) and time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        self.governor.shutdown()
        self.documents.shutdown()
        self.quantization.shutdown()
        self.inference.shutdown()
        self.history.shutdown()


def _resolve_default_model(settings: Settings) -> Path | None:
    name = settings.model.default_model
    if not name:
        return None
    candidate = Path(name).expanduser()
    if candidate.is_absolute():
        return candidate
    return settings.models_dir() / candidate


def build_app(loaded: LoadedSettings) -> ReflexiaApp:
    """Build services and the main window (a QApplication must exist)."""
    store = SettingsStore(loaded)
    settings = store.settings
    models_dir = settings.models_dir()
    backends: dict[str, Backend] = {
        "llama.cpp": LlamaCppBackend(LlamaOptions.from_settings(settings), (models_dir,)),
        "ollama": OllamaBackend(settings.ollama.host),
    }
    inference = InferenceService(backends, cache_entries=settings.chat.response_cache_entries)
    documents = DocumentsService(settings)  # nothing heavy is imported until documents are used
    folder_watcher = FolderWatcher(documents, settings.vector_db_dir())
    state_file = paths.config_dir() / "window-state.ini"
    state_file.parent.mkdir(parents=True, exist_ok=True)
    # The role last used comes back at the next launch (the configured default_role before any).
    role_state = QSettings(str(state_file), QSettings.Format.IniFormat)
    roles = RoleService(RoleLibrary(settings.roles, paths.config_dir()), settings.default_role, role_state)
    sessions: dict[str, ChatSession] = {}
    # The window and the quick prompt: two clients of the one queue, each with its own conversation.
    for client in ("window", "quick"):
        session = sessions[client] = ChatSession(
            inference,
            SamplingParams.from_settings(settings),
            client=client,
            log_content=settings.logging.log_content,
            documents=documents,
        )
        session.set_role(roles.current)
        roles.role_changed.connect(session.set_role)
    chat, quick_session = sessions["window"], sessions["quick"]
    quick_prompt = QuickPrompt(quick_session)
    last_model = LastModel(QSettings(str(state_file), QSettings.Format.IniFormat))
    inference.model_loaded.connect(last_model.remember)
    library = ModelLibraryService(models_dir, settings)
    quantization = QuantizationService(models_dir)
    governor = GovernorService(inference, library, quantization, settings)
    chat.conversation_changed.connect(governor.note_conversation)
    governor.apply_role(roles.current)
    roles.role_changed.connect(governor.apply_role)
    demo_model = DemoModelMaker(models_dir, quantization)
    effects = SettingsEffects(
        inference, (chat, quick_session), governor, library, quantization, demo_model, documents
    )
    store.changed.connect(effects.apply)
    store.changed.connect(folder_watcher.apply_settings)
    # Opened (and migrated) on its own thread; if it cannot be, the app runs without history and says why.
    history = ConversationHistory(default_history_path(), chat, inference)
    holder: dict[str, ReflexiaApp] = {}
    window = MainWindow(
        inference,
        chat,
        library=library,
        governor=governor,
        quantization=quantization,
        demo_model=demo_model,
        roles=roles,
        history=history,
        settings_store=store,
        load_model=lambda path, context, gpu_layers: holder["app"].load_model(path, context, gpu_layers),
        window_state=QSettings(str(state_file), QSettings.Format.IniFormat),
        documents=documents,
        folder_watcher=folder_watcher,
    )
    quick_prompt.continue_requested.connect(window.continue_from)
    effects.failed.connect(window.show_error)
    documents.reserve_changed.connect(governor.set_reserved_bytes)
    documents.reserve_changed.connect(library.set_reserved_bytes)
    errors = ErrorRelay()
    errors.error.connect(window.show_error)
    app = ReflexiaApp(
        store,
        effects,
        library,
        governor,
        quantization,
        inference,
        chat,
        history,
        roles,
        demo_model,
        last_model,
        window,
        errors,
        documents,
        folder_watcher,
        quick_session,
        quick_prompt,
    )
    holder["app"] = app
    problems = list(loaded.problems)
    if roles.library.problem is not None:
        problems.append(roles.library.problem)
    for engine_problem in (version_problem(), build_problem()):
        if engine_problem is not None:
            log.warning("%s", engine_problem)
            problems.append(engine_problem)
    window.show_problems(problems)
    # Objects made at start-up live as long as the app; frozen, they are no longer traversed
    # by the collector, whose full passes otherwise pause the GUI thread for tens of ms.
    gc.collect()
    gc.freeze()
    # The configured default model wins; otherwise the last one used (unless that is switched off).
    # Either load runs on the inference worker: the window is up before it finishes.
    model = _resolve_default_model(settings)
    if model is None and settings.chat.load_last_model:
        model = last_model.path()
    if model is not None:
        app.load_model(model)
    # Indexing cut short by Quit or a crash goes on; watched folders catch up (on the documents thread).
    documents.start()
    folder_watcher.start()
    return app


def install_excepthooks(relay: ErrorRelay) -> None:
    """Log uncaught exceptions from any thread and show them in the window."""

    def report(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        log.critical("uncaught exception", exc_info=(kind, value, tb))
        relay.error.emit(f"Something went wrong: {value}. Details are in the log file.")

    def thread_report(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            report(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = report
    threading.excepthook = thread_report


def load_style_sheet() -> str:
    """The app's Qt style sheet, or none if the resource is missing."""
    try:
        return (paths.resources_dir() / "style.qss").read_text(encoding="utf-8")
    except OSError:
        log.warning("style sheet missing; using the platform style")
        return ""
