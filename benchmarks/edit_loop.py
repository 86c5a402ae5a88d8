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
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import scratch_copy, timed, write_report

BUILD = [sys.executable, "-m", "d2l_compiler", "build"]
BARE = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", "bare-site"]
PAGE_HTML = Path("site") / "compilers" / "index.html"
PREVIEW_GOAL_SECONDS = 1.0


@dataclass(frozen=True)
class Edit:
    """One edit: the file, the text it replaces (first occurrence) and its replacement; the
    marker is what the built page shows once the edit is in."""

    name: str
    file: str
    old: str
    new: str
    marker: str
    printed: bool = False  # the marker is printed: wait for it as output, not as code

    @property
    def shown(self) -> str:
        """What the HTML holds once the edit is in (an output line starts and ends a line;
        in the highlighted code the marker sits between quotes)."""
        return f"\n{self.marker}\n" if self.printed else self.marker


def edits(tag: str) -> list[Edit]:
    """The edits the issue names; ``tag`` makes each marker unique to this run."""
    return [
        Edit("prose", "docs/compilers.md", "## 符号式编程", f"改动标记{tag}A\n\n## 符号式编程",
             f"改动标记{tag}A"),
        Edit("fancy_func", "snippets/imperative.py", "    return g\n",
             f"    return g  # 改动标记{tag}B\n", f"改动标记{tag}B"),
        Edit("net", "snippets/hybrid.py", "print(net(x))\n",
             f"print(net(x))\nprint('改动标记{tag}C')\n", f"改动标记{tag}C", printed=True),
        Edit("compile_paths", "snippets/modern.py", "print(paths)\n",
             f"print(paths)\nprint('改动标记{tag}D')\n", f"改动标记{tag}D", printed=True),
        Edit("save", "snippets/serialization.py", "print(saved)\n",
             f"print(saved)\nprint('改动标记{tag}F')\n", f"改动标记{tag}F", printed=True),
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
    # what the last build itself ran (the record describes the build that produced its results)
    summary = json.loads((project / ".d2l" / "last-build.json").read_text(encoding="utf-8"))
    return [entry.rpartition(":")[2] for entry in summary["regions_ran"]]


def measure(project: Path, edit: Edit, env: dict) -> dict:
    """Seconds from writing the edit to the page showing it, through ``build``; then undo."""
    file = project / edit.file
    original = file.read_text(encoding="utf-8")
    assert edit.old in original, f"{edit.file} no longer holds {edit.old!r}"
    start = time.perf_counter()
    file.write_text(original.replace(edit.old, edit.new, 1), encoding="utf-8")
    _run(BUILD, project, env)
    _wait_for(project / PAGE_HTML, edit.shown, True)
    seconds = time.perf_counter() - start
    ran = _regions_ran(project)
    file.write_text(original, encoding="utf-8")
    undo_start = time.perf_counter()
    _run(BUILD, project, env)
    _wait_for(project / PAGE_HTML, edit.marker, False)
    return {"seconds": seconds, "regions_ran": ran,
            "undo_seconds": time.perf_counter() - undo_start, "undo_ran": _regions_ran(project)}


def _served(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode("utf-8")
    except OSError:
        return ""


def _wait_served(url: str, marker: str, present: bool, limit: float = 900.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        page = _served(url)
        if page and (marker in page) == present:
            return
        time.sleep(0.02)
    sys.exit(f"error: {url} never {'showed' if present else 'lost'} {marker!r}")


def measure_preview(project: Path, env: dict) -> dict:
    """The same edits through the live preview (``python -m d2l_compiler serve``): seconds
    from writing the file until the served page shows the marker (polled over HTTP)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/compilers/"
    server = subprocess.Popen([*BUILD[:-1], "serve", "--dev-addr", f"127.0.0.1:{port}"],
                              cwd=project, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    cases = {}
    try:
        _wait_served(url, "</html>", True)
        time.sleep(3)  # let the warm page process finish importing
        for edit in edits(f"p{os.getpid()}"):
            file = project / edit.file
            original = file.read_text(encoding="utf-8")
            start = time.perf_counter()
            file.write_text(original.replace(edit.old, edit.new, 1), encoding="utf-8")
            _wait_served(url, edit.shown, True)
            seconds = time.perf_counter() - start
            _wait_served(url, "d2l-outdated", False)  # the page's code has all run again
            fresh = time.perf_counter() - start
            ran = _regions_ran(project)
            file.write_text(original, encoding="utf-8")
            _wait_served(url, edit.marker, False)
            _wait_served(url, "d2l-outdated", False)
            time.sleep(3)  # a warm process for the next edit
            cases[edit.name] = {"seconds": seconds, "fresh_seconds": fresh, "regions_ran": ran}
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(60)
    return cases


def run(real: bool) -> dict:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    if not real:
        env["D2L_BENCH_QUICK"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        project = scratch_copy(Path(tmp) / "project")
        _run([*BUILD, "--force"], project, env)
        bare = min(timed(BARE, project, {**env, "D2L_RECORD": str(project / ".d2l" / "record.json")})
                   for _ in range(3))
        start = time.perf_counter()
        _run(BUILD, project, env)
        no_op = time.perf_counter() - start
        cases = {"no-op build": {"seconds": no_op, "regions_ran": _regions_ran(project)}}
        for edit in edits(str(os.getpid())):
            cases[edit.name] = measure(project, edit, env)
        preview = measure_preview(project, env)
    for data in (*cases.values(), *preview.values()):
        data["ratio_to_bare"] = data["seconds"] / bare
    return {"quick": not real, "bare_mkdocs_seconds": bare, "cases": cases, "preview": preview}


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
    print("edit to visible page in the live preview (serve): 'seconds' until the page shows the "
          "edit (an edited comment shows at once, its outputs marked outdated), 'fresh' until "
          "no output on it is outdated")
    print(f"{'edit':<16}{'seconds':>9}{'x bare':>8}{'fresh':>9}  regions run")
    for name, data in report["preview"].items():
        print(f"{name:<16}{data['seconds']:>9.2f}{data['ratio_to_bare']:>8.2f}"
              f"{data['fresh_seconds']:>9.2f}  {', '.join(data['regions_ran']) or '(none)'}")
    prose = report["preview"].get("prose")
    if prose is not None:  # issue 27's goal for the live preview
        print(f"goal prose edit visible in the live preview: ≤ {PREVIEW_GOAL_SECONDS:.1f} s — "
              f"{'met' if prose['seconds'] <= PREVIEW_GOAL_SECONDS else 'NOT met'} "
              f"({prose['seconds']:.2f} s)")
    print(f"report: {write_report('edit-loop', report)}")


if __name__ == "__main__":
    main()
