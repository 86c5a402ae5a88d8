"""What is mutated, with which operators, and which tests guard each module."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = "d2l_compiler/engine"
# copies, coverage, the JSON report (D2L_MUTATION_DIR: elsewhere, e.g. for a trial)
STATE_DIR = Path(os.environ.get("D2L_MUTATION_DIR") or ROOT / ".d2l" / "mutation")
# the outcomes, keyed by the content they were obtained on, kept in the repository: a fresh
# clone runs only the mutants of modules (and the survivors of tests) that changed since
RESULTS = (STATE_DIR / "results.json" if os.environ.get("D2L_MUTATION_DIR")
           else ROOT / "mutation" / "results.json")

# cosmic-ray crosses every operator with every other (``+`` becomes ``-``, ``*``, ``/``, ``<<``,
# ... 11 mutants). We keep the one replacement per operator that models a plausible slip
# (off by one, wrong direction, negation, wrong boolean); the rest of the cross product is
# killed by the same tests and would only multiply the run time by three.
KEPT_REPLACEMENTS = {
    "ReplaceBinaryOperator": {"Add_Sub", "Sub_Add", "Mul_Div", "Div_Mul", "FloorDiv_Mul",
                              "Mod_FloorDiv", "Pow_Mul", "LShift_RShift", "RShift_LShift",
                              "BitAnd_BitOr", "BitOr_BitAnd", "BitXor_BitOr"},
    "ReplaceComparisonOperator": {"Eq_NotEq", "NotEq_Eq", "Lt_LtE", "LtE_Lt", "Gt_GtE",
                                  "GtE_Gt", "Is_IsNot", "IsNot_Is"},
    "ReplaceUnaryOperator": {"Delete_Not", "USub_UAdd"},
}


def operator_kept(name: str) -> bool:
    """True for the operators this project mutates with (see ``KEPT_REPLACEMENTS``)."""
    family, _, variant = name.removeprefix("core/").partition("_")
    kept = KEPT_REPLACEMENTS.get(family)
    return kept is None or variant in kept


# The fast tests: fixture sites and pure functions, no torch, no browser, no chapter build.
# Each mutant runs only those of them that execute its line (coverage.py, subprocesses
# included), in this order: the quickest to fail first.
FAST_TESTS: tuple[str, ...] = (
    "tests/test_engine_units.py",
    "tests/test_record_units.py",
    "tests/test_sources_units.py",
    "tests/test_render_units.py",
    "tests/test_dataflow.py",
    "tests/test_run_units.py",
    "tests/test_build_units.py",
    "tests/test_properties.py",
    "tests/test_gpu_record.py",
    "tests/test_example_book.py",
    "tests/test_survivors.py",
    "tests/test_cache.py",
    "tests/test_engine.py",
    "tests/test_faults.py",
    "tests/test_hostile.py",
    "tests/test_zensical_units.py",
    "tests/test_serve.py",
)

# The in-process test files (seconds, not minutes): a line run at import (a decorator such as
# @dataclass(frozen=True), whose behaviour lives in generated code) runs all of them.
IN_PROCESS_TESTS = frozenset(t for t in FAST_TESTS if t.endswith("_units.py"))

# Tests that cannot run under coverage.py: they are left out of the coverage run only (the
# lines only they execute then count as executed by no file, and such a mutant runs them all).
COVERAGE_BLIND: dict[str, str] = {
    "tests/test_hostile.py::test_a_full_disk_is_one_line_and_the_site_is_unchanged":
        "coverage.py cannot save its data under the file-size limit the test sets",
}


def modules() -> list[str]:
    """Every engine module, relative to ``d2l_compiler/engine`` (``__init__`` files hold
    nothing to mutate)."""
    return sorted(str(p.relative_to(ROOT / ENGINE)) for p in (ROOT / ENGINE).rglob("*.py")
                  if p.name != "__init__.py")


@dataclass(frozen=True)
class Equivalent:
    """A mutant no behaviour can tell apart from the original, with the reason why."""

    module: str
    code: str  # the stripped source line the mutation is on
    operator: str
    reason: str

    def matches(self, module: str, line_text: str, operator: str) -> bool:
        """True if this entry covers a mutant of ``operator`` on that line of ``module``."""
        return (self.module == module and self.code == line_text.strip()
                and re.fullmatch(self.operator, operator.removeprefix("core/")) is not None)


def source_line(module: str, line: int) -> str:
    """Line ``line`` (1-based) of the engine module ``module``, "" past its end."""
    lines = (ROOT / ENGINE / module).read_text(encoding="utf-8").splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


def equivalent_reason(marked: list[Equivalent], module: str, line: int, operator: str) -> str | None:
    """Why the mutant of ``operator`` on ``line`` of ``module`` is equivalent, if it is marked."""
    text = source_line(module, line)
    return next((e.reason for e in marked if e.matches(f"{ENGINE}/{module}", text, operator)), None)


def equivalents(path: Path = ROOT / "mutation" / "equivalent.toml") -> list[Equivalent]:
    """The mutants marked equivalent, each with a one-line reason."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Equivalent(**entry) for entry in data.get("equivalent", [])]
