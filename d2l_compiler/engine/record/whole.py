"""The whole build record: where and when the build ran (:class:`BuildProvenance`, with the
timeline of the pages it ran), and its pages, with the same pages' results from other
devices (:class:`Record`). What a page and a region are is in :mod:`.model`."""

from __future__ import annotations

from typing import Any, Literal

from d2l_compiler.engine.record.model import FORMAT, PageEntry, RecordError, Typed, typed


class PageTiming(Typed, frozen=True):
    """When and where one page ran in a build (wall clock, seconds since the epoch)."""

    page: str
    started: float
    ended: float
    worker: str = ""  # host:pid
    gpus: str | None = None  # the CUDA_VISIBLE_DEVICES it was given
    exclusive: bool = False


class BuildSummary(Typed, frozen=True):
    """What a build ran and reused, and how long it took."""

    ran: tuple[str, ...] = ()
    cached: tuple[str, ...] = ()
    seconds: float = 0.0
    regions_ran: tuple[str, ...] = ()  # "page: path:section", in the order they were planned
    timeline: tuple[PageTiming, ...] = ()  # the pages this build ran, when and where


class BuildProvenance(Typed, frozen=True):
    """Where and when the whole build ran, and what it ran."""

    device: str
    git_commit: str
    date_utc: str
    python: str
    summary: BuildSummary = BuildSummary()


class Record(Typed, frozen=True):
    """The whole build record (``.d2l/record.json``, published as ``d2l-record.json``).

    ``pages`` hold each page's results from the device the build ran on; ``other_devices``
    the same pages' results from other devices (merged in from a GPU machine's record, say),
    shown beside them by the renderers that compare devices."""

    provenance: BuildProvenance
    pages: dict[str, PageEntry]
    format: Literal[FORMAT] = FORMAT  # type: ignore[valid-type]
    # the same pages' results from other devices (merged records), shown beside the main ones
    other_devices: dict[str, tuple[PageEntry, ...]] = {}

    def devices(self, page: str) -> list[PageEntry]:
        """Every result of ``page``: this build's device first, then the others by name."""
        main = [self.pages[page]] if page in self.pages else []
        return main + sorted(self.other_devices.get(page, ()), key=lambda e: e.inputs.device)

    @classmethod
    def from_json(cls, data: Any, where: str = "record") -> Record:
        """Read (and validate) the JSON shape; ``RecordError`` names a bad field (a record of
        another format is refused as such, before its fields are read)."""
        if not isinstance(data, dict):
            raise RecordError(f"{where}: expected an object, got {type(data).__name__}")
        if data.get("format") != FORMAT:
            raise RecordError(f"format {data.get('format')!r}, expected {FORMAT}")
        return typed(data, cls, where)
