"""Build speed beside the peers: ours when nothing changed, after one prose sentence and after a
cheap region's edit, against plain mkdocs-material building the same chapter text in the same
environment, mkdocs-jupyter and MyST-NB with jupyter-cache, all timed in one run.

Every repetition times every case once, in turn, so that the machine's moods fall on all of them;
the table gives medians and quartiles and each median's ratio to plain mkdocs-material's. The
goals (issue 27): nothing changed ≤ 1.0×, one prose sentence ≤ 1.5×, a cheap region ≤ 1.5×.

Run with ``nox -s bench`` (or ``python -m benchmarks.build_speed [REPEATS]``).
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from benchmarks.common import print_summaries, scratch_copy, summary, timed, write_report
from benchmarks.peers import prepare_mkdocs_jupyter, prepare_myst_nb, prepare_plain

BUILD = [sys.executable, "-m", "d2l_compiler", "build"]
BARE = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", "bare-site"]
REFERENCE = "plain mkdocs-material"
GOALS = {"ours, nothing changed": 1.0, "ours, one prose sentence": 1.5,
         "ours, fancy_func changed": 1.5}


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} no longer holds {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def run(repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        project = scratch_copy(Path(tmp) / "project")
        start = time.perf_counter()
        timed([*BUILD, "--force"], project)
        cold = time.perf_counter() - start
        notebook = project / "docs" / "generated" / "compilers.ipynb"
        peers = [*prepare_plain(project, Path(tmp) / "plain"),
                 *prepare_mkdocs_jupyter(notebook, Path(tmp) / "mkdocs-jupyter"),
                 *prepare_myst_nb(notebook, Path(tmp) / "myst-nb")]
        measured = [peer for peer in peers if peer.command]
        for peer in measured:
            timed(peer.command, peer.cwd, peer.env)  # fills each peer's own caches once
        timed(BUILD, project)
        record_env = {"D2L_RECORD": str(project / ".d2l" / "record.json")}
        chapter, snippet = project / "docs" / "compilers.md", project / "snippets" / "imperative.py"
        cases: dict[str, list[float]] = {p.name: [] for p in measured}
        cases |= {"ours, bare mkdocs build --strict": [], "ours, nothing changed": [],
                  "ours, one prose sentence": [], "ours, fancy_func changed": []}
        for i in range(repeats):
            for peer in measured:
                cases[peer.name].append(timed(peer.command, peer.cwd, peer.env))
            cases["ours, bare mkdocs build --strict"].append(timed(BARE, project, record_env))
            cases["ours, nothing changed"].append(timed(BUILD, project))
            _replace(chapter, "## 符号式编程", f"又一句说明（{i}）。\n\n## 符号式编程")
            cases["ours, one prose sentence"].append(timed(BUILD, project))
            _replace(snippet, "    return g\n", f"    return g  # 改动 {i}\n")
            cases["ours, fancy_func changed"].append(timed(BUILD, project))
            _replace(snippet, f"    return g  # 改动 {i}\n", "    return g\n")
            timed(BUILD, project)  # the undo finds its result in the store; not timed
    stats = {name: summary(samples) for name, samples in cases.items()}
    plain = stats[REFERENCE]["median"]
    for name, data in stats.items():
        data["ratio_to_plain"] = data["median"] / plain
        if name in GOALS:
            data["goal"] = GOALS[name]
            data["goal_met"] = data["ratio_to_plain"] <= GOALS[name]
    return {"repeats": repeats, "cold_build_seconds": cold, "cases": stats,
            "notes": {p.name: p.note for p in peers if p.note},
            "environment": {"python": platform.python_version(), "cpus": os.cpu_count(),
                            "mkdocs-material": version("mkdocs-material"),
                            "machine": platform.machine()}}


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    report = run(repeats)
    print(f"build speed, {repeats} repetitions interleaved (seconds; ratio = median / "
          f"{REFERENCE}'s median, same environment, same run); cold build "
          f"{report['cold_build_seconds']:.0f} s")
    print_summaries(report["cases"], extra=("ratio_to_plain", "ratio"))
    for name, data in report["cases"].items():
        if "goal" in data:
            print(f"goal {name}: ≤ {data['goal']:.1f}× — "
                  f"{'met' if data['goal_met'] else 'NOT met'} ({data['ratio_to_plain']:.2f}×)")
    for name, note in report["notes"].items():
        print(f"note {name}: {note}")
    print(f"report: {write_report('build-speed', report)}")


if __name__ == "__main__":
    main()
