"""Run mutants in worker copies of the project, remembering results between runs.

Each worker process owns one copy of the project (``.d2l/mutation/copy-N``). First every fast
test file runs once under coverage.py (subprocesses included) to learn which files execute
which engine lines. Then, for each mutant, cosmic-ray writes the mutation into the worker's
copy, runs the test files that execute its line, and restores the file. A mutant on a line no
test executes survives without running anything. Results are kept in
``.d2l/mutation/state.json``: a mutant is run again only when its module's source changed or,
for a survivor, when the tests changed.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import multiprocessing
import multiprocessing.pool
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from mutation.plan import (COVERAGE_BLIND, ENGINE, FAST_TESTS, IN_PROCESS_TESTS, ROOT,
                           operator_kept)

STATE_DIR = ROOT / ".d2l" / "mutation"
KILLED, SURVIVED, TIMEOUT, INCOMPETENT = "killed", "survived", "timeout", "incompetent"
NOT_RUN = "not run"


@dataclass(frozen=True)
class Mutant:
    """One planted bug: an operator applied at one occurrence in one module."""

    module: str  # relative to d2l_compiler/engine
    operator: str
    occurrence: int
    line: int

    @property
    def key(self) -> str:
        return f"{self.operator}#{self.occurrence}"


@dataclass(frozen=True)
class Outcome:
    """What the module's tests did with one mutant."""

    status: str  # KILLED, SURVIVED, TIMEOUT or INCOMPETENT
    seconds: float
    diff: str


def _sha(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def source_sha(module: str) -> str:
    return _sha([ROOT / ENGINE / module])


def tests_sha() -> str:
    """Everything a test run depends on besides the module under test."""
    files = [p for p in (ROOT / "tests").rglob("*.py")]
    files += [p for p in (ROOT / "d2l_compiler").rglob("*.py")]
    return _sha(files)


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions of every annotation: under ``from __future__ import annotations``
    they are strings nobody evaluates, so a mutant inside one changes no behaviour."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        found = []
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            found.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            found.append(node.returns)
        spans += [((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)) for a in found]
    return spans


def mutants_of(module: str) -> list[Mutant]:
    """Every mutant cosmic-ray would plant in ``module``, minus the operators we do not keep
    and the mutants inside annotations (never evaluated in this code base)."""
    from cosmic_ray.commands.init import init
    from cosmic_ray.work_db import WorkDB, use_db

    source = (ROOT / ENGINE / module).read_text(encoding="utf-8")
    assert "from __future__ import annotations" in source, f"{module}: annotations are evaluated"
    spans = _annotation_spans(source)
    with tempfile.TemporaryDirectory() as tmp, use_db(Path(tmp) / "w.sqlite", WorkDB.Mode.create) as db:
        init([ROOT / ENGINE / module], db, {})
        specs = [m for item in db.work_items for m in item.mutations]
    return sorted((Mutant(module, s.operator_name, s.occurrence, s.start_pos[0])
                   for s in specs if operator_kept(s.operator_name)
                   and not any(start <= tuple(s.start_pos) < end for start, end in spans)),
                  key=lambda m: (m.line, m.operator, m.occurrence))


def make_copies(count: int) -> list[Path]:
    """Fresh copies of the project's files (tracked and not ignored), one per worker."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    copies = []
    for index in range(count):
        copy = STATE_DIR / f"copy-{index}"
        shutil.rmtree(copy, ignore_errors=True)
        for name in filter(None, listed):
            if (ROOT / name).is_file():
                (copy / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, copy / name)
        copies.append(copy)
    return copies


def test_command(copy: Path, tests: Iterable[str]) -> str:
    """pytest on ``tests`` (node ids or files, relative to the copy), importing the copy's code
    (also in the subprocesses a build starts), stopping at the first failure."""
    selected = " ".join(shlex.quote(t) for t in tests)
    return (f"env PYTHONPATH={copy} PYTHONHASHSEED=0 {sys.executable} -m pytest -x -q "
            f"-p no:cacheprovider -o addopts= --rootdir={copy} "
            f"--basetemp={Path(tempfile.gettempdir()) / 'd2l-mutation' / copy.name} "
            f"{selected}")


_COPY: Path | None = None


def _claim_copy(copies: multiprocessing.Queue) -> None:
    global _COPY
    _COPY = copies.get()
    os.chdir(_COPY)
    (Path(tempfile.gettempdir()) / "d2l-mutation").mkdir(exist_ok=True)  # pytest's --basetemp parent


def _run_one(task: tuple[Mutant, tuple[str, ...], float]) -> tuple[Mutant, Outcome]:
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_item import MutationSpec, TestOutcome

    mutant, tests, timeout = task
    assert _COPY is not None
    spec = MutationSpec(module_path=_COPY / ENGINE / mutant.module, operator_name=mutant.operator,
                        occurrence=mutant.occurrence, start_pos=(mutant.line, 0),
                        end_pos=(mutant.line, 1))
    started = time.monotonic()
    result = mutate_and_test([spec], test_command(_COPY, tests), timeout)
    seconds = time.monotonic() - started
    if result.test_outcome == TestOutcome.KILLED:
        status = TIMEOUT if result.output == "timeout" else KILLED
    elif result.test_outcome == TestOutcome.SURVIVED:
        status = SURVIVED
    else:
        status = INCOMPETENT
    return mutant, Outcome(status, round(seconds, 2), result.diff or "")


def _test_of(context: str) -> str:
    """The node id in a coverage context: ``STATIC|DYNAMIC`` in the pytest process (static
    ``-``), ``STATIC`` in a subprocess; "" for code run outside any test."""
    label = context.removeprefix("-|")  # node ids may hold "|" themselves
    return "" if label in ("", "-") else label


def _cover_one(test_file: str) -> tuple[str, float, dict[str, dict[int, list[str]]]]:
    """Run one test file on unmutated code under coverage: its seconds, and for each engine
    line it executed (in any process) the node ids of the tests that did ("" where a line ran
    outside any test, at import). Exits loudly if the file fails before any mutation."""
    import coverage

    assert _COPY is not None
    data_dir = _COPY / ".coverage-data" / Path(test_file).stem
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    rc = data_dir / "rc"
    # started in every Python process by coverage's .pth; each subprocess reads the context
    # afresh from the environment, where tests/conftest.py puts the running test's node id
    rc.write_text(f"[run]\nsource = {_COPY / ENGINE}\nparallel = true\n"
                  f"data_file = {data_dir / 'data'}\ncontext = ${{D2L_COVERAGE_CONTEXT}}\n")
    blind = [t for t in COVERAGE_BLIND if t.startswith(test_file + "::")]
    command = (f"env COVERAGE_PROCESS_START={rc} D2L_COVERAGE_CONTEXT=- "
               + test_command(_COPY, [test_file]) + "".join(f" --deselect={shlex.quote(t)}" for t in blind))
    started = time.monotonic()
    proc = subprocess.run(command, shell=True, cwd=_COPY, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-15:])
        raise RuntimeError(f"{test_file} fails before any mutation; fix it first:\n{tail}")
    cov = coverage.Coverage(config_file=False, data_file=str(data_dir / "data"))
    cov.combine(data_paths=[str(data_dir)], keep=False)
    data = cov.get_data()
    lines: dict[str, dict[int, list[str]]] = {}
    for measured in data.measured_files():
        module = str(Path(measured).relative_to(_COPY / ENGINE))
        lines[module] = {n: sorted({_test_of(c) for c in contexts})
                         for n, contexts in data.contexts_by_lineno(measured).items()}
    return test_file, seconds, lines


class State:
    """Results by module, with the source and test hashes they were obtained under."""

    path = STATE_DIR / "state.json"

    def __init__(self) -> None:
        self.data: dict = json.loads(self.path.read_text()) if self.path.exists() else {}

    def reusable(self, module: str, source: str, tests: str) -> dict[str, Outcome]:
        """Outcomes still valid: all of them if nothing changed; only the non-survivors if
        only the tests changed; none if the module's source changed."""
        entry = self.data.get(module)
        if not entry or entry["source"] != source:
            return {}
        outcomes = {k: Outcome(**v) for k, v in entry["results"].items()}
        if entry["tests"] == tests:
            return outcomes
        return {k: o for k, o in outcomes.items() if o.status != SURVIVED}

    def store(self, module: str, source: str, tests: str, results: dict[str, Outcome]) -> None:
        self.data[module] = {"source": source, "tests": tests,
                             "results": {k: asdict(o) for k, o in results.items()}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.data, indent=1))
        temporary.replace(self.path)


@functools.cache
def _scopes(module: str) -> tuple[tuple[int, int], ...]:
    """(first, last) line of every function and class, decorators included."""
    tree = ast.parse((ROOT / ENGINE / module).read_text(encoding="utf-8"))
    return tuple((min([n.lineno, *(d.lineno for d in n.decorator_list)]), n.end_lineno)
                 for n in ast.walk(tree)
                 if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef))


def _scope(module: str, line: int) -> tuple[int, int]:
    """The innermost function or class holding ``line`` (the line itself if none does)."""
    holding = [s for s in _scopes(module) if s[0] <= line <= s[1]]
    return min(holding, key=lambda s: s[1] - s[0]) if holding else (line, line)


@dataclass(frozen=True)
class Coverage:
    """Which fast tests execute each engine line, and how long each test file takes."""

    seconds: dict[str, float]
    lines: dict[str, dict[str, dict[str, list[str]]]]  # test file -> module -> line -> node ids

    def tests_for(self, mutant: Mutant) -> tuple[str, ...]:
        """The tests that execute the mutant's line, quickest to fail first (node ids). A line
        that ran at import (a ``def`` line, a decorator, a field default) is exercised by the
        tests that run the body of its function or class, and by every in-process test
        (generated code, such as a frozen dataclass's ``__setattr__``, has no lines of its
        own); where those are none, its whole file. All fast test files for a line none
        executes: a line that only a subprocess unable to save its coverage runs must not
        pass for untested."""
        selected: list[str] = []
        for test_file in FAST_TESTS:
            covered = self.lines[test_file].get(mutant.module, {})
            contexts = covered.get(str(mutant.line))
            if contexts and "" in contexts:
                first, last = _scope(mutant.module, mutant.line)
                users = {c for n in range(first, last + 1) for c in covered.get(str(n), ()) if c}
                contexts = ([test_file] if test_file in IN_PROCESS_TESTS or not users
                            else sorted(users))
            selected += contexts or []
        return tuple(selected) or FAST_TESTS

    def seconds_for(self, tests: tuple[str, ...]) -> float:
        """An upper bound on how long ``tests`` take: their files' whole durations."""
        return sum(self.seconds[f] for f in {t.partition("::")[0] for t in tests})


def measure_coverage(pool: multiprocessing.pool.Pool, tests: str) -> Coverage:
    """Coverage of every fast test file, reused while the code and tests are unchanged."""
    cache = STATE_DIR / "coverage.json"
    if cache.exists():
        kept = json.loads(cache.read_text())
        if kept.get("tests") == tests and set(kept["seconds"]) == set(FAST_TESTS):
            return Coverage(kept["seconds"], kept["lines"])
    seconds, lines = {}, {}
    for test_file, took, covered in pool.imap_unordered(_cover_one, FAST_TESTS):
        seconds[test_file], lines[test_file] = round(took, 2), covered
        print(f"coverage: {test_file} ({took:.0f} s)", flush=True)
    cache.write_text(json.dumps({"tests": tests, "seconds": seconds, "lines": lines}))
    return Coverage(seconds, json.loads(json.dumps(lines)))  # line numbers as JSON keys


def run(modules: list[str], jobs: int, on_result: Callable[[Mutant, Outcome], None],
        equivalent: Callable[[Mutant], bool] = lambda mutant: False
        ) -> dict[str, dict[Mutant, Outcome]]:
    """Outcome of every kept mutant of ``modules``: reused where still valid, run otherwise;
    a mutant marked ``equivalent`` is not run (it survives by definition)."""
    state = State()
    tests = tests_sha()
    planned: dict[str, list[Mutant]] = {m: mutants_of(m) for m in modules}
    sources = {m: source_sha(m) for m in modules}  # the code the copies hold, not later edits
    results: dict[str, dict[str, Outcome]] = {}
    todo: list[Mutant] = []
    for module, mutants in planned.items():
        results[module] = state.reusable(module, sources[module], tests)
        for mutant in mutants:
            if mutant.key not in results[module] and equivalent(mutant):
                results[module][mutant.key] = Outcome(SURVIVED, 0.0, "marked equivalent: not run")
        todo += [m for m in mutants if m.key not in results[module]]
    if todo:
        queue: multiprocessing.Queue = multiprocessing.Queue()
        for copy in make_copies(jobs):
            queue.put(copy)
        with multiprocessing.get_context("fork").Pool(jobs, _claim_copy, (queue,)) as pool:
            covered = measure_coverage(pool, tests)
            tasks = []
            for mutant in todo:
                selected = covered.tests_for(mutant)
                tasks.append((mutant, selected, 2 * covered.seconds_for(selected) + 30))
            for mutant, outcome in pool.imap_unordered(_run_one, tasks):
                results[mutant.module][mutant.key] = outcome
                state.store(mutant.module, sources[mutant.module], tests, results[mutant.module])
                on_result(mutant, outcome)
    for module in modules:  # unchanged modules keep their hashes up to date too
        state.store(module, sources[module], tests, results[module])
    return {module: {m: results[module][m.key] for m in planned[module]} for module in modules}


def recorded(modules: list[str]) -> dict[str, dict[Mutant, Outcome]]:
    """The outcomes kept from earlier runs for the modules' current source (each judged by
    the tests of the run that judged it), without running anything; ``NOT_RUN`` for the rest."""
    state = State()
    results = {}
    for module in modules:
        entry = state.data.get(module)
        kept = ({k: Outcome(**v) for k, v in entry["results"].items()}
                if entry and entry["source"] == source_sha(module) else {})
        results[module] = {m: kept.get(m.key, Outcome(NOT_RUN, 0.0, "")) for m in mutants_of(module)}
    return results
