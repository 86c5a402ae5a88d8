"""How a process is tied to its parent and to its orphans, on Linux (elsewhere the kernel calls
do nothing), and the page's keeper, which is built on them.

The kernel tells a child that its parent died (``PR_SET_PDEATHSIG``), but nobody tells the
child's own children: a page process killed along with the engine (SIGKILL, the out-of-memory
killer) would leave what its code started to ``init``. So a page runs under a keeper
(:func:`kept`), a small process that only waits. It is the page's parent and a subreaper, so
even a daemon that left the page's session comes back to it; when the engine dies the kernel
signals it, and it kills every descendant before it goes. Otherwise it ends as the page ended
(the same exit code, or the same signal), so the engine reads the page's status, and its peak
memory too (``wait4`` counts the children a process waited for).

Standard library only: the keeper runs this file as a script without ``site``, which adds about
10 ms to a page's start.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
import time

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Make orphaned descendants this process's children, so that a daemon a region starts
    (``setsid``, double fork) is still ours to sweep."""
    try:
        ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, True)
    except (OSError, AttributeError):
        pass


def die_with_parent(sig: int) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies, even if the parent
    is SIGKILLed."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    except (OSError, AttributeError):
        pass


_ENGINE_GONE = signal.SIGUSR1  # what the kernel sends the keeper when the engine dies
_WAKE = {signal.SIGCHLD, _ENGINE_GONE}  # what the keeper waits for, blocked and then awaited
_CHECK_SECONDS = 1.0  # the engine is also checked this often (the signal can be missed: the
# kernel sends it when the engine's thread that started the keeper ends; elsewhere than Linux
# there is none)
_END_SECONDS = 10.0  # for ending every descendant once the engine is gone
# what a fresh process has by default and a Python process does not (as subprocess resets)
_RESET = (signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ, getattr(signal, "SIGXFZ", None))


def kept(command: list[str]) -> list[str]:
    """``command`` (a page process) run under a keeper whose engine is this process: this file
    run as a script, without ``site``, the user's site-packages or its own folder on the path
    (it needs nothing beyond the standard library). Without a known interpreter (an embedded
    Python), ``command`` alone."""
    if not sys.executable:
        return command
    return [sys.executable, "-s", "-S", "-P", os.path.realpath(__file__), str(os.getpid()),
            "--", *command]


def _descendants(root: int) -> list[int]:
    """Every process below ``root``, read from ``/proc`` (empty where there is none)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    parent = int(stat.read().rpartition(b")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def _end_everything() -> None:
    """Kill every descendant and reap it (as a subreaper, each comes back to be reaped), then
    the keeper's own process group, itself included (for where there is no ``/proc``)."""
    deadline = time.monotonic() + _END_SECONDS
    while time.monotonic() < deadline:
        for pid in _descendants(os.getpid()):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            break  # no child left
        time.sleep(0.01)
    if os.getpgid(0) == os.getpid():  # the page's group, led by the keeper: never the engine's
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(128 + signal.SIGKILL)


def _end_as(status: int) -> None:
    """Exit as a process that ended with wait ``status`` did (its code, or its signal)."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):  # the two no process can handle
            signal.signal(sig, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the page's crash, not a second dump
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _start(command: list[str]) -> int:
    """Fork and exec the page's command, with the signal dispositions and mask a fresh
    process has."""
    pid = os.fork()
    if pid == 0:
        try:
            for sig in _RESET:
                if sig is not None:
                    signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            die_with_parent(signal.SIGKILL)  # the keeper killed outright: so is the page
            os.execvp(command[0], command)
        finally:
            os._exit(127)  # exec failed
    return pid


def main(argv: list[str]) -> None:
    """Start the page's command and wait for it; end everything it started if the engine dies."""
    pid_text, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit("usage: keeper ENGINE_PID -- COMMAND...")
    engine = int(pid_text)
    # the engine TERMs the page's whole group to ask it to stop: that is the page's to answer;
    # the keeper goes with the group's KILL after the grace period, or once the page has ended
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # whatever mask it inherited, only these wake it, and only when it asks (no handler runs
    # at an awkward moment); a SIGUSR1 the page sends its group only makes it look again
    signal.pthread_sigmask(signal.SIG_SETMASK, _WAKE)
    become_subreaper()
    die_with_parent(_ENGINE_GONE)
    page = _start(command) if os.getppid() == engine else None
    while page is not None and os.getppid() == engine:
        try:
            while True:
                pid, status = os.waitpid(-1, os.WNOHANG)  # the page, or an orphan come back
                if not pid:
                    break
                if pid == page:
                    _end_as(status)  # what it left is the engine's to sweep: it is alive
        except ChildProcessError:
            pass
        signal.sigtimedwait(_WAKE, _CHECK_SECONDS)
    _end_everything()  # the engine is gone: no one else is left to end what the page started


if __name__ == "__main__":
    main(sys.argv[1:])
