"""Whether recorded results still stand for a page as it is now, checked with what the page
processes recorded while the regions ran: the inputs each reached (:func:`stale_by_inputs`,
see :mod:`d2l_compiler.engine.record.observed`) and the state each ran from (:func:`unproven`,
see :mod:`d2l_compiler.engine.run.statedigest`).

A partial run of a page must stand for a complete in-order run.

Static analysis chooses what a partial run executes (the changed regions, their descendants,
and the ancestors that rebuild their state); it can be wrong (an alias mutated through
another name, ``globals()`` reached through a function, a seed set inside a helper module).
So after the run, the page's regions are walked in order with the state a complete run would
have before each one (the recorded state, updated with what each region changed, in this
build's run where it ran, else in its recorded run), and every region is checked against it:

- a region that ran here must have started from that state, on every name and state probe it
  may read (its process holds only what its ancestors built);
- a region whose result is reused must have been recorded from that state, on the same.

What a region "may read": the names its text reads (with what the functions it calls read),
and every state probe (``<random>``, ``<cwd>``, project modules ...) if it imports or uses a
module or opens a file; everything if it can reach any name. A mismatch is a guess that was
wrong: the caller runs the whole page in order instead.

Regions in processes of their own are outside this walk: they run the same way (their
ancestors replayed in a fresh process) in a complete build as in a partial one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from d2l_compiler.engine.record.model import RegionRun
from d2l_compiler.engine.record.observed import changed_inputs, in_words, position_tag
from d2l_compiler.engine.sources.usage import Usage
from d2l_compiler.engine.sources.graph import Node, descendants, implied_usages

_MISSING = "<missing>"


def _may_read(found: Usage, keys: set[str]) -> set[str]:
    reads = found.reads
    if found.opaque:
        return set(keys)
    found = {k for k in keys if k in reads}
    if any(name.startswith("<") for name in reads):  # modules, files: any state outside
        found |= {k for k in keys if k.startswith("<")}
    return found


def _differ(expected: Mapping[str, str], actual: Mapping[str, str], names: set[str]) -> list[str]:
    """The names (and probes) that read differently; a probe nobody touched (a module not
    imported) reads as in a fresh process."""
    def read(state: Mapping[str, str], name: str) -> str:
        return state.get(name, "initial" if name.startswith("<") else _MISSING)
    return sorted(n for n in names if read(expected, n) != read(actual, n))


def unproven(nodes: list[Node], kept: Mapping[int, RegionRun],
             processes: list[list[RegionRun]], recorded: Mapping[int, RegionRun | None]
             ) -> list[str]:
    """Why this partial run cannot stand for a complete one (empty: it can).

    ``kept``: the runs this build keeps, by region; ``processes``: every process's runs in the
    order it executed them (replays included); ``recorded``: the reused results' runs."""
    usage_of = implied_usages([n.region for n in nodes])
    executed_in: dict[int, list[RegionRun]] = {}
    for runs in processes:
        for run in runs:
            executed_in.setdefault(run.index, []).append(run)
    expected: dict[str, str] | None = None
    reasons: list[str] = []
    for node in nodes:
        if node.own_process:
            continue
        here = kept.get(node.index)  # a kept run is among its process's runs
        sources = executed_in.get(node.index, [])
        stored = recorded.get(node.index)
        checked = sources or ([stored] if stored is not None else [])
        if not checked:
            return [f"{node.region.id}: no run to check"]
        for run in checked:
            if not run.state_before:
                return [f"{node.region.id}: its run recorded no state"]
            if expected is None:
                expected = dict(run.state_before)
                continue
            names = _may_read(usage_of[node.index], set(expected) | set(run.state_before))
            wrong = _differ(expected, run.state_before, names)
            if wrong:
                how = "ran from" if run is not stored else "was recorded from"
                reasons.append(f"{node.region.id} {how} other state than the page gives it "
                               f"({', '.join(wrong[:5])})")
        effect = here if here is not None else checked[-1]
        if here is None and stored is not None and not effect.shows_the_same(stored):
            # re-run to rebuild state, it printed something else (its output varies, a
            # measurement): the page shows its recorded run, so later regions must have
            # started from the state that run left
            effect = stored
        if expected is None:
            continue
        for name, digest in effect.state_changed.items():
            if digest is None:
                expected.pop(name, None)
            else:
                expected[name] = digest
    return reasons


# inputs every later region may have used too: a module stays loaded for the rest of the page
_LOADED = ("module:", "dist:", "outside:")


def stale_by_inputs(runs: Mapping[int, Any], nodes: list[Node], root: Path,
                    environ: Mapping[str, str], environment: bool = True) -> dict[int, str]:
    """The regions whose recorded runs (``runs``: index -> RegionRun) reached an input that
    reads differently now, with the first reason; a changed input re-runs the region that
    read it and its descendants (in the page's graph, ``nodes``), and a changed module every
    region after the one that loaded it (any of them may use it). ``environment=False``
    leaves the environment variables out (rendering: the environment is the build's)."""
    stale: dict[int, str] = {}
    last = max(runs, default=-1)
    for index in sorted(runs):
        names = changed_inputs(runs[index].seen, root, environ,
                         position_tag(nodes[index].region.first_line, root), environment)
        if not names:
            continue
        loaded = any(name.startswith(_LOADED) for name in names)
        reach = range(index, last + 1) if loaded else [index, *descendants(nodes, index)]
        for other in reach:
            why = in_words(names[0])
            stale.setdefault(other, why if other == index else f"{why} (read by region {index + 1})")
    return stale
