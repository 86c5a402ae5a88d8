"""Staleness check without running anything: do the stored results still match their keys?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import key, record
from .discover import discover
from .errors import UsageError
from .project import Project


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
    reasons = (_changed("region", old.get("regions", {}), new["regions"])
               + _changed("module", old.get("files", {}), new["files"])
               + _changed("data file", old.get("data", {}), new["data"])
               + _changed("package", old.get("packages", {}), new["packages"]))
    for scalar in ("python", "device", "format", "env"):
        if old.get(scalar) != new[scalar]:
            reasons.append(f"{scalar} {old.get(scalar)} -> {new[scalar]}")
    return reasons


def check(project: Project) -> dict[str, list[str]]:
    """Map each page with executed code to the reasons its stored results are stale ([] = fresh).

    Keys are recomputed for the device each page was recorded on, so a machine without a GPU
    can vouch for results recorded on one.
    """
    stored = record.load_record(project.record_path)
    if stored is None:
        raise UsageError(f"no build record at {project.record_path}: nothing to check")
    verdicts: dict[str, list[str]] = {}
    for page, includes in discover(project).items():
        executed = [inc.region for inc in includes if inc.region.executed]
        entry = stored["pages"].get(page)
        if not executed:
            continue
        if entry is None:
            verdicts[page] = ["never built"]
            continue
        device = entry["inputs"]["device"]
        page_key, inputs = key.page_key(project.root, executed, device)
        verdicts[page] = [] if page_key == entry["key"] else (
            explain(entry["inputs"], inputs) or ["key changed"])
    return verdicts
