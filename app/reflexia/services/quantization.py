"""Quantization from the app: a child process, so it can be cancelled at any moment.

llama.cpp's quantizer cannot be interrupted from inside the process, so the
app runs ``reflexia quantize`` as a child (QProcess: the GUI thread only reads
its output when it arrives) and kills it to cancel. Progress comes from the
quantizer's per-tensor log lines ("[ 12/ 39] blk.1.ffn_up.weight ...").
"""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal, Slot

from reflexia.core.atomic_file import remove_partial_outputs
from reflexia.core.errors import QuantizationError
from reflexia.core.models.quantizer import rung_output_path

log = logging.getLogger(__name__)
_PROGRESS = re.compile(rb"\[\s*(\d+)\s*/\s*(\d+)\s*\]")


def _command() -> list[str]:
    # A frozen app is its own CLI; from source, run the package.
    return [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "reflexia"]


class QuantizationJob(QObject):
    """One quantization in a child process. Lives on the GUI thread.

    Signals:
        progress(int, int): tensors done, tensors in all.
        finished(Path): the verified output file.
        failed(QuantizationError): why it failed.
        cancelled(): it was cancelled; nothing is left on disk.
    """

    progress = Signal(int, int)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()

    def __init__(self, source: Path, rung: str, output: Path) -> None:
        super().__init__()
        self.source = source
        self.rung = rung
        self.output = output
        self._cancelled = False
        self._stdout = b""
        self._stderr_tail = b""
        self._process = QProcess(self)
        self._process.readyReadStandardError.connect(self._read_progress)
        self._process.readyReadStandardOutput.connect(self._read_output)
        self._process.finished.connect(self._on_finished)

    def start(self) -> None:
        """Start the child process."""
        command = _command()
        arguments = [*command[1:], "--verbose", "quantize", str(self.source), "--to", self.rung]
        arguments += ["--out", str(self.output), "--json"]
        log.info("quantizing %s to %s", self.source.name, self.rung)
        self._process.start(command[0], arguments)

    def cancel(self) -> None:
        """Kill the child; its temporary file is removed when it has exited."""
        if self._process.state() != QProcess.ProcessState.NotRunning:
            self._cancelled = True
            self._process.kill()

    def wait(self, timeout_ms: int) -> bool:
        """Block until the child exits (only at shutdown); True if it did."""
        return self._process.waitForFinished(timeout_ms)

    @property
    def running(self) -> bool:
        """True until the child has exited."""
        return self._process.state() != QProcess.ProcessState.NotRunning

    @Slot()
    def _read_progress(self) -> None:
        data = bytes(self._process.readAllStandardError().data())
        self._stderr_tail = (self._stderr_tail + data)[-4000:]
        matches = _PROGRESS.findall(data)
        if matches:
            done, total = matches[-1]
            self.progress.emit(int(done), int(total))

    @Slot()
    def _read_output(self) -> None:
        self._stdout += bytes(self._process.readAllStandardOutput().data())

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        self._read_output()
        if self._cancelled:
            remove_partial_outputs(self.output)
            log.info("quantization of %s to %s cancelled", self.source.name, self.rung)
            self.cancelled.emit()
            return
        if code == 0:
            try:
                output = Path(json.loads(self._stdout.decode().strip().splitlines()[-1])["output"])
            except (ValueError, KeyError, IndexError):
                output = self.output
            self.finished.emit(output)
            return
        lines = [
            line
            for line in self._stderr_tail.decode(errors="replace").splitlines()
            if line.startswith("reflexia:")
        ]
        reason = lines[-1].removeprefix("reflexia: ") if lines else f"the quantizer exited with status {code}"
        self.failed.emit(QuantizationError(reason))


class QuantizationService(QObject):
    """Runs one quantization at a time for every window. Lives on the GUI thread.

    Signals:
        started(QuantizationJob), progress(int, int), finished(Path),
        failed(QuantizationError), cancelled().
    """

    started = Signal(object)
    progress = Signal(int, int)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()

    def __init__(self, models_dir: Path) -> None:
        super().__init__()
        self._models_dir = models_dir
        self.job: QuantizationJob | None = None

    def set_models_dir(self, models_dir: Path) -> None:
        """New rungs go to ``models_dir`` from the next quantization (a running one ends where it began)."""
        self._models_dir = models_dir

    @property
    def busy(self) -> bool:
        """True while a quantization runs."""
        return self.job is not None and self.job.running

    def quantize(self, source: Path, rung: str, family_name: str | None = None) -> QuantizationJob | None:
        """Start making ``rung`` from ``source``; None (and ``failed``) if one is already running.

        The new file goes to the models folder (never into another app's store), named
        so that the catalog groups it with ``family_name``.
        """
        if self.busy:
            self.failed.emit(QuantizationError("another quantization is running: wait for it or cancel it"))
            return None
        self._models_dir.mkdir(parents=True, exist_ok=True)
        job = QuantizationJob(source, rung, rung_output_path(source, rung, self._models_dir, family_name))
        job.progress.connect(self.progress)
        job.finished.connect(self.finished)
        job.failed.connect(self.failed)
        job.cancelled.connect(self.cancelled)
        self.job = job
        job.start()
        self.started.emit(job)
        return job

    def cancel(self) -> None:
        """Cancel the running quantization, if any."""
        if self.job is not None:
            self.job.cancel()

    def shutdown(self) -> None:
        """Kill a running child and wait for it (call once, at exit)."""
        if self.job is not None and self.job.running:
            self.job.cancel()
            self.job.wait(5000)
