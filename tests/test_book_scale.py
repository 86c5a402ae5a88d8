"""Book scale: what pages need, the local scheduler, shards and their merge.

Real builds (subprocess CLI, real worker processes) on fixture books; the scheduler's policy
also against a fake executor, whose jobs take fixed times, to check its invariants exactly.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import threading
import time
import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from conftest import FixtureSite, page_inputs, page_key, provenance
from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.run.jobs import PageJob, PageOutcome
from d2l_compiler.engine.run.runner import Limits
from d2l_compiler.engine.run.schedule import order, run_jobs
from d2l_compiler.engine.run.shard import assign, parse_shard
from d2l_compiler.engine.sources.discover import includes_in
from d2l_compiler.engine.sources.key import PageKeys
from d2l_compiler.engine.sources.page import PageSyntaxError
from d2l_compiler.engine.sources.project import Project
from d2l_compiler.engine.sources.resources import Resources, page_resources


# --- what a page needs -----------------------------------------------------------------

def _needs(tmp_path: Path, page: str, code: str, module: str = "") -> Resources:
    site = FixtureSite(tmp_path / "b")
    site.write("snippets/s.py", f"# --8<-- [start:r]\n{code}\n# --8<-- [end:r]\n")
    if module:
        site.write("helpers.py", module)
    project = Project(site.root / "mkdocs.yml")
    return page_resources(project.root, includes_in(project, page, Path("p.md")))


FENCE = '```python\n--8<-- "snippets/s.py:r"\n```\n'


@pytest.mark.parametrize("code, expected", [
    ("x = 1", Resources()),
    ("import time\ntime.sleep(0.1)", Resources()),  # sleeping is not measuring
    ("import time\nt = time.perf_counter()", Resources(exclusive=True)),
    ("from time import monotonic", Resources(exclusive=True)),
    ("import timeit", Resources(exclusive=True)),
    ("import torch.utils.benchmark as b", Resources(exclusive=True)),
    ("import torch\nx = torch.ones(1)", Resources()),  # torch without cuda: CPU only
    ("device = 'cuda'", Resources()),  # cuda without torch: nothing would use a GPU
    ("import torch\nd = 'cuda' if torch.cuda.is_available() else 'cpu'", Resources(gpus=1)),
    ("import helpers", Resources(gpus=1, exclusive=True)),  # through a project module
])
def test_needs_are_inferred_from_the_code_and_the_modules_it_imports(tmp_path, code, expected):
    helper = "import time\nimport torch\n\ndef go():\n    return torch.cuda, time.time()\n"
    assert _needs(tmp_path, FENCE, code, helper) == expected


@pytest.mark.parametrize("mark, expected", [
    ("<!-- d2l: exclusive -->", Resources(exclusive=True)),
    ("<!-- d2l: gpu=2, memory=4096 -->", Resources(gpus=2, memory_mb=4096)),
    ("<!-- d2l: gpu -->", Resources(gpus=1)),
    ("<!-- d2l: own-process exclusive=no gpu=0 -->", Resources()),  # overrides inference
])
def test_a_mark_above_the_fence_declares_needs(tmp_path, mark, expected):
    timing_on_gpu = "import time, torch\nt = time.perf_counter()\ntorch.cuda.synchronize"
    code = timing_on_gpu if "=no" in mark else "x = 1"
    assert _needs(tmp_path, f"{mark}\n\n{FENCE}", code) == expected


@pytest.mark.parametrize("mark", ["<!-- d2l: exclusiv -->", "<!-- d2l: gpu=two -->",
                                  "<!-- d2l: memory -->", "<!-- d2l: memory=0 -->",
                                  "<!-- d2l: gpu gpu=2 -->",
                                  # misspelt: never silently nothing (nor published)
                                  "<!-- D2L: own-process -->", "<!-- d2l : exclusive -->"])
def test_a_bad_mark_is_one_line_naming_page_and_line(tmp_path, mark):
    with pytest.raises(PageSyntaxError, match=r"^docs/p\.md:3: .*d2l mark|^docs/p\.md:3: .*expected"):
        _needs(tmp_path, f"# p\n\n{mark}\n{FENCE}", "x = 1")



def test_a_mark_written_over_two_lines_is_refused(tmp_path):
    with pytest.raises(PageSyntaxError, match=r"^docs/p\.md:3: .*d2l mark"):
        _needs(tmp_path, f"# p\n\n<!-- d2l: own-process\n-->\n{FENCE}", "x = 1")


def test_a_mark_that_stands_above_no_fence_is_refused(tmp_path):
    with pytest.raises(PageSyntaxError, match=r"docs/p\.md:3: this d2l mark is not on the line"):
        _needs(tmp_path, f"# p\n\n<!-- d2l: exclusive -->\n\nprose\n\n{FENCE}", "x = 1")


# --- the scheduler's policy against a fake executor --------------------------------------

class FakeExecutor:
    """Jobs "run" in threads for the seconds their estimate says; records every interval."""

    def __init__(self, slots: int, gpus: int = 0) -> None:
        self.slots, self.gpu_count, self.memory_mb = slots, gpus, 1000
        self.gpu_ids = tuple(str(i) for i in range(gpus))
        self.intervals: list[tuple[str, float, float, str | None]] = []
        self._lock = threading.Lock()
        self._pool = cf.ThreadPoolExecutor(16)

    def submit(self, job: PageJob, gpus: str | None) -> cf.Future:
        def work() -> PageOutcome:
            began = time.monotonic()
            time.sleep(job.estimate)
            with self._lock:
                self.intervals.append((job.page, began, time.monotonic(), gpus))
            return PageOutcome(job.page, started=began, ended=time.monotonic())
        return self._pool.submit(work)

    def close(self, abort: bool = False) -> None:
        self._pool.shutdown()


def _job(page: str, seconds: float, device: str = "cpu", **needs) -> PageJob:
    return PageJob(Path("."), page, (), PageKeys("", {}, [], []), (0,), device, Limits(),
                   Path("."), {}, Resources(**needs), seconds)


def _most_at_once(spans) -> int:
    events = sorted([(s[1], 1) for s in spans] + [(s[2], -1) for s in spans])
    running = most = 0
    for _, step in events:  # an end sorts before a start at the same instant
        running += step
        most = max(most, running)
    return most


def _overlap(a, b) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def test_exclusive_pages_run_alone_and_gpus_are_never_shared():
    jobs = [_job(f"p{i}", 0.05 + 0.01 * (i % 3)) for i in range(8)]
    jobs += [_job("timing-a", 0.05, exclusive=True), _job("timing-b", 0.04, exclusive=True)]
    jobs += [_job(f"g{i}", 0.05, "cuda", gpus=1) for i in range(4)]
    jobs += [_job("g-two", 0.05, "cuda", gpus=2)]
    executor = FakeExecutor(slots=3, gpus=2)
    outcomes = run_jobs(jobs, executor)
    executor.close()
    assert set(outcomes) == {j.page for j in jobs}  # every page, once
    spans = executor.intervals
    for a in spans:
        if a[0].startswith("timing"):
            assert not any(_overlap(a, b) for b in spans if b is not a), a[0]
        for b in spans:
            if b is not a and _overlap(a, b):
                assert not set((a[3] or "").split(",")) & set((b[3] or "").split(",")) - {""}
    assert _most_at_once(spans) == 3  # the slots were used, and never more
    assert {s[3] for s in spans if s[0] == "g-two"} == {"0,1"}
    assert all(s[3] is None for s in spans if s[0].startswith("p"))


def test_declared_memory_never_exceeds_the_machine():
    executor = FakeExecutor(slots=3)  # 1000 MiB in all
    jobs = [_job(f"big{i}", 0.04, memory_mb=600) for i in range(3)]
    jobs += [_job(f"small{i}", 0.04, memory_mb=300) for i in range(4)]
    jobs += [_job("huge", 0.04, memory_mb=5000)]  # more than there is: runs alone
    run_jobs(jobs, executor)
    executor.close()
    need = {j.page: j.resources.memory_mb for j in jobs}
    spans = executor.intervals
    for a in spans:  # at each start, what runs then fits, unless the page runs alone
        running = [b for b in spans if b[1] <= a[1] < b[2]]
        assert len(running) == 1 or sum(need[b[0]] for b in running) <= 1000, running
    assert _most_at_once([s for s in spans if s[0].startswith("small")]) >= 2  # they do pair


def test_pages_start_exclusive_first_then_longest_first():
    jobs = [_job("short", 1), _job("long", 9), _job("timing", 2, exclusive=True), _job("mid", 5)]
    assert [j.page for j in order(jobs)] == ["timing", "long", "mid", "short"]


def test_a_page_needing_more_gpus_than_there_are_is_refused_before_anything_runs():
    executor = FakeExecutor(slots=2, gpus=1)
    with pytest.raises(UsageError, match="big.md needs 2 GPUs; this build has 1"):
        run_jobs([_job("small.md", 0.01), _job("big.md", 0.01, "cuda", gpus=2)], executor)
    assert executor.intervals == []


# --- shards ------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text("abcdefgh", min_size=1, max_size=6),
                       st.tuples(st.floats(0.1, 500), st.booleans()), max_size=40),
       st.integers(1, 6), st.sets(st.integers(1, 6), max_size=3))
def test_gpu_pages_run_on_one_gpu_and_one_cpu_shard_the_others_on_one_cpu_shard(pages, count,
                                                                                gpus):
    gpu_shards = frozenset(g for g in gpus if g <= count)
    shares = assign(pages, count, gpu_shards)
    assert shares == assign(dict(reversed(list(pages.items()))), count, gpu_shards)  # stable
    assert all(len(share) == len(set(share)) for share in shares.values())
    mixed = bool(gpu_shards) and gpu_shards != set(range(1, count + 1))
    for page, (_, gpu) in pages.items():
        on = [shard for shard, share in shares.items() if page in share]
        if not mixed:  # one kind of shard: each page once, anywhere
            assert len(on) == 1
        elif gpu:  # both devices' results, side by side after the merge
            assert len(on) == 2 and len(set(on) & gpu_shards) == 1
        else:
            assert len(on) == 1 and on[0] not in gpu_shards


def test_a_gpu_page_runs_on_the_gpu_shard_and_on_the_least_loaded_cpu_shard():
    pages = {"chapter.md": (300.0, True), "a.md": (200.0, False), "b.md": (100.0, False),
             "c.md": (50.0, False)}
    shares = assign(pages, 3, frozenset({3}))
    assert shares == {1: ["chapter.md", "c.md"], 2: ["a.md", "b.md"], 3: ["chapter.md"]}
    # each shard computes the same split, whichever shard it is and in whatever page order
    assert all(assign(dict(order), 3, frozenset({3})) == shares
               for order in (reversed(list(pages.items())), sorted(pages.items())))
    # no GPU shard named (a CPU-only workflow): every page once, on the CPU shards
    assert assign(pages, 2) == {1: ["chapter.md", "c.md"], 2: ["a.md", "b.md"]}
    assert assign(pages, 2, frozenset({1, 2})) == assign(pages, 2)  # all shards have a GPU


def test_shards_are_balanced_by_duration():
    durations = {f"p{i:03}": (float(d), False) for i, d in enumerate([300, 200, 120, 100, 90, 60,
                                                                       60, 45, 30, 30, 20, 10] * 4)}
    loads = [sum(durations[p][0] for p in share) for share in assign(durations, 4).values()]
    assert max(loads) / (sum(loads) / 4) <= 1.05


def test_a_shard_option_reads_as_a_value():
    from d2l_compiler.engine.run.shard import Shard

    shard = parse_shard(" 2 / 4 ", "4, 3")
    assert shard == Shard(2, 4, frozenset({3, 4})) and str(shard) == "2/4"
    assert {shard: "the same shard"}[parse_shard("2/4", "3,4")]  # a value: equal and hashable
    assert parse_shard("1/1") == Shard(1, 1)


@pytest.mark.parametrize("text, gpus", [("0/4", None), ("5/4", None), ("a/b", None), ("1", None),
                                        ("1/4", "5"), ("1/4", "x")])
def test_bad_shard_options_are_one_line(text, gpus):
    with pytest.raises(UsageError, match="^--(gpu-)?shard"):
        parse_shard(text, gpus)


# --- real builds -------------------------------------------------------------------------

def _book(site: FixtureSite, pages: int, fail: int | None = None) -> None:
    """``pages`` pages of one region each (sleeping, so that pages overlap when parallel);
    page 0 measures time (exclusive); page ``fail`` raises."""
    for i in range(pages):
        site.write(f"docs/p{i}.md", f'# P{i}\n\ntext\n\n```python\n--8<-- "snippets/s{i}.py:r"\n```\n')
        body = f"import time\ntime.sleep(0.6)\nprint('page {i}')\nvalue = {i}"
        if i == 0:
            body = "import time\nassert time.perf_counter() > 0\nprint('timing page')"
        if i == fail:
            body = f"raise ValueError('page {i} fails')"
        site.write(f"snippets/s{i}.py", f"# --8<-- [start:r]\n{body}\n# --8<-- [end:r]\n")


def _outputs(record: dict) -> dict:
    return {page: [(r["id"], r["run"]["status"], r["run"]["stdout"], r["run"]["values"])
                   for r in entry["regions"]]
            for page, entry in record["pages"].items()}


def same_as_serial(site: FixtureSite, pages: int, *options: str) -> list[tuple]:
    """Build the book of ``pages`` pages serially, then again (forced) with ``options``: the
    same outputs, every page once, the timing page alone; the second build's spans
    (page, start, end, worker). A site built afterwards runs nothing."""
    _book(site, pages)
    serial = site.build("--no-site", "--jobs", "1")
    assert serial.code == 0, serial.stderr
    expected = _outputs(site.record())
    other = site.build("--no-site", "--force", *options)
    assert other.code == 0, other.stderr
    record = site.record()
    assert _outputs(record) == expected
    timeline = record["provenance"]["summary"]["timeline"]
    assert sorted(t["page"] for t in timeline) == [f"p{i}.md" for i in range(pages)]
    spans = [(t["page"], t["started"], t["ended"], t["worker"]) for t in timeline]
    timing = next(s for s in spans if s[0] == "p0.md")
    assert not any(_overlap(timing, s) for s in spans if s is not timing)
    assert next(t for t in timeline if t["page"] == "p0.md")["exclusive"]
    published = site.build()
    assert published.code == 0 and f"0 run, {pages} cached" in published.stdout
    return spans


def test_a_parallel_build_records_what_a_serial_one_does(site):
    spans = same_as_serial(site, 6, "--jobs", "2")
    assert len({s[3] for s in spans}) == 2  # two worker processes did the work
    assert any(_overlap(a, b) for a in spans for b in spans if a is not b)  # really in parallel


def _report(stderr: str) -> list[str]:
    """A failed build's report without what differs between runs (times, log paths)."""
    return [line for line in stderr.splitlines() if "elapsed" not in line
            and "full log" not in line and "build failed" not in line]


def test_a_failing_page_in_a_parallel_build_is_reported_as_in_a_serial_one(site):
    _book(site, 5, fail=2)
    site.write("snippets/s3.py", "# --8<-- [start:r]\nimport time\ntime.sleep(30)\n"
                                 "# --8<-- [end:r]\n")
    serial = site.build("--no-site", "--jobs", "1", "--timeout", "2")
    parallel = site.build("--no-site", "--jobs", "2", "--timeout", "2", "--force")
    for result in (serial, parallel):
        assert result.code == 1
        assert "docs/p2.md:6: region 'r' failed: exception: ValueError: page 2 fails" in result.stderr
        assert "at snippets/s2.py:2" in result.stderr
        assert "docs/p3.md:6: region 'r' failed: timeout after 2 s" in result.stderr
        assert "the record and the site were left unchanged" in result.stderr
    assert _report(parallel.stderr) == _report(serial.stderr)  # the same words, in page order
    assert not (site.root / ".d2l" / "record.json").exists()
    # the other pages' results were kept: fixed pages 2 and 3 run alone
    for page in (2, 3):
        site.write(f"snippets/s{page}.py", "# --8<-- [start:r]\nprint('fixed')\n# --8<-- [end:r]\n")
    fixed = site.build("--no-site", "--jobs", "2")
    assert fixed.code == 0 and "pages: 2 run, 3 cached" in fixed.stdout


def _shard_records(site: FixtureSite, count: int) -> list[Path]:
    paths = []
    for k in range(1, count + 1):
        result = site.build("--shard", f"{k}/{count}")
        assert result.code == 0, result.stderr
        paths.append(site.root / ".d2l" / "shards" / f"{k}-of-{count}.json")
    return paths


def test_shards_cover_the_book_and_merge_in_any_order_into_a_site_that_runs_nothing(site):
    _book(site, 5)
    paths = _shard_records(site, 3)
    shares = [set(json.loads(p.read_text())["pages"]) for p in paths]
    assert sorted(p for share in shares for p in share) == [f"p{i}.md" for i in range(5)]
    assert not (site.root / ".d2l" / "record.json").exists()  # shards write only their own
    merged = []
    for names in (paths, list(reversed(paths)), [paths[1], paths[0], paths[2]]):
        result = site.run("merge", *map(str, names), "--no-site")
        assert result.code == 0, result.stderr
        merged.append((site.root / ".d2l" / "record.json").read_text())
    assert merged[0] == merged[1] == merged[2]
    built = site.build()
    assert built.code == 0 and "regions: 0 run, 5 cached" in built.stdout
    assert "page 3" in site.html("p3")


def test_merge_refuses_records_of_other_sources_and_incomplete_sets(site):
    _book(site, 3)
    paths = _shard_records(site, 2)
    missing = site.run("merge", str(paths[0]), "--no-site")
    assert missing.code == 2 and "merge: no record has" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    older = paths[1].with_name("older.json")
    older.write_text(paths[1].read_text())
    page = next(iter(json.loads(older.read_text())["pages"]))
    number = page[1]
    site.write(f"snippets/s{number}.py", "# --8<-- [start:r]\nprint('edited')\n# --8<-- [end:r]\n")
    assert site.build("--shard", "2/2").code == 0  # the same shard again, from the edited code
    clash = site.run("merge", str(paths[0]), str(paths[1]), str(older), "--no-site")
    assert clash.code == 2
    assert f"merge: {page}:" in clash.stderr and "different sources" in clash.stderr
    stale = site.run("merge", str(paths[0]), str(older), "--no-site")
    assert stale.code == 2 and f"merge: {page} (cpu) was built from other sources" in stale.stderr
    unknown = site.run("merge", str(site.root / "nope.json"))
    assert unknown.code == 2 and "no build record" in unknown.stderr
    for not_a_record in (site.root / "mkdocs.yml", site.root / "docs"):  # careless arguments
        refused = site.run("merge", str(not_a_record), "--no-site")
        assert refused.code == 2 and "unreadable build record" in refused.stderr
        assert "delete" not in refused.stderr  # never advice to delete what the user named
        assert not_a_record.exists()


def test_shards_sharing_a_store_directory_never_run_a_page_twice(site, tmp_path):
    _book(site, 4)
    shared = {"D2L_STORE_DIR": "../shared-store"}  # as CI restores it from its cache
    for k in (1, 2):
        assert site.build("--shard", f"{k}/2", env=shared).code == 0
    assert (tmp_path / "shared-store").is_dir() and not (site.root / ".d2l" / "store").exists()
    # a full build on the same store runs nothing: every page is there already
    full = site.build("--no-site", env=shared)
    assert full.code == 0 and "regions: 0 run, 4 cached" in full.stdout


def test_a_result_from_another_machine_is_vouched_for_by_its_sources_not_its_packages(site):
    """A GPU machine's torch build differs from this one's: its results stay valid while
    the code is unchanged, and are refused once it changes."""
    from d2l_compiler.engine.record.freshness import staleness
    from d2l_compiler.engine.record.model import PageEntry
    from d2l_compiler.engine.sources import key
    from d2l_compiler.engine.sources.discover import page_includes

    site.write("docs/index.md", '# t\n\n```python\n--8<-- "snippets/s.py:r"\n```\n')
    site.write("snippets/s.py", "# --8<-- [start:r]\nimport yaml\nprint(1)\n# --8<-- [end:r]\n")
    assert site.build("--no-site").code == 0
    project = Project(site.root / "mkdocs.yml")
    includes = page_includes(project, Path("index.md"))
    keys = key.include_keys(project.root, includes, "cuda", {"yaml": ["PyYAML==0.0-gpu-box"]})
    from d2l_compiler.engine.record.io import load_record
    entry = load_record(site.root / ".d2l" / "record.json").pages["index.md"]
    gpu = PageEntry(keys.key, keys.inputs, replace(entry.provenance, device="cuda"),
                    entry.executed_at, entry.duration, entry.peak_mb, entry.regions).sealed()
    assert staleness(project, includes, gpu) == []  # another device: its own packages stand
    assert "package PyYAML==0.0-gpu-box" in " ".join(staleness(project, includes, gpu,
                                                               elsewhere=False))
    site.write("snippets/s.py", "# --8<-- [start:r]\nimport yaml\nprint(2)\n# --8<-- [end:r]\n")
    assert staleness(project, page_includes(project, Path("index.md")), gpu) != []


def _hex(name: str) -> str:
    """A page key (hex SHA-256) standing for ``name``."""
    return hashlib.sha256(name.encode()).hexdigest()


def test_merge_keeps_one_result_per_page_and_device_whatever_the_order():
    """Two runs of the same key (a page both shards ran, at different times): the later one
    is kept, in every order; devices stay apart; the build provenance covers every record."""
    import itertools

    from d2l_compiler.engine.record.merge import Labelled, merge_records
    from d2l_compiler.engine.record.model import PageEntry
    from d2l_compiler.engine.record.whole import BuildProvenance, Record

    def entry(device: str, key: str, at: str) -> PageEntry:
        inputs = {"device": device, "regions": [["s.py:r", "x"]], "files": {}, "data": {},
                  "packages": {}, "python": "3.11", "format": 3, "env": {}}
        return PageEntry(_hex(key), page_inputs(inputs), provenance({"device": device}), at, 1.0,
                         1.0, ()).sealed()

    def rec(commit: str, *entries: tuple[str, PageEntry]) -> Record:
        return Record(BuildProvenance(entries[0][1].inputs.device, commit, "2026-11-30", "3.11"),
                      dict(entries))

    early, late = entry("cpu", "k1", "2026-11-30T01:00:00Z"), entry("cpu", "k1", "2026-11-30T02:00:00Z")
    gpu = entry("cuda", "k2", "2026-11-30T03:00:00Z")
    records = [Labelled("a", rec("c1", ("p.md", late))), Labelled("b", rec("c2", ("p.md", early))),
               Labelled("g", rec("c3", ("p.md", gpu)))]
    results = {json.dumps(merge_records(list(order), prefer="cpu").to_json(), sort_keys=True)
               for order in itertools.permutations(records)}
    assert len(results) == 1
    merged = merge_records(records, prefer="cpu")
    assert merged.pages["p.md"] == late and merged.other_devices["p.md"] == (gpu,)
    assert merge_records(records).pages["p.md"] == gpu  # cuda is preferred by default
    assert merged.provenance.git_commit == "c1+c2+c3" and merged.provenance.device == "cpu+cuda"
    clash = entry("cpu", "k9", "2026-11-30T04:00:00Z")
    with pytest.raises(UsageError, match="merge: p.md: a and c hold cpu results built from "
                                         "different sources"):
        merge_records([records[0], Labelled("c", rec("c4", ("p.md", clash)))])
    other_code = replace(gpu, inputs=replace(gpu.inputs, regions=[("s.py:r", "edited")])).sealed()
    with pytest.raises(UsageError, match=r"merge: p.md: a \(cpu\) and h \(cuda\) were built "
                                         "from different sources"):
        merge_records([records[0], Labelled("h", rec("c5", ("p.md", other_code)))])


def test_a_gpu_page_from_a_cpu_shard_and_the_gpu_shard_merges_into_one_entry():
    """The shards' records as ``--gpu-shards`` leaves them: the chapter on cpu in CPU shard 1
    and on cuda in GPU shard 3 (which also carries the last record's cpu result, the same
    run), the other pages on cpu only. They merge, in any order, into one entry per page."""
    import itertools

    from d2l_compiler.engine.record.merge import Labelled, merge_records
    from d2l_compiler.engine.record.model import PageEntry
    from d2l_compiler.engine.record.whole import BuildProvenance, Record

    def entry(page: str, device: str, at: str) -> PageEntry:
        inputs = {"device": device, "regions": [[f"{page}:r", "sha"]], "files": {}, "data": {},
                  "packages": {}, "python": "3.11", "format": 3, "env": {}}
        return PageEntry(_hex(f"{page}-{device}"), page_inputs(inputs), provenance({"device": device}),
                         at, 1.0, 1.0, ()).sealed()

    cpu, gpu = entry("ch", "cpu", "2026-11-30T01:00:00Z"), entry("ch", "cuda", "2026-11-30T02:00:00Z")
    a, b = entry("a", "cpu", "2026-11-30T01:00:00Z"), entry("b", "cpu", "2026-11-30T01:00:00Z")
    shards = [Labelled("1-of-3.json", Record(BuildProvenance("cpu", "c", "d", "3.11"),
                                             {"ch.md": cpu, "a.md": a})),
              Labelled("2-of-3.json", Record(BuildProvenance("cpu", "c", "d", "3.11"),
                                             {"b.md": b})),
              Labelled("3-of-3.json", Record(BuildProvenance("cuda", "c", "d", "3.11"),
                                             {"ch.md": gpu}, other_devices={"ch.md": (cpu,)}))]
    merged = {json.dumps(merge_records(list(order)).to_json(), sort_keys=True)
              for order in itertools.permutations(shards)}
    assert len(merged) == 1
    record = merge_records(shards)
    assert record.pages == {"ch.md": gpu, "a.md": a, "b.md": b}
    assert record.other_devices == {"ch.md": (cpu,)} and record.provenance.device == "cpu+cuda"
    assert merge_records(shards, prefer="cpu").pages["ch.md"] == cpu


def test_a_shard_carries_other_devices_results_of_its_own_pages_only(site):
    """The last record holds every page on cpu and cuda; a page's code changes. The shard
    that runs it drops its stale cuda result; the other shard, which does not run it, must
    not carry that result either, or ``merge`` would refuse it (different sources)."""
    from conftest import seal
    from d2l_compiler.engine.sources.discover import read_region

    _book(site, 4)
    assert site.build("--no-site").code == 0
    path = site.root / ".d2l" / "record.json"
    record = json.loads(path.read_text())
    record["other_devices"] = {}
    for page, entry in record["pages"].items():  # as if merged with a GPU machine's record
        regions = [read_region(site.root, r["id"]) for r in entry["regions"] if r["executed"]]
        gpu = json.loads(json.dumps(entry))
        gpu["key"], gpu["inputs"] = page_key(site.root, regions, "cuda", page=page)
        gpu["provenance"]["device"] = "cuda"
        record["other_devices"][page] = [seal(gpu)]
    path.write_text(json.dumps(record))
    site.write("snippets/s1.py", "# --8<-- [start:r]\nprint('edited')\n# --8<-- [end:r]\n")
    paths = _shard_records(site, 2)
    for shard in paths:
        own = json.loads(shard.read_text())
        assert set(own.get("other_devices", {})) <= set(own["pages"]) - {"p1.md"}
    merged = site.run("merge", *map(str, paths), "--no-site")
    assert merged.code == 0, merged.stderr
    assert set(json.loads(path.read_text())["other_devices"]) == {"p0.md", "p2.md", "p3.md"}


def test_shard_estimates_come_from_the_last_record():
    from d2l_compiler.engine.record.model import PageEntry
    from d2l_compiler.engine.record.whole import BuildProvenance, Record
    from d2l_compiler.engine.run.shard import DEFAULT_ESTIMATE, page_estimates

    def entry(seconds: float) -> PageEntry:
        return PageEntry("k", {}, {}, "t", seconds, 0.0, ())

    last = Record(BuildProvenance("cpu", "c", "d", "3.11"),
                  {"a.md": entry(30.0), "b.md": entry(2.0), "c.md": entry(4.0)})
    estimate = page_estimates(last)
    assert [estimate(p) for p in ("a.md", "b.md", "c.md", "new.md")] == [30.0, 2.0, 4.0, 4.0]
    assert page_estimates(None)("any.md") == DEFAULT_ESTIMATE


def test_a_page_that_kills_its_worker_fails_the_build_naming_it(site):
    _book(site, 3)
    # the page runs under its keeper, whose parent is the worker
    site.write("snippets/s1.py", "# --8<-- [start:r]\nimport os, signal\n"
                                 "stat = open(f'/proc/{os.getppid()}/stat').read()\n"
                                 "worker = int(stat.rpartition(')')[2].split()[1])\n"
                                 "os.kill(worker, signal.SIGKILL)\n# --8<-- [end:r]\n")
    result = site.build("--no-site", "--jobs", "2")
    assert result.code == 1
    assert "p1.md: the worker running this page stopped" in result.stderr
    assert "the record and the site were left unchanged" in result.stderr


def test_a_page_that_kills_its_keeper_fails_the_build_naming_it(site):
    _book(site, 3)
    site.write("snippets/s1.py", "# --8<-- [start:r]\nimport os, signal\n"
                                 "os.kill(os.getppid(), signal.SIGKILL)\n# --8<-- [end:r]\n")
    result = site.build("--no-site", "--jobs", "2")
    assert result.code == 1
    assert "docs/p1.md:6: region 'r' failed: crash" in result.stderr and "SIGKILL" in result.stderr
    assert "the record and the site were left unchanged" in result.stderr
