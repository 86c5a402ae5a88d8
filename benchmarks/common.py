"""Shared helpers: a scratch copy of the project, wall-clock sampling, report writing."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT_DIR = ROOT / ".d2l" / "bench"


def scratch_copy(target: Path) -> Path:
    """A copy of the project without state or build products (a fresh clone, in effect)."""
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(
        ".git", ".nox", "site", ".d2l", "generated", "__pycache__", "*.egg-info", ".cache"))
    return target


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> float:
    """Wall seconds of one command; a failing command aborts the benchmark."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1", **(env or {})})
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return elapsed


def summary(samples: list[float]) -> dict:
    """Median, quartiles and raw samples."""
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=4, method="inclusive") if len(ordered) > 1 else ordered * 3
    return {"median": q[1], "q1": q[0], "q3": q[2], "samples": samples}


def print_summaries(rows: dict[str, dict], extra: tuple[str, str] | None = None) -> None:
    """One line per case: median, q1, q3 (and optionally one more field, e.g. a ratio)."""
    width = max(len(name) for name in rows) + 2
    header = f"{'case':<{width}}{'median':>9}{'q1':>9}{'q3':>9}"
    print(header + (f"{extra[1]:>8}" if extra else ""))
    for name, data in rows.items():
        line = f"{name:<{width}}{data['median']:>9.3f}{data['q1']:>9.3f}{data['q3']:>9.3f}"
        print(line + (f"{data[extra[0]]:>8.2f}" if extra else ""))


def write_report(name: str, data: dict) -> Path:
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    path = REPORT_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    return path
