"""Book scale: a synthetic 200-page book, built serially, in parallel, in shards and on Ray.

Generated at benchmark time (seeded, never committed): pages of one to three small regions
whose CPU work follows a long-tailed spread of durations (most a fraction of a second, a few
seconds), and a few exclusive pages that measure time. Reported, all from one run so that
ratios compare like with like (JSON in ``.d2l/bench/book-scale.json``):

* cold build at ``--jobs 1`` and ``--jobs 2``: parallel efficiency (t1 / (2 t2)), and the
  same against the best any schedule can do when exclusive pages run alone;
* shard balance at N = 4: each shard built for real, max / mean of their wall times;
* merging the 4 shard records: in-process (load + merge) and the whole ``merge`` command;
* a warm rebuild (nothing runs) against a bare ``mkdocs build --strict`` of the same book;
* the cold build through the Ray executor on a local cluster, overhead per page against the
  local scheduler (only when Ray is installed: ``pip install 'd2l_compiler[ray]'``).

``python -m benchmarks.book_scale [PAGES]``.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import timed, write_report

BUILD = [sys.executable, "-m", "d2l_compiler", "build"]
BARE = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", "bare-site"]
EXCLUSIVE_PAGES = 4
SEED = 13


def _loops_per_second() -> float:
    """How many iterations of the regions' work loop this machine does per second."""
    n = 2_000_000
    start = time.perf_counter()
    sum(i * i for i in range(n))
    return n / (time.perf_counter() - start)


def write_book(root: Path, pages: int) -> dict[str, float]:
    """The synthetic book under ``root``; each page's intended seconds of work."""
    rng = random.Random(SEED)
    speed = _loops_per_second()
    (root / "docs").mkdir(parents=True)
    (root / "snippets").mkdir()
    (root / "mkdocs.yml").write_text(
        "site_name: synthetic book\nmarkdown_extensions:\n  - pymdownx.superfences\n"
        "  - pymdownx.snippets:\n      base_path: [!relative $config_dir]\n"
        "      check_paths: true\nplugins:\n  - d2l\n", encoding="utf-8")
    intended = {}
    for number in range(pages):
        page = f"p{number:03}.md"
        exclusive = number % (pages // EXCLUSIVE_PAGES) == 0
        regions = rng.randint(1, 3)
        # long-tailed: median about 0.15 s of work per page, a few pages of 1-3 s
        seconds = min(rng.lognormvariate(-1.9, 0.9), 3.0)
        code, text = [], [f"# Page {number}\n\nSome prose about page {number}.\n"]
        for r in range(regions):
            loops = int(speed * seconds / regions)
            body = f"total = sum(i * i for i in range({loops}))\nprint({number}, {r}, total % 97)"
            if exclusive and r == 0:
                body = "import time\nstart = time.perf_counter()\n" + body
            code.append(f"# --8<-- [start:r{r}]\n{body}\n# --8<-- [end:r{r}]\n")
            text.append(f'```python\n--8<-- "snippets/s{number:03}.py:r{r}"\n```\n\nMore prose.\n')
        (root / "snippets" / f"s{number:03}.py").write_text("".join(code), encoding="utf-8")
        (root / "docs" / page).write_text("\n".join(text), encoding="utf-8")
        intended[page] = seconds
    return intended


def _record(root: Path, path: Path | None = None) -> dict:
    return json.loads((path or root / ".d2l" / "record.json").read_text(encoding="utf-8"))


def run(pages: int) -> dict:
    from d2l_compiler.engine.record.io import load_record
    from d2l_compiler.engine.record.merge import Labelled, merge_records

    report: dict = {"pages": pages, "exclusive_pages": EXCLUSIVE_PAGES, "seed": SEED}
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "book"
        write_book(book, pages)
        env = {"D2L_DEVICE": "cpu"}
        serial = timed([*BUILD, "--no-site", "--jobs", "1"], book, env)
        durations = {p: e["duration"] for p, e in _record(book)["pages"].items()}
        timeline = _record(book)["provenance"]["summary"]["timeline"]
        exclusive = sum(t["ended"] - t["started"] for t in timeline if t["exclusive"])
        shared = sum(t["ended"] - t["started"] for t in timeline if not t["exclusive"])
        parallel = timed([*BUILD, "--no-site", "--jobs", "2", "--force"], book, env)
        best = exclusive + shared / 2  # no schedule does better on two cores
        report["cold"] = {"jobs_1_s": serial, "jobs_2_s": parallel,
                          "efficiency": serial / (2 * parallel),
                          "exclusive_pages_s": exclusive, "other_pages_s": shared,
                          "best_possible_jobs_2_s": best,
                          "efficiency_vs_best_possible": best / parallel,
                          "page_seconds_sum": sum(durations.values())}
        shard_times = [timed([*BUILD, "--shard", f"{k}/4", "--jobs", "1", "--force"], book, env)
                       for k in range(1, 5)]
        mean = sum(shard_times) / 4
        report["shards"] = {"n": 4, "wall_s": shard_times, "max_over_mean": max(shard_times) / mean}
        shard_files = [book / ".d2l" / "shards" / f"{k}-of-4.json" for k in range(1, 5)]
        start = time.perf_counter()
        merge_records([Labelled(str(f), load_record(f)) for f in shard_files])
        in_process = time.perf_counter() - start
        command = timed([sys.executable, "-m", "d2l_compiler", "merge", *map(str, shard_files),
                         "--no-site"], book, env)
        report["merge"] = {"records": 4, "load_and_merge_s": in_process, "command_s": command}
        timed(BUILD, book, env)  # the site, once: the next builds are warm
        warm = min(timed(BUILD, book, env) for _ in range(3))
        bare = min(timed(BARE, book, env) for _ in range(3))
        report["warm"] = {"build_s": warm, "bare_mkdocs_s": bare, "ratio": warm / bare}
        if importlib.util.find_spec("ray") is not None:
            on_ray = timed([*BUILD, "--no-site", "--executor", "ray", "--force"], book, env)
            report["ray"] = {"cold_s": on_ray, "local_jobs_2_s": parallel,
                             "overhead_per_page_s": (on_ray - parallel) / pages}
        else:
            report["ray"] = {"skipped": "Ray is not installed (pip install 'd2l_compiler[ray]')"}
    return report


def _print(report: dict) -> None:
    cold, shards, merge, warm, ray = (report[k] for k in ("cold", "shards", "merge", "warm", "ray"))
    print(f"book scale: {report['pages']} synthetic pages ({report['exclusive_pages']} exclusive), "
          "one run, seconds")
    rows = [
        ("cold build, --jobs 1", f"{cold['jobs_1_s']:.1f}", ""),
        ("cold build, --jobs 2", f"{cold['jobs_2_s']:.1f}",
         f"efficiency {cold['efficiency']:.0%} (goal >= 80%); vs best possible with exclusive "
         f"pages alone ({cold['best_possible_jobs_2_s']:.1f} s): {cold['efficiency_vs_best_possible']:.0%}"),
        ("4 shards (each built)", " / ".join(f"{t:.1f}" for t in shards["wall_s"]),
         f"max/mean {shards['max_over_mean']:.2f} (goal <= 1.15)"),
        ("merge 4 shard records", f"{merge['load_and_merge_s']:.3f}",
         f"goal <= 0.5; the whole merge command {merge['command_s']:.2f}"),
        ("warm rebuild (runs nothing)", f"{warm['build_s']:.2f}",
         f"{warm['ratio']:.2f}x bare mkdocs {warm['bare_mkdocs_s']:.2f} (goal <= 1.2x)"),
    ]
    if "cold_s" in ray:
        rows.append(("cold build on Ray (local cluster)", f"{ray['cold_s']:.1f}",
                     f"{ray['overhead_per_page_s'] * 1000:+.0f} ms per page vs --jobs 2"))
    else:
        rows.append(("cold build on Ray", "-", ray["skipped"]))
    width = max(len(r[0]) for r in rows) + 2
    for name, value, note in rows:
        print(f"{name:<{width}}{value:>22}  {note}")


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    report = run(pages)
    _print(report)
    print(f"report: {write_report('book-scale', report)}")


if __name__ == "__main__":
    main()
