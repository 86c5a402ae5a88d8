"""Results a build did not run itself: those a record brought (merged from shards, committed
from a GPU machine) and the other devices' results kept beside this build's."""

from __future__ import annotations

from collections.abc import Callable

from d2l_compiler.engine.record.freshness import staleness
from d2l_compiler.engine.record.io import tampered
from d2l_compiler.engine.record.model import PageEntry, Status, StoredPage
from d2l_compiler.engine.record.whole import Record
from d2l_compiler.engine.sources.discover import Include
from d2l_compiler.engine.sources.project import Project


def recorded_results(previous: Record | None) -> dict[str, StoredPage]:
    """The region results a record holds, by region key, as the store would give them: a
    record merged from shards or committed from a GPU machine is reused, not run again
    (entries that do not match their digest are ignored)."""
    found: dict[str, StoredPage] = {}
    for entry in [e for page in (previous.pages if previous else ()) for e in previous.devices(page)]:
        region_keys = [k for _, k in entry.inputs.region_keys]
        if tampered(entry) or len(region_keys) != len(entry.executed):
            continue
        for region_key, shown in zip(region_keys, entry.executed, strict=True):
            if shown.run is not None and shown.run.status is Status.OK:
                found[region_key] = StoredPage(region_key, None, entry.provenance.of_one_run(),
                                               entry.executed_at, shown.run.duration,
                                               entry.peak_mb, (shown.run,))
    return found


def other_devices(project: Project, pages: dict[str, list[Include]], previous: Record | None,
                  device: str, say: Callable[[str], None]) -> dict[str, tuple[PageEntry, ...]]:
    """The previous record's results from other devices that still match their page (a GPU
    run merged in stays beside this CPU build's until its page's code changes)."""
    kept: dict[str, tuple[PageEntry, ...]] = {}
    for page in previous.pages if previous is not None else ():
        entries = [e for e in previous.devices(page) if e.inputs.device != device]
        if page not in pages:  # not built this time (--only): kept as it was
            kept[page] = tuple(entries)
            continue
        fresh = []
        for entry in entries:
            reasons = staleness(project, pages[page], entry)
            if reasons:
                say(f"dropped the {entry.inputs.device} results of {page}: "
                             f"{reasons[0]}")
            else:
                fresh.append(entry)
        kept[page] = tuple(fresh)
    return {page: entries for page, entries in kept.items() if entries}
