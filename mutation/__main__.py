"""``python -m mutation [MODULE ...] [--jobs N] [--min-score P]``: mutate the engine's modules,
run the tests that guard each, print the score and every survivor with file:line."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from d2l_compiler.engine.run.lineage import become_subreaper
from d2l_compiler.engine.run.procs import sweep
from mutation import execute, report
from mutation.mutants import Mutant, Outcome
from mutation.plan import equivalent_reason, equivalents, modules


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mutation", description=__doc__)
    parser.add_argument("modules", nargs="*", metavar="MODULE",
                        help="modules relative to d2l_compiler/engine (default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker copies run in parallel (default: the number of cores)")
    parser.add_argument("--min-score", type=float, default=0.0,
                        help="exit 1 if the engine's score is below this percentage")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: report the outcomes kept from earlier runs")
    args = parser.parse_args(argv)
    known = modules()
    unknown = [m for m in args.modules if m not in known]
    if unknown:
        parser.error(f"unknown module {unknown[0]!r}; known: {', '.join(known)}")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


class Terminated(BaseException):
    """SIGTERM arrived (a cancelled session): unwind, sweeping every process started."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Run (or report) the mutants; every worker, pytest and page process it started ends
    with it, whether it finishes, fails, or is stopped by Ctrl-C or SIGTERM."""
    args = _arguments(argv)
    become_subreaper()  # a page process pytest leaves behind is re-parented here, to sweep
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(args)
    except (KeyboardInterrupt, Terminated):
        print("mutation: stopped; every process it started was ended", file=sys.stderr)
        return 143
    finally:
        sweep(set(), seconds=10)


def _main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    done = 0

    def progress(mutant: Mutant, outcome: Outcome) -> None:
        nonlocal done
        done += 1
        print(f"[{done}] {outcome.status:9} {mutant.module}:{mutant.line} "
              f"{mutant.operator.removeprefix('core/')} ({outcome.seconds:.1f} s)", flush=True)

    marked = equivalents()
    chosen = args.modules or modules()
    results = execute.recorded(chosen) if args.report else execute.run(
        chosen, args.jobs, progress, lambda m: equivalent_reason(marked, m.module, m.line,
                                                                  m.operator) is not None)
    wall = time.monotonic() - started
    scores = report.score(results, marked)
    report.print_report(scores, wall)
    print(f"\nJSON: {report.write_json(scores, wall)}")
    complete = all(s.not_run == 0 for s in scores)
    return 0 if complete and report.total(scores) >= args.min_score else 1


if __name__ == "__main__":
    sys.exit(main())
