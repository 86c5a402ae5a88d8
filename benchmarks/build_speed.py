"""Build speed: cold, warm, prose-only edit and one code edit, against a bare strict MkDocs build.

Run with ``nox -s bench`` (or ``python -m benchmarks.build_speed [REPEATS]``).
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.common import print_summaries, scratch_copy, summary, timed, write_report

BUILD = [sys.executable, "-m", "d2l_compiler", "build"]
BARE = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", "bare-site"]


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def run(repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        project = scratch_copy(Path(tmp) / "project")
        record_env = {"D2L_RECORD": str(project / ".d2l" / "record.json")}
        chapter, snippet = project / "docs" / "compilers.md", project / "snippets" / "imperative.py"
        names = ("bare", "bare_new_notebook", "cold", "first_after_cold", "warm", "prose", "code")
        cases: dict[str, list[float]] = {k: [] for k in names}
        for i in range(repeats):
            cases["cold"].append(timed([*BUILD, "--force"], project))
            # the first build after a cold one pays for jieba's and the OS's caches once
            cases["first_after_cold"].append(timed(BUILD, project))
            cases["bare"].append(timed(BARE, project, record_env))
            cases["warm"].append(timed(BUILD, project))
            # what bare MkDocs pays when the notebook changed (as after a prose edit)
            shutil.rmtree(project / ".cache" / "mkdocs-jupyter", ignore_errors=True)
            cases["bare_new_notebook"].append(timed(BARE, project, record_env))
            _append(chapter, f"\n另一句说明（{i}）。\n")
            cases["prose"].append(timed(BUILD, project))
            text = snippet.read_text(encoding="utf-8")
            snippet.write_text(re.sub(r"    return g.*\n", f"    return g  # edit {i}\n", text,
                                      count=1), encoding="utf-8")
            cases["code"].append(timed(BUILD, project))
    stats = {name: summary(samples) for name, samples in cases.items()}
    bare = stats["bare"]["median"]
    for data in stats.values():
        data["ratio_to_bare"] = data["median"] / bare
    return {"repeats": repeats, "cases": stats}


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    report = run(repeats)
    print(f"build speed, {repeats} repetitions (seconds; ratio = median / bare mkdocs median)")
    print_summaries(report["cases"], extra=("ratio_to_bare", "ratio"))
    print(f"report: {write_report('build-speed', report)}")


if __name__ == "__main__":
    main()
