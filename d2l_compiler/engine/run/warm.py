"""A warm page process for the live preview: started ahead of time, with the heavy third-party
packages the pages import (torch, numpy, ...) already imported, waiting for its one job.

It runs under a keeper, as a cold page process does (:mod:`.lineage`). It is still a fresh
process per run: it is used once, then a new one is started for the next
run, so no state of a previous run can leak in. It is started exactly like a cold page
process (same environment, session, limits and supervision); only the waiting differs.
Project modules are never imported ahead: an edit may have changed them (the packages the
engine lives in are loaded, and import nothing of the chapter); when the job arrives, the
process drops whatever of the project it holds (:mod:`.loaded`). Builds for publishing do
not use it (they keep the plain fresh-process model).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from d2l_compiler.engine.run.lineage import kept
from d2l_compiler.engine.run.supervise import child_setup
from d2l_compiler.engine.sources.page_env import page_env

CHILD = "d2l_compiler.engine.run.child"


class WarmPool:
    """At most one waiting page process, for one project, device and memory limit."""

    def __init__(self, modules: tuple[str, ...]) -> None:
        self.modules = tuple(m for m in modules if m.isidentifier())
        self._proc: subprocess.Popen | None = None
        self._spec: tuple[str, str, int | None] | None = None

    def prepare(self, root: Path, device: str, memory_mb: int | None) -> None:
        """Start a waiting process (unless one for the same settings is waiting already)."""
        spec = (str(root), device, memory_mb)
        if self._proc is not None and self._proc.poll() is None and self._spec == spec:
            return
        self.close()
        self._spec = spec
        self._proc = subprocess.Popen(
            kept([sys.executable, "-m", CHILD, "--standby", *self.modules]), cwd=root,
            env=page_env(root, device), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=child_setup(memory_mb))

    def take(self, root: Path, device: str, memory_mb: int | None, job: Path, result: Path,
             cwd: Path) -> subprocess.Popen | None:
        """The waiting process, given its job (None if none is waiting for these settings)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is not None or self._spec != (str(root), device, memory_mb):
            _discard(proc)
            return None
        try:
            proc.stdin.write(json.dumps({"job": str(job), "result": str(result),
                                         "cwd": str(cwd)}).encode() + b"\n")
            proc.stdin.close()
        except OSError:  # it died meanwhile
            _discard(proc)
            return None
        return proc

    def close(self) -> None:
        """Stop the waiting process, if any."""
        if self._proc is not None:
            _discard(self._proc)
            self._proc = None


def _discard(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()
