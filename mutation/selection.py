"""Which tests each mutant runs: learned once from coverage.py, per test and per line,
subprocesses included (``tests/conftest.py`` labels what each test executes)."""

from __future__ import annotations

import ast
import functools
import json
import multiprocessing.pool
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mutation import workers
from mutation.mutants import Mutant
from mutation.plan import COVERAGE_BLIND, ENGINE, FAST_TESTS, IN_PROCESS_TESTS, ROOT, STATE_DIR


def _test_of(context: str) -> str:
    """The node id in a coverage context: ``STATIC|DYNAMIC`` in the pytest process (static
    ``-``), ``STATIC`` in a subprocess; "" for code run outside any test."""
    label = context.removeprefix("-|")  # node ids may hold "|" themselves
    return "" if label in ("", "-") else label


def cover_one(test_file: str) -> tuple[str, float, dict[str, dict[int, list[str]]]]:
    """Run one test file on unmutated code under coverage: its seconds, and for each engine
    line it executed (in any process) the node ids of the tests that did ("" where a line ran
    outside any test, at import). Exits loudly if the file fails before any mutation."""
    import coverage

    assert workers.COPY is not None
    data_dir = workers.COPY / ".coverage-data" / Path(test_file).stem
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    rc = data_dir / "rc"
    # started in every Python process by coverage's .pth; each subprocess reads the context
    # afresh from the environment, where tests/conftest.py puts the running test's node id
    rc.write_text(f"[run]\nsource = {workers.COPY / ENGINE}\nparallel = true\n"
                  f"data_file = {data_dir / 'data'}\ncontext = ${{D2L_COVERAGE_CONTEXT}}\n")
    blind = [t for t in COVERAGE_BLIND if t.startswith(test_file + "::")]
    command = (f"env COVERAGE_PROCESS_START={rc} D2L_COVERAGE_CONTEXT=- "
               + workers.test_command(workers.COPY, [test_file])
               + "".join(f" --deselect={shlex.quote(t)}" for t in blind))
    started = time.monotonic()
    proc = subprocess.run(command, shell=True, cwd=workers.COPY, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-15:])
        raise RuntimeError(f"{test_file} fails before any mutation; fix it first:\n{tail}")
    cov = coverage.Coverage(config_file=False, data_file=str(data_dir / "data"))
    cov.combine(data_paths=[str(data_dir)], keep=False)
    data = cov.get_data()
    lines: dict[str, dict[int, list[str]]] = {}
    for measured in data.measured_files():
        module = str(Path(measured).relative_to(workers.COPY / ENGINE))
        lines[module] = {n: sorted({_test_of(c) for c in contexts})
                         for n, contexts in data.contexts_by_lineno(measured).items()}
    return test_file, seconds, lines


@functools.cache
def _scopes(module: str) -> tuple[tuple[int, int], ...]:
    """(first, last) line of every function and class, decorators included."""
    tree = ast.parse((ROOT / ENGINE / module).read_text(encoding="utf-8"))
    return tuple((min([n.lineno, *(d.lineno for d in n.decorator_list)]), n.end_lineno)
                 for n in ast.walk(tree)
                 if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef))


@functools.cache
def _import_time_lines(module: str) -> frozenset[int]:
    """Lines that run when the module is imported, whichever test happens to import it first:
    module-level statements, class bodies, and every ``def``/``class`` line with its
    decorators. Coverage credits them to that one test, which says nothing about who uses them."""
    lines: set[int] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                lines.update(d.lineno for d in node.decorator_list)
                lines.add(node.lineno)
                if isinstance(node, ast.ClassDef):
                    visit(node.body)
            else:
                lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    visit(ast.parse((ROOT / ENGINE / module).read_text(encoding="utf-8")).body)
    return frozenset(lines)


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
        at_import = mutant.line in _import_time_lines(mutant.module)
        first, last = _scope(mutant.module, mutant.line)
        selected: list[str] = []
        for test_file in FAST_TESTS:
            covered = self.lines[test_file].get(mutant.module, {})
            contexts = covered.get(str(mutant.line))
            if contexts and ("" in contexts or at_import):
                users = {c for n in range(first, last + 1)
                         if n not in _import_time_lines(mutant.module)
                         for c in covered.get(str(n), ()) if c}
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
    for test_file, took, covered in pool.imap_unordered(cover_one, FAST_TESTS):
        seconds[test_file], lines[test_file] = round(took, 2), covered
        print(f"coverage: {test_file} ({took:.0f} s)", flush=True)
    cache.write_text(json.dumps({"tests": tests, "seconds": seconds, "lines": lines}))
    return Coverage(seconds, json.loads(json.dumps(lines)))  # line numbers as JSON keys
