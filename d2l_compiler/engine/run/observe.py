"""What a region read from outside its code, seen while it ran (in the page process).

Static analysis guesses a region's inputs from its text; these are the inputs it actually
reached, wherever the reading happened (in a helper function, through ``importlib``, from a
``src/`` folder on ``PYTHONPATH``): the environment variables it looked up, the project files
it opened for reading, and the modules it loaded (project files by content, installed ones by
distribution). The build compares them with what is there now before it reuses the region's
result (see :mod:`d2l_compiler.engine.record.observed`).
"""

from __future__ import annotations

import builtins
import importlib.machinery as machinery
import io
import os
import sys
import threading
from pathlib import Path
from typing import Any

_WRITE_MODES = frozenset("wax+")
# the shell's bookkeeping, different in every terminal: read by libraries, never by a lesson
_SHELL_ONLY = frozenset({"_", "OLDPWD", "SHLVL"})


def _installations() -> tuple[Path, ...]:
    """Where interpreters and installed packages live (a virtual environment may sit inside
    the project, e.g. ``.nox/``): not the project's own files."""
    found = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    found |= {Path(p).resolve() for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    return tuple(found)


def project_path(path: Path, root: Path) -> str | None:
    """``path`` relative to the project ``root`` (POSIX), or None when it is outside the project
    or inside an installation of packages."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    if any(folder == path or folder in path.parents for folder in _INSTALLED):
        return None
    return rel.as_posix()


_INSTALLED = _installations()


class InputObserver:
    """Records environment lookups, project files opened for reading and modules loaded,
    between :meth:`start` and :meth:`stop` (one region)."""

    def __init__(self, root: Path, excluded: tuple[Path, ...] = ()) -> None:
        self.root = root.resolve()
        self.excluded = tuple(p.resolve() for p in excluded)  # the engine's own folders
        self.active = False
        self.env: set[str] = set()
        self.files: set[str] = set()
        self.modules_before: set[str] = set(sys.modules)
        self._lock = threading.Lock()
        self._install()

    def _install(self) -> None:
        observer = self
        environ_class = type(os.environ)
        original_getitem = environ_class.__getitem__

        def getitem(environ: Any, key: Any) -> Any:
            if observer.active and environ is os.environ and key not in _SHELL_ONLY:
                observer.env.add(str(key))
            return original_getitem(environ, key)

        # get(), in, getenv() go through __getitem__; listing the whole environment (as
        # subprocess and os.environ.copy() do) is not taken as reading every variable
        environ_class.__getitem__ = getitem
        original_open = builtins.open

        def tracked_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if observer.active and not (_WRITE_MODES & set(str(mode))) and isinstance(
                    file, str | bytes | os.PathLike):
                observer.opened(file)
            return original_open(file, mode, *args, **kwargs)

        builtins.open = io.open = tracked_open  # pathlib, numpy and torch open through these
        original_os_open = os.open

        def tracked_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if observer.active and not flags & (os.O_WRONLY | os.O_RDWR):
                observer.opened(path)
            return original_os_open(path, flags, *args, **kwargs)

        os.open = tracked_os_open

    def opened(self, file: Any) -> None:
        """A file was opened for reading: keep it if it belongs to the project."""
        try:
            path = Path(os.fsdecode(file)).resolve()
        except (ValueError, OSError, TypeError):
            return
        rel = project_path(path, self.root)
        if rel is None or any(path == p or p in path.parents for p in self.excluded) \
                or not path.is_file():
            return
        with self._lock:
            self.files.add(rel)

    def start(self) -> None:
        """A region starts."""
        self.env, self.files = set(), set()
        self.modules_before = set(sys.modules)
        self.active = True

    def stop(self) -> list[str]:
        """The region ended: the inputs it reached, as ``kind:name`` (``env:HOME``,
        ``file:data/x.csv``, ``module:helpers.py`` in the project, ``outside:/abs/path.py``)."""
        self.active = False
        seen = {f"env:{name}" for name in self.env}
        seen |= {f"file:{rel}" for rel in self.files}
        for name, module in list(sys.modules.items()):
            if name in self.modules_before:
                continue
            file = getattr(module, "__file__", None)
            if not file:
                continue
            path = Path(file).resolve()
            rel = project_path(path, self.root)
            seen.add(f"module:{rel}" if rel is not None else f"outside:{path}")
        return sorted(seen)


class _SourceOnlyLoader(machinery.SourceFileLoader):
    """Compiles a project module from its source every time: a ``__pycache__`` entry is
    trusted by modification time (seconds) and size, so a file rewritten within the same
    second at the same size, or copied with its time kept (``cp -p``, ``rsync -t``, ``tar``),
    would run its old code."""

    def get_code(self, fullname: str) -> Any:
        return self.source_to_code(self.get_data(self.path), self.path)


def source_only(root: Path) -> None:
    """From now on, modules found in folders of the project ``root`` are compiled from source
    (nothing is read from or written to their ``__pycache__``)."""
    root = root.resolve()
    details = [(_SourceOnlyLoader, machinery.SOURCE_SUFFIXES),
               (machinery.ExtensionFileLoader, machinery.EXTENSION_SUFFIXES),
               (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES)]

    def hook(entry: str) -> machinery.FileFinder:
        folder = Path(entry or ".").resolve()
        if project_path(folder, root) is None:
            raise ImportError("not a project folder")  # the next hook finds it
        return machinery.FileFinder(str(folder), *details)

    sys.path_hooks.insert(0, hook)
    sys.path_importer_cache.clear()
