"""Run one page's executed regions in a fresh Python subprocess, with a timeout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .discover import Include

GRACE_SECONDS = 3.0


@dataclass
class PageRun:
    """What happened when a page's regions ran."""

    page: str
    status: str  # "ok" or "failed"
    regions: list[dict[str, Any]]
    provenance: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0
    failure: str = ""  # a few lines for the terminal, naming page, region and file:line
    log: str = ""


def _kill_group(proc: subprocess.Popen) -> None:
    """TERM the whole process group (grandchildren too), then KILL what is left."""
    for sig, wait in ((signal.SIGTERM, GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            if sig == signal.SIGTERM:
                os.killpg(proc.pid, signal.SIGKILL)  # reap stragglers in the group
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


def _tail(path: Path, lines: int = 20) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def run_page(root: Path, page: str, includes: list[Include], *, device: str,
             timeout: float, log_dir: Path) -> PageRun:
    """Execute ``includes`` (the executed ones, in order) of ``page`` in a subprocess."""
    executed = [inc for inc in includes if inc.region.executed]
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / (page.replace("/", "__") + ".log")
    job = {"root": str(root), "regions": [
        {"id": inc.region.id, "path": inc.region.path, "first_line": inc.region.first_line,
         "code": inc.region.code} for inc in executed]}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="d2l-page-") as work:
        job_file, result_file = Path(work, "job.json"), Path(work, "result.jsonl")
        job_file.write_text(json.dumps(job), encoding="utf-8")
        run_dir = Path(work, "cwd")
        run_dir.mkdir()  # regions that write files (a saved model) write them here
        env = {**os.environ, "D2L_DEVICE": device, "PYTHONHASHSEED": "0",
               "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(root)}
        with open(log, "w", encoding="utf-8") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "d2l_compiler.build.child", str(job_file), str(result_file)],
                cwd=run_dir, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT, start_new_session=True)
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc)  # also ends any process a region left behind
        events = [json.loads(line) for line in result_file.read_text(encoding="utf-8").splitlines()
                  if line.strip()] if result_file.exists() else []
    duration = time.perf_counter() - start
    regions = [e for e in events if e["event"] == "region"]
    done = next((e for e in events if e["event"] == "done"), None)
    run = PageRun(page, "ok", regions, (done or {}).get("provenance", {}), duration, log=str(log))
    by_id = {inc.region.id: inc for inc in executed}
    failed = next((r for r in regions if r["status"] != "ok"), None)
    if failed is not None:
        inc = by_id[failed["id"]]
        err = failed["error"]
        line = err["line"] or inc.region.first_line
        run.failure = (f"{inc.where}: region {inc.region.section!r} failed at "
                       f"{inc.region.path}:{line}: {err['type']}: {err['message']}\n"
                       f"{err['traceback'].rstrip()}")
    elif done is None:
        pending = executed[len(regions)] if len(regions) < len(executed) else executed[-1]
        cause = (f"timed out after {timeout:g} s" if timed_out
                 else _describe_exit(proc.returncode))
        run.failure = (f"{pending.where}: region {pending.region.section!r} "
                       f"({pending.region.path}:{pending.region.first_line}) {cause}\n"
                       f"{_tail(log)}")
    if run.failure:
        run.status = "failed"
        ran = {r["id"] for r in regions}
        run.regions += [{"id": inc.region.id, "status": "not run"} for inc in executed
                        if inc.region.id not in ran]
    return run
