"""Region-level execution: an edit re-runs the region it touches and the regions that depend
on it, nothing else; what static analysis cannot see errs towards re-running; outputs after
any sequence of edits equal those of a forced build. Fixture pages, no torch; what ran is read
from the build's summary, never from timings."""

from __future__ import annotations

import io
import random
import shutil

import pytest

from d2l_compiler.engine.build import BuildOptions, build
from d2l_compiler.engine.record.freshness import check
from d2l_compiler.engine.record.io import load_record
from d2l_compiler.engine.progress import PlainProgress
from d2l_compiler.engine.run.runner import Limits
from d2l_compiler.engine.sources.graph import page_graph
from d2l_compiler.engine.sources.usage import usage
from d2l_compiler.engine.sources.discover import Region
from d2l_compiler.engine.sources.project import Project

OWN = "<!-- d2l: own-process -->\n\n"


def _write(root, regions: list[tuple[str, str]], own: frozenset[str] = frozenset()) -> None:
    """One page ``docs/p.md`` including each region of ``snippets/s.py`` in the order given."""
    (root / "snippets").mkdir(exist_ok=True)
    (root / "docs").mkdir(exist_ok=True)
    (root / "mkdocs.yml").write_text("site_name: t\nplugins:\n  - d2l\n")
    (root / "snippets" / "s.py").write_text("".join(
        f"# --8<-- [start:{name}]\n{code}\n# --8<-- [end:{name}]\n" for name, code in regions))
    (root / "docs" / "p.md").write_text("# p\n\n" + "".join(
        f'{OWN if name in own else ""}```python\n--8<-- "snippets/s.py:{name}"\n```\n\ntext\n\n'
        for name, _ in regions))


def _build(root, force: bool = False) -> list[str]:
    """Build; the sections of the regions that ran in this build."""
    ran = build(Project(root / "mkdocs.yml"), BuildOptions(force=force, limits=Limits(timeout=60)),
                None, PlainProgress(io.StringIO())).regions_ran
    return [entry.rpartition(":")[2] for entry in ran]


def _outputs(root) -> dict[str, str]:
    entry = load_record(root / ".d2l" / "record.json").pages["p.md"]
    return {r.section: r.run.stdout for r in entry.executed}


CHAIN = [("a", "x = 1\nprint('a', x)"),
         ("b", "y = x + 1\nprint('b', y)"),
         ("c", "print('c', 7)"),
         ("d", "print('d', y * 10)")]


def test_a_leaf_edit_reruns_only_the_leaf(tmp_path):
    _write(tmp_path, CHAIN)
    assert _build(tmp_path) == ["a", "b", "c", "d"]
    assert _build(tmp_path) == []
    _write(tmp_path, [*CHAIN[:2], ("c", "print('c', 8)"), CHAIN[3]])
    assert _build(tmp_path) == ["c"]
    assert _outputs(tmp_path) == {"a": "a 1\n", "b": "b 2\n", "c": "c 8\n", "d": "d 20\n"}


def test_a_root_edit_reruns_exactly_its_descendants_with_their_ancestors_rebuilt(tmp_path):
    _write(tmp_path, CHAIN)
    _build(tmp_path)
    _write(tmp_path, [("a", "x = 5\nprint('a', x)"), *CHAIN[1:]])
    assert _build(tmp_path) == ["a", "b", "d"]  # c reads nothing of theirs
    assert _outputs(tmp_path)["d"] == "d 60\n"
    # an edit in the middle: d needs b's y, and b needs a's x, rebuilt but not re-recorded
    _write(tmp_path, [("a", "x = 5\nprint('a', x)"), ("b", "y = x + 2\nprint('b', y)"), *CHAIN[2:]])
    assert _build(tmp_path) == ["b", "d"]
    assert _outputs(tmp_path) == {"a": "a 5\n", "b": "b 7\n", "c": "c 7\n", "d": "d 70\n"}


def test_reordering_reruns_what_the_order_affects(tmp_path):
    _write(tmp_path, CHAIN)
    _build(tmp_path)
    _write(tmp_path, [CHAIN[2], CHAIN[0], CHAIN[1], CHAIN[3]])  # c moves first: nothing reads it
    assert _build(tmp_path) == []
    entry = load_record(tmp_path / ".d2l" / "record.json").pages["p.md"]
    assert [(r.section, r.run.stdout) for r in entry.executed] == [  # each output in its place
        ("c", "c 7\n"), ("a", "a 1\n"), ("b", "b 2\n"), ("d", "d 20\n")]
    rebinds = ("e", "y = 100")  # now d reads e's y, not b's
    _write(tmp_path, [CHAIN[2], CHAIN[0], CHAIN[1], rebinds, CHAIN[3]])
    assert _build(tmp_path) == ["e", "d"]
    assert _outputs(tmp_path)["d"] == "d 1000\n"


def test_a_region_that_mutates_an_earlier_object_is_a_dependency_of_later_readers(tmp_path):
    regions = [("make", "items = [1]"), ("grow", "items.append(2)"), ("show", "print(items)")]
    _write(tmp_path, regions)
    _build(tmp_path)
    _write(tmp_path, [regions[0], ("grow", "items.append(3)"), regions[2]])
    assert _build(tmp_path) == ["grow", "show"]  # a use may mutate: show depends on grow
    assert _outputs(tmp_path)["show"] == "[1, 3]\n"


def test_exec_and_module_state_err_towards_rerunning(tmp_path):
    regions = [("seed", "import random\nrandom.seed(1)"),
               ("draw", "import random\nprint(random.random() < 2)"),
               ("magic", "exec('z = 3')"),
               ("after", "print(z)")]
    _write(tmp_path, regions)
    _build(tmp_path)
    _write(tmp_path, [("seed", "import random\nrandom.seed(2)"), *regions[1:]])
    # draw imports the module seed changed; magic can bind any name, so after follows it
    assert _build(tmp_path) == ["seed", "draw", "magic", "after"]
    _write(tmp_path, [("seed", "import random\nrandom.seed(2)"), regions[1],
                      ("magic", "exec('z = 4')"), regions[3]])
    assert _build(tmp_path) == ["magic", "after"]
    assert _outputs(tmp_path)["after"] == "4\n"


def test_files_written_by_one_region_are_read_by_a_later_one(tmp_path):
    regions = [("write", "open('f.txt', 'w').write('one')"),
               ("read", "from pathlib import Path\nprint(Path('f.txt').read_text())")]
    _write(tmp_path, regions)
    _build(tmp_path)
    _write(tmp_path, [("write", "open('f.txt', 'w').write('two')"), regions[1]])
    assert _build(tmp_path) == ["write", "read"]
    assert _outputs(tmp_path)["read"] == "two\n"


def test_a_declared_dependency_is_honoured(tmp_path):
    regions = [("hidden", "import builtins\nbuiltins.answer = 41"),
               ("uses", "# depends: builtins\nprint(answer + 1)")]
    _write(tmp_path, regions)
    _build(tmp_path)
    _write(tmp_path, [("hidden", "import builtins\nbuiltins.answer = 1"), regions[1]])
    assert _build(tmp_path) == ["hidden", "uses"]
    assert _outputs(tmp_path)["uses"] == "2\n"


def test_a_region_marked_own_process_runs_alone_after_its_ancestors(tmp_path):
    log = tmp_path.with_name(tmp_path.name + "-setup-ran-in.txt")  # a region writes only
    # outside the project
    setup = ("setup", f"import os\nbase = 10\nopen({str(log)!r}, 'a').write(f'{{os.getpid()}}\\n');")
    regions = [setup, ("timed", "print(base + 1)"), ("later", "print(base + 2)")]
    _write(tmp_path, regions, own=frozenset({"timed"}))
    assert _build(tmp_path) == ["setup", "timed", "later"]
    assert _outputs(tmp_path) == {"setup": "", "timed": "11\n", "later": "12\n"}
    first = log.read_text().split()
    assert len(first) == len(set(first)) == 2  # setup ran in the page's process and again in timed's
    _write(tmp_path, [setup, ("timed", "print(base + 3)"), regions[2]], own=frozenset({"timed"}))
    assert _build(tmp_path) == ["timed"]  # later is not affected: timed's process was its own
    assert _outputs(tmp_path)["timed"] == "13\n"
    assert len(set(log.read_text().split())) == 3  # its ancestor was rebuilt in a new process


def test_an_ancestor_that_does_not_reproduce_makes_the_whole_page_run_again(tmp_path):
    regions = [("draw", "import random\nt = random.random()\nprint(t)"),
               ("steady", "print('steady')"), ("show", "print(t)")]
    _write(tmp_path, regions)
    _build(tmp_path)
    _write(tmp_path, [*regions[:2], ("show", "print(t, 'again')")])
    # draw re-run to rebuild t drew another number: show's output would not match the
    # draw the page shows, so every region runs again in one process
    assert _build(tmp_path) == ["draw", "steady", "show"]
    outputs = _outputs(tmp_path)
    assert outputs["show"] == outputs["draw"].strip() + " again\n"


def test_a_region_in_its_own_process_may_not_follow_a_non_deterministic_one(tmp_path):
    regions = [("draw", "import random\nt = random.random()"), ("timed", "print(t)")]
    _write(tmp_path, regions, own=frozenset({"timed"}))
    # timed's process re-runs draw, which draws another t than the page's process showed
    with pytest.raises(Exception, match=r"docs/p.md:\d+: region 'draw' \(snippets/s.py:2\) "
                                        r"printed or bound something else .*seed it"):
        _build(tmp_path)
    assert not (tmp_path / ".d2l" / "record.json").exists()
    _write(tmp_path, [("draw", "import random\nrandom.seed(3)\nt = random.random()"),
                      regions[1]], own=frozenset({"timed"}))
    assert _build(tmp_path) == ["draw", "timed"]  # seeded: both processes agree


@pytest.mark.parametrize("timing", [
    # its own code reads a clock: the engine knows it prints a measurement
    "import time\nstart = time.perf_counter()\nsum(range(1000))\n"
    "print(f'took {time.perf_counter() - start:.9f} s')",
    # or the author says so
    "# varies\nimport random\nprint('drew', random.random())",
])
def test_an_edit_after_a_measurement_reruns_only_what_it_affects(tmp_path, timing):
    """A region whose output varies by nature (a timing) prints something else each time it
    is re-run to rebuild state: that is not a disagreement, so an edit to a later region
    runs that region alone (with its ancestors replayed), not the whole page again."""
    regions = [("setup", "data = list(range(10))"), ("measure", timing),
               ("show", "print(sum(data))")]
    _write(tmp_path, regions)
    assert _build(tmp_path) == ["setup", "measure", "show"]
    shown = _outputs(tmp_path)["measure"]
    _write(tmp_path, [*regions[:2], ("show", "print(sum(data), 'again')")])
    assert _build(tmp_path) == ["show"]
    assert _outputs(tmp_path)["measure"] == shown  # the page keeps the run it showed
    assert _outputs(tmp_path)["show"] == "45 again\n"


def test_a_measurement_whose_value_a_later_region_reads_still_runs_the_page_again(tmp_path):
    """Not a weakening of never-stale: when a later region reads what the varying region
    bound, the state walk sees the replay left other state, and the page runs whole."""
    regions = [("measure", "# varies\nimport random\nt = random.random()\nprint(t)"),
               ("show", "print(t)")]
    _write(tmp_path, regions)
    _build(tmp_path)
    _write(tmp_path, [regions[0], ("show", "print(t, 'again')")])
    assert _build(tmp_path) == ["measure", "show"]
    outputs = _outputs(tmp_path)
    assert outputs["show"] == outputs["measure"].strip() + " again\n"


def test_a_region_in_its_own_process_may_follow_a_measurement_that_leaves_the_same_state(
        tmp_path):
    regions = [("measure", "import time\nprint(time.perf_counter_ns() % 1000 >= 0, "
                           "time.perf_counter())"), ("timed", "print('own process')")]
    _write(tmp_path, regions, own=frozenset({"timed"}))
    assert _build(tmp_path) == ["measure", "timed"]  # no "seed it": a timing cannot be seeded


def test_check_names_the_edit_and_its_reach(tmp_path):
    _write(tmp_path, CHAIN)
    _build(tmp_path)
    _write(tmp_path, [("a", "x = 2\nprint('a', x)"), *CHAIN[1:]])
    [reasons] = check(Project(tmp_path / "mkdocs.yml")).values()
    assert "snippets/s.py:a changed → a, b, d must re-run" in reasons


def test_a_failing_region_keeps_the_results_of_the_processes_that_succeeded(tmp_path):
    _write(tmp_path, CHAIN, own=frozenset({"c"}))
    _build(tmp_path)
    edited = [CHAIN[0], ("b", "y = x + 5\nprint('b', y)"), ("c", "1 / 0"), CHAIN[3]]
    _write(tmp_path, edited, own=frozenset({"c"}))
    with pytest.raises(Exception, match="region 'c' failed"):
        _build(tmp_path)
    assert not _outputs(tmp_path)["b"].startswith("b 6")  # the record was left as it was
    _write(tmp_path, [*edited[:2], ("c", "print('c', 9)"), CHAIN[3]], own=frozenset({"c"}))
    assert _build(tmp_path) == ["c"]  # b and d ran in the failed build and were kept
    assert _outputs(tmp_path) == {"a": "a 1\n", "b": "b 6\n", "c": "c 9\n", "d": "d 60\n"}


@pytest.mark.parametrize("seed", range(5))
def test_any_sequence_of_edits_gives_the_outputs_of_a_forced_build(tmp_path, seed):
    rng = random.Random(seed)
    variants = {
        "a": ["x = 1", "x = 2", "x = 3\nitems = []"],
        "b": ["y = x * 2", "y = x + 100", "items = [x]"],
        "c": ["print('c', x)", "print('c', y)", "print('c', 0)"],
        "d": ["items = [0]\nprint(items)", "items.append(y) if 'items' in dir() else None",
              "print('d', x + y)"],
        "e": ["print('e', y)", "print('e', items if 'items' in dir() else None)",
              "print('e', 5)"],
    }
    current = {name: options[0] for name, options in variants.items()}
    order = list(variants)
    for _ in range(6):
        name = rng.choice(order)
        current[name] = rng.choice(variants[name])
        if rng.random() < 0.3:
            i = rng.randrange(len(order) - 1)
            order[i], order[i + 1] = order[i + 1], order[i]
        _write(tmp_path, [(n, current[n]) for n in order])
        try:
            _build(tmp_path)
            incremental = _outputs(tmp_path)
        except Exception as exc:  # noqa: BLE001 - a NameError after a reorder is an outcome too
            incremental = f"failed: {type(exc).__name__}"
        try:
            _build(tmp_path, force=True)
            forced = _outputs(tmp_path)
        except Exception as exc:  # noqa: BLE001
            forced = f"failed: {type(exc).__name__}"
        assert incremental == forced, (order, current)


# --- the static analysis ------------------------------------------------------------------

def _graph(*codes: str, own: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    regions = [Region("s.py", f"r{i}", 1, code) for i, code in enumerate(codes)]
    return [n.deps for n in page_graph(regions, [i in own for i in range(len(codes))])]


@pytest.mark.parametrize(("codes", "deps"), [
    (("x = 1", "print(x)"), [(), (0,)]),
    (("x = 1", "x = 2", "print(x)"), [(), (), (1,)]),  # rebinding ends the chain
    (("x = 1", "x += 1", "print(x)"), [(), (0,), (1,)]),
    (("x = 1", "if x:\n    x = 2", "print(x)"), [(), (0,), (1,)]),  # maybe rebound
    (("def f():\n    return g", "g = 1", "print(f())"), [(), (), (0, 1)]),  # closures
    (("i = 5", "[i for i in range(3)]", "print(i)"), [(), (), (0,)]),  # comprehension scope
    (("def f(a, b):\n    e = a + b\n    return e", "e = 1", "print(e)"), [(), (), (1,)]),
    (("def f():\n    global g\n    g = 1", "f()", "print(g)"), [(), (0,), (0, 1)]),
    # a loop variable may keep its old value (no iteration): readers depend on both binders,
    # but the loop itself does not depend on the earlier one
    (("_ = 5", "for _ in range(0):\n    pass", "print(_)"), [(), (), (0, 1)]),
    (("for _ in range(2):\n    pass", "with open('f') as _:\n    pass"), [(), ()]),
    (("x = 1", "globals()['x'] = 2", "print(1)"), [(), (0,), (1,)]),
    (("x = 1", "exec('y = 1', {})", "import os", "print(x)"), [(), (), (1,), (0,)]),
    (("x = 1", "from os import *", "print(2)"), [(), (0,), (1,)]),
    (("import torch", "print(1)", "import torch.nn"), [(), (), (0,)]),
    # a module used through a name bound earlier: its state is still the module's
    (("import numpy as np", "np.random.seed(1)", "import numpy\nprint(numpy.random.rand())"),
     [(), (0,), (1,)]),
    (("open('f', 'w')", "import shutil"), [(), (0,)]),
    (("x = 1", "# depends: *\nprint(2)"), [(), (0,)]),
    (("x = (", "print(1)"), [(), (0,)]),  # does not parse: depends on, and blocks, everything
])
def test_dependencies(codes, deps):
    assert _graph(*codes) == deps


def test_own_process_regions_keep_module_state_to_themselves():
    deps = _graph("import random\nrandom.seed(1)", "import random", "import random", own=(1,))
    assert deps == [(), (0,), (0,)]  # the third does not see the second's module state
    # ... but a region reading a name it bound runs in a process of its own too
    regions = [Region("s.py", f"r{i}", 1, c) for i, c in enumerate(["a = 1", "b = a", "print(b)"])]
    nodes = page_graph(regions, [False, True, False])
    assert [n.own_process for n in nodes] == [False, True, True] and nodes[2].deps == (0, 1)


def test_usage_reads_what_code_reads_before_binding_it():
    found = usage("import torch\nnet = get_net()\nprint(net(x))")
    assert found.binds == {"torch", "net"}
    assert {"get_net", "x", "<module torch>"} <= found.reads and "net" not in found.reads


def test_the_chapter_s_timing_regions_depend_only_on_the_code_that_builds_the_model():
    """Each timing region runs in a process of its own after its ancestors: if one timing
    region became another's ancestor (a shared loop variable, say), its timings would be
    re-run and differ, and the build would fail. Read from the real chapter, nothing runs."""
    from d2l_compiler.engine.sources import key
    from d2l_compiler.engine.sources.discover import discover
    from conftest import ROOT

    project = Project(ROOT / "mkdocs.yml")
    nodes = key.include_keys(project.root, discover(project)["compilers.md"], "cpu").nodes
    names = [n.region.section for n in nodes]
    depends = {n.region.section: {names[d] for d in n.deps} for n in nodes}
    timing = {"benchmark", "benchmark_repeated", "seed_vs_careful", "compile_paths",
              "call_overhead", "profile_call"}
    assert {n.region.section for n in nodes if n.own_process} == timing
    for name in timing | {"save"}:
        assert depends[name] == {"symbolic", "script"}, (name, depends[name])
    assert depends["fancy_func"] == set() and "fancy_func" not in set().union(*depends.values())


def test_a_page_says_which_commits_its_results_were_run_at(tmp_path):
    """Results kept from an earlier build keep the commit they ran at: a page whose regions
    ran at two commits names both, and one that ran again at one names it alone."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True,
                              text=True).stdout.strip()

    def commit(message: str) -> str:
        git("add", "-A")
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)
        return git("rev-parse", "--short=12", "HEAD")

    git("init", "-q")
    (tmp_path / ".gitignore").write_text(".d2l/\ndocs/generated/\n")
    _write(tmp_path, [("a", "print(1)"), ("b", "print(2)")])
    first = commit("one")
    assert _build(tmp_path) == ["a", "b"]
    _write(tmp_path, [("a", "print(1)"), ("b", "print(3)")])
    second = commit("two")
    assert _build(tmp_path) == ["b"]
    provenance = load_record(tmp_path / ".d2l" / "record.json").pages["p.md"].provenance
    assert (provenance.first_git_commit, provenance.git_commit) == (first, second)
    shutil.rmtree(tmp_path / ".d2l" / "store")  # the results now come from the record alone,
    assert _build(tmp_path) == []  # which keeps one provenance per page: no span to claim
    provenance = load_record(tmp_path / ".d2l" / "record.json").pages["p.md"].provenance
    assert provenance.git_commit == second and provenance.first_git_commit is None
    assert _build(tmp_path, force=True) == ["a", "b"]
    provenance = load_record(tmp_path / ".d2l" / "record.json").pages["p.md"].provenance
    assert provenance.git_commit == second and provenance.first_git_commit is None
