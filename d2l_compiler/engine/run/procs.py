"""Processes a page starts, kept on a leash: bounded output, nothing left behind, no races.

* :class:`OutputSink` reads the child's stdout/stderr pipe (descriptor level: ``os.write``,
  C extensions and grandchildren included), keeps the head of it in the log and a tail in
  memory, and reports when the total passes the cap. Memory and disk stay bounded whatever
  the child writes.
* :func:`sweep` makes sure that nothing a page started survives it: on Linux orphaned
  descendants (a double-forked daemon in a new session included) are re-parented to the
  engine, a subreaper (:mod:`.lineage`), which kills and reaps every one of them.
* :func:`shielded` holds off Ctrl-C and SIGTERM while cleanup runs, so a second signal
  cannot interrupt it half-way.
* :func:`sweep_scratch` removes the scratch directories of engines killed outright.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

WORK_PREFIX = "d2l-page-"  # a page's scratch directory: d2l-page-<engine pid>-<random>
LOG_HEAD_BYTES = 1024 * 1024  # of a page's raw output, kept at the start of its log
TAIL_BYTES = 64 * 1024  # kept in memory for the report and the end of the log


class OutputSink:
    """The page's combined stdout/stderr: the log's head, an in-memory tail, a running total."""

    def __init__(self, log: Path, limit: int) -> None:
        self.log, self.limit = log, limit
        self.total = 0
        self._file = open(log, "wb")  # noqa: SIM115 - closed in close()
        self._tail = bytearray()

    @property
    def over_limit(self) -> bool:
        """Whether more than the cap has been written."""
        return self.total > self.limit

    def write(self, data: bytes) -> None:
        """Count ``data``; keep it in the log's head and the in-memory tail."""
        self._file.write(data[:max(LOG_HEAD_BYTES - self.total, 0)])
        self.total += len(data)
        self._tail += data[-TAIL_BYTES:]
        del self._tail[:-TAIL_BYTES]

    def drain(self, fd: int, seconds: float) -> bool:
        """Read what is waiting on ``fd`` for at most ``seconds``; False once it is at EOF."""
        deadline = time.monotonic() + seconds
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return True
            data = os.read(fd, 65536)
            if not data:
                return False
            self.write(data)
            if time.monotonic() >= deadline:
                return True

    def tail(self) -> str:
        """The last bytes written, as text."""
        return self._tail.decode("utf-8", "replace")

    def close(self) -> None:
        """Append the kept tail to a truncated log, and close it."""
        if self.total > LOG_HEAD_BYTES:
            self._file.write(f"\n[... {self.total - LOG_HEAD_BYTES} bytes not kept; "
                             f"the last {TAIL_BYTES / 1024:g} KiB follow ...]\n".encode())
            self._file.write(self._tail)
        self._file.close()


def descendants(pid: int | None = None) -> set[int]:
    """Every live or zombie descendant of ``pid`` (default: this process), read by psutil."""
    try:
        return {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:  # the process is gone: it has no descendants left to sweep
        return set()


def sweep(keep: set[int], seconds: float = 5.0) -> list[int]:
    """Kill and reap every descendant not in ``keep``; the pids that were swept."""
    swept: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        strays = descendants() - keep
        if not strays:
            break
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in strays:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    swept.append(pid)
            except ChildProcessError:
                pass  # not (yet) our child: reaped by its parent or re-parented to us
        time.sleep(0.01)
    return swept


@contextmanager
def shielded() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM inside the block (main thread only), restoring them after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def sweep_scratch(temp: Path | None = None) -> list[Path]:
    """Remove the scratch directories of engines that died without cleaning up (killed
    outright): those whose engine process no longer exists. Returns what it removed."""
    removed = []
    for folder in Path(temp or tempfile.gettempdir()).glob(f"{WORK_PREFIX}*-*"):
        pid = folder.name[len(WORK_PREFIX):].partition("-")[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
