"""llama.cpp's compute devices and their memory, through ggml's device API.

On Apple Silicon the model's layers go to Metal, and Metal lets one process use at most the
device's ``recommendedMaxWorkingSetSize`` (about two thirds of RAM, three quarters from 64 GB;
``sudo sysctl iogpu.wired_limit_mb=N`` raises it). ggml reports that figure as the Metal device's
total memory (``ggml_backend_dev_memory``), which the fit verdict uses as a ceiling next to RAM.

The functions are read from llama.cpp's own libraries with ctypes (llama-cpp-python 0.3.36 binds
none of them): ``ggml_backend_dev_count``/``_get`` in libggml, ``_name``/``_description``/
``_type``/``_memory`` in libggml-base. Every call takes or returns plain pointers and integers.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

#: ``enum ggml_backend_dev_type``: CPU, GPU, IGPU (integrated, host memory), ACCEL (BLAS, AMX).
_TYPE_NAMES: Final = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel"}


@dataclass(frozen=True)
class ComputeDevice:
    """One device llama.cpp can run layers on.

    Attributes:
        name: ggml's name for it ("Metal", "CPU", "CUDA0").
        description: The hardware ("Apple M3 Pro").
        kind: "cpu", "gpu", "igpu" or "accel".
        free_bytes: What it can still take now.
        total_bytes: The most it can take; for Metal the working-set limit, not the RAM.
    """

    name: str
    description: str
    kind: str
    free_bytes: int
    total_bytes: int

    @property
    def is_gpu(self) -> bool:
        """Whether layers offloaded with ``n_gpu_layers`` go here."""
        return self.kind in ("gpu", "igpu")


def _library(stem: str) -> ctypes.CDLL:
    import llama_cpp  # deferred: only a question about devices needs the native libraries

    folder = Path(llama_cpp.__file__).parent / "lib"
    suffix = ".dylib" if sys.platform == "darwin" else ".dll" if sys.platform == "win32" else ".so"
    return ctypes.CDLL(str(folder / f"lib{stem}{suffix}"))


@functools.cache
def _api() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    ggml, base = _library("ggml"), _library("ggml-base")
    ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
    ggml.ggml_backend_dev_count.argtypes = []
    ggml.ggml_backend_dev_get.restype = ctypes.c_void_p
    ggml.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    for name in ("ggml_backend_dev_name", "ggml_backend_dev_description"):
        getattr(base, name).restype = ctypes.c_char_p
        getattr(base, name).argtypes = [ctypes.c_void_p]
    base.ggml_backend_dev_type.restype = ctypes.c_int
    base.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    base.ggml_backend_dev_memory.restype = None
    size_p = ctypes.POINTER(ctypes.c_size_t)
    base.ggml_backend_dev_memory.argtypes = [ctypes.c_void_p, size_p, size_p]
    return ggml, base


def compute_devices() -> list[ComputeDevice]:
    """Every device of this llama.cpp build; [] when its libraries cannot be read."""
    try:
        ggml, base = _api()  # ggml registers the devices built in on the first question
        devices = []
        for index in range(ggml.ggml_backend_dev_count()):
            device = ggml.ggml_backend_dev_get(index)
            if not device:
                continue
            free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
            base.ggml_backend_dev_memory(device, ctypes.byref(free), ctypes.byref(total))
            devices.append(
                ComputeDevice(
                    name=(base.ggml_backend_dev_name(device) or b"").decode(errors="replace"),
                    description=(base.ggml_backend_dev_description(device) or b"").decode(errors="replace"),
                    kind=_TYPE_NAMES.get(base.ggml_backend_dev_type(device), "unknown"),
                    free_bytes=int(free.value),
                    total_bytes=int(total.value),
                )
            )
        return devices
    except (OSError, AttributeError) as error:  # a build without these symbols, or no library
        log.warning("could not list llama.cpp's devices: %s", error)
        return []


def gpu_working_set_bytes() -> int | None:
    """The most memory the first GPU device lets this process use; None without a GPU device."""
    gpus = [d for d in compute_devices() if d.is_gpu and d.total_bytes > 0]
    return gpus[0].total_bytes if gpus else None
