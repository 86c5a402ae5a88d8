"""The local scheduler: which page runs when, and where, under the pages' declared needs.

Policy (:func:`run_jobs`): pages that need the machine to themselves (``exclusive``: they
measure time) run first, one at a time, with nothing beside them; then the others, longest
first (by the duration the last record gives them), as many at once as the executor has
slots, never more GPU pages than there are free GPUs (each gets its own
``CUDA_VISIBLE_DEVICES``), and never more declared memory than the machine has. Every page
is attempted; a failure is the page's outcome, as in a serial build.

Executors: :class:`InlineExecutor` runs a job in this process (live progress, the warm
process of the preview); :class:`PoolExecutor` in local worker processes, each its own
subreaper, so that whatever one page leaves behind is swept without touching another page;
``ray_executor.RayExecutor`` as Ray tasks on a cluster.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import psutil

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.run.jobs import PageJob, PageOutcome, run_job
from d2l_compiler.engine.run.lineage import become_subreaper, die_with_parent
from d2l_compiler.engine.run.procs import descendants, sweep


class Executor(Protocol):
    """Runs jobs somewhere; the scheduler decides when."""

    slots: int  # pages that may run at once
    gpu_ids: tuple[str, ...] | None  # GPUs the scheduler hands out; None: placed by the executor
    gpu_count: int  # GPUs in all
    memory_mb: int  # memory in all (0: unknown, declared memory is then not checked)

    def submit(self, job: PageJob, gpus: str | None) -> cf.Future:
        """Start ``job`` (with ``CUDA_VISIBLE_DEVICES=gpus`` unless None); its outcome later."""

    def close(self, abort: bool = False) -> None:
        """Release the workers (``abort``: stop what runs, cleaning up)."""


def local_gpus(device: str) -> tuple[str, ...]:
    """The GPU ids this machine lends to pages (none when the build runs on the CPU)."""
    if device != "cuda":
        return ()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return tuple(v.strip() for v in visible.split(",") if v.strip() and v.strip() != "-1")
    try:
        count = len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        count = 1  # torch said a GPU is usable: at least one
    return tuple(str(i) for i in range(max(count, 1)))


def local_memory_mb() -> int:
    """Physical memory of this machine in MiB (0 if unknown)."""
    try:
        return psutil.virtual_memory().total // 2**20
    except (OSError, RuntimeError):
        return 0


class _ThisMachine:
    """The capacity of an executor that runs pages on this machine."""

    def __init__(self, device: str) -> None:
        self.gpu_ids = local_gpus(device)
        self.gpu_count = len(self.gpu_ids)
        self.memory_mb = local_memory_mb()


class InlineExecutor(_ThisMachine):
    """Runs each job to the end in this process, when it is submitted (one slot)."""

    slots = 1

    def __init__(self, device: str, run: Callable[[PageJob, str | None], PageOutcome]) -> None:
        super().__init__(device)
        self._run = run

    def submit(self, job: PageJob, gpus: str | None) -> cf.Future:
        """Run ``job`` now; an already finished future."""
        future: cf.Future = cf.Future()
        future.set_result(self._run(job, gpus))
        return future

    def close(self, abort: bool = False) -> None:
        """Nothing to release."""


class _Terminated(BaseException):
    """SIGTERM reached a worker: unwind, so the page's processes and files are cleaned up."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


def _worker_setup(engine: int) -> None:
    signal.signal(signal.SIGTERM, _raise_terminated)
    become_subreaper()  # a page's orphans come back to this worker, not to another page's
    die_with_parent(signal.SIGTERM)  # the engine killed outright: clean up and go
    if os.getppid() != engine:  # it died before that took effect
        raise SystemExit(1)


def _run_in_worker(job: PageJob, gpus: str | None) -> PageOutcome:
    try:
        return run_job(job, gpus)
    except _Terminated:  # the page's processes and files are cleaned up by now
        os._exit(128 + signal.SIGTERM)  # not back to the pool's loop: nobody is waiting


class PoolExecutor(_ThisMachine):
    """``slots`` local worker processes (started fresh, not forked from the engine)."""

    def __init__(self, device: str, slots: int) -> None:
        super().__init__(device)
        self.slots = slots
        become_subreaper()  # a worker killed hard leaves its page's processes to us
        self._keep = descendants()
        self._pool = cf.ProcessPoolExecutor(slots, multiprocessing.get_context("spawn"),
                                            initializer=_worker_setup, initargs=(os.getpid(),))

    def submit(self, job: PageJob, gpus: str | None) -> cf.Future:
        """Queue ``job`` on a free worker."""
        return self._pool.submit(_run_in_worker, job, gpus)

    def close(self, abort: bool = False) -> None:
        """Stop the workers; with ``abort``, TERM them first so each cleans its page up."""
        if abort:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                if process.is_alive():
                    process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)
        sweep(self._keep)


@dataclass
class _Capacity:
    slots: int
    gpus: list[str] | None
    gpu_count: int
    memory_mb: int


def check_fits(jobs: list[PageJob], executor: Executor) -> None:
    """``UsageError`` naming a page that needs more GPUs than the executor has (before
    anything runs); pages that want a GPU run on the CPU when the build does."""
    for job in jobs:
        if job.device == "cuda" and job.resources.gpus > executor.gpu_count:
            raise UsageError(f"{job.page} needs {job.resources.gpus} GPUs; this build has "
                             f"{executor.gpu_count} (declare fewer with <!-- d2l: gpu=N -->)")


def order(jobs: list[PageJob]) -> list[PageJob]:
    """The order pages are started in: exclusive pages first, then longest first (stable)."""
    return sorted(jobs, key=lambda j: (not j.resources.exclusive, -j.estimate))


def run_jobs(jobs: list[PageJob], executor: Executor,
             on_start: Callable[[PageJob], None] = lambda job: None,
             on_done: Callable[[PageJob, PageOutcome], None] = lambda job, outcome: None,
             ) -> dict[str, PageOutcome]:
    """Run every job under the policy in the module's docstring; each page's outcome."""
    check_fits(jobs, executor)
    pending = order(jobs)
    free = _Capacity(executor.slots, list(executor.gpu_ids) if executor.gpu_ids is not None
                     else None, executor.gpu_count, executor.memory_mb)
    running: dict[cf.Future, tuple[PageJob, list[str], int]] = {}
    outcomes: dict[str, PageOutcome] = {}
    while pending or running:
        while pending:
            job = pending[0]
            taken = _take(job, free, bool(running), any(j.resources.exclusive
                                                        for j, _, _ in running.values()))
            if taken is None:
                break  # the next page waits for room; none jumps the queue past it
            pending.pop(0)
            gpus, memory = taken
            on_start(job)
            future = executor.submit(job, ",".join(gpus) if free.gpus is not None
                                     and job.device == "cuda" else None)
            running[future] = (job, gpus, memory)
        done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
        for future in done:
            job, gpus, memory = running.pop(future)
            free.slots += 1
            free.memory_mb += memory
            free.gpu_count += _gpus_needed(job)
            if free.gpus is not None:
                free.gpus = sorted(free.gpus + gpus)
            try:
                outcome = future.result()
            except Exception as exc:  # the worker itself died (killed, out of memory)
                outcome = PageOutcome(job.page, failure=f"{job.page}: the worker running this "
                                      f"page stopped: {type(exc).__name__}: {exc}")
            outcomes[job.page] = outcome
            on_done(job, outcome)
    return outcomes


def _gpus_needed(job: PageJob) -> int:
    return job.resources.gpus if job.device == "cuda" else 0


def _take(job: PageJob, free: _Capacity, busy: bool,
          exclusive_running: bool) -> tuple[list[str], int] | None:
    """Reserve what ``job`` needs (GPU ids, memory), or None if it must wait."""
    needs = job.resources
    memory = min(needs.memory_mb, free.memory_mb) if free.memory_mb else 0
    if exclusive_running or (needs.exclusive and busy) or free.slots < 1:
        return None
    gpus_needed = _gpus_needed(job)
    if gpus_needed > free.gpu_count:
        return None
    if needs.memory_mb and free.memory_mb and needs.memory_mb > free.memory_mb and busy:
        return None  # a page asking for more than is free waits until it can run alone
    free.slots -= 1
    free.gpu_count -= gpus_needed
    free.memory_mb -= memory
    taken: list[str] = []
    if free.gpus is not None:
        taken, free.gpus = free.gpus[:gpus_needed], free.gpus[gpus_needed:]
    return taken, memory


def default_jobs() -> int:
    """``build --jobs`` when not given: the cores this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:
        return os.cpu_count() or 1

