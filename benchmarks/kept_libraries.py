"""Kept libraries against the hand-written code they replaced, measured side by side in one run.

* The live preview's watcher. Before: every 0.1 s, ``os.walk`` over the project and ``stat``
  every Markdown and Python file (the loop ``serve.py`` had). After: ``watchfiles`` (the
  kernel's notifications) with the engine's :class:`~d2l_compiler.engine.serve.SourceFilter`.
  On a copy of this project: the seconds from writing a page until the watcher reports it
  (median of ``EDITS`` edits) and the CPU used per second while nothing changes.
* Listing a process's descendants (what every page's sweep does). Before: read
  ``/proc/*/stat`` and build the tree; after: ``psutil``. With ``CHILDREN`` children running,
  the seconds per listing (median of ``LISTINGS``), and whether both list the same pids.

Usage: ``python -m benchmarks.kept_libraries`` (part of ``nox -s bench``).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchfiles import watch

from benchmarks.common import scratch_copy, write_report
from d2l_compiler.engine.run.procs import descendants
from d2l_compiler.engine.serve import SETTLE_MS, WAKE_MS, SourceFilter
from d2l_compiler.engine.sources.project import find_project

EDITS = 20
IDLE_SECONDS = 5.0
_POLL = 0.1
_SKIPPED = {".git", ".nox", ".d2l", "site", "generated", "__pycache__", "node_modules"}


def _walk_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """The hand-written loop's view of the project: mtime and size of every page and module."""
    seen = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIPPED and not d.startswith(".")]
        for name in files:
            if name.endswith((".py", ".md")):
                stat = Path(folder, name).stat()
                seen[os.path.join(folder, name)] = (stat.st_mtime_ns, stat.st_size)
    return seen


def walk_watcher(root: Path, noticed: Callable[[], None], stop: threading.Event) -> None:
    """Before: poll a full walk of the tree every 0.1 s."""
    before = _walk_snapshot(root)
    while not stop.is_set():
        time.sleep(_POLL)
        now = _walk_snapshot(root)
        if now != before:
            before = now
            noticed()


def kept_watcher(root: Path, noticed: Callable[[], None], stop: threading.Event) -> None:
    """After: ``watchfiles`` with the engine's filter, as ``serve`` runs it."""
    sources = SourceFilter(find_project(root / "mkdocs.yml"))
    for changes in watch(sources.root, watch_filter=sources, stop_event=stop,
                         rust_timeout=WAKE_MS, step=SETTLE_MS, yield_on_timeout=True):
        if changes:
            noticed()


def measure(watcher: Callable, root: Path) -> dict[str, float]:
    """Latency from a write to the watcher's report, and idle CPU seconds per second."""
    seen, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=watcher, args=(root, seen.set, stop), daemon=True)
    thread.start()
    time.sleep(1.0)  # started and settled
    wall = time.perf_counter
    idle_start, idle_cpu = wall(), time.process_time()
    time.sleep(IDLE_SECONDS)
    idle = (time.process_time() - idle_cpu) / (wall() - idle_start)
    page = root / "docs" / "index.md"
    original = page.read_text(encoding="utf-8")
    latencies, jitter = [], random.Random(0)
    for number in range(EDITS):
        seen.clear()
        start = wall()
        page.write_text(f"{original}\n<!-- edit {number} -->\n", encoding="utf-8")
        if not seen.wait(10):
            raise SystemExit(f"{watcher.__name__} never noticed the edit")
        latencies.append(wall() - start)
        time.sleep(0.3 + jitter.random() * _POLL)  # settle; then a write at any phase of a poll
    page.write_text(original, encoding="utf-8")
    stop.set()
    thread.join(5)
    return {"latency_median_s": statistics.median(latencies), "latency_max_s": max(latencies),
            "idle_cpu_per_s": idle}


CHILDREN = 8
LISTINGS = 50


def proc_descendants(root_pid: int) -> set[int]:
    """Before: the tree read from ``/proc/*/stat`` (the code ``procs.py`` had)."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    found, queue = set(), [root_pid]
    while queue:
        for child in children.get(queue.pop(), []):
            if child not in found:
                found.add(child)
                queue.append(child)
    return found


def listing() -> dict[str, dict[str, float]]:
    """Seconds per descendants listing, before and after, with children running."""
    kids = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            for _ in range(CHILDREN)]
    try:
        rows = {}
        for name, lister in (("before: /proc/*/stat", lambda: proc_descendants(os.getpid())),
                             ("after: psutil", descendants)):
            times = []
            for _ in range(LISTINGS):
                start = time.perf_counter()
                found = lister()
                times.append(time.perf_counter() - start)
            rows[name] = {"median_s": statistics.median(times), "found": len(found),
                          "finds_the_children": {k.pid for k in kids} <= found}
        return rows
    finally:
        for kid in kids:
            kid.kill()
            kid.wait()


def main() -> int:
    """Print the tables and write ``.d2l/bench/kept_libraries.json``."""
    with tempfile.TemporaryDirectory() as scratch:
        root = scratch_copy(Path(scratch) / "project")
        watchers = {"before: os.walk every 0.1 s": measure(walk_watcher, root),
                    "after: watchfiles + SourceFilter": measure(kept_watcher, root)}
    print(f"{'watcher':<36} {'edit noticed (median)':>22} {'max':>8} {'idle CPU s/s':>13}")
    for name, row in watchers.items():
        print(f"{name:<36} {row['latency_median_s'] * 1000:>19.0f} ms "
              f"{row['latency_max_s'] * 1000:>5.0f} ms {row['idle_cpu_per_s']:>13.4f}")
    listings = listing()
    print(f"\n{'descendants of the engine':<36} {'per listing (median)':>22} {'found':>8}")
    for name, row in listings.items():
        print(f"{name:<36} {row['median_s'] * 1000:>19.2f} ms {row['found']:>8} "
              f"{'(all children)' if row['finds_the_children'] else '(MISSED SOME)'}")
    print(f"report: {write_report('kept_libraries', {'watcher': watchers, 'descendants': listings})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
