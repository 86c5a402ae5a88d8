"""Which warnings a region caused: those its code raised or called into, not those a library
raised about itself while loading its own modules.

A library often imports more of itself lazily, on the first call that needs it (PyTorch's
``torch.compile`` loads Inductor, which loads ``torch.utils.mkldnn``, which uses a deprecated
TorchScript decorator at import time). Such a warning is raised while the region runs, but
it is about the library's own code, says nothing about the region's, and appears or not
depending on what an earlier region happened to import. The rule, read off the call stack at
the moment of the warning: when the warning is raised inside an import, and the code that
started that import is a library's (the standard library's or an installed package's), the
warning is the library's own. An import the region's code (or the project's) starts itself
keeps its warnings: ``import imp`` in a region shows imp's deprecation.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import sysconfig
import warnings
from collections.abc import Iterator
from types import FrameType

_LIBRARY_DIRS = tuple(sorted({os.path.join(os.path.realpath(path), "")
                              for key in ("stdlib", "platstdlib", "purelib", "platlib")
                              if (path := sysconfig.get_paths().get(key))}))


@functools.lru_cache(maxsize=4096)
def _is_library(filename: str) -> bool:
    if filename.startswith("<frozen "):
        return True
    return os.path.realpath(filename).startswith(_LIBRARY_DIRS)


def _importing(frame: FrameType) -> bool:
    """Import machinery: the frozen bootstrap, and ``importlib`` itself (``import_module``)."""
    return (frame.f_code.co_filename.startswith("<frozen importlib")
            or str(frame.f_globals.get("__name__", "")).partition(".")[0] == "importlib")


def raised_by_a_library_import(frame: FrameType | None) -> bool:
    """Whether the warning being raised at ``frame`` comes from a module a library is
    importing (the innermost import on the stack was started by library code)."""
    while frame is not None and not _importing(frame):
        frame = frame.f_back
    if frame is None:
        return False
    while frame is not None and _importing(frame):
        frame = frame.f_back
    return frame is not None and _is_library(frame.f_code.co_filename)


@contextlib.contextmanager
def region_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record every warning raised inside the block (each time, not once per place), except
    a library's own import-time warnings (see the module's docstring)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept: list[warnings.WarningMessage] = []

        def keep(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
            if not raised_by_a_library_import(sys._getframe(1)):
                kept.append(warnings.WarningMessage(message, category, filename, lineno, file, line))
        warnings.showwarning = keep  # restored by catch_warnings on the way out
        try:
            yield kept
        finally:
            kept.extend(caught)  # anything recorded before the hook was in place
