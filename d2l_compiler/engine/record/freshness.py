"""Freshness without running anything: may a page's recorded results still be published?

One rule, :func:`staleness`, used by ``python -m d2l_compiler check`` and by the MkDocs
plugin before it renders a page: the entry matches its digest, its key matches what the
page's code, imported modules, data and packages are now (with the reasons in words if
not), every region it shows is unchanged, and its outputs equal the store's for that key.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from d2l_compiler.engine.sources import key
from d2l_compiler.engine.record import io as record
from d2l_compiler.engine.record.model import PageEntry
from d2l_compiler.engine.sources.discover import Include, discover
from d2l_compiler.engine.sources.inputs import PageInputs
from d2l_compiler.engine.errors import NoRecord, UsageError
from d2l_compiler.engine.sources.device import resolve_device
from d2l_compiler.engine.sources.page_env import page_env  # the environment the regions ran in
from d2l_compiler.engine.sources.project import Project
from d2l_compiler.engine.record.store import Store
from d2l_compiler.engine.record.state_walk import stale_by_inputs, unproven


def _changed(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    reasons = []
    for name in sorted(set(old) | set(new)):
        if name not in new:
            reasons.append(f"{kind} {name} no longer used")
        elif name not in old:
            reasons.append(f"{kind} {name} newly used")
        elif old[name] != new[name]:
            if kind == "package":
                reasons.append(f"package {', '.join(old[name])} -> {', '.join(new[name])}")
            elif kind == "region":
                reasons.append(f"{name} changed since it ran")
            else:
                reasons.append(f"{kind} {name} changed")
    return reasons


def explain(old: PageInputs, new: PageInputs) -> list[str]:
    """Why two sets of key inputs differ, in words (empty if they are the same)."""
    reasons = (_changed("region", dict(old.regions), dict(new.regions))
               + _changed("module", old.files, new.files)
               + _changed("data file", old.data, new.data)
               + _changed("package", old.packages, new.packages))
    if not reasons and [r[0] for r in old.regions] != [r[0] for r in new.regions]:
        reasons.append("the page runs its regions in another order or number: "
                       + " → ".join(r[0].rpartition(":")[2] for r in new.regions))
    for scalar in ("python", "device", "format", "env"):
        if getattr(old, scalar) != getattr(new, scalar):
            reasons.append(f"{scalar} {getattr(old, scalar)} -> {getattr(new, scalar)}")
    return reasons


def _matches_store(project: Project, entry: PageEntry) -> bool:
    """Whether the record's outputs equal the store's entries for the same region keys (a
    region the store does not have passes: a record checked out without its store is judged
    by its digest)."""
    store = Store(project.store_dir, warn=lambda _: None)
    region_keys = [k for _, k in entry.inputs.region_keys]
    if len(region_keys) != len(entry.executed):
        return False
    for region_key, shown in zip(region_keys, entry.executed, strict=True):
        stored = store.get(region_key)
        if stored is not None and not stored.runs[0].shows_the_same(shown.run):
            return False
    return True


def must_rerun(old_inputs: PageInputs, keys: key.PageKeys) -> str:
    """Which regions an edit affects, in words: ``snippets/a.py:net changed → net, script
    must re-run`` (the regions whose keys the record does not have, led by those whose own
    inputs changed rather than an ancestor's); "" if none."""
    known = {k for _, k in old_inputs.region_keys}
    stale = [node.index for node, (k, _) in zip(keys.nodes, keys.regions, strict=True)
             if k not in known]
    if not stale:
        return ""
    causes = [keys.nodes[i].region.id for i in stale
              if not set(keys.nodes[i].deps) & set(stale)]
    return (f"{', '.join(causes)} changed → "
            f"{', '.join(keys.nodes[i].region.section for i in stale)} must re-run")


def outdated_regions(project: Project, includes: list[Include],
                     entry: PageEntry) -> frozenset[int] | None:
    """Which executed includes (numbered from 0 in page order) show outputs their code no
    longer produces; None if the page now runs other regions, or in another order, than the
    record holds (then no recorded output belongs to a place on the page)."""
    executed = [inc for inc in includes if inc.region.executed]
    recorded = list(entry.inputs.region_keys)
    if [inc.region.id for inc in executed] != [region_id for region_id, _ in recorded]:
        return None
    keys = key.include_keys(project.root, includes, entry.inputs.device)
    return frozenset(i for i, ((new, _), (_, old)) in enumerate(zip(keys.regions, recorded,
                                                                     strict=True)) if new != old)


def recorded_elsewhere(project: Project, entry: PageEntry) -> bool:
    """Whether ``entry`` was recorded on another device than this machine's (so on another
    machine, with that machine's packages)."""
    return entry.inputs.device != _local_device(str(project.state_dir))


@lru_cache(maxsize=8)
def _local_device(state_dir: str) -> str:
    try:
        return resolve_device(Path(state_dir))
    except UsageError:  # D2L_DEVICE=cuda without one: no result here is from this machine
        return "none"


def staleness(project: Project, includes: list[Include], entry: PageEntry | None,
              against_store: bool = True, elsewhere: bool | None = None,
              environment: bool = True) -> list[str]:
    """Why ``entry`` no longer matches the page whose current includes are ``includes``
    ([] = fresh). Keys are recomputed for the device the entry was recorded on, so a machine
    without a GPU can vouch for results recorded on one; for a result recorded elsewhere
    (``elsewhere``; default: on another device than this machine's) only its sources are
    vouched for, with the package versions, Python and environment it was recorded with.
    ``against_store=False`` skips the comparison with this machine's store (a record from
    another machine, merged); ``environment=False`` leaves out the environment variables the
    regions read (rendering a page: the environment of the build that ran them counts, not
    the one MkDocs happens to run in)."""
    if entry is None:
        return ["never built"]
    if record.tampered(entry):
        return ["its record entry does not match its digest (edited by hand?)"]
    reasons: list[str] = []
    executed = [inc for inc in includes if inc.region.executed]
    if executed:
        if elsewhere is None:
            elsewhere = recorded_elsewhere(project, entry)
        keys = key.include_keys(project.root, includes, entry.inputs.device,
                                entry.inputs.packages if elsewhere else None,
                                entry.inputs if elsewhere else None)
        if keys.key != entry.key:
            reasons += explain(entry.inputs, keys.inputs) or ["key changed"]
            reach = must_rerun(entry.inputs, keys)
            if reach:
                reasons.append(reach)
        if not reasons and not elsewhere:  # what the regions reached while they ran
            reasons += _inputs_changed(project, entry, keys, environment)
        if not reasons and not elsewhere and all(r.run is not None for r in entry.executed):
            # each result recorded from the state the page now gives it (order, aliases)
            reasons += unproven(keys.nodes, {}, [], {i: shown.run for i, shown
                                                    in enumerate(entry.executed)})[:1]
    shown = {r.id: r.source_sha for r in entry.regions if not r.executed}
    reasons += [f"{inc.region.id} (shown) changed since the build" for inc in includes
                if inc.region.id in shown and shown[inc.region.id] != inc.region.source_sha]
    if not reasons and [r.id for r in entry.regions] != [inc.region.id for inc in includes]:
        reasons.append("the page includes other regions than when it was built")
    if not reasons and against_store and not _matches_store(project, entry):
        reasons.append("its recorded outputs differ from the stored results of that run")
    return reasons


def _inputs_changed(project: Project, entry: PageEntry, keys: key.PageKeys,
                    environment: bool = True) -> list[str]:
    runs = {i: shown.run for i, shown in enumerate(entry.executed) if shown.run is not None}
    stale = stale_by_inputs(runs, keys.nodes, project.root,
                            page_env(project.root, entry.inputs.device), environment)
    return [f"{entry.executed[i].id}: {why}" for i, why in sorted(stale.items())][:5]


def check(project: Project) -> dict[str, list[str]]:
    """Map each page with executed code to the reasons its stored results are stale ([] = fresh)."""
    pages = discover(project)  # a broken config or page is reported before a missing record
    stored = record.load_record(project.record_path)
    if stored is None:
        raise NoRecord(project.record_path, "nothing to check")
    found = {}
    for page, includes in pages.items():
        if any(inc.region.executed for inc in includes):
            found[page] = staleness(project, includes, stored.pages.get(page)) + [
                f"{other.inputs.device} results: {reason}"
                for other in stored.devices(page)[1:]
                for reason in staleness(project, includes, other)]
    return found
