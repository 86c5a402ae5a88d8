"""The mutants: what cosmic-ray plants in an engine module, and what became of each."""

from __future__ import annotations

import ast
import hashlib
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mutation.plan import ENGINE, ROOT, operator_kept

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
