"""Device selection through the ``D2L_DEVICE`` environment variable (cpu, cuda or auto)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

CHOICES = ("auto", "cpu", "cuda")


class DeviceUnavailable(RuntimeError):
    """Raised when ``D2L_DEVICE`` asks for something this machine does not have."""


def _requested() -> str:
    value = os.environ.get("D2L_DEVICE", "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise DeviceUnavailable(f"D2L_DEVICE={value!r} is not one of {', '.join(CHOICES)}")
    return value


def _nvidia_driver_present() -> bool:
    # A cheap hint that needs no torch import: the NVIDIA kernel driver is loaded.
    return Path("/proc/driver/nvidia/version").exists()


def device_kind() -> str:
    """Resolve ``D2L_DEVICE`` to ``"cpu"`` or ``"cuda"``.

    ``auto`` picks CUDA when a GPU is usable. torch is imported only when a GPU might exist,
    so on a machine without one this stays cheap (the build engine calls it for its cache key).

    Raises:
        DeviceUnavailable: ``D2L_DEVICE`` is invalid, or asks for CUDA where none is usable.
    """
    requested = _requested()
    if requested == "cpu":
        return "cpu"
    usable = False
    if _nvidia_driver_present() or requested == "cuda":
        import torch

        usable = torch.cuda.is_available()
    if requested == "cuda" and not usable:
        raise DeviceUnavailable("D2L_DEVICE=cuda but no CUDA device is available "
                                "(set D2L_DEVICE=cpu or auto)")
    return "cuda" if usable else "cpu"


def cpu_name() -> str:
    """The CPU's model name (for provenance lines), read without importing torch."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device() -> Any:
    """The ``torch.device`` chosen by ``D2L_DEVICE`` (default ``auto``: GPU if present)."""
    import torch

    return torch.device(device_kind())
