"""Regions never write into the project. Two guards:

* an audit hook in the page process refuses, while a region runs, every write, deletion,
  rename, link or new folder whose path leads into the project (through the links of the
  scratch folder a page runs in, or an absolute path): the region gets a ``PermissionError``
  naming the path, which fails it like any other exception;
* what no audit event reports (a C library opening files itself, another process the region
  starts, ``os.open`` relative to a directory descriptor) is caught after the page process
  ends: the project's files are compared with a snapshot taken before it started
  (:func:`project_snapshot`), and a change fails the page naming the files.

Reads are what the links are for: a region opens ``data/x.csv`` as a reader running the code
from the project root would (see :func:`link_project`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# audit events that change the file system, and which of their arguments are paths
_CHANGES: dict[str, tuple[int, ...]] = {
    "os.remove": (0,), "os.rmdir": (0,), "os.rename": (0, 1), "os.mkdir": (0,),
    "os.truncate": (0,), "os.chmod": (0,), "os.chown": (0,), "os.link": (0, 1),
    "os.symlink": (1,), "os.utime": (0,), "shutil.rmtree": (0,), "shutil.copyfile": (1,),
    "shutil.copytree": (1,), "shutil.chown": (0,), "sqlite3.connect": (0,),
}
# the position of the directory descriptor a path of those events is relative to
_DIR_FD: dict[str, int] = {"os.remove": 1, "os.rmdir": 1, "os.mkdir": 2, "os.rename": 2,
                           "os.link": 2, "os.symlink": 2, "os.chmod": 2, "os.chown": 3,
                           "os.utime": 3}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_HIDDEN = "."  # names the scratch folder does not link: .git, .venv, .nox, caches


def link_project(root: Path, folder: Path, engine: tuple[Path, ...] = ()) -> None:
    """Link every top-level entry of the project ``root`` into ``folder`` (the page's
    working directory), except hidden ones and the engine's own folders (``engine``): a
    relative path reads the project file a reader running from the project root would."""
    for entry in sorted(root.resolve().iterdir()):
        try:
            if entry.name.startswith(_HIDDEN) or entry.resolve() in engine:
                continue
        except (OSError, RuntimeError):  # a link that loops: linked as it is
            pass
        (folder / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())


def _writes(mode: Any, flags: Any) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def guard_project(root: Path, active: Callable[[], bool], engine_dirs: tuple[Path, ...] = ()
                  ) -> None:
    """Install the audit hook for the project at ``root``; it acts while ``active()``. The
    engine's own folders (``engine_dirs``) are left to the engine's check after the page
    (:mod:`d2l_compiler.engine.record.guard`), which names what a region did to them."""
    prefix = os.path.join(os.path.realpath(root), "")
    engine = tuple(os.path.join(os.path.realpath(p), "") for p in engine_dirs)

    def inside(path: Any, dir_fd: Any = None) -> str | None:
        if isinstance(path, int) or path is None:
            return None  # a file descriptor: what it is open on was judged when it opened
        try:
            path = os.fsdecode(path)
            if isinstance(dir_fd, int) and dir_fd >= 0:  # relative to an open directory (-1: none)
                path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
            where = os.path.join(os.path.realpath(path), "")
        except (TypeError, ValueError, OSError):
            return None
        return where if where.startswith(prefix) and not where.startswith(engine) else None

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            if not (_writes(args[1], args[2]) and active()):
                return
            places = (0,)
        elif event in _CHANGES:
            if not active():
                return
            places = _CHANGES[event]
        else:
            return
        at = _DIR_FD.get(event)
        dir_fd = args[at] if at is not None and at < len(args) else None
        for place in places:
            if place < len(args) and inside(args[place], dir_fd) is not None:
                raise PermissionError(
                    f"{os.fsdecode(args[place])}: a region does not write into the project; "
                    "write under a new name in its working directory (a scratch folder)")

    sys.addaudithook(hook)


Snapshot = dict[str, tuple[int, int]]
# not the project's: what editors, notebooks and Python write beside its files
_SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules", "site"})


def _kept(name: str) -> bool:
    """Whether a name is a project file to watch (not hidden, not an editor's temporary)."""
    return not (name.startswith((".", "#")) or name.endswith(("~", ".swp", ".swx")))


def project_snapshot(root: Path, engine: tuple[Path, ...] = ()) -> Snapshot:
    """Every file and link under the project's linked entries: path -> (size, mtime_ns).
    Left out: the engine's own folders (``engine``), hidden names and editors' temporary
    files at any depth, Python's bytecode caches, ``node_modules``, virtual environments and
    the default site folder."""
    root = root.resolve()
    skipped = {str(p) for p in engine}
    found: Snapshot = {}

    def walk(folder: str) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            if not _kept(entry.name) or entry.path in skipped:
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _SKIPPED_FOLDERS and not os.path.exists(
                            os.path.join(entry.path, "pyvenv.cfg")):
                        walk(entry.path)
                    continue
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            found[os.path.relpath(entry.path, root)] = (info.st_size, info.st_mtime_ns)

    walk(str(root))
    return found


def changed_files(before: Snapshot, after: Snapshot, edits: bool = True) -> list[str]:
    """The project paths that appeared or vanished between two snapshots, and (``edits``)
    those whose size or time changed."""
    return sorted(path for path in before.keys() | after.keys()
                  if (path in before) != (path in after)
                  or edits and before.get(path) != after.get(path))
