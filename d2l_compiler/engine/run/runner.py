"""Run one page's executed regions in a fresh Python subprocess, and classify any failure.

Fault classes: ``exception`` (a region raised), ``exit`` (``sys.exit`` or a non-zero exit),
``crash`` (killed by a signal), ``out-of-memory`` (``MemoryError`` under the memory limit),
``output-limit`` (a region printed more than the cap, or the process wrote more than the
descriptor-level cap to stdout/stderr), ``timeout`` (the page overran).

Whatever happens, the page's temporary directory is removed and every process it started
is killed and reaped before ``run_page`` returns or raises (see :mod:`.procs`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from d2l_compiler.engine.record.model import Fault, Provenance, RecordError, RegionRun, Status
from d2l_compiler.engine.run.project_guard import changed_files, link_project, project_snapshot
from d2l_compiler.engine.run.protocol import JobRegion, PageProcessJob, Probe, job_bytes
from d2l_compiler.engine.sources.discover import Include
from d2l_compiler.engine.sources.usage import usage
from d2l_compiler.engine.escape import terminal
from d2l_compiler.engine.run.lineage import become_subreaper, kept
from d2l_compiler.engine.run.procs import (WORK_PREFIX, OutputSink, descendants,
                                           shielded, sweep)
from d2l_compiler.engine.run.supervise import Outcome, child_setup, reap, signal_group, stop, supervise
from d2l_compiler.engine.run.warm import CHILD, WarmPool
from d2l_compiler.engine.sources.page_env import page_env

OUTPUT_LIMIT = 1_000_000  # characters of stdout kept per region
DESCRIPTOR_LIMIT = 32 * 1024 * 1024  # bytes a page's process tree may write to stdout/stderr


@dataclass(frozen=True)
class Limits:
    """Resource limits for one page's subprocess."""

    timeout: float = 900.0
    memory_mb: int | None = None  # address-space limit (RLIMIT_AS); None: unlimited
    output_chars: int = OUTPUT_LIMIT
    output_bytes: int = DESCRIPTOR_LIMIT


@dataclass
class PageRun:
    """What happened when a page's regions ran."""

    page: str
    ok: bool
    regions: list[RegionRun]
    provenance: Provenance = Provenance()
    duration: float = 0.0
    peak_mb: float = 0.0
    failure: str = ""  # a few lines for the terminal
    log: str = ""
    replayed: list[RegionRun] = field(default_factory=list)  # runs that only rebuilt state


def describe_exit(code: int) -> str:
    """``exit status 3`` or ``signal SIGSEGV``."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


class _Follow:
    """Reads the events a child appended since last time (to report progress live)."""

    def __init__(self, path: Path, on_event: Callable[[RegionRun], None]) -> None:
        self.path, self.on_event, self.offset, self.ticks = path, on_event, 0, 0

    def __call__(self) -> None:
        self.ticks += 1
        if self.ticks % 10 or not self.path.exists():  # every ~0.1 s is plenty
            return
        with open(self.path, "rb") as events:
            events.seek(self.offset)
            data = events.read(8 * 1024 * 1024)
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for event in _parse_events(complete):
            if isinstance(event, RegionRun):
                self.on_event(event)


@dataclass(frozen=True)
class _Done:
    provenance: Provenance


_CORRUPT = object()  # a line in the result file that is not an event of ours


def _parse_events(data: bytes) -> list[Any]:
    """The child's events (:class:`RegionRun`, ``_Done``) from its ASCII JSON lines; only
    ``\\n`` separates them. A line that is not a valid event (a region wrote into the file)
    becomes ``_CORRUPT``; a cut-off last line (a full disk) is dropped."""
    events: list[Any] = []
    lines = data.split(b"\n")
    for line in lines[:-1] if not data.endswith(b"\n") else lines:
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            if event.get("event") == "region":
                del event["event"]
                events.append(RegionRun.from_json(event, "child event"))
            elif event.get("event") == "done":
                events.append(_Done(Provenance.from_json(event.get("provenance"), "child event")))
            else:
                events.append(_CORRUPT)
        except (ValueError, AttributeError, RecordError):
            events.append(_CORRUPT)
    return events


LOG_NAME_LIMIT = 200  # characters; most file systems allow 255 bytes in a name


def log_name(page: str, label: str = "") -> str:
    """A page's log file name: injective (``a/b.md`` and ``a__b.md`` never share one); a
    ``label`` names one of several processes of the page (``a.md.3.log``). A name longer
    than :data:`LOG_NAME_LIMIT` (a long section name) is cut and ends with a hash of the
    whole name instead, so it stays a valid file name and still names one process."""
    name = quote(page, safe="") + (f".{quote(label, safe='')}" if label else "")
    if len(name) + len(".log") > LOG_NAME_LIMIT:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
        name = f"{name[:LOG_NAME_LIMIT - len(digest) - len('..log')]}.{digest}"
    return name + ".log"


def _classify(failed: RegionRun | None, outcome: Outcome, corrupt: bool) -> Fault:
    if outcome.timed_out:
        return Fault.TIMEOUT
    if outcome.flooded:
        return Fault.OUTPUT_LIMIT
    if failed is not None and failed.error is not None:
        return failed.error.fault
    if outcome.code is not None and outcome.code < 0:
        return Fault.CRASH
    return Fault.CORRUPT_RESULT if corrupt else Fault.EXIT


def _job(root: Path, executed: dict[int, Include], limits: Limits,
         engine: tuple[Path, ...] = (), probes: tuple[Probe, ...] = ()) -> PageProcessJob:
    return PageProcessJob(root=str(root), output_limit=limits.output_chars,
                          memory_mb=limits.memory_mb, engine_dirs=tuple(str(p) for p in engine),
                          regions=tuple(_job_region(index, inc) for index, inc in executed.items()),
                          probes=probes)


def _job_region(index: int, include: Include) -> JobRegion:
    """A region as the page process runs it, with what it needs to know of its bindings to
    record its values the same way whatever ran before it: the names its text binds, and
    whether it can bind any."""
    region = include.region
    found = usage(region.code)
    return JobRegion(index=index, id=region.id, path=region.path, first_line=region.first_line,
                     code=region.code, expect=region.expect_raises,
                     binds=tuple(sorted(found.binds | found.may_bind)), opaque=found.opaque)


def _start(root: Path, work: Path, device: str, limits: Limits,
           warm: WarmPool | None = None, gpus: str | None = None,
           engine: tuple[Path, ...] = ()) -> subprocess.Popen:
    run_dir = work / "cwd"
    run_dir.mkdir()  # regions that write files (a saved model) write them here, and read the
    # project's files by the paths a reader running from the project root uses (its links)
    link_project(root, run_dir, engine)
    if warm is not None and gpus is None:
        proc = warm.take(root, device, limits.memory_mb, work / "job.json",
                         work / "result.jsonl", run_dir)
        if proc is not None:
            return proc
    return subprocess.Popen(
        kept([sys.executable, "-m", CHILD, str(work / "job.json"), str(work / "result.jsonl")]),
        cwd=run_dir, env=page_env(root, device, gpus), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=child_setup(limits.memory_mb))


def _engine_dirs(root: Path, logs: Path | None, given: tuple[Path, ...]) -> tuple[Path, ...]:
    """The engine's folders inside the project: those ``given`` (its state, logs and store),
    and the logs and the folder holding them (unless that is the project itself, as on a Ray
    worker)."""
    root = root.resolve()
    found = [p.resolve() for p in given]
    if logs is not None:
        found += [logs.resolve(), logs.resolve().parent]
    return tuple(dict.fromkeys(p for p in found if p != root and p.is_relative_to(root)))


def run_page(root: Path, page: str, includes: list[Include], *, device: str, limits: Limits,
             log_dir: Path, on_event: Callable[[RegionRun], None] = lambda run: None,
             indices: list[int] | None = None, replay: frozenset[int] = frozenset(),
             log_label: str = "", deadline: float | None = None,
             warm: WarmPool | None = None, gpus: str | None = None,
             engine_dirs: tuple[Path, ...] = (), probes: tuple[Probe, ...] = ()) -> PageRun:
    """Execute the executed regions of ``includes`` in order, in one fresh subprocess.

    ``indices`` are their places among the page's executed regions (default: 0, 1, ...);
    regions whose index is in ``replay`` run only to rebuild the state later ones need:
    their runs are not returned or reported (a failure among them still fails the page).
    ``deadline`` (``time.monotonic()``) overrides ``limits.timeout`` when the page's time
    is shared by several processes. With ``warm`` (the live preview), the process is one
    started ahead with the heavy third-party packages imported, and another is started for
    the next run once this one is over. ``gpus`` sets the process's
    ``CUDA_VISIBLE_DEVICES`` (the GPUs the scheduler gave the page). ``engine_dirs`` are the
    engine's folders inside the project, which the page's code must leave alone; ``probes``
    the facts the book's extensions record of the run.
    """
    shown = [inc for inc in includes if inc.region.executed]
    executed = dict(zip(indices if indices is not None else range(len(shown)), shown, strict=True))
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / log_name(page, log_label)
    become_subreaper()
    keep = descendants()  # what this process had running before the page (left alone)
    start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-"))
    proc: subprocess.Popen | None = None
    sink: OutputSink | None = None
    try:
        engine = _engine_dirs(root, log_dir, engine_dirs)  # the engine's folders: not the region's to touch
        (work / "job.json").write_bytes(job_bytes(_job(root, executed, limits, engine, probes)))
        sink = OutputSink(log, limits.output_bytes)
        before = project_snapshot(root, engine)
        proc = _start(root, work, device, limits, warm, gpus, engine)
        until = start + limits.timeout if deadline is None else deadline
        outcome = supervise(proc, until, sink, _Follow(
            work / "result.jsonl", lambda run: None if run.index in replay else on_event(run)))
        proc.returncode = outcome.code
        signal_group(proc.pid, signal.SIGKILL)  # anything a region left behind
        sweep(keep)
        if not outcome.flooded:
            sink.drain(proc.stdout.fileno(), 0.2)
        result = work / "result.jsonl"
        events = _parse_events(result.read_bytes()) if result.exists() else []
        # in the live preview an author saves files while pages run: only files that appear
        # or vanish are a region's (a saved source is the build's own check's business)
        written = changed_files(before, project_snapshot(root, engine), edits=warm is None)
    finally:  # Ctrl-C, SIGTERM or an engine error: never leave a process or a file behind
        with shielded():
            if proc is not None and proc.returncode is None and reap(proc.pid, False)[0] is None:
                stop(proc)
            sweep(keep)
            if proc is not None:
                proc.stdout.close()
            if sink is not None:
                sink.close()
            shutil.rmtree(work, ignore_errors=True)
    if warm is not None:
        warm.prepare(root, device, limits.memory_mb)  # for the next run, while the author reads
    run = _result(page, executed, events, outcome, limits, time.monotonic() - start, log, sink,
                  replay)
    run.replayed = [r for r in run.regions if r.index in replay]
    run.regions = [r for r in run.regions if r.index not in replay]
    if written:  # by a C library or another process: what the audit hook cannot see
        run.ok = False
        shown = ", ".join(written[:5]) + (f" and {len(written) - 5} more" if len(written) > 5 else "")
        run.failure = "\n".join(filter(None, [
            run.failure, f"{page}: files in the project changed while its code ran ({shown}): "
            "a region writes only to its working directory (or an edit was saved meanwhile); "
            "nothing of this run is kept"]))
    return run


def _result(page: str, executed: dict[int, Include], events: list[Any], outcome: Outcome,
            limits: Limits, duration: float, log: Path, sink: OutputSink,
            replay: frozenset[int] = frozenset()) -> PageRun:
    corrupt = _CORRUPT in events
    run = PageRun(page, True, [e for e in events if isinstance(e, RegionRun)],
                  duration=duration, peak_mb=outcome.peak, log=str(log))
    done = next((e for e in events if isinstance(e, _Done)), None)
    run.provenance = done.provenance if done is not None else Provenance()
    failed = next((r for r in run.regions if r.status is not Status.OK), None)
    if (failed is None and done is not None and outcome.code == 0 and not corrupt
            and not outcome.timed_out and not outcome.flooded):
        return run
    run.ok = False
    ran = {r.index for r in run.regions}
    last = list(executed)[-1]
    culprit_index = failed.index if failed is not None and failed.index in executed \
        else next((index for index in executed if index not in ran), last)
    culprit = executed[culprit_index]
    not_run = [inc.region.section for index, inc in executed.items()
               if index not in ran and index != culprit_index and index not in replay]
    run.regions += [RegionRun(index, inc.region.id, Status.NOT_RUN)
                    for index, inc in executed.items() if index not in ran]
    run.failure = _report(culprit, failed, _classify(failed, outcome, corrupt), outcome.code,
                          limits, run, not_run, sink.tail(), culprit_index in replay)
    with open(log, "a", encoding="utf-8") as log_file:
        log_file.write("\n--- engine report ---\n" + run.failure + "\n")
        if failed is not None and failed.error is not None:
            log_file.write(terminal(failed.error.traceback))
    return run


def _report(inc: Include, failed: RegionRun | None, fault: Fault, code: int | None,
            limits: Limits, run: PageRun, not_run: list[str], tail: str,
            replayed: bool = False) -> str:
    region = inc.region
    line = region.first_line
    headline = fault.value
    err = failed.error if failed is not None else None
    if err is not None:
        line = err.line or line
        headline = f"{fault.value}: {err.type}: {err.message}"
    elif fault is Fault.TIMEOUT:
        headline = f"timeout after {limits.timeout:g} s"
    elif fault is Fault.OUTPUT_LIMIT:
        headline = (f"output-limit: the page's processes wrote more than {limits.output_bytes} "
                    "bytes to stdout/stderr")
    elif fault is Fault.CORRUPT_RESULT:
        headline = "corrupt-result: something other than the engine wrote into its result file"
    details = [f"at {region.path}:{line}", describe_exit(code) if code is not None else "",
               f"{run.duration:.2f} s elapsed", f"peak memory {run.peak_mb:.0f} MiB"]
    if fault is Fault.OUT_OF_MEMORY and limits.memory_mb:
        details.append(f"memory limit {limits.memory_mb} MiB")
    again = " (re-run to rebuild the state a later region needs)" if replayed else ""
    lines = [f"{inc.where}: region {region.section!r} failed{again}: {terminal(headline)}",
             "  " + " · ".join(d for d in details if d)]
    if not_run:
        lines.append(f"  not run: {', '.join(not_run)}")
    if err is not None:
        tail = "\n".join(err.traceback.rstrip().splitlines()[-20:])
    if tail.strip():
        lines += ["  --- last lines ---", *("  " + t for t in terminal(tail.rstrip()).split("\n")[-20:])]
    return "\n".join(lines)
