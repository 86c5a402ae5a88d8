"""What a region read from outside its code, seen while it ran (in the page process).

Static analysis guesses a region's inputs from its text; these are the inputs it actually
reached, wherever the reading happened (in a helper function, through ``importlib``, from a
``src/`` folder on ``PYTHONPATH``): the environment variables it looked up, the project files
it opened for reading, and the modules it loaded (project files by content, installed ones by
distribution). The build compares them with what is there now before it reuses the region's
result (see :mod:`d2l_compiler.engine.record.observed`).
"""

from __future__ import annotations

import _io
import builtins
import importlib.machinery as machinery
import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from d2l_compiler.engine.record.observed import SHELL_ONLY


def _reads(mode: str) -> bool:
    """Whether a file opened in ``mode`` may be read (``r``, ``r+``, ``w+``, ``a+`` ...)."""
    return "r" in mode or "+" in mode or not set(mode) & set("wax")


def _installations() -> tuple[Path, ...]:
    """Where interpreters and installed packages live (a virtual environment may sit inside
    the project, e.g. ``.nox/``), and the engine's own code (which runs the region, and which
    a library reading the call stack, as TorchScript does, opens; it lies inside the project
    only in the engine's own repository): not the project's own files."""
    found = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
             Path(__file__).resolve().parents[1]}
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
    """Records environment lookups, project files opened for reading (by the region, a
    library or an import), project paths whose existence was tested or whose folder was
    listed, and modules loaded, between :meth:`start` and :meth:`stop` (one region).

    The whole environment counts as read (``env:*``) when a region lists or copies it, or
    starts a process that inherits it: what that process reads cannot be seen from here."""

    def __init__(self, root: Path, excluded: tuple[Path, ...] = ()) -> None:
        self.root = root.resolve()
        self.excluded = tuple(p.resolve() for p in excluded)  # the engine's own folders
        self.active = False
        self.env: set[str] = set()
        self.files: set[str] = set()
        self.paths: set[str] = set()  # existence tested
        self.folders: set[str] = set()  # listed
        self.modules_before: set[str] = set(sys.modules)
        self._lock = threading.Lock()
        self._inside = threading.local()  # set while the observer looks at a path itself
        self._prefix = os.path.join(str(self.root), "")
        # the page's working directory, whose links lead into the project (project_guard)
        self._scratch = os.path.join(os.getcwd(), "")
        self._install()

    def _install(self) -> None:  # noqa: C901 - one wrapper per way of reaching an input
        observer = self
        environ_class = type(os.environ)
        original_getitem, original_iter = environ_class.__getitem__, environ_class.__iter__

        environments = (os.environ, getattr(os, "environb", None))

        def getitem(environ: Any, key: Any) -> Any:  # get(), in, getenv() come through here
            if observer.active and any(environ is e for e in environments):
                name = os.fsdecode(key) if isinstance(key, bytes) else str(key)
                if name not in SHELL_ONLY:
                    observer.env.add(name)
            return original_getitem(environ, key)

        def iterate(environ: Any) -> Any:  # copy(), dict(os.environ), {**os.environ}
            if observer.active and any(environ is e for e in environments):
                observer.env.add("*")
            return original_iter(environ)

        environ_class.__getitem__, environ_class.__iter__ = getitem, iterate
        original_popen_init = subprocess.Popen.__init__

        def popen_init(process: Any, *args: Any, **kwargs: Any) -> None:
            if observer.active and kwargs.get("env") is None and (len(args) < 10 or args[9] is None):
                observer.env.add("*")  # the new process inherits every variable
            original_popen_init(process, *args, **kwargs)

        subprocess.Popen.__init__ = popen_init
        original_system = os.system

        def system(command: Any) -> int:
            if observer.active:
                observer.env.add("*")
            return original_system(command)

        os.system = system
        original_open = builtins.open

        def tracked_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if observer._watched() and _reads(str(mode)) and isinstance(
                    file, str | bytes | os.PathLike):
                observer.opened(file)
            return original_open(file, mode, *args, **kwargs)

        builtins.open = io.open = tracked_open  # pathlib, numpy and torch open through these
        if "tokenize" in sys.modules:  # took its own reference to open before this ran
            sys.modules["tokenize"]._builtin_open = tracked_open  # linecache, tokenize.open
        original_os_open, original_open_code = os.open, _io.open_code

        def tracked_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if observer._watched() and not flags & (os.O_WRONLY | os.O_RDWR):
                observer.opened(path)
            return original_os_open(path, flags, *args, **kwargs)

        def tracked_open_code(path: str) -> Any:  # importlib and runpy read source here
            if observer._watched():
                observer.opened(path)
            return original_open_code(path)

        os.open, _io.open_code = tracked_os_open, tracked_open_code
        for name, kind in (("stat", "paths"), ("lstat", "paths"), ("listdir", "folders"),
                           ("scandir", "folders")):
            setattr(os, name, self._watching(getattr(os, name), kind))
        sys.meta_path.insert(0, _ImportWatch(self))

    def _watching(self, call: Any, kind: str) -> Any:
        observer = self

        def watched(path: Any = ".", *args: Any, **kwargs: Any) -> Any:
            if observer._watched() and isinstance(path, str | bytes | os.PathLike):
                observer.touched(path, kind)
            return call(path, *args, **kwargs)

        return watched

    def _project(self, file: Any) -> tuple[Path, str] | None:
        try:
            text = os.path.abspath(os.fsdecode(file))
        except (ValueError, TypeError):
            return None
        if (text + os.sep).startswith(self._scratch) and not self._prefix.startswith(self._scratch):
            # the working directory stands for the project root (its entries are links to
            # the project's): the same path there, by its text, so that a name missing from
            # both, or a link inside the project re-pointed, is seen as from the root
            text = os.path.normpath(os.path.join(str(self.root), os.path.relpath(text, self._scratch)))
        if not text.startswith(self._prefix):  # not the root itself: libraries list it
            return None  # most paths a library touches: decided without a system call
        self._inside.on = True  # what looking at the path does is not the region's
        try:  # the path as given (a symbolic link re-pointed is a change), and where it leads
            given = Path(text)
            target = given.resolve() if given.exists() else given
        except OSError:
            return None
        finally:
            self._inside.on = False
        rel = project_path(given, self.root)
        if rel is None or project_path(target, self.root) is None and target != given or any(
                target == p or p in target.parents for p in self.excluded):
            return None
        return target, rel

    def _watched(self) -> bool:
        return self.active and not getattr(self._inside, "on", False)

    def touched(self, file: Any, kind: str) -> None:
        """A project path's existence was tested (``paths``) or a folder listed (``folders``)."""
        found = self._project(file)
        if found is not None:
            with self._lock:
                getattr(self, kind).add(found[1])

    def opened(self, file: Any) -> None:
        """A file was opened for reading: keep it if it belongs to the project."""
        found = self._project(file)
        if found is not None:
            self._inside.on = True
            try:
                is_file = found[0].is_file()
            finally:
                self._inside.on = False
            if is_file:
                with self._lock:
                    self.files.add(found[1])

    def start(self) -> None:
        """A region starts."""
        self.env, self.files, self.paths, self.folders = set(), set(), set(), set()
        self.modules_before = set(sys.modules)
        self.active = True

    def stop(self) -> list[str]:
        """The region ended: the inputs it reached, as ``kind:name`` (``env:HOME``,
        ``file:data/x.csv``, ``module:helpers.py`` in the project, ``outside:/abs/path.py``)."""
        self.active = False
        # the whole environment stands for each variable in it
        seen = {"env:*"} if "*" in self.env else {f"env:{name}" for name in self.env}
        seen |= {f"file:{rel}" for rel in self.files}
        seen |= {f"path:{rel}" for rel in self.paths - self.files}
        seen |= {f"folder:{rel}" for rel in self.folders}
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


class _ImportWatch:
    """A finder that finds nothing: it notes, for each import, the project paths where the
    module was looked for up to where it is found, so that a module appearing there later
    (an optional import that failed, one that would shadow the module found) re-runs."""

    def __init__(self, observer: InputObserver) -> None:
        self.observer = observer

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        observer = self.observer
        if not observer._watched():
            return None
        tail = name.rpartition(".")[2]
        for entry in list(path if path is not None else sys.path):
            if not isinstance(entry, str):
                continue
            folder = os.path.abspath(entry or ".")
            if not os.path.join(folder, "").startswith(observer._prefix):
                continue
            candidates = [os.path.join(folder, tail + suffix) for suffix in (".py", "", ".pyc")]
            for candidate in candidates:
                observer.touched(candidate, "paths")
            if any(os.path.exists(candidate) for candidate in candidates):
                break  # found here: folders after it do not matter
        return None


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
        if not folder.is_dir() or project_path(folder, root) is None:
            raise ImportError("not a project folder")  # the next hook finds it
        return machinery.FileFinder(str(folder), *details)

    sys.path_hooks.insert(0, hook)
    sys.path_importer_cache.clear()
