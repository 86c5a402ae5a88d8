"""Run one page's executed regions in a fresh Python subprocess, and classify any failure.

Fault classes: ``exception`` (a region raised), ``exit`` (``sys.exit`` or a non-zero exit),
``crash`` (killed by a signal), ``out-of-memory`` (``MemoryError`` under the memory limit),
``output-limit`` (a region printed more than the cap), ``timeout`` (the page overran).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .discover import Include

GRACE_SECONDS = 2.0
POLL_SECONDS = 0.01
OUTPUT_LIMIT = 1_000_000  # characters of stdout kept per region
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Limits:
    """Resource limits for one page's subprocess."""

    timeout: float = 900.0
    memory_mb: int | None = None  # address-space limit (RLIMIT_AS); None: unlimited
    output_chars: int = OUTPUT_LIMIT


@dataclass
class PageRun:
    """What happened when a page's regions ran."""

    page: str
    status: str  # "ok" or "failed"
    regions: list[dict[str, Any]]
    provenance: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0
    peak_mb: float = 0.0
    failure: str = ""  # a few lines for the terminal
    log: str = ""


def _child_setup(memory_mb: int | None):
    def setup() -> None:
        # die with the engine, even if it is SIGKILLed (Linux; elsewhere a no-op)
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
        if memory_mb is not None:
            limit = memory_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return setup


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _wait(proc: subprocess.Popen, deadline: float | None,
          tick: Callable[[], None] = lambda: None) -> tuple[int | None, float]:
    """Exit code (None on timeout) and peak RSS in MiB, reaped with wait4 for the rusage."""
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG if deadline else 0)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss / 1024
        if deadline is not None and time.monotonic() >= deadline:
            return None, 0.0
        tick()
        time.sleep(POLL_SECONDS)


class _Follow:
    """Reads the events a child appended since last time (to report progress live)."""

    def __init__(self, path: Path, on_event: Callable[[dict], None]) -> None:
        self.path, self.on_event, self.offset, self.ticks = path, on_event, 0, 0

    def __call__(self) -> None:
        self.ticks += 1
        if self.ticks % 10 or not self.path.exists():  # every ~0.1 s is plenty
            return
        with open(self.path, "rb") as events:
            events.seek(self.offset)
            data = events.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.splitlines():
            self.on_event(json.loads(line))


def _stop(proc: subprocess.Popen) -> tuple[int, float]:
    """TERM the whole process group, KILL it after a grace period; reap the child."""
    _signal_group(proc.pid, signal.SIGTERM)
    code, peak = _wait(proc, time.monotonic() + GRACE_SECONDS)
    _signal_group(proc.pid, signal.SIGKILL)  # stragglers, or a child that ignored TERM
    if code is None:
        code, peak = _wait(proc, None)
    return code, peak


def describe_exit(code: int) -> str:
    """``exit status 3`` or ``signal SIGSEGV``."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


def _tail(path: Path, lines: int = 20) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _classify(failed: dict | None, code: int | None, timed_out: bool) -> str:
    if timed_out:
        return "timeout"
    if failed is not None:
        return failed["error"]["fault"]
    if code is not None and code < 0:
        return "crash"
    return "exit"


def run_page(root: Path, page: str, includes: list[Include], *, device: str, limits: Limits,
             log_dir: Path, on_event: Callable[[dict], None] = lambda event: None) -> PageRun:
    """Execute the executed regions of ``page`` in order, in one fresh subprocess."""
    executed = [inc for inc in includes if inc.region.executed]
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / (page.replace("/", "__") + ".log")
    job = {"root": str(root), "output_limit": limits.output_chars,
           "memory_mb": limits.memory_mb, "regions": [
               {"id": inc.region.id, "path": inc.region.path, "first_line": inc.region.first_line,
                "code": inc.region.code, "expect": inc.region.expect_raises} for inc in executed]}
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="d2l-page-") as work:
        job_file, result_file = Path(work, "job.json"), Path(work, "result.jsonl")
        job_file.write_text(json.dumps(job), encoding="utf-8")
        run_dir = Path(work, "cwd")
        run_dir.mkdir()  # regions that write files (a saved model) write them here
        env = {**os.environ, "D2L_DEVICE": device, "PYTHONHASHSEED": "0",
               "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        with open(log, "w", encoding="utf-8") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "d2l_compiler.build.child", str(job_file), str(result_file)],
                cwd=run_dir, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_child_setup(limits.memory_mb))
            try:
                code, peak = _wait(proc, start + limits.timeout, _Follow(result_file, on_event))
                timed_out = code is None
                if timed_out:
                    code, peak = _stop(proc)
                else:
                    _signal_group(proc.pid, signal.SIGKILL)  # anything a region left behind
            except BaseException:  # Ctrl-C or an engine error: never leave children behind
                _stop(proc)
                raise
        events = [json.loads(line) for line in result_file.read_text(encoding="utf-8").splitlines()
                  if line.strip()] if result_file.exists() else []
    run = PageRun(page, "ok", [e for e in events if e["event"] == "region"],
                  duration=time.monotonic() - start, peak_mb=peak, log=str(log))
    done = next((e for e in events if e["event"] == "done"), None)
    run.provenance = (done or {}).get("provenance", {})
    failed = next((r for r in run.regions if r["status"] != "ok"), None)
    if failed is None and done is not None and code == 0 and not timed_out:
        return run
    run.status = "failed"
    ran = {r["id"] for r in run.regions}
    culprit = next((inc for inc in executed if inc.region.id == (failed or {}).get("id")), None)
    culprit = culprit or next((inc for inc in executed if inc.region.id not in ran), executed[-1])
    not_run = [inc.region.section for inc in executed
               if inc.region.id not in ran and inc is not culprit]
    run.regions += [{"id": inc.region.id, "status": "not run"} for inc in executed
                    if inc.region.id not in ran]
    run.failure = _report(culprit, failed, _classify(failed, code, timed_out), code, limits,
                          run, not_run, _tail(log))
    with open(log, "a", encoding="utf-8") as log_file:
        log_file.write("\n--- engine report ---\n" + run.failure + "\n")
        if failed is not None:
            log_file.write(failed["error"]["traceback"])
    return run


def _report(inc: Include, failed: dict | None, fault: str, code: int | None, limits: Limits,
            run: PageRun, not_run: list[str], tail: str) -> str:
    region = inc.region
    line = region.first_line
    headline = fault
    if failed is not None:
        err = failed["error"]
        line = err["line"] or line
        headline = f"{fault}: {err['type']}: {err['message']}"
    elif fault == "timeout":
        headline = f"timeout after {limits.timeout:g} s"
    details = [f"at {region.path}:{line}", describe_exit(code) if code is not None else "",
               f"{run.duration:.2f} s elapsed", f"peak memory {run.peak_mb:.0f} MiB"]
    if fault == "out-of-memory" and limits.memory_mb:
        details.append(f"memory limit {limits.memory_mb} MiB")
    lines = [f"{inc.where}: region {region.section!r} failed: {headline}",
             "  " + " · ".join(d for d in details if d)]
    if not_run:
        lines.append(f"  not run: {', '.join(not_run)}")
    if failed is not None:
        tail = "\n".join(failed["error"]["traceback"].rstrip().splitlines()[-20:])
    if tail.strip():
        lines += ["  --- last lines ---", *("  " + t for t in tail.splitlines())]
    return "\n".join(lines)
