"""Watch one page's subprocess: pump its output, notice exit, overrun or flood, and stop
its whole process group (TERM, then KILL after a grace period) and reap it."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from d2l_compiler.engine.run.lineage import die_with_parent
from d2l_compiler.engine.run.procs import OutputSink, descendants

GRACE_SECONDS = 2.0
REAP_SECONDS = 1.0  # for a keeper to reap its killed page and end as it did
POLL_SECONDS = 0.01


def child_setup(memory_mb: int | None) -> Callable[[], None]:
    """The function the child runs before ``exec``: die with the engine, limit memory."""
    def setup() -> None:
        die_with_parent(signal.SIGKILL)
        if memory_mb is not None:
            limit = memory_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return setup


def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to a process group, if it still exists and is ours."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def signal_pid(pid: int, sig: int) -> None:
    """Send ``sig`` to one process, if it still exists and is ours."""
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def reap(pid: int, block: bool) -> tuple[int | None, float]:
    """Exit code (None if still running) and peak RSS in MiB, via wait4 for the rusage."""
    try:
        done, status, usage = os.wait4(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return -signal.SIGKILL, 0.0
    if not done:
        return None, 0.0
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024


@dataclass
class Outcome:
    """How the page's process ended, as the engine observed it."""

    code: int
    peak: float  # MiB
    timed_out: bool = False
    flooded: bool = False


def supervise(proc: subprocess.Popen, deadline: float, sink: OutputSink,
              tick: Callable[[], None]) -> Outcome:
    """Pump the child's output into ``sink`` until it exits, overruns, or floods."""
    fd, open_pipe = proc.stdout.fileno(), True
    while True:
        if open_pipe:
            open_pipe = sink.drain(fd, POLL_SECONDS)
        else:
            time.sleep(POLL_SECONDS)
        if sink.over_limit:
            return Outcome(*stop(proc, sink), flooded=True)
        code, peak = reap(proc.pid, block=False)
        if code is not None:
            return Outcome(code, peak)
        if time.monotonic() >= deadline:
            return Outcome(*stop(proc, sink), timed_out=True)
        tick()


def stop(proc: subprocess.Popen, sink: OutputSink | None = None) -> tuple[int, float]:
    """TERM the whole process group, KILL it after a grace period; reap the child.

    Output written during the grace period is still read (and still counted), so a TERM
    handler that floods cannot block on a full pipe nor write past the cap unread."""
    signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    code, peak = reap(proc.pid, block=False)
    while code is None and time.monotonic() < deadline and not (sink and sink.over_limit
                                                                  and sink.total > 2 * sink.limit):
        if sink is not None:
            sink.drain(proc.stdout.fileno(), POLL_SECONDS)
        else:
            time.sleep(POLL_SECONDS)
        code, peak = reap(proc.pid, block=False)
    below = descendants(proc.pid) if code is None else set()
    if below:  # the page under its keeper, first: the keeper reaps it, and so its peak memory
        # reaches us with the keeper's status (a keeper killed along with it would not)
        for pid in below:
            signal_pid(pid, signal.SIGKILL)
        deadline = time.monotonic() + REAP_SECONDS
        while code is None and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            code, peak = reap(proc.pid, block=False)
    signal_group(proc.pid, signal.SIGKILL)  # stragglers, or a child that ignored TERM
    if code is None:
        code, peak = reap(proc.pid, block=True)
    return code, peak
