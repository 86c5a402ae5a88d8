"""Which device a build runs on, decided without importing torch into the engine; and the
cheap facts that decision reads (the readers' helpers in ``d2l_compiler.device`` read them too).

``D2L_DEVICE=cpu`` needs no probe, and neither does a CPU build of torch (read from its
``version.py``, not imported): it can never use a GPU. Otherwise, when there is any sign that
torch might see a GPU (a loaded NVIDIA driver, ``/dev/nvidia*``, ``nvidia-smi`` on ``PATH``,
or a CUDA build of torch), whether it can is asked of a short-lived subprocess, and the answer
is cached in the state directory, keyed by what could change it (the driver version, those
signs, the installed torch, ``CUDA_VISIBLE_DEVICES``, the boot): a warm build therefore never
imports torch at all, in the engine or anywhere else. A probe that fails is never cached.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from d2l_compiler.engine.errors import UsageError

DEVICE_ENV = "D2L_DEVICE"  # cpu, cuda or auto: the device a build (and the helpers) use
CHOICES = ("auto", "cpu", "cuda")

# where the loaded NVIDIA kernel driver announces itself (overridable, for tests)
DRIVER_FILE_ENV = "D2L_NVIDIA_DRIVER_FILE"
DRIVER_FILE = "/proc/driver/nvidia/version"
# present where a GPU is passed through even when /proc/driver/nvidia is not (some sandboxes)
DEVICE_NODES = ("/dev/nvidiactl", "/dev/nvidia0")
# how to get a GPU build of torch, for the messages that say the installed one is not
CUDA_BUILD_HINT = "install a CUDA build of torch (https://pytorch.org/get-started/locally/)"

_ASSIGNMENT = re.compile(r"^(__version__|cuda|hip)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


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
    """``D2L_DEVICE`` normalised (the one place it is parsed); ``ValueError`` if it is none
    of ``CHOICES``."""
    value = os.environ.get(DEVICE_ENV, "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise ValueError(f"{DEVICE_ENV}={value!r} is not one of {', '.join(CHOICES)}")
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


_PROBE = "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')"
PROBE_TIMEOUT = 120.0  # seconds; a wedged driver can hang torch.cuda.is_available()
_BOOT_ID = "/proc/sys/kernel/random/boot_id"
_said: set[str] = set()  # notes already printed by this process (freshness asks again)


class ProbeFailed(Exception):
    """The probe subprocess gave no answer; the message says why, in a few words."""


def _requested() -> str:
    try:
        return requested()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _driver() -> str | None:
    try:
        return driver_file().read_text(errors="replace")
    except OSError:
        return None


def _boot() -> str | None:
    # a cached answer holds for this boot of this machine, not for a state folder moved
    # (restored from a CI cache, say) to a machine whose GPU shows none of the signs
    try:
        return Path(_BOOT_ID).read_text().strip()
    except OSError:
        return None


def _torch_version() -> str:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "not-installed"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def _probe() -> str:
    """``"cuda"`` or ``"cpu"`` as torch sees it, asked in a subprocess; ``ProbeFailed``
    when the subprocess cannot start, times out, fails or prints something else."""
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ProbeFailed(f"no answer within {PROBE_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise ProbeFailed(f"cannot start {sys.executable}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        raise ProbeFailed(f"exit status {proc.returncode}: {_last_line(proc.stderr)}")
    answer = proc.stdout.strip()
    if answer not in ("cpu", "cuda"):
        raise ProbeFailed(f"unexpected output {_last_line(answer)!r}")
    return answer


def _note(message: str) -> None:
    """One line on stderr, once per process."""
    if message not in _said:
        _said.add(message)
        print(f"note: {message}", file=sys.stderr, flush=True)


def cached_differs(cache: Path, facts: dict, device: str) -> bool:
    """Whether ``cache`` does not already say ``device`` for ``facts``."""
    try:
        return json.loads(cache.read_text(encoding="utf-8")) != {"facts": facts, "device": device}
    except (OSError, ValueError):
        return True


def _cpu_build(wanted: str, build: TorchBuild, hints: list[str],
               note: Callable[[str], None]) -> str:
    """The device when torch cannot use a GPU whatever the machine has (a CPU build, or none)."""
    if wanted == "cuda":
        raise UsageError(f"D2L_DEVICE=cuda but {build.describe()}"
                         + (f": {CUDA_BUILD_HINT}" if build.version is not None else ""))
    if hints and build.version is not None:
        note(f"{hints[0]} but torch {build.version} is a CPU build: building on the CPU "
             f"(for the GPU, {CUDA_BUILD_HINT})")
    return "cpu"


def resolve_device(state_dir: Path, note: Callable[[str], None] | None = None) -> str:
    """``"cpu"`` or ``"cuda"`` for ``D2L_DEVICE``; ``UsageError`` if cuda is asked for and absent.

    ``note`` receives the one-line remarks (default: printed on stderr, each once): the build
    runs on the CPU of a machine that shows a GPU, or the probe failed."""
    note = note or _note
    wanted = _requested()
    if wanted == "cpu":
        return "cpu"
    build, hints = torch_build(), gpu_hints()
    if build.gpu is False:  # no probe: a CPU build of torch never sees a GPU
        return _cpu_build(wanted, build, hints, note)
    if wanted == "auto" and not hints and build.gpu is None:
        return "cpu"  # no sign of a GPU anywhere: the cheap path, no torch import
    facts = {"driver": _driver(), "hints": hints, "torch": _torch_version(),
             "gpu_build": build.gpu, "visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
             "boot": _boot()}
    cache = state_dir / "device.json"
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        found = cached["device"] if cached.get("facts") == facts else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        found = None
    if found not in ("cpu", "cuda"):
        try:
            found = _probe()
        except ProbeFailed as exc:  # never cached: the next build asks again
            if wanted == "cuda":
                raise UsageError(f"D2L_DEVICE=cuda but the device probe failed ({exc})") from None
            note(f"the device probe (does torch see a GPU?) failed ({exc}): building on the "
                 "CPU; not cached, the next build asks again")
            return "cpu"
    # with no sign of a GPU there is nothing to key an answer on (cuda was asked for blindly)
    if (hints or build.gpu) and cached_differs(cache, facts, found):
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"facts": facts, "device": found}), encoding="utf-8")
        except OSError:
            pass  # a cache we cannot write only costs the next build a probe
    if wanted == "auto" and found == "cpu" and hints:
        note(f"{hints[0]} but {build.describe()} sees no usable GPU: building on the CPU")
    if wanted == "cuda" and found != "cuda":
        raise UsageError(f"D2L_DEVICE=cuda but no CUDA device is available to "
                         f"{build.describe()} (set D2L_DEVICE=cpu or auto)")
    return found


def check_memory_limit(device: str, memory_mb: int | None) -> None:
    """``UsageError`` for ``--memory-limit`` on a CUDA build: the limit is RLIMIT_AS, and CUDA
    reserves far more virtual address space than it ever uses, so it could not initialise."""
    if device == "cuda" and memory_mb is not None:
        raise UsageError("--memory-limit limits address space (RLIMIT_AS), under which CUDA "
                         "cannot initialise: on a GPU build limit memory with a cgroup instead "
                         "(e.g. systemd-run --scope -p MemoryMax=..., docker --memory) and "
                         "declare a page's need with its `memory=` mark, or set D2L_DEVICE=cpu")
