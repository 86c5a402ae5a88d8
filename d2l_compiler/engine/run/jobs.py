"""One page's work as a self-contained job: what to run in, what came out.

A :class:`PageJob` carries everything needed to run the regions of one page that have no
stored result (the code itself, the dependency graph, the stored results of the others) and
:func:`run_job` returns a :class:`PageOutcome`: the new results and the failure, if any. Both
are plain picklable data, so the same job runs in the engine's own process, in a local worker
process, or as a Ray task on another machine; the store and the record stay with the driver.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from msgspec.structs import replace

from d2l_compiler.engine.record.io import utc_now
from d2l_compiler.engine.record.model import RegionRun, Status, StoredPage
from d2l_compiler.engine.record.observed import resolve
from d2l_compiler.engine.run.plan import plan_processes
from d2l_compiler.engine.run.runner import Limits, PageRun, run_page
from d2l_compiler.engine.record.state_walk import unproven
from d2l_compiler.engine.run.protocol import Probe
from d2l_compiler.engine.run.warm import WarmPool
from d2l_compiler.engine.sources.page_env import page_env
from d2l_compiler.engine.sources.discover import Include
from d2l_compiler.engine.sources.key import PageKeys
from d2l_compiler.engine.sources.resources import Resources, output_varies

@dataclass(frozen=True)
class PageJob:
    """The regions ``to_run`` of one page, and what running them needs."""

    root: Path
    page: str
    executed: tuple[Include, ...]
    keys: PageKeys
    to_run: tuple[int, ...]
    device: str
    limits: Limits
    log_dir: Path
    found: dict[int, StoredPage | None]  # the stored results of the page's other regions
    resources: Resources = Resources()
    estimate: float = 0.0  # seconds, from the last record (for ordering)
    commit: str = "unknown"  # the project's git commit when the build started (provenance)
    engine_dirs: tuple[Path, ...] = ()  # the engine's folders inside the project (not the code's)
    probes: tuple[Probe, ...] = ()  # what the book's extensions record of each run


@dataclass
class PageOutcome:
    """What a job produced: a result per region that ran, or the failure in words."""

    page: str
    ran: dict[int, StoredPage] = field(default_factory=dict)
    # stored results re-run only to rebuild state, with the same outputs: their new digests
    refreshed: dict[int, StoredPage] = field(default_factory=dict)
    failure: str = ""
    notes: list[str] = field(default_factory=list)  # lines for the terminal
    started: float = 0.0  # wall clock (time.time()), for the build's timeline
    ended: float = 0.0
    worker: str = ""  # host:pid of the process that ran the job
    gpus: str | None = None  # CUDA_VISIBLE_DEVICES the scheduler gave it


def run_job(job: PageJob, gpus: str | None = None, *, say: Callable[[str], None] | None = None,
            on_event: Callable[[RegionRun], None] = lambda run: None,
            warm: WarmPool | None = None) -> PageOutcome:
    """Run the job's regions (see :mod:`.plan`). If a region re-run only to rebuild state
    prints or binds something else than its recorded run, the whole page runs again; if a
    region in a process of its own still saw such a run, the page fails naming it."""
    outcome = PageOutcome(job.page, started=time.time(), gpus=gpus,
                          worker=f"{socket.gethostname()}:{os.getpid()}")
    say = say or outcome.notes.append
    executed, everything = list(job.executed), list(range(len(job.executed)))
    partial = len(job.to_run) < len(executed)
    if partial:  # say which: an author wants to see the edit's reach
        say("  only " + ", ".join(executed[i].region.section for i in job.to_run))
    refreshed: dict[int, StoredPage] = {}
    ran, failure, differs, processes = _run_regions(job, list(job.to_run), gpus, on_event, warm,
                                                    refreshed)
    if partial:
        why = _why_not_partial(job, ran, failure, differs, processes)
        if why:
            say(f"  {why}; the whole page runs again")
            ran, failure, differs, _ = _run_regions(job, everything, gpus, on_event, warm,
                                                    refreshed)
    if differs and not failure:  # even so: a region in its own process re-ran it
        failure = "\n".join(_not_reproduced(executed[i]) for i in differs)
        ran = {}  # nothing of this run may be reused: some outputs do not fit others
    outcome.ran, outcome.failure, outcome.ended = ran, failure, time.time()
    outcome.refreshed = {} if failure else refreshed
    return outcome


def _why_not_partial(job: PageJob, ran: dict[int, StoredPage], failure: str, differs: list[int],
                     processes: list[list[RegionRun]]) -> str:
    """Why a partial run cannot be kept as it is ("": it can): a region re-run to rebuild
    state did something else than its recorded run, or the state digests show that a region
    ran from, or was recorded from, other state than a complete run gives it (a guess of the
    static analysis was wrong). A failure is reported as it is only if the state it failed
    from is proven the page's own."""
    executed = list(job.executed)
    if differs and not failure:
        return (f"{', '.join(executed[i].region.section for i in differs)} printed or bound "
                "something else when run again to rebuild state")
    recorded = {i: stored.runs[0] for i, stored in job.found.items() if stored is not None}
    kept = {i: stored.runs[0] for i, stored in ran.items()}
    if failure:  # the failed region's run is in its process's runs: check up to it
        failed = [r.index for runs in processes for r in runs if r.status is not Status.OK]
        last = min(failed) if failed else len(executed) - 1
        nodes = [n for n in job.keys.nodes if n.index <= last]
        reasons = unproven(nodes, kept, processes, recorded)
    else:
        reasons = unproven(job.keys.nodes, kept, processes, recorded)
    return reasons[0] if reasons else ""


def _run_regions(job: PageJob, to_run: list[int], gpus: str | None,
                 on_event: Callable[[RegionRun], None], warm: WarmPool | None,
                 refreshed: dict[int, StoredPage],
                 ) -> tuple[dict[int, StoredPage], str, list[int], list[list[RegionRun]]]:
    """Run the regions ``to_run`` of the page within its time limit: the stored results of
    the processes that succeeded, the failures in words, the regions that, re-run only to
    rebuild state, did not reproduce their recorded run, and every process's runs in the
    order it executed them (replays included). ``refreshed`` receives the stored results
    whose replay here reproduced them, with the replay's state digests."""
    deadline = time.monotonic() + job.limits.timeout
    ran: dict[int, StoredPage] = {}
    failures, differs = [], []
    processes: list[list[RegionRun]] = []
    refreshed.clear()
    environ = page_env(job.root, job.device, gpus)
    # which run of the page a result comes from, and whether that run was the whole page
    page_run, complete = f"{utc_now()}/{os.getpid()}", len(to_run) == len(job.executed)
    failed: set[int] = set()  # regions that failed in this job, kept or re-run
    skipped: list[int] = []  # regions whose process would re-run a failed one: not started
    needs: set[int] = set()  # the failed regions those processes would re-run
    for plan in plan_processes(job.keys.nodes, to_run):
        if failed & plan.replay:
            skipped += plan.kept
            needs |= failed & plan.replay
            continue
        run = run_page(job.root, job.page, [job.executed[i] for i in plan.indices],
                       device=job.device, limits=job.limits, deadline=deadline,
                       log_dir=job.log_dir, on_event=on_event, indices=list(plan.indices),
                       replay=plan.replay, log_label=plan.label, warm=warm, gpus=gpus,
                       engine_dirs=job.engine_dirs, probes=job.probes)
        processes.append(sorted((r for r in run.replayed + run.regions
                                 if r.status is not Status.NOT_RUN), key=lambda r: r.index))
        if not run.ok:
            failures.append(f"{run.failure}\nfull log: {run.log}")
            failed.update(_failed_regions(run))
            continue
        for again in run.replayed:  # against this build's run of it, else the stored one
            recorded = ran.get(again.index) or job.found.get(again.index)
            if recorded is None:
                continue
            same = again.shows_the_same(recorded.runs[0])
            if not same and not (output_varies(job.executed[again.index].region)
                                 and _ends_alike(again, recorded.runs[0], bool(plan.label))):
                differs.append(again.index)
            elif same and not plan.label and again.index not in ran:
                # the same outputs: its stored run now carries this run's state digests, so
                # the page's chain of states stays the one this build checked (a value that
                # differs on every run, a timer, must not make the next build run everything)
                refreshed[again.index] = replace(recorded, runs=(replace(
                    recorded.runs[0], state_before=again.state_before,
                    state_changed=again.state_changed),))
        executed_at = utc_now()
        for region_run in run.regions:
            index = region_run.index
            region_run = replace(region_run, seen=resolve(region_run.seen, job.root, environ))
            region_key, inputs = job.keys.regions[index]
            ran[index] = StoredPage(region_key, inputs, replace(
                run.provenance, git_commit=job.commit, page_run=page_run, complete_run=complete),
                executed_at, region_run.duration, run.peak_mb, (region_run,))
    if skipped:
        failures.append(_skipped(job, skipped, needs))
    return ran, "\n".join(failures), sorted(set(differs)), processes


def _ends_alike(again: RegionRun, recorded: RegionRun, own_process: bool) -> bool:
    """Whether a region whose output is expected to vary (a measurement), re-run only to
    rebuild state, still did what its recorded run did: ended the same way. What it left in
    the state is still compared: in the page's own process by the state walk after the run
    (only what later regions read counts); in a process of its own here, where it must leave
    the state its recorded run left."""
    same_end = again.status is recorded.status and again.error == recorded.error
    return same_end and (not own_process or again.state_changed == recorded.state_changed)


def _failed_regions(run: PageRun) -> set[int]:
    """The regions a failed process failed in: those that raised, else the first that did not
    finish (it was running when the process crashed, exited or ran out of time)."""
    regions = sorted([*run.regions, *run.replayed], key=lambda region_run: region_run.index)
    raised = {r.index for r in regions if r.status is Status.ERROR}
    unfinished = [r.index for r in regions if r.status is Status.NOT_RUN]
    return raised or set(unfinished[:1])


def _skipped(job: PageJob, skipped: list[int], needs: set[int]) -> str:
    """One line naming the regions not run because what they re-run first already failed."""
    sections = ", ".join(job.executed[i].region.section for i in skipped)
    culprits = ", ".join(repr(job.executed[i].region.section) for i in sorted(needs))
    return (f"{job.page}: not run, since they re-run {culprits} first, which failed above: "
            f"{sections}")


def _not_reproduced(include: Include) -> str:
    region = include.region
    return (f"{include.where}: region {region.section!r} ({region.path}:{region.first_line}) "
            "printed or bound something else when it was run again to rebuild the state of a "
            "region in a process of its own, so that region's output would not follow from "
            "what the page shows: make it deterministic (seed it), or drop the own-process "
            "mark of the regions that use it")
