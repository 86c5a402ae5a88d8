"""Regions never write into the project: an audit hook in the page process refuses, while a
region runs, every write, deletion, rename or new folder whose path leads into the project
(through the links of the scratch folder a page runs in, or by any other path). The region
gets a ``PermissionError`` naming the path, which fails it like any other exception.

Reads are what the links are for: a region opens ``data/x.csv`` as a reader running the code
from the project root would (see :func:`link_project`). What no audit event reports (a C
library writing with its own system calls) is not stopped here; the build's check that its
sources did not change while it ran still catches it for the files it read.
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
    "os.truncate": (0,), "os.chmod": (0,), "os.chown": (0,), "os.link": (1,),
    "os.symlink": (1,), "os.utime": (0,), "shutil.rmtree": (0,), "shutil.copyfile": (1,),
    "shutil.copytree": (1,), "shutil.chown": (0,),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_HIDDEN = "."  # names the scratch folder does not link: .git, .venv, .nox, caches


def link_project(root: Path, folder: Path, skip: frozenset[str] = frozenset()) -> None:
    """Link every top-level entry of the project ``root`` into ``folder`` (the page's
    working directory), except hidden ones and those named in ``skip`` (the engine's state):
    a relative path reads the project file a reader running from the project root would."""
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(_HIDDEN) or entry.name in skip:
            continue
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

    def inside(path: Any) -> str | None:
        if isinstance(path, int) or path is None:
            return None  # a file descriptor: what it is open on was judged when it opened
        try:
            where = os.path.join(os.path.realpath(os.fsdecode(path)), "")
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
        for place in places:
            if place < len(args) and inside(args[place]) is not None:
                raise PermissionError(
                    f"{os.fsdecode(args[place])}: a region does not write into the project; "
                    "write under a new name in its working directory (a scratch folder)")

    sys.addaudithook(hook)
