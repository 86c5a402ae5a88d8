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
    """当 ``D2L_DEVICE`` 要求的设备在这台机器上无法提供时抛出。"""


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
    """把 ``D2L_DEVICE`` 解析为 ``"cpu"`` 或 ``"cuda"``。

    取 ``auto`` 时，有可用的 GPU 就选 CUDA。只有在 torch 已经导入，
    或者几项廉价的检查表明它可能看到 GPU 时，才会去问 torch；所以在没有 GPU
    的机器上（或装的是 CPU 版的 torch 时），这个函数的开销始终很小。

    Raises:
        DeviceUnavailable: ``D2L_DEVICE`` 的值无效，或要求使用 CUDA 却没有可用的 CUDA 设备。
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
    """按 ``D2L_DEVICE`` 选出的 ``torch.device``（默认为 ``auto``：有 GPU 就用 GPU）。"""
    import torch

    return torch.device(device_kind())
