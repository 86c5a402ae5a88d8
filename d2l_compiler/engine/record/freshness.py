"""Staleness check without running anything: do the stored results still match their keys?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from d2l_compiler.engine.sources import key
from d2l_compiler.engine.record import io as record
from d2l_compiler.engine.sources.discover import discover
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


def _matches_store(project: Project, entry: Mapping[str, Any]) -> bool:
    """Whether the record's outputs equal the store's entry for the same key (True if the
    store does not have it: a record checked out without its store is judged by its digest)."""
    stored = Store(project.state_dir / "store", warn=lambda _: None).get(entry["key"])
    if stored is None:
        return True
    ran = [{k: r.get(k) for k in _RUN_FIELDS} for r in stored["regions"]]
    shown = [{k: r.get(k) for k in _RUN_FIELDS} for r in entry["regions"] if r.get("executed")]
    return ran == shown


def check(project: Project) -> dict[str, list[str]]:
    """Map each page with executed code to the reasons its stored results are stale ([] = fresh).

    Keys are recomputed for the device each page was recorded on, so a machine without a GPU
    can vouch for results recorded on one.
    """
    pages = discover(project)  # a broken config or page is reported before a missing record
    stored = record.load_record(project.record_path)
    if stored is None:
        raise UsageError(f"no build record at {project.record_path}: nothing to check")
    verdicts: dict[str, list[str]] = {}
    for page, includes in pages.items():
        executed = [inc.region for inc in includes if inc.region.executed]
        entry = stored["pages"].get(page)
        if not executed:
            continue
        if entry is None:
            verdicts[page] = ["never built"]
            continue
        if record.tampered(entry):
            verdicts[page] = ["its record entry does not match its digest (edited by hand?)"]
            continue
        device = entry["inputs"]["device"]
        page_key, inputs = key.page_key(project.root, executed, device)
        verdicts[page] = [] if page_key == entry["key"] else (
            explain(entry["inputs"], inputs) or ["key changed"])
        if not verdicts[page] and not _matches_store(project, entry):
            verdicts[page] = ["its recorded outputs differ from the stored results of that run"]
    return verdicts
