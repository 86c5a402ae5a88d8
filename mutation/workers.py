"""Worker copies of the project: each worker process owns one and runs one mutant at a time in it."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from mutation.mutants import INCOMPETENT, KILLED, SURVIVED, TIMEOUT, Mutant, Outcome
from mutation.plan import ENGINE, ROOT, STATE_DIR


def make_copies(count: int) -> list[Path]:
    """Fresh copies of the project's files (tracked and not ignored), one per worker."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    copies = []
    for index in range(count):
        copy = STATE_DIR / f"copy-{index}"
        shutil.rmtree(copy, ignore_errors=True)
        for name in filter(None, listed):
            if (ROOT / name).is_file():
                (copy / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, copy / name)
        copies.append(copy)
    return copies


def _basetemp(copy: Path) -> Path:
    """pytest's temporary directory for a copy: outside the repository (tests look for git
    checkouts), and its own, since pytest empties it at every start."""
    return Path(tempfile.gettempdir()) / "d2l-mutation" / hashlib.sha256(str(copy).encode()).hexdigest()[:16]


def test_command(copy: Path, tests: Iterable[str]) -> str:
    """pytest on ``tests`` (node ids or files, relative to the copy), importing the copy's code
    (also in the subprocesses a build starts), stopping at the first failure."""
    selected = " ".join(shlex.quote(t) for t in tests)
    return (f"env PYTHONPATH={copy} PYTHONHASHSEED=0 {sys.executable} -m pytest -x -q "
            f"-p no:cacheprovider -o addopts= --rootdir={copy} "
            f"--basetemp={_basetemp(copy)} "
            f"{selected}")


COPY: Path | None = None


def claim_copy(copies: multiprocessing.Queue) -> None:
    global COPY
    COPY = copies.get()
    os.chdir(COPY)
    (Path(tempfile.gettempdir()) / "d2l-mutation").mkdir(exist_ok=True)  # pytest's --basetemp parent


def run_one(task: tuple[Mutant, tuple[str, ...], float]) -> tuple[Mutant, Outcome]:
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_item import MutationSpec, TestOutcome

    mutant, tests, timeout = task
    assert COPY is not None
    spec = MutationSpec(module_path=COPY / ENGINE / mutant.module, operator_name=mutant.operator,
                        occurrence=mutant.occurrence, start_pos=(mutant.line, 0),
                        end_pos=(mutant.line, 1))
    started = time.monotonic()
    result = mutate_and_test([spec], test_command(COPY, tests), timeout)
    seconds = time.monotonic() - started
    if result.test_outcome == TestOutcome.KILLED:
        status = TIMEOUT if result.output == "timeout" else KILLED
    elif result.test_outcome == TestOutcome.SURVIVED:
        status = SURVIVED
    else:
        status = INCOMPETENT
    return mutant, Outcome(status, round(seconds, 2), result.diff or "")
