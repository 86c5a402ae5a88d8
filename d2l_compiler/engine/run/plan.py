"""Which processes a page needs when only some of its regions must run again.

The regions to run (their keys have no stored result) are split into one main process, for
the regions that share the page's process, and one process per region marked to run in a
process of its own. Each process first re-runs the ancestors of what it runs (in page order,
outputs discarded), so every region sees the state the page shows before it; nothing else
runs. A region's key covers its ancestors' keys, so the regions to run are always closed
under "depends on".
"""

from __future__ import annotations

from dataclasses import dataclass

from d2l_compiler.engine.sources.graph import Node, ancestors


@dataclass(frozen=True)
class ProcessPlan:
    """One fresh process: the regions it executes, in page order, and which of them only
    rebuild state (their outputs are not kept)."""

    label: str  # "" for the page's main process, else "<index>-<section>"
    indices: tuple[int, ...]
    replay: frozenset[int]

    @property
    def kept(self) -> list[int]:
        """The regions whose runs this process records."""
        return [i for i in self.indices if i not in self.replay]


def plan_processes(nodes: list[Node], to_run: list[int]) -> list[ProcessPlan]:
    """The processes that run the regions ``to_run`` (indices into ``nodes``)."""
    plans = []
    shared = [i for i in to_run if not nodes[i].own_process]
    if shared:
        rebuild = set().union(*(ancestors(nodes, i) for i in shared)) - set(shared)
        plans.append(ProcessPlan("", tuple(sorted(rebuild | set(shared))), frozenset(rebuild)))
    for i in to_run:
        if nodes[i].own_process:
            rebuild = ancestors(nodes, i)
            plans.append(ProcessPlan(f"{i}-{nodes[i].region.section}",
                                     tuple(sorted(rebuild | {i})), frozenset(rebuild)))
    return plans
