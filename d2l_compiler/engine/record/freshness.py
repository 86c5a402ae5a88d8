"""Freshness without running anything: may a page's recorded results still be published?

One rule, :func:`staleness`, used by ``python -m d2l_compiler check`` and by the MkDocs
plugin before it renders a page: the entry matches its digest, its key matches what the
page's code, imported modules, data and packages are now (with the reasons in words if
not), every region it shows is unchanged, and its outputs equal the store's for that key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from d2l_compiler.engine.sources import key
from d2l_compiler.engine.record import io as record
from d2l_compiler.engine.record.model import PageEntry
from d2l_compiler.engine.sources.discover import Include, discover
from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.sources.project import Project
from d2l_compiler.engine.record.store import Store


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


def explain(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Why two sets of key inputs differ, in words (empty if they are the same)."""
    old_regions, new_regions = old.get("regions") or [], new["regions"]
    reasons = (_changed("region", dict(old_regions), dict(new_regions))
               + _changed("module", old.get("files", {}), new["files"])
               + _changed("data file", old.get("data", {}), new["data"])
               + _changed("package", old.get("packages", {}), new["packages"]))
    if not reasons and [r[0] for r in old_regions] != [r[0] for r in new_regions]:
        reasons.append("the page runs its regions in another order or number: "
                       + " → ".join(r[0].rpartition(":")[2] for r in new_regions))
    for scalar in ("python", "device", "format", "env"):
        if old.get(scalar) != new[scalar]:
            reasons.append(f"{scalar} {old.get(scalar)} -> {new[scalar]}")
    return reasons


_RUN_FIELDS = ("stdout", "stray", "raised", "warnings", "values", "status")


def _matches_store(project: Project, entry: PageEntry) -> bool:
    """Whether the record's outputs equal the store's entry for the same key (True if the
    store does not have it: a record checked out without its store is judged by its digest)."""
    stored = Store(project.state_dir / "store", warn=lambda _: None).get(entry.key)
    if stored is None:
        return True
    ran = [[getattr(r, k) for k in _RUN_FIELDS] for r in sorted(stored.runs, key=lambda r: r.index)]
    shown = [[getattr(r.run, k) for k in _RUN_FIELDS] for r in entry.executed]
    return ran == shown


def staleness(project: Project, includes: list[Include], entry: PageEntry | None) -> list[str]:
    """Why ``entry`` no longer matches the page whose current includes are ``includes``
    ([] = fresh). Keys are recomputed for the device the entry was recorded on, so a machine
    without a GPU can vouch for results recorded on one."""
    if entry is None:
        return ["never built"]
    if record.tampered(entry):
        return ["its record entry does not match its digest (edited by hand?)"]
    reasons: list[str] = []
    executed = [inc.region for inc in includes if inc.region.executed]
    if executed:
        page_key, inputs = key.page_key(project.root, executed, entry.inputs["device"])
        if page_key != entry.key:
            reasons += explain(entry.inputs, inputs) or ["key changed"]
    shown = {r.id: r.source_sha for r in entry.regions if not r.executed}
    reasons += [f"{inc.region.id} (shown) changed since the build" for inc in includes
                if inc.region.id in shown and shown[inc.region.id] != inc.region.source_sha]
    if not reasons and [r.id for r in entry.regions] != [inc.region.id for inc in includes]:
        reasons.append("the page includes other regions than when it was built")
    if not reasons and not _matches_store(project, entry):
        reasons.append("its recorded outputs differ from the stored results of that run")
    return reasons


def check(project: Project) -> dict[str, list[str]]:
    """Map each page with executed code to the reasons its stored results are stale ([] = fresh)."""
    pages = discover(project)  # a broken config or page is reported before a missing record
    stored = record.load_record(project.record_path)
    if stored is None:
        raise UsageError(f"no build record at {project.record_path}: nothing to check")
    return {page: staleness(project, includes, stored.pages.get(page))
            for page, includes in pages.items() if any(inc.region.executed for inc in includes)}
