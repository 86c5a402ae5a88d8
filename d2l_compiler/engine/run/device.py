"""Which device a build runs on, decided without importing torch into the engine.

``D2L_DEVICE=cpu`` needs no probe. With ``auto`` (or ``cuda``) on a machine whose NVIDIA
driver is loaded, whether torch can use the GPU is asked of a short-lived subprocess, and
the answer is cached in the state directory, keyed by what could change it (the driver
version, the installed torch version, ``CUDA_VISIBLE_DEVICES``): a warm build on a GPU
machine therefore never imports torch at all, in the engine or anywhere else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from d2l_compiler.device import CHOICES
from d2l_compiler.engine.errors import UsageError

# where the loaded NVIDIA kernel driver announces itself (overridable, for tests)
DRIVER_FILE_ENV = "D2L_NVIDIA_DRIVER_FILE"
_DRIVER_FILE = "/proc/driver/nvidia/version"
_PROBE = "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')"


def _requested() -> str:
    value = os.environ.get("D2L_DEVICE", "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise UsageError(f"D2L_DEVICE={value!r} is not one of {', '.join(CHOICES)}")
    return value


def _driver() -> str | None:
    try:
        return Path(os.environ.get(DRIVER_FILE_ENV) or _DRIVER_FILE).read_text(errors="replace")
    except OSError:
        return None


def _torch_version() -> str:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "not-installed"


def _probe() -> str:
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "cpu"
    return "cuda" if proc.returncode == 0 and proc.stdout.strip() == "cuda" else "cpu"


def cached_differs(cache: Path, facts: dict, device: str) -> bool:
    """Whether ``cache`` does not already say ``device`` for ``facts``."""
    try:
        return json.loads(cache.read_text(encoding="utf-8")) != {"facts": facts, "device": device}
    except (OSError, ValueError):
        return True


def resolve_device(state_dir: Path) -> str:
    """``"cpu"`` or ``"cuda"`` for ``D2L_DEVICE``; ``UsageError`` if cuda is asked for and absent."""
    requested = _requested()
    driver = _driver() if requested != "cpu" else None
    if requested == "cpu" or (driver is None and requested == "auto"):
        return "cpu"
    facts = {"driver": driver, "torch": _torch_version(),
             "visible": os.environ.get("CUDA_VISIBLE_DEVICES")}
    cache = state_dir / "device.json"
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        found = cached["device"] if cached.get("facts") == facts else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        found = None
    if found not in ("cpu", "cuda"):
        found = _probe()
    if driver is not None and cached_differs(cache, facts, found):
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"facts": facts, "device": found}), encoding="utf-8")
        except OSError:
            pass  # a cache we cannot write only costs the next build a probe
    if requested == "cuda" and found != "cuda":
        raise UsageError("D2L_DEVICE=cuda but no CUDA device is available "
                         "(set D2L_DEVICE=cpu or auto)")
    return found
