"""Helpers for the chapter 编译器和解释器 (compilers and interpreters).

``import d2l_compiler`` is cheap and has no side effects: it imports none of the helper
modules. Each name below is imported from its module the first time it is used (PEP 562),
so a page process, which loads this package because the build engine lives in it, holds no
copy of a helper before the region that needs it runs: the live preview's warm process
would otherwise run a helper as it was before the author's edit. None of the modules
imports torch at import time either; the torch helpers import it inside the function that
needs it.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Never run. Read by type checkers, and by the build engine's content key, which follows
    # imports statically (engine/sources/key.py): a region that imports this package depends
    # on every module named here. ``_EXPORTS`` lists the same names (a test checks).
    from .claims import compare, verdict
    from .device import DeviceUnavailable, device, device_kind
    from .measure import PathsReport, compare_paths, measure_call
    from .models import SavedModel, get_net, human_size, save_module
    from .paths import PATHS, make_path, unavailable_paths
    from .timing import Benchmark, Samples, Timer, measure_many

# module -> the names the package exports from it
_EXPORTS: dict[str, tuple[str, ...]] = {
    "claims": ("compare", "verdict"),
    "device": ("DeviceUnavailable", "device", "device_kind"),
    "measure": ("PathsReport", "compare_paths", "measure_call"),
    "models": ("SavedModel", "get_net", "human_size", "save_module"),
    "paths": ("PATHS", "make_path", "unavailable_paths"),
    "timing": ("Benchmark", "Samples", "Timer", "measure_many"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__version__ = "0.1.0"

__all__ = [  # the names of _EXPORTS (a test checks)
    "PATHS", "Benchmark", "DeviceUnavailable", "PathsReport", "Samples", "SavedModel", "Timer",
    "compare", "compare_paths", "device", "device_kind", "get_net", "human_size", "make_path",
    "measure_call", "measure_many", "save_module", "unavailable_paths", "verdict",
]


def __getattr__(name: str) -> Any:
    """An exported helper, imported from its module on first use."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(ModuleType):
    """This package's type: importing the submodule ``device`` would set the package's
    attribute ``device`` to that module; the package exports the function of that name
    instead, as it did when it imported its helpers eagerly."""

    def __setattr__(self, name: str, value: Any) -> None:
        if (isinstance(value, ModuleType) and name in _MODULE_OF
                and value.__name__ == f"{__name__}.{name}"):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
