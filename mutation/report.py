"""The score, per module and overall, and the survivors with file:line and a reason where
they are marked equivalent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mutation.mutants import INCOMPETENT, KILLED, NOT_RUN, SURVIVED, TIMEOUT, Mutant, Outcome
from mutation.plan import ENGINE, STATE_DIR, Equivalent, equivalent_reason, source_line


@dataclass
class ModuleScore:
    """Counts for one module; equivalent mutants are out of the denominator."""

    module: str
    killed: int = 0
    survived: list[Mutant] = field(default_factory=list)
    equivalent: list[tuple[Mutant, str]] = field(default_factory=list)
    incompetent: int = 0
    not_run: int = 0
    seconds: float = 0.0

    @property
    def judged(self) -> int:
        return self.killed + len(self.survived)

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.judged if self.judged else 100.0


def score(results: dict[str, dict[Mutant, Outcome]], marked: list[Equivalent]) -> list[ModuleScore]:
    """One ``ModuleScore`` per module, survivors split into equivalent and missing tests."""
    scores = []
    for module, outcomes in results.items():
        entry = ModuleScore(module)
        for mutant, outcome in outcomes.items():
            entry.seconds += outcome.seconds
            if outcome.status in (KILLED, TIMEOUT):
                entry.killed += 1
            elif outcome.status == INCOMPETENT:
                entry.incompetent += 1
            elif outcome.status == NOT_RUN:
                entry.not_run += 1
            elif outcome.status == SURVIVED:
                reason = equivalent_reason(marked, module, mutant.line, mutant.operator)
                if reason is None:
                    entry.survived.append(mutant)
                else:
                    entry.equivalent.append((mutant, reason))
        scores.append(entry)
    return scores


def total(scores: list[ModuleScore]) -> float:
    killed = sum(s.killed for s in scores)
    judged = sum(s.judged for s in scores)
    return 100.0 * killed / judged if judged else 100.0


def print_report(scores: list[ModuleScore], wall_seconds: float) -> None:
    """The table, the survivors (file:line, operator, the line) and the equivalent ones."""
    print(f"\n{'module':32} {'mutants':>7} {'killed':>6} {'survived':>8} {'equiv':>5} "
          f"{'not run':>7} {'score':>6} {'test s':>7}")
    for s in scores:
        total_mutants = s.judged + len(s.equivalent) + s.incompetent + s.not_run
        print(f"{s.module:32} {total_mutants:7d} {s.killed:6d} {len(s.survived):8d} "
              f"{len(s.equivalent):5d} {s.not_run:7d} {s.score:5.1f}% {s.seconds:7.0f}")
    judged = sum(s.judged for s in scores)
    print(f"{'engine':32} {'':7} {sum(s.killed for s in scores):6d} "
          f"{sum(len(s.survived) for s in scores):8d} {sum(len(s.equivalent) for s in scores):5d} "
          f"{sum(s.not_run for s in scores):7d} {total(scores):5.1f}%  "
          f"({judged} judged, wall {wall_seconds:.0f} s)")
    survivors = [(s.module, m) for s in scores for m in s.survived]
    if survivors:
        print("\nsurvivors (a test is missing):")
        for module, m in survivors:
            print(f"  {ENGINE}/{module}:{m.line}  {m.operator.removeprefix('core/')}  "
                  f"| {source_line(module, m.line).strip()}")
    equivalent = [(s.module, m, r) for s in scores for m, r in s.equivalent]
    if equivalent:
        print("\nequivalent (no behaviour can tell them apart):")
        for module, m, reason in equivalent:
            print(f"  {ENGINE}/{module}:{m.line}  {m.operator.removeprefix('core/')}  -- {reason}")


def write_json(scores: list[ModuleScore], wall_seconds: float,
               path: Path = STATE_DIR / "report.json") -> Path:
    """The same report as JSON, for tools and for comparing runs."""
    def mutant(module: str, m: Mutant) -> dict:
        return {"where": f"{ENGINE}/{module}:{m.line}", "operator": m.operator,
                "line": source_line(module, m.line).strip()}
    data = {
        "score": round(total(scores), 2), "wall_seconds": round(wall_seconds, 1),
        "modules": {s.module: {"score": round(s.score, 2), "killed": s.killed,
                               "survived": [mutant(s.module, m) for m in s.survived],
                               "equivalent": [{**mutant(s.module, m), "reason": r}
                                              for m, r in s.equivalent],
                               "incompetent": s.incompetent, "not_run": s.not_run,
                               "test_seconds": round(s.seconds, 1)}
                    for s in scores},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    return path
