"""``python -m d2l_compiler build --verify``: is the record what a build from scratch shows?

Every page (or one, with ``--only``) is built twice from scratch, each time in a fresh
temporary state directory (no store, no record: nothing is reused), and each executed
region's output is compared with the project's record. A region whose two scratch runs
disagree is *nondeterministic* (reported, not fatal); one whose scratch runs agree with each
other but not with the record is *stale* (exit 1). The project's own state directory, record,
store, site and docs are never written: the scratch builds write their record only.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from d2l_compiler.engine.build import BuildOptions, build
from d2l_compiler.engine.errors import BuildError, NoRecord, UsageError
from d2l_compiler.engine.progress import PlainProgress, make_progress
from d2l_compiler.engine.record.io import load_record
from d2l_compiler.engine.record.model import PageEntry, RegionEntry, RegionRun
from d2l_compiler.engine.record.whole import Record
from d2l_compiler.engine.sources.project import Project

_SHOWN = 60  # characters of a differing line shown in a report


@dataclass(frozen=True)
class ScratchProject(Project):
    """The same project (sources, docs, settings) with its engine state in ``scratch``: the
    record, the store (whatever ``D2L_STORE_DIR`` says) and the logs all go there."""

    scratch: Path

    @property
    def state_dir(self) -> Path:
        """The scratch directory."""
        return self.scratch

    @property
    def store_dir(self) -> Path:
        """A store of its own, empty at first: a scratch build reuses nothing."""
        return self.scratch / "store"

    @property
    def record_path(self) -> Path:
        """The scratch build's record."""
        return self.scratch / "record.json"


@dataclass(frozen=True)
class RegionOutput:
    """What a reader sees of one region's run: the fields verification compares, each as
    lines of text so that a difference can be shown as its first differing line."""

    status: tuple[str, ...]
    stdout: tuple[str, ...]
    raised: tuple[str, ...]
    error: tuple[str, ...]
    values: tuple[str, ...]
    warnings: tuple[str, ...]
    stray: tuple[str, ...] = ()
    displays: tuple[str, ...] = ()  # each picture: its type, words and a digest of its data

    @classmethod
    def of(cls, run: RegionRun) -> RegionOutput:
        """The compared output of ``run`` (its timing, digests and traceback are not)."""
        error = (f"{run.error.type}: {run.error.message}",) if run.error is not None else ()
        # split, not splitlines: "x" and "x\n" differ (as ('x',) and ('x', ''))
        return cls((run.status.value,), tuple(run.stdout.split("\n")),
                   tuple(run.raised.split("\n")), error,
                   tuple(f"{name} = {_json(value)}" for name, value in sorted(run.values.items())),
                   tuple(f"{w.category}: {w.message}" + (f" ({w.where})" if w.where else "")
                         for w in run.warnings),
                   tuple(run.stray.split("\n")) if run.stray else (),
                   tuple(f"{d.mime} {d.alt!r} "
                         + hashlib.sha256(d.data.encode("utf-8")).hexdigest()[:16]
                         for d in run.displays))

    def first_difference(self, other: RegionOutput) -> str | None:
        """``field: 'this line' / 'that line'`` for the first line that differs, or None."""
        for name in self.__dataclass_fields__:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine == theirs:
                continue
            # the first differing line, or where the shorter one ends
            at = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b),
                      min(len(mine), len(theirs)))
            return f"{name}: {_line(mine, at)} / {_line(theirs, at)}"
        return None


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _line(lines: tuple[str, ...], at: int) -> str:
    """Line ``at`` of ``lines``, shortened and quoted; ``(none)`` past the end."""
    if at >= len(lines):
        return "(none)"
    text = lines[at]
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN - 1] + "…")


class Verdict(str, Enum):
    """How a region's recorded output compares with builds from scratch."""

    STALE = "stale"  # the scratch runs agree with each other, not with the record
    NONDETERMINISTIC = "nondeterministic"  # the two scratch runs differ


@dataclass(frozen=True)
class Finding:
    """One region whose output differs, where it is, and the first line that differs."""

    page: str
    include: RegionEntry  # the include, as the scratch build (or, if gone, the record) has it
    verdict: Verdict
    detail: str

    def __str__(self) -> str:
        inc = self.include
        return (f"{self.page}:{inc.md_line}  {inc.path}:{inc.line}  {inc.id}: "
                f"{self.verdict.value} ({self.detail})")


@dataclass
class Verification:
    """What ``build --verify`` found."""

    compared: int = 0
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, verdict: Verdict) -> int:
        """How many regions got ``verdict``."""
        return sum(f.verdict is verdict for f in self.findings)

    @property
    def exit_code(self) -> int:
        """1 if anything is stale (nondeterminism alone is reported, not fatal), else 0."""
        return 1 if self.count(Verdict.STALE) else 0

    def __str__(self) -> str:
        return (f"verify: {self.compared} regions compared, {self.count(Verdict.STALE)} stale, "
                f"{self.count(Verdict.NONDETERMINISTIC)} nondeterministic; {self.seconds:.1f} s")


def verify(project: Project, options: BuildOptions,
           progress: PlainProgress | None = None) -> Verification:
    """Build ``project`` from scratch twice (``options.only``: that page) and compare each
    executed region's output with the project's record.

    ``UsageError`` if there is no record yet; ``BuildError`` if a scratch build fails (a
    region that fails from scratch cannot be what a successful build recorded)."""
    start = time.perf_counter()
    recorded = load_record(project.record_path)
    if recorded is None:
        raise NoRecord(project.record_path, "build first (python -m d2l_compiler build), "
                       "then verify it")
    scratch_options = replace(options, force=True, publish=True, record_only=True, warm=None,
                              shard=None)
    first, second = (_scratch_build(project, scratch_options, progress, n) for n in (1, 2))
    result = Verification()
    for page, entry in first.pages.items():
        again = _by_occurrence(second.pages.get(page))
        was = _by_occurrence(_recorded_entry(recorded, page, entry.inputs.device))
        for occurrence, include in _occurrences(entry):
            result.compared += 1
            finding = _compare(page, include, again.get(occurrence), was.get(occurrence))
            if finding is not None:
                result.findings.append(finding)
    only = options.only and Path(options.only).as_posix().removeprefix("docs/")
    for page, entry in recorded.pages.items():  # recorded regions no page includes any more
        if only and page != only:
            continue
        gone = _gone(entry, first.pages.get(page))
        result.findings += [Finding(page, inc, Verdict.STALE, "the page no longer runs it")
                            for inc in gone]
        result.compared += len(gone)
    result.seconds = time.perf_counter() - start
    return result


def _scratch_build(project: Project, options: BuildOptions, progress: PlainProgress | None,
                   number: int) -> Record:
    """Build ``number`` (1 or 2) from scratch, in a temporary state directory; its record."""
    scratch = Path(tempfile.mkdtemp(prefix="d2l-verify-"))
    progress = progress or make_progress()  # a build closes its progress: a new one each
    progress.say(f"verify: build {number} of 2 from scratch ...")
    try:
        scratch_project = ScratchProject(project.config_file, scratch)
        try:
            build(scratch_project, options, None, progress)
        except BuildError as exc:
            if isinstance(exc, UsageError):
                raise
            raise BuildError(f"a build from scratch fails, so the record cannot be what it "
                             f"shows:\n{exc}") from None
        built = load_record(scratch_project.record_path)
        assert built is not None  # a successful build writes its record
        return built
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _occurrences(entry: PageEntry | None) -> Iterator[tuple[tuple[str, int], RegionEntry]]:
    """Each executed include named by (region id, how many times it was included before):
    the same include on both sides even when other regions were added or removed."""
    seen: dict[str, int] = {}
    for include in entry.executed if entry is not None else ():
        seen[include.id] = seen.get(include.id, -1) + 1
        yield (include.id, seen[include.id]), include


def _by_occurrence(entry: PageEntry | None) -> dict[tuple[str, int], RegionEntry]:
    return dict(_occurrences(entry))


def _recorded_entry(recorded: Record, page: str, device: str | None) -> PageEntry | None:
    """The record's results of ``page`` on ``device`` (its own or another device's)."""
    return next((e for e in recorded.devices(page) if e.inputs.device == device), None)


def _gone(recorded: PageEntry, scratch: PageEntry | None) -> list[RegionEntry]:
    """The record's executed includes of a page that the scratch build does not have."""
    now = _by_occurrence(scratch)
    return [inc for occurrence, inc in _occurrences(recorded) if occurrence not in now]


def _compare(page: str, include: RegionEntry, again: RegionEntry | None,
             was: RegionEntry | None) -> Finding | None:
    """The finding for one include of the first scratch build (``again``: the same include
    in the second, ``was``: in the record), or None when all three show the same output."""
    assert include.run is not None  # an executed include has a run
    output = RegionOutput.of(include.run)
    rerun = again.run if again is not None else None
    recorded = was.run if was is not None else None
    if rerun is None:  # cannot happen for the same sources; say so rather than guess
        return Finding(page, include, Verdict.NONDETERMINISTIC, "the second build lacks it")
    between_runs = output.first_difference(RegionOutput.of(rerun))
    if between_runs is not None:
        return Finding(page, include, Verdict.NONDETERMINISTIC, f"run 1 / run 2: {between_runs}")
    if recorded is None:
        return Finding(page, include, Verdict.STALE, "not in the record")
    with_record = RegionOutput.of(recorded).first_difference(output)
    if with_record is not None:
        return Finding(page, include, Verdict.STALE, f"record / scratch: {with_record}")
    return None
