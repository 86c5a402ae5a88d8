"""What a page process has loaded of the project before its job, and forgetting it.

The live preview's warm page process is started before the author's next edit and waits for
its job. It must hold nothing of the project by then (issue 22, class 17): the engine's own
modules are all it needs, and the packages they live in (which ``python -m`` loads) import
nothing of the chapter. When the job arrives, :func:`forget_project_modules` makes sure of
it. Kept apart from :mod:`.warm` so the page process does not import what starting processes
takes (``subprocess``, the supervisor).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

_ENGINE_DIR = os.path.realpath(Path(__file__).parents[1])
_ENGINE = __name__.rsplit(".", 2)[0]  # d2l_compiler.engine
_INSTALLED = ("site-packages", "dist-packages")  # e.g. a virtual environment in the project


def _module_files(module: ModuleType) -> list[Path]:
    """Where a module was loaded from: its file, or a namespace package's folders."""
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        return [Path(file)]
    return [Path(folder) for folder in getattr(module, "__path__", None) or ()
            if isinstance(folder, str)]


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder + os.sep)


def project_modules_loaded(root: Path) -> list[str]:
    """The loaded modules that are the project's own, the engine's excepted: loaded from a file
    under ``root``, not from an installed package (a virtual environment inside the project)."""
    project = os.path.realpath(root)
    found = []
    for name, module in list(sys.modules.items()):
        files = [str(file) for file in _module_files(module)]
        # an installed package is none of the project's (and resolving its thousands of
        # files, torch's, would cost the preview's edit loop)
        if not files or any(part in file for file in files for part in _INSTALLED):
            continue
        files = [os.path.realpath(file) for file in files]
        if all(_inside(file, project) and not _inside(file, _ENGINE_DIR) for file in files):
            found.append(name)
    return sorted(found)


def forget_project_modules(root: Path) -> list[str]:
    """Make every project module load from its file as it is now, once a warm process gets its
    job: drop those it loaded before (an edit may have changed them since), and run again the
    packages the engine lives in (kept, since the engine's modules hang off them). Returns
    the names dropped."""
    parents = [_ENGINE.rsplit(".", depth)[0] for depth in range(_ENGINE.count("."), 0, -1)]
    loaded = project_modules_loaded(root)
    dropped = [name for name in loaded if name not in parents]
    for name in dropped:
        del sys.modules[name]
    for name in parents:
        if name in loaded:
            _rerun(sys.modules[name])
    return dropped


_IMPORT_STATE = frozenset({"__name__", "__loader__", "__package__", "__spec__", "__path__",
                           "__file__", "__cached__", "__builtins__"})


def _rerun(package: ModuleType) -> None:
    """Run a package's ``__init__`` again from its file, in a namespace holding only what the
    import system put there and the submodules still loaded (nothing it bound before)."""
    namespace = vars(package)
    kept = {key: value for key, value in namespace.items() if key in _IMPORT_STATE or (
        isinstance(value, ModuleType) and sys.modules.get(f"{package.__name__}.{key}") is value)}
    package.__class__ = ModuleType  # a type its old __init__ set works on the old namespace
    namespace.clear()
    namespace.update(kept)
    importlib.reload(package)
