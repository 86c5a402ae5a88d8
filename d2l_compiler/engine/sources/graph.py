"""Which executed regions of a page depend on which: static analysis of the names they touch.

The rule (also in the README): a region depends on the last earlier region that *touched* a
name it reads (bound it, or used it: a use may mutate, ``net.eval()``), and on the last earlier
region that imported a module it imports (module state such as the random seed is shared).
A binding that may not happen (inside if/for/with/try, or a function's ``global``) leaves the
earlier binder in force too: readers depend on both.
What the analysis cannot see errs towards re-running. ``exec``/``eval`` without a namespace of
their own, ``globals()``, ``locals()``, ``vars()`` and ``from m import *`` can read and bind any
name: such a region depends on every region before it, and every region after it depends on
it. ``exec``/``eval`` with a namespace of their own, ``__import__`` and ``importlib`` can reach
any module: such a region depends on every earlier region that used a module, and every later
one that uses a module depends on it. Opening files counts as using the module ``<files>``.
``# depends: name, ...`` in a region adds names it reads; ``# depends: *`` makes it depend on
everything before it.

A region marked to run in a process of its own (``<!-- d2l: own-process -->`` on the line
before its fence) runs in a fresh interpreter after its ancestors were re-run there, their
outputs discarded. What it does to modules and files stays in that process, so later regions
depend on it only through the names it binds, and those regions run that way too.
"""

from __future__ import annotations

from dataclasses import dataclass

from d2l_compiler.engine.sources.discover import Region
from d2l_compiler.engine.sources.usage import Usage, usage


@dataclass(frozen=True)
class Node:
    """One executed include of a page, with what it depends on (indices of earlier nodes)."""

    index: int
    region: Region
    deps: tuple[int, ...]
    own_process: bool  # marked, or depends on a region that runs in a process of its own


def _is_pseudo(name: str) -> bool:
    return name.startswith("<")  # a module's state or the files: no Python name starts so


def page_graph(regions: list[Region], marked_own_process: list[bool]) -> list[Node]:
    """The dependency graph of a page's executed regions, in page order."""
    nodes: list[Node] = []
    # name -> the regions whose touch of it a reader depends on: the last that bound or used
    # it, plus those after that one that may have bound it
    last_touch: dict[str, frozenset[int]] = {}
    bound_anywhere: set[str] = set()
    opaque_before: int | None = None  # the last region that could bind any name
    any_module_before: int | None = None  # the last region that could change any module
    for index, (region, found) in enumerate(zip(regions, implied_usages(regions), strict=True)):
        pseudo = {name for name in found.reads if _is_pseudo(name)}
        if found.opaque:
            deps = set(range(index))
        else:
            deps = set().union(*(last_touch.get(name, ()) for name in found.reads))
            if found.any_module:
                deps |= set().union(*(i for name, i in last_touch.items() if _is_pseudo(name)))
            if opaque_before is not None:
                deps.add(opaque_before)
            if any_module_before is not None and pseudo:
                deps.add(any_module_before)
        own = marked_own_process[index] or any(nodes[d].own_process for d in deps)
        nodes.append(Node(index, region, tuple(sorted(deps)), own))
        bound_anywhere |= found.binds | found.may_bind
        # a use touches a name only if some region bound it (print is nobody's); what a
        # region in a process of its own mutates (objects, modules, files) stays there: only
        # its names reach later regions, which then run in processes of their own too
        touched = set(found.binds)
        if not own:
            touched |= (found.reads & bound_anywhere) | pseudo
            if found.opaque:
                opaque_before = index
            if found.any_module:
                any_module_before = index
        elif found.opaque:
            opaque_before = index  # the names it may have bound reach later regions
        for name in touched:
            last_touch[name] = frozenset({index})
        for name in found.may_bind - touched:
            last_touch[name] = last_touch.get(name, frozenset()) | {index}
    return nodes


def _with_implied(found: Usage, implied: dict[str, tuple[frozenset[str], frozenset[str], bool]]
                  ) -> Usage:
    """``found`` with what the names it reads stand for: a function reads its free names and
    binds its globals when called, and reaches any name if its region could."""
    reads, may_bind, pending = set(found.reads), set(found.may_bind), list(found.reads)
    opaque = found.opaque
    while pending:
        more_reads, more_binds, reaches_any = implied.get(pending.pop(), ((), (), False))
        may_bind |= set(more_binds) - found.binds
        opaque = opaque or reaches_any
        for name in more_reads:
            if name not in reads:
                reads.add(name)
                pending.append(name)
    return Usage(found.binds, frozenset(reads), opaque, found.any_module or opaque,
                 frozenset(may_bind))


def ancestors(nodes: list[Node], index: int) -> set[int]:
    """Every node ``index`` depends on, directly or through others."""
    pending, found = list(nodes[index].deps), set()
    while pending:
        current = pending.pop()
        if current not in found:
            found.add(current)
            pending.extend(nodes[current].deps)
    return found


def descendants(nodes: list[Node], index: int) -> list[int]:
    """Every node that depends on ``index``, directly or through others, in page order."""
    affected = {index}
    for node in nodes[index + 1:]:
        if affected & set(node.deps):
            affected.add(node.index)
    return sorted(affected - {index})


def implied_usages(regions: list[Region]) -> list[Usage]:
    """What each region binds and may read, with what the names it reads stand for: a
    function reads its free names and binds its globals when called, and reaches any name
    if its region could (so a name stands for what the region binding it did)."""
    implied: dict[str, tuple[frozenset[str], frozenset[str], bool]] = {}
    found = []
    for region in regions:
        seen = _with_implied(usage(region.code), implied)
        found.append(seen)
        for name in seen.binds | seen.may_bind:
            implied[name] = (seen.reads, seen.may_bind, seen.opaque)
    return found
