"""The author's edit loop: how long from saving a file until the built page shows the edit.

For each edit (prose; the ``fancy_func`` region; the ``net`` region; ``compile_paths``; the
helper module ``d2l_compiler/models.py``) the clock starts when the file is written and stops
when the built HTML holds the edit's marker (the file is polled). Each row names the regions
the build ran (read from the record) and the ratio to a bare ``mkdocs build --strict``.
Edits are undone after each case (the undo runs nothing: the store keeps recent results).

Quick mode (``D2L_BENCH_QUICK=1``) by default, so the compile paths take about a minute
rather than several; ``--real`` measures real ones. Run with ``nox -s bench`` or
``python -m benchmarks.edit_loop [--real]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import scratch_copy, timed, write_report

BUILD = [sys.executable, "-m", "d2l_compiler", "build"]
BARE = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", "bare-site"]
PAGE_HTML = Path("site") / "compilers" / "index.html"


@dataclass(frozen=True)
class Edit:
    """One edit: the file, the text it replaces (first occurrence) and its replacement; the
    marker is what the built page shows once the edit is in."""

    name: str
    file: str
    old: str
    new: str
    marker: str


def edits(tag: str) -> list[Edit]:
    """The edits the issue names; ``tag`` makes each marker unique to this run."""
    return [
        Edit("prose", "docs/compilers.md", "## 符号式编程", f"改动标记{tag}A\n\n## 符号式编程",
             f"改动标记{tag}A"),
        Edit("fancy_func", "snippets/imperative.py", "    return g\n",
             f"    return g  # 改动标记{tag}B\n", f"改动标记{tag}B"),
        Edit("net", "snippets/hybrid.py", "print(net(x))\n",
             f"print(net(x))\nprint('改动标记{tag}C')\n", f"改动标记{tag}C"),
        Edit("compile_paths", "snippets/modern.py", "print(paths)\n",
             f"print(paths)\nprint('改动标记{tag}D')\n", f"改动标记{tag}D"),
        Edit("helper module", "d2l_compiler/models.py", "def get_net(",
             f"# 改动标记{tag}E\ndef get_net(", f"改动标记{tag}E"),
    ]


def _run(cmd: list[str], cwd: Path, env: dict) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")


def _wait_for(html: Path, marker: str, present: bool, limit: float = 900.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if (marker in html.read_text(encoding="utf-8")) == present:
                return
        except OSError:
            pass  # the site is being swapped in
        time.sleep(0.02)
    sys.exit(f"error: {html} never {'showed' if present else 'lost'} {marker!r}")


def _regions_ran(project: Path) -> list[str]:
    record = json.loads((project / ".d2l" / "record.json").read_text(encoding="utf-8"))
    return [entry.rpartition(":")[2] for entry in record["provenance"]["summary"]["regions_ran"]]


def measure(project: Path, edit: Edit, env: dict) -> dict:
    """Seconds from writing the edit to the page showing it, through ``build``; then undo."""
    file = project / edit.file
    original = file.read_text(encoding="utf-8")
    assert edit.old in original, f"{edit.file} no longer holds {edit.old!r}"
    start = time.perf_counter()
    file.write_text(original.replace(edit.old, edit.new, 1), encoding="utf-8")
    _run(BUILD, project, env)
    _wait_for(project / PAGE_HTML, edit.marker, True)
    seconds = time.perf_counter() - start
    ran = _regions_ran(project)
    file.write_text(original, encoding="utf-8")
    undo_start = time.perf_counter()
    _run(BUILD, project, env)
    _wait_for(project / PAGE_HTML, edit.marker, False)
    return {"seconds": seconds, "regions_ran": ran,
            "undo_seconds": time.perf_counter() - undo_start, "undo_ran": _regions_ran(project)}


def run(real: bool) -> dict:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    if not real:
        env["D2L_BENCH_QUICK"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        project = scratch_copy(Path(tmp) / "project")
        _run([*BUILD, "--force"], project, env)
        bare = min(timed(BARE, project, {"D2L_RECORD": str(project / ".d2l" / "record.json")})
                   for _ in range(3))
        start = time.perf_counter()
        _run(BUILD, project, env)
        no_op = time.perf_counter() - start
        cases = {"no-op build": {"seconds": no_op, "regions_ran": _regions_ran(project)}}
        for edit in edits(str(os.getpid())):
            cases[edit.name] = measure(project, edit, env)
    for data in cases.values():
        data["ratio_to_bare"] = data["seconds"] / bare
    return {"quick": not real, "bare_mkdocs_seconds": bare, "cases": cases}


def main() -> None:
    real = "--real" in sys.argv[1:]
    report = run(real)
    print(f"edit to visible page through `build` ({'real' if real else 'quick'} measurements); "
          f"bare mkdocs build {report['bare_mkdocs_seconds']:.2f} s")
    print(f"{'edit':<16}{'seconds':>9}{'x bare':>8}{'undo s':>8}  regions run")
    for name, data in report["cases"].items():
        undo = f"{data['undo_seconds']:.2f}" if "undo_seconds" in data else "—"
        print(f"{name:<16}{data['seconds']:>9.2f}{data['ratio_to_bare']:>8.2f}{undo:>8}  "
              f"{', '.join(data['regions_ran']) or '(none)'}")
    print(f"report: {write_report('edit-loop', report)}")


if __name__ == "__main__":
    main()
