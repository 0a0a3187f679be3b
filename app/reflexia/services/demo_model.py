"""The demo model: generated on a pool thread, quantized by the quantization service.

One way to quantize: the same child process the status-bar menu and the governor
use (cancellable, with progress), not an in-process call on a pool thread.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from reflexia.core.errors import ReflexiaError
from reflexia.core.models.model_factory import make_model
from reflexia.services.jobs import Job
from reflexia.services.quantization import QuantizationJob, QuantizationService

log = logging.getLogger(__name__)

DEMO_MODEL_NAME = "reflexia-demo-f16.gguf"
DEMO_RUNG = "q4_k_m"


def _write_source(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return target if target.exists() else make_model(target, size="small", seed=0)


class DemoModelMaker(QObject):
    """Makes the demo model in the models folder. Lives on the GUI thread.

    Signals:
        started(): work began.
        ready(Path): the quantized demo model, ready to load.
        failed(str): what went wrong.
    """

    started = Signal()
    ready = Signal(object)
    failed = Signal(str)

    def __init__(self, models_dir: Path, quantization: QuantizationService) -> None:
        super().__init__()
        self._target = models_dir / DEMO_MODEL_NAME
        self._quantization = quantization
        self._job: Job | None = None
        self._quantizing: QuantizationJob | None = None

    def set_models_dir(self, models_dir: Path) -> None:
        """Make the next demo model in ``models_dir``."""
        self._target = models_dir / DEMO_MODEL_NAME

    @property
    def busy(self) -> bool:
        """True from start() until ready or failed."""
        return self._job is not None or self._quantizing is not None

    def start(self) -> None:
        """Write the f16 source (if missing) off the GUI thread, then quantize it."""
        if self.busy:
            return
        self.started.emit()
        self._job = Job("Creating the demo model", _write_source, self._target)
        self._job.returned.connect(self._on_source_written)
        self._job.failed.connect(self._on_job_failed)
        self._job.start()

    @Slot(object)
    def _on_source_written(self, source: Path) -> None:
        self._job = None
        job = self._quantization.quantize(source, DEMO_RUNG)
        if job is None:
            self.failed.emit("Another quantization is running: try again when it has finished")
            return
        self._quantizing = job
        job.finished.connect(self._on_quantized)
        job.failed.connect(self._on_quantization_failed)
        job.cancelled.connect(self._on_quantization_cancelled)

    @Slot(object)
    def _on_job_failed(self, error: ReflexiaError) -> None:
        self._job = None
        self.failed.emit(str(error))

    @Slot(object)
    def _on_quantized(self, path: Path) -> None:
        self._quantizing = None
        self.ready.emit(path)

    @Slot(object)
    def _on_quantization_failed(self, error: ReflexiaError) -> None:
        self._quantizing = None
        self.failed.emit(str(error))

    @Slot()
    def _on_quantization_cancelled(self) -> None:
        self._quantizing = None
        self.failed.emit("Creating the demo model was cancelled")
