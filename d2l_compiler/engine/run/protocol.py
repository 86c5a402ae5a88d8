"""What the engine hands a page process: the regions to run and how (:class:`PageProcessJob`,
written as JSON beside the process; its results come back as :class:`~..record.model.RegionRun`
events). Typed once, so the engine's writing and the page process's reading cannot drift."""

from __future__ import annotations

import msgspec


class JobRegion(msgspec.Struct, frozen=True, kw_only=True):
    """One region to run: where it is, its code, and what the page process needs to record
    its values the same way whatever ran before it."""

    index: int  # its place among the page's executed regions
    id: str
    path: str  # its file, relative to the project root
    first_line: int
    code: str
    expect: str | None = None  # the exception it is marked to raise (``# raises:``)
    binds: tuple[str, ...] = ()  # the names its text binds
    opaque: bool = True  # whether it may bind names its text does not show


class Probe(msgspec.Struct, frozen=True, kw_only=True):
    """A fact an extension records about each page's run (its provenance): ``function``
    (``"module:name"``, returning text) is called in the page process after the regions ran,
    if they imported the module ``when`` (always, when it is empty); the result is kept under
    ``label`` in ``Provenance.extensions`` and shown in the page's stamp."""

    label: str
    function: str
    when: str = ""


class PageProcessJob(msgspec.Struct, frozen=True, kw_only=True):
    """The regions one page process runs, in order, in one namespace."""

    root: str  # the project root (put first on ``sys.path``)
    regions: tuple[JobRegion, ...]
    output_limit: int = 1_000_000  # characters one region may print
    # the engine's own folders in the project (its state): watched by the engine after the
    # page, not inputs of a region (see record.guard)
    engine_dirs: tuple[str, ...] = ()
    memory_mb: int | None = None  # its memory limit, if any (set on the process by the engine)
    probes: tuple[Probe, ...] = ()  # the facts the book's extensions record of each run


def read_job(data: bytes) -> PageProcessJob:
    """The job in a job file (``msgspec.ValidationError`` if it is not one)."""
    return msgspec.json.decode(data, type=PageProcessJob)


def job_bytes(job: PageProcessJob) -> bytes:
    """The job file's content."""
    return msgspec.json.encode(job)
