"""The whole build record: where and when the build ran (:class:`BuildProvenance`, with the
timeline of the pages it ran), and its pages, with the same pages' results from other
devices (:class:`Record`). What a page and a region are is in :mod:`.model`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from d2l_compiler.engine.record.model import FORMAT, PageEntry
from d2l_compiler.engine.record.shape import RecordError, mapping, need, plain


@dataclass(frozen=True)
class PageTiming:
    """When and where one page ran in a build (wall clock, seconds since the epoch)."""

    page: str
    started: float
    ended: float
    worker: str = ""  # host:pid
    gpus: str | None = None  # the CUDA_VISIBLE_DEVICES it was given
    exclusive: bool = False

    @classmethod
    def from_json(cls, data: Any) -> PageTiming:
        """Read (and validate) the JSON shape; ``RecordError`` names a bad field."""
        data = mapping(data, "timeline entry")
        gpus = data.get("gpus")
        return cls(need(data, "page", str, "timeline entry"),
                   float(need(data, "started", (int, float), "timeline entry")),
                   float(need(data, "ended", (int, float), "timeline entry")),
                   str(data.get("worker", "")), gpus if isinstance(gpus, str) else None,
                   bool(data.get("exclusive")))

    def to_json(self) -> dict[str, Any]:
        """The JSON shape written to the record."""
        return plain(self)


@dataclass(frozen=True)
class BuildProvenance:
    """Where and when the whole build ran, and what it ran."""

    device: str
    git_commit: str
    date_utc: str
    python: str
    ran: tuple[str, ...] = ()
    cached: tuple[str, ...] = ()
    seconds: float = 0.0
    regions_ran: tuple[str, ...] = ()  # "page: path:section", in the order they were planned
    timeline: tuple[PageTiming, ...] = ()  # the pages this build ran, when and where

    @classmethod
    def from_json(cls, data: Any) -> BuildProvenance:
        """Read (and validate) the JSON shape; ``RecordError`` names a bad field."""
        data = mapping(data, "provenance")
        summary = mapping(data.get("summary") or {}, "provenance summary")
        return cls(str(data.get("device", "?")), str(data.get("git_commit", "unknown")),
                   str(data.get("date_utc", "")), str(data.get("python", "")),
                   tuple(summary.get("ran", ())), tuple(summary.get("cached", ())),
                   float(summary.get("seconds", 0.0)), tuple(summary.get("regions_ran", ())),
                   tuple(PageTiming.from_json(t) for t in summary.get("timeline") or ()))

    def to_json(self) -> dict[str, Any]:
        """The JSON shape written to the record."""
        return {"device": self.device, "git_commit": self.git_commit, "date_utc": self.date_utc,
                "python": self.python, "summary": {"ran": list(self.ran),
                                                   "cached": list(self.cached),
                                                   "regions_ran": list(self.regions_ran),
                                                   "timeline": [t.to_json() for t in self.timeline],
                                                   "seconds": self.seconds}}


@dataclass(frozen=True)
class Record:
    """The whole build record (``.d2l/record.json``, published as ``d2l-record.json``).

    ``pages`` hold each page's results from the device the build ran on; ``other_devices``
    the same pages' results from other devices (merged in from a GPU machine's record, say),
    shown beside them by the renderers that compare devices."""

    provenance: BuildProvenance
    pages: Mapping[str, PageEntry]
    format: int = FORMAT
    other_devices: Mapping[str, tuple[PageEntry, ...]] = field(default_factory=dict)

    def devices(self, page: str) -> list[PageEntry]:
        """Every result of ``page``: this build's device first, then the others by name."""
        main = [self.pages[page]] if page in self.pages else []
        return main + sorted(self.other_devices.get(page, ()), key=lambda e: e.inputs["device"])

    @classmethod
    def from_json(cls, data: Any) -> Record:
        """Read (and validate) the JSON shape; ``RecordError`` names a bad field."""
        data = mapping(data, "record")
        if data.get("format") != FORMAT:
            raise RecordError(f"format {data.get('format')!r}, expected {FORMAT}")
        pages = mapping(need(data, "pages", Mapping, "record"), "pages")
        others = mapping(data.get("other_devices") or {}, "other_devices")
        return cls(BuildProvenance.from_json(need(data, "provenance", Mapping, "record")),
                   {name: PageEntry.from_json(entry, f"page {name!r}")
                    for name, entry in pages.items()},
                   other_devices={name: tuple(PageEntry.from_json(e, f"page {name!r} ({n})")
                                              for n, e in enumerate(need(others, name, list,
                                                                          "other_devices")))
                                  for name in others})

    def to_json(self) -> dict[str, Any]:
        """The JSON shape written to the record."""
        data = {"format": self.format, "provenance": self.provenance.to_json(),
                "pages": {name: entry.to_json() for name, entry in self.pages.items()}}
        if any(self.other_devices.values()):
            data["other_devices"] = {name: [e.to_json() for e in entries]
                                     for name, entries in self.other_devices.items() if entries}
        return data
