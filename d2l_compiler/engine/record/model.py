"""The build record as typed data: what each region run produced, each page, the whole build.

Frozen :mod:`msgspec` structs: one definition gives the JSON shape (``to_json``), the
validating reader (``from_json``, raising :class:`RecordError` that names the offending
field) and the published JSON Schema (:mod:`.schema`), so the three cannot drift. This
module holds what regions and pages are; :mod:`.whole` the whole record (the build's
provenance, its pages, other devices').

msgspec rather than pydantic: a 200 KB wheel with no dependencies (the engine's install
stays small), frozen structs that compare by value, strict validation and JSON Schema from
the same annotations.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal, TypeVar

import msgspec
from msgspec.structs import replace

from d2l_compiler.engine.formats import RECORD_FORMAT
from d2l_compiler.engine.record.digest import entry_digest, read_back
from d2l_compiler.engine.sources.inputs import Digest, PageInputs, RegionInputs

FORMAT = RECORD_FORMAT  # see d2l_compiler.engine.formats

_T = TypeVar("_T", bound="Typed")


class RecordError(ValueError):
    """A record (or a page process's event) that does not have the documented shape."""


class Typed(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A part of the record: read from JSON-ready data with validation (a field it does not
    have is an error too), written back."""

    @classmethod
    def from_json(cls: type[_T], data: Any, where: str = "") -> _T:
        """Read (and validate) the JSON shape; ``RecordError`` names a bad field."""
        return typed(data, cls, where or cls.__name__)

    def to_json(self) -> dict[str, Any]:
        """The JSON shape written to the record."""
        return msgspec.to_builtins(self)


def typed(data: Any, kind: type[_T], where: str) -> _T:
    """``data`` (JSON-ready) as ``kind``, validated strictly; ``RecordError`` naming
    ``where`` and the offending field otherwise."""
    try:
        return msgspec.convert(data, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise RecordError(f"{where}: {exc}") from None


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
SHOWN_FIELDS = ("status", "stdout", "stray", "raised", "warnings", "values", "displays")


class CapturedWarning(Typed, frozen=True):
    """A warning a region raised (recorded even where Python would hide it)."""

    category: str
    message: str
    where: str = ""


class Display(Typed, frozen=True):
    """A figure a region left open (matplotlib), or what a value shows of itself (its trailing
    expression's, or one passed to ``display()``: ``_repr_svg_``, ``_repr_png_``,
    ``_repr_html_``, ``_repr_markdown_``), kept in the record itself: the record is what
    travels between machines, shards and builds. HTML and Markdown are kept as the value wrote
    them and sanitised wherever they are shown."""

    mime: Literal["image/svg+xml", "image/png", "text/html", "text/markdown"]
    data: str  # SVG, HTML or Markdown text, or PNG bytes in base64
    alt: str = ""  # what it shows, in words (a figure's title)


class RegionError(Typed, frozen=True):
    """What made a region fail."""

    fault: Fault
    type: str = ""
    message: str = ""
    line: int | None = None
    traceback: str = ""


class RegionRun(Typed, frozen=True):
    """What one run of one region produced; ``index`` is its place among the page's runs."""

    index: int
    id: str
    status: Status = Status.OK
    duration: float = 0.0
    stdout: str = ""
    stray: str = ""  # what threads started by earlier regions printed while it ran
    raised: str = ""  # the exception a region marked ``raises`` raised, as it was shown
    warnings: tuple[CapturedWarning, ...] = ()
    values: dict[str, Any] = {}
    values_dropped: dict[str, Any] = {}
    error: RegionError | None = None
    # inputs it reached while it ran -> their digests (see record.observed)
    seen: dict[str, str] = {}
    # the page process's state before it ran, and what it changed (see run.statedigest)
    state_before: dict[str, str] = {}
    state_changed: dict[str, str | None] = {}
    displays: tuple[Display, ...] = ()  # figures, shown under its output

    def shows_the_same(self, other: RegionRun) -> bool:
        """Whether ``other`` shows what this run shows on the page (its outputs, warnings,
        values and how it ended): the one rule for "the same run", whether a re-run rebuilding
        state is compared with the recorded one or the record with the store."""
        return all(getattr(self, name) == getattr(other, name) for name in SHOWN_FIELDS)


class RegionEntry(Typed, frozen=True):
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


class Provenance(Typed, frozen=True, kw_only=True):
    """Where a page's regions ran, and from which commit: read in the page process after
    they ran (so PyTorch is described only if they used it)."""

    python: str = ""
    platform: str = ""
    cpu: str = ""
    cpu_count: int | None = None
    device: str = ""
    torch: str | None = None  # PyTorch's version, if the regions imported it
    threads: int | None = None  # its intra-op threads
    gpu: str | None = None  # the CUDA device's name, on a CUDA build
    state_digest_seconds: float = 0.0  # spent digesting state between regions
    git_commit: str = "unknown"
    page_run: str = ""  # which run of the page a result comes from
    complete_run: bool = False  # whether that run was the whole page
    # spans over the runs a page shows (each region's result may come from another build;
    # executed_at is the latest)
    first_executed_at: str | None = None
    first_git_commit: str | None = None
    reused_regions: tuple[str, ...] = ()  # outputs an earlier run of the page left standing
    # what the book's extensions record of the run (run.protocol.Probe): label -> text
    extensions: dict[str, str] = msgspec.field(default_factory=dict)

    def of_one_run(self) -> Provenance:
        """This page provenance as one of its runs has it (without the spans over its runs)."""
        return replace(self, first_executed_at=None, first_git_commit=None, reused_regions=())


class StoredPage(Typed, frozen=True):
    """A page's run as the store keeps it, under its key (no page layout, no digest)."""

    key: str
    inputs: RegionInputs | None  # the key's inputs, for reports (see sources.key)
    provenance: Provenance
    executed_at: str
    duration: float
    peak_mb: float
    runs: tuple[RegionRun, ...] = msgspec.field(name="regions")


class PageEntry(Typed, frozen=True):
    """A page in the record: its stored run laid out per include, sealed by a digest."""

    key: Digest
    inputs: PageInputs
    provenance: Provenance
    executed_at: str
    duration: float
    peak_mb: float
    regions: tuple[RegionEntry, ...]
    ran: bool = False
    digest: str = ""
    # the GPUs the page would use (declared, or inferred from its code): on a build without
    # them it ran on the CPU, and its stamp says so
    gpus_wanted: int = 0

    @property
    def executed(self) -> list[RegionEntry]:
        """The executed includes, in page order."""
        return [r for r in self.regions if r.executed]

    def sealed(self) -> PageEntry:
        """This entry as the record reads it back, with the digest of that content: whatever
        reading changes (``0`` where a float is kept becomes ``0.0``, an escaped surrogate
        pair one character, ...) happens before the digest, so reading never breaks the seal."""
        entry = PageEntry.from_json(read_back(replace(self, digest="").to_json()), "page")
        return replace(entry, digest=entry_digest(entry.to_json()))
