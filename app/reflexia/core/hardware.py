"""Facts about this machine that loading decisions depend on."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

import psutil


def physical_cores() -> int:
    """Physical CPU cores (llama.cpp decodes fastest with one thread per core)."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def is_apple_silicon() -> bool:
    """True on an arm64 Mac, where Metal and unified memory are available."""
    return platform.system() == "Darwin" and platform.machine() == "arm64"


@dataclass(frozen=True)
class HardwareInfo:
    """What the memory estimates and the doctor need to know about this machine."""

    physical_cores: int
    logical_cores: int
    total_memory_bytes: int
    apple_silicon: bool
    unified_memory: bool  # GPU and CPU share RAM: offloading saves no system memory
    gpu_backends: tuple[str, ...]  # llama.cpp GPU backends this build has: metal, cuda, vulkan, ...
    gpu_offload: bool  # llama.cpp reports it can offload layers

    def describe_gpu(self) -> str:
        """One phrase for people: 'Metal (unified memory)', 'CUDA', or 'none (CPU only)'."""
        if not self.gpu_offload or not self.gpu_backends:
            return "none (CPU only)"
        names = ", ".join(name.upper() if name != "metal" else "Metal" for name in self.gpu_backends)
        return f"{names} (unified memory)" if self.unified_memory else names


def _llama_gpu_backends() -> tuple[tuple[str, ...], bool]:
    import llama_cpp

    library = Path(llama_cpp.__file__).parent / "lib"
    known = ("metal", "cuda", "vulkan", "hip", "sycl", "opencl")
    present = {
        name
        for name in known
        for path in library.glob(f"*ggml-{name}*")
        if path.is_file() or path.is_symlink()
    }
    offload = bool(llama_cpp.llama_supports_gpu_offload())
    if is_apple_silicon() and offload:
        present.add("metal")  # Metal may be linked into libggml itself rather than a separate file
    return tuple(sorted(present)), offload


def probe_hardware() -> HardwareInfo:
    """Read the machine's cores, memory and llama.cpp's GPU support."""
    backends, offload = _llama_gpu_backends()
    apple = is_apple_silicon()
    return HardwareInfo(
        physical_cores=physical_cores(),
        logical_cores=os.cpu_count() or 1,
        total_memory_bytes=psutil.virtual_memory().total,
        apple_silicon=apple,
        unified_memory=apple,
        gpu_backends=backends,
        gpu_offload=offload,
    )
