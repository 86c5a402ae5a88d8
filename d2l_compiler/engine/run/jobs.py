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

from d2l_compiler.engine.record.io import utc_now
from d2l_compiler.engine.record.model import RegionRun, StoredPage
from d2l_compiler.engine.run.plan import plan_processes
from d2l_compiler.engine.run.runner import Limits, run_page
from d2l_compiler.engine.run.warm import WarmPool
from d2l_compiler.engine.sources.discover import Include
from d2l_compiler.engine.sources.key import PageKeys
from d2l_compiler.engine.sources.resources import Resources

# what must be equal for a re-run (to rebuild state) to count as the recorded run
_SAME_RUN = ("status", "stdout", "stray", "raised", "values")


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


@dataclass
class PageOutcome:
    """What a job produced: a result per region that ran, or the failure in words."""

    page: str
    ran: dict[int, StoredPage] = field(default_factory=dict)
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
    if len(job.to_run) < len(executed):  # say which: an author wants to see the edit's reach
        say("  only " + ", ".join(executed[i].region.section for i in job.to_run))
    ran, failure, differs = _run_regions(job, list(job.to_run), gpus, on_event, warm)
    if differs and not failure and len(job.to_run) < len(executed):
        say(f"  {', '.join(executed[i].region.section for i in differs)} printed or bound "
            "something else when run again to rebuild state; the whole page runs again")
        ran, failure, differs = _run_regions(job, everything, gpus, on_event, warm)
    if differs and not failure:  # even so: a region in its own process re-ran it
        failure = "\n".join(_not_reproduced(executed[i]) for i in differs)
        ran = {}  # nothing of this run may be reused: some outputs do not fit others
    outcome.ran, outcome.failure, outcome.ended = ran, failure, time.time()
    return outcome


def _run_regions(job: PageJob, to_run: list[int], gpus: str | None,
                 on_event: Callable[[RegionRun], None], warm: WarmPool | None,
                 ) -> tuple[dict[int, StoredPage], str, list[int]]:
    """Run the regions ``to_run`` of the page within its time limit: the stored results of
    the processes that succeeded, the failures in words, and the regions that, re-run only
    to rebuild state, did not reproduce their recorded run."""
    deadline = time.monotonic() + job.limits.timeout
    ran: dict[int, StoredPage] = {}
    failures, differs = [], []
    for plan in plan_processes(job.keys.nodes, to_run):
        run = run_page(job.root, job.page, [job.executed[i] for i in plan.indices],
                       device=job.device, limits=job.limits, deadline=deadline,
                       log_dir=job.log_dir, on_event=on_event, indices=list(plan.indices),
                       replay=plan.replay, log_label=plan.label, warm=warm, gpus=gpus)
        if not run.ok:
            failures.append(f"{run.failure}\nfull log: {run.log}")
            continue
        for again in run.replayed:  # against this build's run of it, else the stored one
            recorded = ran.get(again.index) or job.found.get(again.index)
            if recorded is not None and [getattr(again, k) for k in _SAME_RUN] != [
                    getattr(recorded.runs[0], k) for k in _SAME_RUN]:
                differs.append(again.index)
        executed_at = utc_now()
        for region_run in run.regions:
            index = region_run.index
            region_key, inputs = job.keys.regions[index]
            ran[index] = StoredPage(region_key, inputs, {**run.provenance, "git_commit": job.commit},
                                    executed_at,
                                    region_run.duration, run.peak_mb, (region_run,))
    return ran, "\n".join(failures), sorted(set(differs))


def _not_reproduced(include: Include) -> str:
    region = include.region
    return (f"{include.where}: region {region.section!r} ({region.path}:{region.first_line}) "
            "printed or bound something else when it was run again to rebuild the state of a "
            "region in a process of its own, so that region's output would not follow from "
            "what the page shows: make it deterministic (seed it), or drop the own-process "
            "mark of the regions that use it")
