"""Composition root: builds the core objects and services, wires them to the UI.

Everything is constructed here, explicitly, once; no module-level registries.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QApplication

from reflexia.core.config import paths
from reflexia.core.config.settings import LoadedSettings, Settings
from reflexia.core.engine.backend import LoadParams, SamplingParams
from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend
from reflexia.core.memory.complexity import complexity_of
from reflexia.core.models.model_factory import make_model
from reflexia.core.models.quantizer import quantize_model
from reflexia.services.chat_session import ChatSession
from reflexia.services.governor_service import GovernorService
from reflexia.services.inference import InferenceService
from reflexia.services.jobs import Job
from reflexia.services.model_library import ModelLibraryService
from reflexia.services.quantization import QuantizationService
from reflexia.ui.main_window import MainWindow

log = logging.getLogger(__name__)

DEMO_MODEL_NAME = "reflexia-demo-f16.gguf"


class ErrorRelay(QObject):
    """Carries uncaught exceptions from any thread to the GUI thread.

    Signals:
        error(str): a one-line description of what went wrong.
    """

    error = Signal(str)


@dataclass
class ReflexiaApp:
    """The wired application: what tests and the entry point hold on to."""

    settings: Settings
    library: ModelLibraryService
    governor: GovernorService
    quantization: QuantizationService
    inference: InferenceService
    chat: ChatSession
    window: MainWindow
    errors: ErrorRelay
    jobs: list[Job]

    def load_model(self, path: Path, context_length: int | None = None) -> None:
        """Load ``path`` with the configured parameters (on the inference worker).

        ``context_length`` overrides the configured context (a model that fits only with less).
        """
        params = LoadParams.from_settings(self.settings)
        if context_length:
            params = replace(params, context_length=context_length)
        self.inference.load_model(path, params)

    def create_demo_model(self) -> None:
        """Generate a small demo model off the GUI thread, then load it."""
        target = self.settings.models_dir() / DEMO_MODEL_NAME

        def build() -> Path:
            target.parent.mkdir(parents=True, exist_ok=True)
            source = target if target.exists() else make_model(target, size="small", seed=0)
            return quantize_model(source, "q4_k_m")

        job = Job("Creating the demo model", build)
        job.started.connect(lambda: self.window.statusBar().showMessage("Creating the demo model…"))
        job.returned.connect(self._demo_ready)
        job.failed.connect(lambda error: self.window.banner.show_message(str(error), "error"))
        job.finished.connect(lambda: self.jobs.remove(job))
        self.jobs.append(job)
        job.start()

    def _demo_ready(self, path: Path) -> None:
        self.library.rescan()
        self.load_model(path)

    def shutdown(self) -> None:
        """Stop sampling and generation, end the worker threads, free the model."""
        self.governor.shutdown()
        self.quantization.shutdown()
        self.inference.shutdown()


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
    settings = loaded.settings
    inference = InferenceService(LlamaCppBackend())
    role = next(r for r in settings.roles if r.name == settings.default_role)
    chat = ChatSession(
        inference,
        SamplingParams.from_settings(settings),
        role.system_prompt,
        log_content=settings.logging.log_content,
    )
    state_file = paths.config_dir() / "window-state.ini"
    state_file.parent.mkdir(parents=True, exist_ok=True)
    models_dir = settings.models_dir()
    library = ModelLibraryService(models_dir, settings)
    quantization = QuantizationService()

    def conversation_complexity() -> float:
        text = "\n".join(message.content for message in chat.conversation.messages())
        # ~4 characters a token is close enough for a share of the context window
        return complexity_of(text, len(text) // 4, settings.model.context_length, False)

    governor = GovernorService(inference, library, quantization, settings, complexity=conversation_complexity)
    holder: dict[str, ReflexiaApp] = {}
    window = MainWindow(
        inference,
        chat,
        models_dir=models_dir,
        library=library,
        governor=governor,
        quantization=quantization,
        load_model=lambda path, context: holder["app"].load_model(path, context),
        create_demo_model=lambda: holder["app"].create_demo_model(),
        window_state=QSettings(str(state_file), QSettings.Format.IniFormat),
    )
    errors = ErrorRelay()
    errors.error.connect(lambda message: window.banner.show_message(message, "error"))
    app = ReflexiaApp(settings, library, governor, quantization, inference, chat, window, errors, [])
    holder["app"] = app
    window.show_problems(loaded.problems)
    # Objects made at start-up live as long as the app; frozen, they are no longer traversed
    # by the collector, whose full passes otherwise pause the GUI thread for tens of ms.
    gc.collect()
    gc.freeze()
    default_model = _resolve_default_model(settings)
    if default_model is not None:
        app.load_model(default_model)
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


def run_gui(loaded: LoadedSettings, argv: list[str]) -> int:
    """Start the desktop app and block until it quits."""
    qt_app = QApplication.instance() or QApplication(argv)
    assert isinstance(qt_app, QApplication)
    qt_app.setApplicationName("Reflexia")
    qt_app.setOrganizationName("Reflexia")
    qt_app.setStyleSheet(load_style_sheet())
    app = build_app(loaded)
    install_excepthooks(app.errors)
    qt_app.aboutToQuit.connect(app.shutdown)
    app.window.show()
    log.info("window shown")
    return qt_app.exec()
