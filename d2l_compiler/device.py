"""Device selection through the ``D2L_DEVICE`` environment variable (cpu, cuda or auto).

The cheap facts it decides by (signs of an NVIDIA GPU, whether the installed torch is a GPU
build, read without importing torch) are the build engine's, in
:mod:`d2l_compiler.engine.sources.device`: both decide alike.
"""

from __future__ import annotations

import sys
from typing import Any

from d2l_compiler.engine.run.machine import cpu_name  # noqa: F401 - re-exported (page processes read it)
from d2l_compiler.engine.sources.device import (  # noqa: F401 - re-exported for readers and tests
    CHOICES, DRIVER_FILE_ENV, TorchBuild, gpu_hints, torch_build, worth_asking_torch)
from d2l_compiler.engine.sources.device import requested as _engine_requested

# how to get a GPU build of torch for this book (its noxfile reads D2L_TORCH_SPEC)
CUDA_BUILD_HINT = ('install a CUDA build, e.g. D2L_TORCH_SPEC="torch==2.13.0 --index-url '
                   'https://download.pytorch.org/whl/cu128" (see README)')


class DeviceUnavailable(RuntimeError):
    """Raised when ``D2L_DEVICE`` asks for something this machine does not have."""


def requested() -> str:
    """``D2L_DEVICE`` normalised; ``DeviceUnavailable`` if it is none of ``CHOICES``."""
    try:
        return _engine_requested()
    except ValueError as exc:
        raise DeviceUnavailable(str(exc)) from None


def _why_no_cuda(torch: Any) -> str:
    cuda, hip = torch.version.cuda, getattr(torch.version, "hip", None)
    if cuda is None and hip is None:
        return (f"D2L_DEVICE=cuda but torch {torch.__version__} is a CPU build "
                f"(torch.version.cuda is None): {CUDA_BUILD_HINT}")
    return (f"D2L_DEVICE=cuda but torch {torch.__version__} (CUDA {cuda or hip}) finds no "
            "usable CUDA device (set D2L_DEVICE=cpu or auto)")


def device_kind() -> str:
    """Resolve ``D2L_DEVICE`` to ``"cpu"`` or ``"cuda"``.

    ``auto`` picks CUDA when a GPU is usable. torch is asked only when it is already imported
    or the cheap facts say it might see a GPU, so on a machine without one (or with a CPU
    build of torch) this stays cheap.

    Raises:
        DeviceUnavailable: ``D2L_DEVICE`` is invalid, or asks for CUDA where none is usable.
    """
    wanted = requested()
    if wanted == "cpu" or (wanted == "auto" and "torch" not in sys.modules
                           and not worth_asking_torch()):
        return "cpu"
    try:
        import torch
    except ImportError:
        if wanted == "auto":
            return "cpu"
        raise DeviceUnavailable("D2L_DEVICE=cuda but torch cannot be imported") from None
    usable = torch.cuda.is_available()
    if wanted == "cuda" and not usable:
        raise DeviceUnavailable(_why_no_cuda(torch))
    return "cuda" if usable else "cpu"


def device() -> Any:
    """The ``torch.device`` chosen by ``D2L_DEVICE`` (default ``auto``: GPU if present)."""
    import torch

    return torch.device(device_kind())
