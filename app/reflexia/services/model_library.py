"""The model library for the UI: scans off the GUI thread, rescans when the folder changes.

A file still being copied in reads as truncated, and its growth changes no folder listing, so each
file the scan could not read is watched itself: when it is written to, the folder is scanned again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot

from reflexia.core.config.settings import Settings
from reflexia.core.memory.estimate import FitResult, MemoryBudget, check_fit
from reflexia.core.memory.rung_report import RungReport, family_report
from reflexia.core.models.catalog import Catalog, scan_catalog
from reflexia.core.models.gguf_file import read_gguf
from reflexia.core.units import human_size
from reflexia.services.jobs import Job

RESCAN_DELAY_MS = 500  # a copy in progress changes the folder many times: wait for quiet


@dataclass(frozen=True)
class LibraryEntry:
    """One model file as the model menu shows it."""

    family: str
    report: RungReport
    base_model: bool = False  # no chat template: it continues text rather than chats

    @property
    def label(self) -> str:
        """E.g. 'reflexia-small · q4_k_m · 9.1 MB · fits' ('Gemma 3 270m · base model · ...')."""
        verdict = {"fits": "fits", "shorter_context": "shorter context", "too_large": "too large"}
        size = human_size(self.report.file_size)
        name = f"{self.family}  ·  base model" if self.base_model else self.family
        return f"{name}  ·  {self.report.quantization}  ·  {size}  ·  {verdict[self.report.fit]}"


@dataclass(frozen=True)
class LibrarySnapshot:
    """The result of one scan, with fit verdicts against the memory budget at scan time."""

    catalog: Catalog
    entries: tuple[LibraryEntry, ...]

    def entry_for(self, path: Path) -> LibraryEntry | None:
        """The entry of ``path``, if the scan found it."""
        return next((e for e in self.entries if e.report.path == path), None)


def build_snapshot(models_dir: Path, settings: Settings, reserved_bytes: int = 0) -> LibrarySnapshot:
    """Scan and estimate (runs on a worker: it reads every file's header)."""
    catalog = scan_catalog([models_dir])
    budget = MemoryBudget.from_system(settings.memory, reserved_bytes)
    base_models = {
        f.path
        for m in catalog.families
        for f in m.files
        if f.info is not None and f.info.chat_template is None
    }
    entries = [
        LibraryEntry(family.display_name, report, report.path in base_models)
        for family in catalog.families
        for report in family_report(
            family,
            settings.model.context_length,
            budget,
            include_creatable=False,
            gpu_layers=settings.model.gpu_layers,
            batch_size=settings.model.batch_size,
        )
    ]
    return LibrarySnapshot(catalog, tuple(entries))


def check_file(path: Path, settings: Settings, reserved_bytes: int = 0) -> FitResult:
    """The fit verdict of one file, e.g. one opened from outside the library (runs on a worker)."""
    info = read_gguf(path)
    budget = MemoryBudget.from_system(settings.memory, reserved_bytes)
    return check_fit(
        info,
        settings.model.context_length,
        budget,
        gpu_layers=settings.model.gpu_layers,
        batch_size=settings.model.batch_size,
    )


class ModelLibraryService(QObject):
    """Keeps a fresh snapshot of the models folder. Lives on the GUI thread.

    Signals:
        scanned(LibrarySnapshot): a scan finished.
        file_checked(Path, FitResult): the verdict asked for with :meth:`check`.
        check_failed(Path, ReflexiaError): the file could not be read.
        scan_failed(str): the folder could not be scanned (one line for the window).
    """

    scanned = Signal(object)
    file_checked = Signal(object, object)
    check_failed = Signal(object, object)
    scan_failed = Signal(str)

    def __init__(self, models_dir: Path, settings: Settings) -> None:
        super().__init__()
        self._models_dir = models_dir
        self._settings = settings
        self.snapshot: LibrarySnapshot | None = None
        self.reserved_bytes = 0  # memory set aside for the embeddings model (see DocumentsService)
        self._jobs: list[Job] = []
        self._watcher = QFileSystemWatcher(self)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(RESCAN_DELAY_MS)
        self._debounce.timeout.connect(self.rescan)
        self._watcher.directoryChanged.connect(self._on_folder_changed)
        self._watcher.fileChanged.connect(self._on_folder_changed)  # an unreadable file still growing
        self._watch()

    @Slot(str)
    def _on_folder_changed(self, _path: str) -> None:
        self._debounce.start()

    def _watch_unreadable(self, snapshot: LibrarySnapshot) -> None:
        """Watch the files the scan could not read (a copy in progress), and only those."""
        unreadable = {str(f.path) for f in snapshot.catalog.unreadable if f.path.is_file()}
        watched = set(self._watcher.files())
        if stale := watched - unreadable:
            self._watcher.removePaths(sorted(stale))
        if new := unreadable - watched:
            self._watcher.addPaths(sorted(new))

    def _watch(self) -> None:
        if self._models_dir.is_dir() and str(self._models_dir) not in self._watcher.directories():
            self._watcher.addPath(str(self._models_dir))

    @Slot(int)
    def set_reserved_bytes(self, reserved_bytes: int) -> None:
        """Judge fits with ``reserved_bytes`` kept free for the embeddings model (from the next check)."""
        if reserved_bytes != self.reserved_bytes:
            self.reserved_bytes = reserved_bytes
            self.rescan()

    @property
    def models_dir(self) -> Path:
        """The folder scanned and watched."""
        return self._models_dir

    def apply_settings(self, settings: Settings) -> None:
        """New memory limits, model options or models folder: judge every file again."""
        self._settings = settings
        folder = settings.models_dir()
        if folder != self._models_dir:
            watched = self._watcher.directories()
            if watched:
                self._watcher.removePaths(watched)
            self._models_dir = folder
        self.rescan()

    def rescan(self) -> None:
        """Scan again on a worker; ``scanned`` follows."""
        self._watch()
        job = Job(
            "Scanning the models folder",
            build_snapshot,
            self._models_dir,
            self._settings,
            self.reserved_bytes,
        )
        job.returned.connect(self._on_scanned)
        job.failed.connect(self._on_scan_failed)
        job.finished.connect(self._on_job_finished)
        self._jobs.append(job)
        job.start()

    def check(self, path: Path) -> None:
        """Work out ``path``'s fit verdict on a worker; ``file_checked`` or ``check_failed`` follows."""
        job = Job("Checking the model", check_file, path, self._settings, self.reserved_bytes, tag=path)
        job.returned.connect(self._on_checked)
        job.failed.connect(self._on_check_failed)
        job.finished.connect(self._on_job_finished)
        self._jobs.append(job)
        job.start()

    # Job signals come from pool threads: every receiver is a slot, and sender() says which job.
    @Slot(object)
    def _on_checked(self, fit: FitResult) -> None:
        job = self.sender()
        assert isinstance(job, Job)
        self.file_checked.emit(job.tag, fit)

    @Slot(object)
    def _on_check_failed(self, error: object) -> None:
        job = self.sender()
        assert isinstance(job, Job)
        self.check_failed.emit(job.tag, error)

    @Slot(object)
    def _on_scan_failed(self, error: object) -> None:
        self.scan_failed.emit(f"The models folder {self._models_dir} could not be scanned: {error}")

    @Slot()
    def _on_job_finished(self) -> None:
        job = self.sender()
        if job in self._jobs:
            self._jobs.remove(job)

    @Slot(object)
    def _on_scanned(self, snapshot: LibrarySnapshot) -> None:
        self._watch_unreadable(snapshot)
        self.snapshot = snapshot
        self.scanned.emit(snapshot)
