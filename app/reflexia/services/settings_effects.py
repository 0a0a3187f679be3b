"""Settings changed in the dialog reach the services that use them, without a restart where possible."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal, Slot

from reflexia.core.config.settings import Settings
from reflexia.core.desktop.autostart import set_start_at_login
from reflexia.core.engine.values import SamplingParams
from reflexia.services.chat_session import ChatSession
from reflexia.services.demo_model import DemoModelMaker
from reflexia.services.documents import DocumentsService
from reflexia.services.governor_service import GovernorService
from reflexia.services.inference import InferenceService
from reflexia.services.model_library import ModelLibraryService
from reflexia.services.quantization import QuantizationService

log = logging.getLogger(__name__)


class SettingsEffects(QObject):
    """Applies a settings change to each service it concerns. Lives on the GUI thread.

    Signals:
        failed(str): a change could not be carried out (e.g. the login entry could not be written).
    """

    failed = Signal(str)

    def __init__(
        self,
        inference: InferenceService,
        chats: Sequence[ChatSession],
        governor: GovernorService,
        library: ModelLibraryService,
        quantization: QuantizationService,
        demo_model: DemoModelMaker,
        documents: DocumentsService,
    ) -> None:
        super().__init__()
        self._inference = inference
        self._chats = tuple(chats)  # the window's and the quick prompt's
        self._governor = governor
        self._library = library
        self._quantization = quantization
        self._demo_model = demo_model
        self._documents = documents

    @Slot(object, object)
    def apply(self, settings: Settings, keys: frozenset[str]) -> None:
        """Take ``settings`` in force; ``keys`` are the dotted settings that changed."""
        sections = {key.split(".", 1)[0] for key in keys}
        if "sampling" in sections or "logging.log_content" in keys:
            for chat in self._chats:
                chat.set_defaults(
                    SamplingParams.from_settings(settings), log_content=settings.logging.log_content
                )
        if "logging.level" in keys:
            logging.getLogger("reflexia").setLevel(settings.logging.level)
        if "chat.response_cache_entries" in keys:
            self._inference.response_cache.set_capacity(settings.chat.response_cache_entries)
        if sections & {"model", "paths", "ollama"}:
            self._inference.apply_settings(settings)  # load options from the next load, a new server now
        if "paths.models_dir" in keys:
            self._quantization.set_models_dir(settings.models_dir())
            self._demo_model.set_models_dir(settings.models_dir())
        if sections & {"memory", "model", "paths"}:
            self._governor.apply_settings(settings)
            self._library.apply_settings(settings)  # fit verdicts against the new budget, the new folder
        if "agent.start_at_login" in keys:
            try:
                where = set_start_at_login(settings.agent.start_at_login)
            except OSError as error:
                self.failed.emit(f"Start at login could not be changed: {error}")
            else:
                log.info(
                    "start at login %s (%s)", settings.agent.start_at_login, where or "not on this platform"
                )
        if "rag" in sections or "paths.vector_db_path" in keys:
            self._documents.apply_settings(settings)  # reopened after the running run
        log.info("settings changed: %s", ", ".join(sorted(keys)))
