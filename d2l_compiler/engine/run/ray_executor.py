"""Pages as Ray tasks: ``build --executor ray`` (the default when ``RAY_ADDRESS`` is set).

Each page is one task asking for what the page needs (``num_gpus``, ``memory``; one CPU), so
Ray puts GPU pages on GPU nodes and sets their ``CUDA_VISIBLE_DEVICES``. The task runs the
same :func:`~d2l_compiler.engine.run.jobs.run_job` as a local build (a fresh supervised
process per page, the same limits, failures and timeouts as data) and returns the results;
the store and the record stay with the driver. The scheduler still decides when a page
starts, so an exclusive page has the cluster to itself.

Without ``RAY_ADDRESS`` a local cluster is started for the build (``ray.init``) and stopped
after it. With it, the driver connects to that cluster and ships the project directory to
the workers (Ray's ``working_dir``), minus the state directory, the site and version control.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
from dataclasses import replace
from pathlib import Path

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.run.jobs import PageJob, PageOutcome, run_job
from d2l_compiler.engine.run.lineage import become_subreaper
from d2l_compiler.engine.run.schedule import default_jobs

# what the workers do not need of the project (Ray uploads the rest; the engine's state
# directory, wherever the book keeps it, is left out too)
SHIP_EXCLUDES = [".git", ".nox", ".cache", "site", "__pycache__", "*.egg-info"]


def run_on_worker(job: PageJob) -> PageOutcome:
    """The task: run ``job`` where Ray placed it (in the shipped copy of the project when the
    driver's path does not exist on this node)."""
    if not job.root.is_dir():
        here = Path.cwd()
        logs = (job.log_dir.relative_to(job.root) if job.log_dir.is_relative_to(job.root)
                else Path("logs"))  # the state directory's place in the shipped copy
        job = replace(job, root=here, log_dir=here / logs, engine_dirs=tuple(
            here / d.relative_to(job.root) for d in job.engine_dirs if d.is_relative_to(job.root)))
    become_subreaper()  # what a page leaves behind comes back to this worker to be swept
    return run_job(job, None)


class RayExecutor:
    """Submits each page as a Ray task; the cluster's CPUs are the slots."""

    gpu_ids = None  # Ray hands out GPUs itself

    def __init__(self, device: str, root: Path | None = None,
                 state_dir: Path | None = None) -> None:
        try:
            import ray  # noqa: PLC0415 - optional dependency (the ray extra)
        except ImportError:
            raise UsageError("--executor ray needs Ray: pip install 'd2l_compiler[ray]'") from None
        self._ray = ray
        self._owned = not ray.is_initialized()
        if self._owned:
            address = os.environ.get("RAY_ADDRESS")
            quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
            if address:
                kept_home = ([state_dir.relative_to(root).as_posix()] if root and state_dir
                             and state_dir.is_relative_to(root) else [])
                runtime = ({"working_dir": str(root), "excludes": SHIP_EXCLUDES + kept_home}
                           if root else {})
                ray.init(address=address, runtime_env=runtime, **quiet)
            else:
                ray.init(num_cpus=default_jobs(), include_dashboard=False, **quiet)
        resources = ray.cluster_resources()
        self.slots = max(int(resources.get("CPU", 1)), 1)
        self.gpu_count = int(resources.get("GPU", 0)) if device == "cuda" else 0
        self.memory_mb = int(resources.get("memory", 0) // 2**20)
        self._task = ray.remote(run_on_worker)
        self._refs: list = []

    def submit(self, job: PageJob, gpus: str | None) -> cf.Future:
        """Submit ``job`` with its resources; its outcome as a future."""
        options = {"num_cpus": 1, "max_retries": 0,
                   "num_gpus": job.resources.gpus if job.device == "cuda" else 0}
        if job.resources.memory_mb:
            options["memory"] = job.resources.memory_mb * 2**20
        ref = self._task.options(**options).remote(job)
        self._refs.append(ref)
        return ref.future()

    def close(self, abort: bool = False) -> None:
        """Cancel what still runs (``abort``), and stop the cluster this build started."""
        if abort:
            for ref in self._refs:
                try:
                    self._ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - already finished, or the cluster is gone
                    pass
        if self._owned:
            self._ray.shutdown()
