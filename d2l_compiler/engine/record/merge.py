"""Putting records together: the shards of one build, a CPU build and a GPU build.

:func:`merge_records` is order-independent: the same records in any order give the same
record. For each page and device it keeps one result; two results of the same page on the
same device must come from the same key, and results on different devices from the same code,
modules and data, or the merge is refused in one line naming the page and both files. Each
page keeps the provenance of the run that produced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.record.freshness import explain
from d2l_compiler.engine.record.io import tampered
from d2l_compiler.engine.record.model import PageEntry
from d2l_compiler.engine.record.whole import BuildProvenance, BuildSummary, Record

# the key inputs that say which sources a result was built from (the device, the Python and
# package versions may differ between machines; the code may not)
SOURCE_INPUTS = ("regions", "files", "data")


@dataclass(frozen=True)
class Labelled:
    """A record and the name it is reported by (its file)."""

    name: str
    record: Record


def _device(entry: PageEntry) -> str:
    return str(entry.inputs.device)


def _sources(entry: PageEntry) -> list:
    return [getattr(entry.inputs, name) for name in SOURCE_INPUTS]


def _why(a: PageEntry, b: PageEntry) -> str:
    return "; ".join(explain(a.inputs, b.inputs)[:3]) or "other inputs"


def merge_records(records: Sequence[Labelled], prefer: str = "cuda") -> Record:
    """One record holding every page of ``records``: for each page, its result from device
    ``prefer`` if there is one (else the first device by name) in ``pages``, the other
    devices' results in ``other_devices``."""
    if not records:
        raise UsageError("merge: name at least one record")
    chosen: dict[tuple[str, str], tuple[PageEntry, str]] = {}
    for item in sorted(records, key=lambda r: r.name):
        rec = item.record
        for page in sorted(set(rec.pages) | set(rec.other_devices)):
            for entry in rec.devices(page):
                if tampered(entry):
                    raise UsageError(f"merge: {item.name}: page {page} does not match its digest "
                                     "(edited by hand?)")
                slot = (page, _device(entry))
                if slot in chosen:
                    kept, kept_from = chosen[slot]
                    if kept.key != entry.key:
                        raise UsageError(f"merge: {page}: {kept_from} and {item.name} hold "
                                         f"{slot[1]} results built from different sources "
                                         f"({_why(kept, entry)})")
                    if (entry.executed_at, entry.digest) <= (kept.executed_at, kept.digest):
                        continue  # the same run twice, or an older run of the same key
                chosen[slot] = (entry, item.name)
    by_page: dict[str, list[tuple[PageEntry, str]]] = {}
    for (page, _), found in sorted(chosen.items()):
        by_page.setdefault(page, []).append(found)
    pages: dict[str, PageEntry] = {}
    others: dict[str, tuple[PageEntry, ...]] = {}
    for page, found in by_page.items():
        first, first_from = found[0]
        for entry, source in found[1:]:
            if _sources(entry) != _sources(first):
                raise UsageError(f"merge: {page}: {first_from} ({_device(first)}) and {source} "
                                 f"({_device(entry)}) were built from different sources "
                                 f"({_why(first, entry)})")
        found.sort(key=lambda f: (_device(f[0]) != prefer, _device(f[0])))
        pages[page] = found[0][0]
        if len(found) > 1:
            others[page] = tuple(entry for entry, _ in found[1:])
    return Record(_provenance([r.record.provenance for r in records], pages, others), pages,
                  other_devices=others)


def _provenance(builds: list[BuildProvenance], pages: dict[str, PageEntry],
                others: dict[str, tuple[PageEntry, ...]]) -> BuildProvenance:
    """The merged build: every device and commit involved, the latest date, what each ran."""
    def joined(values: object) -> str:
        return "+".join(sorted(set(values)))  # type: ignore[arg-type]

    devices = [_device(e) for e in pages.values()] + [_device(e) for es in others.values() for e in es]
    return BuildProvenance(
        joined(devices) or joined(b.device for b in builds), joined(b.git_commit for b in builds),
        max(b.date_utc for b in builds), joined(b.python for b in builds), BuildSummary(
            tuple(sorted({p for b in builds for p in b.summary.ran})),
            tuple(sorted({p for b in builds for p in b.summary.cached})),
            max(b.summary.seconds for b in builds),
            tuple(sorted({r for b in builds for r in b.summary.regions_ran})),
            tuple(sorted({t for b in builds for t in b.summary.timeline},
                         key=lambda t: (t.started, t.page)))))
