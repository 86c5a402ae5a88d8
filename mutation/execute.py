"""Run the mutants of the engine's modules, remembering results between runs.

Each worker process owns one copy of the project (``.d2l/mutation/copy-N``, :mod:`.workers`).
First every fast test runs once under coverage.py (:mod:`.selection`) to learn which tests
execute which engine lines. Then, for each mutant, cosmic-ray writes the mutation into the
worker's copy, runs the tests that execute its line, and restores the file. Results are kept
in ``mutation/results.json``, committed: a mutant is run again only when its module's source
changed or, for a survivor, when the tests changed, so a fresh clone reruns only that.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from dataclasses import asdict

from mutation import workers
from mutation.mutants import NOT_RUN, SURVIVED, Mutant, Outcome, mutants_of, source_sha, tests_sha
from mutation.plan import RESULTS
from mutation.selection import measure_coverage


class State:
    """Results by module, with the source and test hashes they were obtained under."""

    path = RESULTS

    def __init__(self) -> None:
        self.data: dict = json.loads(self.path.read_text()) if self.path.exists() else {}

    def kept(self, module: str, source: str) -> dict[str, Outcome]:
        """The outcomes kept for ``module`` if they were obtained on this ``source``."""
        entry = self.data.get(module)
        if not entry or entry["source"] != source:
            return {}
        return {k: Outcome(**v) for k, v in entry["results"].items()}

    def reusable(self, module: str, source: str, tests: str) -> dict[str, Outcome]:
        """Outcomes still valid: all of them if nothing changed; only the non-survivors if
        only the tests changed; none if the module's source changed."""
        outcomes = self.kept(module, source)
        if outcomes and self.data[module]["tests"] == tests:
            return outcomes
        return {k: o for k, o in outcomes.items() if o.status != SURVIVED}

    def store(self, module: str, source: str, tests: str, results: dict[str, Outcome],
              save: bool = True) -> None:
        """Keep ``module``'s results; write the file now unless ``save`` is False."""
        self.data[module] = {"source": source, "tests": tests,
                             "results": {k: asdict(o) for k, o in results.items()}}
        if save:
            self.save()

    def save(self) -> None:
        """Write all kept results atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.data, indent=1))
        temporary.replace(self.path)


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
        for copy in workers.make_copies(jobs):
            queue.put(copy)
        with multiprocessing.get_context("fork").Pool(jobs, workers.claim_copy, (queue,)) as pool:
            covered = measure_coverage(pool, tests)
            tasks = []
            for mutant in todo:
                selected = covered.tests_for(mutant)
                tasks.append((mutant, selected, 2 * covered.seconds_for(selected) + 30))
            for mutant, outcome in pool.imap_unordered(workers.run_one, tasks):
                results[mutant.module][mutant.key] = outcome
                state.store(mutant.module, sources[mutant.module], tests, results[mutant.module])
                on_result(mutant, outcome)
    for module in modules:  # unchanged modules keep their hashes up to date too
        state.store(module, sources[module], tests, results[module], save=False)
    state.save()
    return {module: {m: results[module][m.key] for m in planned[module]} for module in modules}


def recorded(modules: list[str]) -> dict[str, dict[Mutant, Outcome]]:
    """The outcomes kept from earlier runs for the modules' current source (each judged by
    the tests of the run that judged it), without running anything; ``NOT_RUN`` for the rest."""
    state = State()
    results = {}
    for module in modules:
        kept = state.kept(module, source_sha(module))
        results[module] = {m: kept.get(m.key, Outcome(NOT_RUN, 0.0, "")) for m in mutants_of(module)}
    return results
