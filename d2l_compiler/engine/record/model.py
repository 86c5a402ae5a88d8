"""The build record as typed data: what each region run produced, each page, the whole build.

Frozen dataclasses with one JSON shape (``to_json``) and one validating loader
(``from_json``, raising :class:`RecordError` that names the offending field), so the record is
written and read in exactly one place each. This module holds what regions and pages are;
:mod:`.whole` the whole record (the build's provenance, its pages, other devices'). Region
entries are flat in JSON (the include's fields beside its run's), as the published
``d2l-record.json`` has always been; its JSON Schema is ``record.schema.json`` beside this
module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from d2l_compiler.engine.formats import RECORD_FORMAT
from d2l_compiler.engine.record.digest import entry_digest, read_back
from d2l_compiler.engine.record.shape import RecordError, mapping, need, plain

FORMAT = RECORD_FORMAT  # see d2l_compiler.engine.formats


class Status(str, Enum):
    """How a region's run ended."""

    OK = "ok"
    ERROR = "error"
    NOT_RUN = "not run"


class Fault(str, Enum):
    """Why a run failed (see :mod:`d2l_compiler.engine.run.runner`)."""

    EXCEPTION = "exception"
    EXIT = "exit"
    CRASH = "crash"
    OUT_OF_MEMORY = "out-of-memory"
    OUTPUT_LIMIT = "output-limit"
    TIMEOUT = "timeout"
    DID_NOT_RAISE = "did-not-raise"
    CORRUPT_RESULT = "corrupt-result"


# what a region's run shows on a page (see RegionRun.shows_the_same)
SHOWN_FIELDS = ("status", "stdout", "stray", "raised", "warnings", "values")


@dataclass(frozen=True)
class CapturedWarning:
    """A warning a region raised (recorded even where Python would hide it)."""

    category: str
    message: str
    where: str = ""

    @classmethod
    def from_json(cls, data: Any, where: str) -> CapturedWarning:
        """Read (and validate) the JSON shape; ``RecordError`` names a bad field."""
        data = mapping(data, where)
        return cls(need(data, "category", str, where), need(data, "message", str, where),
                   str(data.get("where", "")))


@dataclass(frozen=True)
class RegionError:
    """What made a region fail."""

    fault: Fault
    type: str
    message: str
    line: int | None = None
    traceback: str = ""

    @classmethod
    def from_json(cls, data: Any, where: str) -> RegionError:
        """Read (and validate) the JSON shape; ``RecordError`` names a bad field."""
        data = mapping(data, where)
        try:
            fault = Fault(data.get("fault"))
        except ValueError:
            raise RecordError(f"{where}: unknown fault {data.get('fault')!r}") from None
        line = data.get("line")
        return cls(fault, str(data.get("type", "")), str(data.get("message", "")),
                   line if isinstance(line, int) else None, str(data.get("traceback", "")))


@dataclass(frozen=True)
class RegionRun:
    """What one run of one region produced; ``index`` is its place among the page's runs."""

    index: int
    id: str
    status: Status = Status.OK
    duration: float = 0.0
    stdout: str = ""
    stray: str = ""
    raised: str = ""
    warnings: tuple[CapturedWarning, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    values_dropped: Mapping[str, Any] = field(default_factory=dict)
    error: RegionError | None = None
    # inputs it reached while it ran -> their digests (see record.observed)
    seen: Mapping[str, str] = field(default_factory=dict)
    # the page process's state before it ran, and what it changed (see run.statedigest)
    state_before: Mapping[str, str] = field(default_factory=dict)
    state_changed: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any, where: str = "region run") -> RegionRun:
        """Read (and validate) the JSON shape; ``RecordError`` names a bad field."""
        data = mapping(data, where)
        try:
            status = Status(data.get("status", "ok"))
        except ValueError:
            raise RecordError(f"{where}: unknown status {data.get('status')!r}") from None
        warnings = data.get("warnings") or []
        if not isinstance(warnings, list):
            raise RecordError(f"{where}: 'warnings' is not a list")
        error = data.get("error")
        return cls(
            index=data["index"] if isinstance(data.get("index"), int) else -1,
            id=need(data, "id", str, where), status=status,
            duration=float(data.get("duration") or 0.0),
            stdout=str(data.get("stdout") or ""), stray=str(data.get("stray") or ""),
            raised=str(data.get("raised") or ""),
            warnings=tuple(CapturedWarning.from_json(w, f"{where} warning") for w in warnings),
            values=dict(mapping(data.get("values") or {}, f"{where} values")),
            values_dropped=dict(mapping(data.get("values_dropped") or {}, f"{where} dropped")),
            error=RegionError.from_json(error, f"{where} error") if error is not None else None,
            seen=_strings(data.get("seen"), f"{where} seen"),
            state_before=_strings(data.get("state_before"), f"{where} state"),
            state_changed=_strings(data.get("state_changed"), f"{where} state", none=True))

    def shows_the_same(self, other: RegionRun) -> bool:
        """Whether ``other`` shows what this run shows on the page (its outputs, warnings,
        values and how it ended): the one rule for "the same run", whether a re-run rebuilding
        state is compared with the recorded one or the record with the store."""
        return all(getattr(self, name) == getattr(other, name) for name in SHOWN_FIELDS)

    def to_json(self) -> dict[str, Any]:
        """The JSON shape written to the record."""
        data: dict[str, Any] = {"id": self.id, "status": self.status.value,
                                "duration": self.duration, "stdout": self.stdout,
                                "warnings": [plain(w) for w in self.warnings],
                                "values": dict(self.values)}
        for name in ("stray", "raised"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        if self.values_dropped:
            data["values_dropped"] = dict(self.values_dropped)
        if self.error is not None:
            data["error"] = plain(self.error)
        for name in ("seen", "state_before", "state_changed"):
            if getattr(self, name):
                data[name] = dict(getattr(self, name))
        return data


def _strings(data: Any, where: str, none: bool = False) -> dict[str, Any]:
    """A mapping of names to digests (``None`` too where ``none``)."""
    found = dict(mapping(data or {}, where))
    for name, value in found.items():
        if not isinstance(value, str) and not (none and value is None):
            raise RecordError(f"{where}: {name!r} is not a digest")
    return found


@dataclass(frozen=True)
class RegionEntry:
    """One include of a page: which region, where, and (if it is executed) its run."""

    id: str
    section: str
    path: str
    line: int
    md_line: int
    target: str
    source_sha: str
    executed: bool
    run: RegionRun | None = None

    @classmethod
    def from_json(cls, data: Any, where: str) -> RegionEntry:
        """Read (and validate) the JSON shape; ``RecordError`` names a bad field."""
        data = mapping(data, where)
        executed = bool(data.get("executed"))
        return cls(need(data, "id", str, where), need(data, "section", str, where),
                   need(data, "path", str, where), need(data, "line", int, where),
                   need(data, "md_line", int, where), str(data.get("target") or data["id"]),
                   need(data, "source_sha", str, where), executed,
                   RegionRun.from_json(data, where) if executed else None)

    def to_json(self) -> dict[str, Any]:
        """The JSON shape written to the record."""
        data = self.run.to_json() if self.run is not None else {}
        data.update(id=self.id, section=self.section, path=self.path, line=self.line,
                    md_line=self.md_line, target=self.target, source_sha=self.source_sha,
                    executed=self.executed)
        return data


def _run_fields(data: Mapping[str, Any], where: str) -> tuple[Any, ...]:
    """key, inputs, provenance, executed_at, duration, peak_mb: what a page's run shares."""
    return (need(data, "key", str, where), dict(need(data, "inputs", Mapping, where)),
            dict(need(data, "provenance", Mapping, where)), need(data, "executed_at", str, where),
            float(need(data, "duration", (int, float), where)), float(data.get("peak_mb") or 0.0))


def _run_fields_json(page: StoredPage | PageEntry) -> dict[str, Any]:
    return {"key": page.key, "inputs": dict(page.inputs), "provenance": dict(page.provenance),
            "executed_at": page.executed_at, "duration": page.duration, "peak_mb": page.peak_mb}


@dataclass(frozen=True)
class StoredPage:
    """A page's run as the store keeps it, under its key (no page layout, no digest)."""

    key: str
    inputs: Mapping[str, Any]  # the key's inputs, for reports (see sources.key.page_keys)
    provenance: Mapping[str, Any]  # where the regions ran (python, cpu, device, torch, ...)
    executed_at: str
    duration: float
    peak_mb: float
    runs: tuple[RegionRun, ...]

    @classmethod
    def from_json(cls, data: Any, where: str = "stored page") -> StoredPage:
        """Read (and validate) the JSON shape; ``RecordError`` names a bad field."""
        data = mapping(data, where)
        runs = need(data, "regions", list, where)
        return cls(*_run_fields(data, where),
                   tuple(RegionRun.from_json(r, f"{where} region {n}") for n, r in enumerate(runs)))

    def to_json(self) -> dict[str, Any]:
        """The JSON shape written to the record."""
        return {**_run_fields_json(self),
                "regions": [{**r.to_json(), "index": r.index} for r in self.runs]}


@dataclass(frozen=True)
class PageEntry:
    """A page in the record: its stored run laid out per include, sealed by a digest."""

    key: str
    inputs: Mapping[str, Any]
    provenance: Mapping[str, Any]
    executed_at: str
    duration: float
    peak_mb: float
    regions: tuple[RegionEntry, ...]
    ran: bool = False
    digest: str = ""

    @property
    def executed(self) -> list[RegionEntry]:
        """The executed includes, in page order."""
        return [r for r in self.regions if r.executed]

    @classmethod
    def from_json(cls, data: Any, where: str) -> PageEntry:
        """Read (and validate) the JSON shape; ``RecordError`` names a bad field."""
        data = mapping(data, where)
        regions = need(data, "regions", list, where)
        return cls(*_run_fields(data, where),
                   tuple(RegionEntry.from_json(r, f"{where} region {n}")
                         for n, r in enumerate(regions)),
                   bool(data.get("ran")), need(data, "digest", str, where))

    def to_json(self) -> dict[str, Any]:
        """The JSON shape written to the record."""
        return {**_run_fields_json(self), "regions": [r.to_json() for r in self.regions],
                "ran": self.ran, "digest": self.digest}

    def sealed(self) -> PageEntry:
        """This entry as the record reads it back, with the digest of that content: whatever
        reading changes (``0`` where a float is kept becomes ``0.0``, an escaped surrogate
        pair one character, ...) happens before the digest, so reading never breaks the seal."""
        entry = PageEntry.from_json(read_back(replace(self, digest="").to_json()), "page")
        return replace(entry, digest=entry_digest(entry.to_json()))
