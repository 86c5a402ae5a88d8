"""Records a book names in the plugin's ``records:`` (one made on a GPU machine and
committed, say): their other devices' results are shown beside this build's own, each only
while it matches its page's sources now.

A named record is authoritative for what it brings: the results a previous build took from
named records (listed in ``<state_dir>/named-records.json``) are dropped and taken afresh from
the records named now, so a local build shows what a build from a fresh clone shows, and a
record no longer named leaves nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.record.freshness import staleness
from d2l_compiler.engine.record.io import load_record
from d2l_compiler.engine.record.model import PageEntry
from d2l_compiler.engine.record.whole import Record
from d2l_compiler.engine.sources.discover import Include
from d2l_compiler.engine.sources.project import Project

ORIGINS_FILE = "named-records.json"  # digest of each entry taken from a named record -> its name


@dataclass(frozen=True)
class NamedRecord:
    """A record named in ``records:`` and what it holds."""

    name: str
    record: Record


def load_named(project: Project) -> list[NamedRecord]:
    """Every record the book names, read and checked before anything runs: each must be a
    file inside the project holding a build record (``UsageError`` in one line otherwise)."""
    found = []
    root = project.root.resolve()
    for name in project.settings.records:
        path = (project.root / name).resolve()
        if not path.is_relative_to(root):
            raise UsageError(f"records: {name}: outside the project (name a file in it)")
        if path.exists() and not path.is_file():
            raise UsageError(f"records: {name}: not a file")
        record = load_record(path, hint=" (named in the d2l plugin's records:)")
        if record is None:
            raise UsageError(f"records: {name}: no build record there (missing, or of another "
                             "format; named in the d2l plugin's records: option)")
        found.append(NamedRecord(name, record))
    return found


def _origins(project: Project) -> dict[str, str]:
    try:
        data = json.loads((project.state_dir / ORIGINS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def save_origins(project: Project, origins: Mapping[str, str]) -> None:
    """Remember which shown results came from named records (see the module docstring)."""
    project.state_dir.mkdir(parents=True, exist_ok=True)
    (project.state_dir / ORIGINS_FILE).write_text(json.dumps(dict(sorted(origins.items()))),
                                                  encoding="utf-8")


def with_named_records(project: Project, pages: dict[str, list[Include]],
                       shown: Callable[[str], str | None],
                       kept: Mapping[str, tuple[PageEntry, ...]], named: list[NamedRecord],
                       say: Callable[[str], None]
                       ) -> tuple[dict[str, tuple[PageEntry, ...]], dict[str, str]]:
    """``kept`` (other devices' results a build carries) without those an earlier build took
    from named records, plus the other devices' results of ``named`` that match their page's
    sources now; one that does not is left out, saying why (a GPU is not always at hand to
    refresh it: the page then shows this machine's results alone). ``shown(page)`` is the
    device whose results the page shows first. Returns the results and their origins."""
    earlier = _origins(project)
    merged = {page: [e for e in entries if e.digest not in earlier]
              for page, entries in kept.items()}
    origins: dict[str, str] = {}
    for item in named:
        for page in sorted(set(item.record.pages) | set(item.record.other_devices)):
            if page not in pages:
                say(f"records: {item.name}: {page} is no page of this book with code: ignored")
                continue
            for entry in item.record.devices(page):
                other = entry.inputs.device
                if other == shown(page):
                    continue  # this build's own results are shown for its device
                # staleness checks the entry's digest first (a hand-edited record)
                reasons = staleness(project, pages[page], entry, against_store=False,
                                    elsewhere=True)
                if reasons:
                    say(f"not shown: the {other} results of {page} in {item.name}: {reasons[0]}")
                    continue
                entries = merged.setdefault(page, [])
                entries[:] = [e for e in entries if e.inputs.device != other] + [entry]
                origins[entry.digest] = item.name
    return ({page: tuple(sorted(entries, key=lambda e: str(e.inputs.device)))
             for page, entries in merged.items() if entries}, origins)
