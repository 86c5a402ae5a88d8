"""Device selection through the ``D2L_DEVICE`` environment variable (cpu, cuda or auto).

Also the cheap facts both this helper and the build engine decide by, read without importing
torch: signs of an NVIDIA GPU on the machine and whether the installed torch is a GPU build.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from d2l_compiler.engine.run.machine import cpu_name  # noqa: F401 - re-exported (page processes read it)

CHOICES = ("auto", "cpu", "cuda")

# where the loaded NVIDIA kernel driver announces itself (overridable, for tests)
DRIVER_FILE_ENV = "D2L_NVIDIA_DRIVER_FILE"
DRIVER_FILE = "/proc/driver/nvidia/version"
# present where a GPU is passed through even when /proc/driver/nvidia is not (some sandboxes)
DEVICE_NODES = ("/dev/nvidiactl", "/dev/nvidia0")
# how to get a GPU build of torch, for the messages that say the installed one is not
CUDA_BUILD_HINT = ('install a CUDA build, e.g. D2L_TORCH_SPEC="torch==2.13.0 --index-url '
                   'https://download.pytorch.org/whl/cu128" (see README)')

_ASSIGNMENT = re.compile(r"^(__version__|cuda|hip)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


class DeviceUnavailable(RuntimeError):
    """Raised when ``D2L_DEVICE`` asks for something this machine does not have."""


@dataclass(frozen=True)
class TorchBuild:
    """The installed torch as its files describe it (read without importing it)."""

    version: str | None  # None: torch is not installed
    gpu: bool | None  # True: a CUDA (or ROCm) build; False: CPU only; None: cannot tell

    def describe(self) -> str:
        """E.g. ``torch 2.13.0+cpu (a CPU build)``, for one-line messages."""
        if self.version is None:
            return "torch is not installed"
        kind = {True: "a GPU build", False: "a CPU build", None: "build unknown"}[self.gpu]
        return f"torch {self.version} ({kind})"


def requested() -> str:
    """``D2L_DEVICE`` normalised; ``DeviceUnavailable`` if it is none of ``CHOICES``."""
    value = os.environ.get("D2L_DEVICE", "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise DeviceUnavailable(f"D2L_DEVICE={value!r} is not one of {', '.join(CHOICES)}")
    return value


def driver_file() -> Path:
    """The file a loaded NVIDIA driver writes its version to (``D2L_NVIDIA_DRIVER_FILE``)."""
    return Path(os.environ.get(DRIVER_FILE_ENV) or DRIVER_FILE)


def gpu_hints() -> list[str]:
    """Signs of an NVIDIA GPU on this machine, each a phrase for messages ([] = none).

    No single sign is reliable: gVisor and WSL2 have no ``/proc/driver/nvidia``, so the
    device nodes and ``nvidia-smi`` count too."""
    hints = ["an NVIDIA driver is loaded"] if driver_file().is_file() else []
    hints += [f"{node} exists" for node in DEVICE_NODES if os.path.exists(node)]
    return hints + (["nvidia-smi is on PATH"] if shutil.which("nvidia-smi") else [])


def _torch_package() -> Path | None:
    """The folder ``import torch`` would load, found without importing it."""
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else None


def torch_build() -> TorchBuild:
    """Which torch is installed and whether it is a GPU build, from ``torch/version.py``
    (as written at build time: ``cuda = '12.8'`` or ``cuda = None``), never importing it."""
    package = _torch_package()
    if package is None:
        return TorchBuild(None, False)
    try:
        fields = dict(_ASSIGNMENT.findall((package / "version.py").read_text(errors="replace")))
    except OSError:
        fields = {}
    try:
        version = fields.get("__version__", "").strip("'\"") or metadata.version("torch")
    except metadata.PackageNotFoundError:
        version = "unknown"
    if "cuda" in fields:
        return TorchBuild(version, fields["cuda"] != "None" or fields.get("hip", "None") != "None")
    # no readable version.py: only a local tag such as +cu128 or +rocm6.3 still tells
    return TorchBuild(version, True if re.search(r"\+(cu|rocm)\d", version) else None)


def worth_asking_torch() -> bool:
    """Whether torch might see a GPU, by the cheap facts: a GPU build, or a build of unknown
    kind on a machine showing signs of a GPU (a CPU build never sees one)."""
    build = torch_build()
    return build.gpu is True or (build.gpu is None and bool(gpu_hints()))


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
