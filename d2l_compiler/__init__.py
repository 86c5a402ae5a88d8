"""Helpers for the chapter 编译器和解释器 (compilers and interpreters).

``import d2l_compiler`` is cheap and has no side effects: none of these modules imports
torch at import time; the torch helpers import it inside the function that needs it.
The imports are explicit (not lazy) so the build engine can follow them statically.
"""

from __future__ import annotations

from .claims import compare, verdict
from .device import DeviceUnavailable, device, device_kind
from .measure import PathsReport, compare_paths, measure_call
from .models import SavedModel, get_net, human_size, save_module
from .paths import PATHS, make_path
from .timing import Benchmark, Samples, Timer, measure_many

__version__ = "0.1.0"

__all__ = [
    "PATHS", "Benchmark", "DeviceUnavailable", "PathsReport", "Samples", "SavedModel", "Timer",
    "compare", "compare_paths", "device", "device_kind", "get_net", "human_size", "make_path",
    "measure_call", "measure_many", "save_module", "verdict",
]
