"""Orchestration: discover -> key -> run what changed -> record -> strict MkDocs build."""

from __future__ import annotations

import fcntl
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from d2l_compiler.engine.sources import key
from d2l_compiler.engine.record import io as record
from d2l_compiler.engine.record.model import (BuildProvenance, PageEntry, Record, RegionEntry,
                                              RegionRun, StoredPage)
from d2l_compiler.engine.run.device import resolve_device
from d2l_compiler.engine.sources.discover import Include, discover
from d2l_compiler.engine.errors import BuildError
from d2l_compiler.engine.render.notebook import write_notebooks
from d2l_compiler.engine.progress import PlainProgress, make_progress
from d2l_compiler.engine.sources.project import Project
from d2l_compiler.engine.render.markdown import RenderError, labels_for
from d2l_compiler.engine.render.tokens import extensions_for
from d2l_compiler.engine.run.child import provenance as where_this_runs
from d2l_compiler.engine.run.plan import plan_processes
from d2l_compiler.engine.run.runner import Limits, run_page
from d2l_compiler.engine.run.warm import WarmPool
from d2l_compiler.engine.publish.sitedir import check_site_dir
from d2l_compiler.engine.sources.fingerprint import fingerprint, renderer_wired
from d2l_compiler.engine.record.store import Store


# results no page uses any more, kept (newest first) so that undoing an edit runs nothing
SPARE_RESULTS = 64


@dataclass
class BuildOptions:
    """What ``python -m d2l_compiler build`` was asked to do."""

    only: str | None = None
    force: bool = False
    limits: Limits = field(default_factory=Limits)
    warm: WarmPool | None = None  # the live preview's warm page process (see run.warm)


@dataclass
class BuildSummary:
    """Counts and timings of one build, for the terminal and for tests."""

    ran: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    regions_ran: list[str] = field(default_factory=list)  # "page: path:section"
    regions_cached: int = 0

    def __str__(self) -> str:
        return (f"pages: {len(self.ran)} run, {len(self.cached)} cached, "
                f"{len(self.failed)} failed; regions: {len(self.regions_ran)} run, "
                f"{self.regions_cached} cached; {self.seconds:.1f} s")


@contextmanager
def _exclusive(project: Project, progress: PlainProgress):
    """One build at a time per project: a second one waits instead of racing the first."""
    project.state_dir.mkdir(parents=True, exist_ok=True)
    with open(project.state_dir / "lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress.say("waiting for another build of this project to finish ...")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _regions(runs: list[RegionRun], includes: list[Include]) -> tuple[RegionEntry, ...]:
    """One entry per include, in page order: what the region is now, plus what its run
    produced (the n-th executed include gets the n-th run, so a region included twice
    shows each run's own output)."""
    ordered = iter(sorted(runs, key=lambda r: r.index))
    return tuple(RegionEntry(inc.region.id, inc.region.section, inc.region.path,
                             inc.region.first_line, inc.md_line, inc.target,
                             inc.region.source_sha, inc.region.executed,
                             next(ordered) if inc.region.executed else None)
                 for inc in includes)


def _protected(project: Project, pages: dict[str, list[Include]]) -> list[Path]:
    """What a site directory must never be or contain."""
    sources = {project.root / inc.region.path for incs in pages.values() for inc in incs}
    return [project.root, project.docs_dir, project.state_dir, project.config_file, *sources]


def build(project: Project, options: BuildOptions, site_dir: Path | None,
          progress: PlainProgress | None = None) -> BuildSummary:
    """Run what changed, write the record, then (unless ``site_dir`` is None) build the site.

    The whole build holds the project's lock, so concurrent builds queue instead of racing.
    Every page is attempted; if any fails, the record and the site are left as they were
    (pages that succeeded are kept in the store, so the next build does not redo them).
    """
    pages = discover(project, options.only)
    device = resolve_device(project.state_dir)  # before anything runs: no GPU is a usage error
    if site_dir is not None:  # refuse before anything runs, so that nothing is touched
        check_site_dir(site_dir, _protected(project, pages), project.docs_dir)
        renderer_wired(project)
    progress = progress or make_progress()
    try:
        with _exclusive(project, progress):
            summary, failures = _execute(project, options, device, pages, progress)
            if failures:
                raise BuildError("\n".join(failures) + f"\nbuild failed ({summary}): "
                                 "the record and the site were left unchanged")
            if site_dir is not None:
                from d2l_compiler.engine.publish.mkdocs_plugin import build_site

                build_site(project, site_dir, _protected(project, pages))
    finally:
        progress.close()
    return summary


def _execute(project: Project, options: BuildOptions, device: str, pages: dict,
             progress: PlainProgress) -> tuple[BuildSummary, list[str]]:
    """Run every page whose key has no stored result (all with ``force``); write the record."""
    start = time.perf_counter()
    sources_before = fingerprint(project, pages)
    store = Store(project.state_dir / "store", warn=lambda msg: print(msg, file=sys.stderr))
    previous = record.load_record(project.record_path)
    summary, failures = BuildSummary(), []
    new_pages: dict[str, PageEntry] = {}
    if options.only is not None and previous is not None:  # keep the other pages' results
        new_pages.update({p: e for p, e in previous.pages.items() if p not in pages})
    for page, includes in pages.items():
        executed = [inc for inc in includes if inc.region.executed]
        keys = key.include_keys(project.root, includes, device)
        found = {i: None if options.force else store.get(k) for i, (k, _) in enumerate(keys.regions)}
        to_run = [i for i, hit in found.items() if hit is None]
        summary.regions_cached += len(found) - len(to_run)
        if not to_run:
            summary.cached.append(page)
            progress.cached(page)
        else:
            progress.started(page, len(to_run))
            if len(to_run) < len(executed):  # say which: an author wants to see the edit's reach
                progress.say("  only " + ", ".join(executed[i].region.section for i in to_run))
            began = time.monotonic()
            ran, failure, differs = _run_regions(project, page, executed, keys, to_run, device,
                                                 options, progress, found)
            if differs and not failure and len(to_run) < len(executed):
                # an ancestor is not deterministic: run the whole page, so that every output
                # comes from one run of what the page shows
                progress.say(f"  {', '.join(executed[i].region.section for i in differs)} "
                             "printed or bound something else when run again to rebuild "
                             "state; the whole page runs again")
                ran, failure, differs = _run_regions(project, page, executed, keys,
                                                     list(range(len(executed))), device,
                                                     options, progress, found)
            if differs and not failure:  # even so: a region in its own process re-ran it
                failure = "\n".join(_not_reproduced(executed[i]) for i in differs)
                ran = {}  # nothing of this run may be reused: some outputs do not fit others
            progress.finished(page, not failure, time.monotonic() - began)
            for index, entry in ran.items():
                store.put(entry.key, entry)  # kept even if another region or page fails
                found[index] = entry
            summary.regions_ran += [f"{page}: {executed[i].region.id}" for i in sorted(ran)]
            if failure:
                summary.failed.append(page)
                failures.append(failure)
                continue
            summary.ran.append(page)
        # the key covers executed code only: what the page merely shows is refreshed
        new_pages[page] = _page_entry(keys, found, includes, page in summary.ran)
    summary.seconds = time.perf_counter() - start
    if failures:
        return summary, failures
    changed = fingerprint(project, pages).changed_since(sources_before)
    if changed:
        return summary, [f"sources changed while the build ran ({', '.join(changed[:5])}): "
                         "the outputs may not match them; run the build again"]
    provenance = BuildProvenance(device, record.git_commit(project.root), record.utc_now(),
                                 sys.version.split()[0], tuple(summary.ran),
                                 tuple(summary.cached), round(summary.seconds, 3),
                                 tuple(summary.regions_ran))
    full = Record(provenance, new_pages)
    extensions = extensions_for(project.settings.extensions)
    try:  # derived files first: if a page cannot be rendered, the old record stays
        for write_derived in extensions.derived:
            write_derived(project.docs_dir, full)
        write_notebooks(project.docs_dir, full, {
            page: ((project.docs_dir / page).read_text(encoding="utf-8"),
                   {inc.region.id: inc.region.code for inc in includes})
            for page, includes in pages.items()}, project.root, extensions,
            labels_for(project.settings.labels),
            project.settings.notebook_install)
    except RenderError as exc:
        raise BuildError(str(exc)) from None
    record.write_record(project.record_path, full)
    store.keep_only((region_key for entry in new_pages.values()
                     for _, region_key in entry.inputs.get("region_keys", ())), SPARE_RESULTS)
    return summary, []


_SAME_RUN = ("status", "stdout", "stray", "raised", "values")


def _run_regions(project: Project, page: str, executed: list[Include], keys: key.PageKeys,
                 to_run: list[int], device: str, options: BuildOptions,
                 progress: PlainProgress, found: dict[int, StoredPage | None],
                 ) -> tuple[dict[int, StoredPage], str, list[int]]:
    """Run the regions ``to_run`` of a page (see :mod:`.run.plan`), within the page's time
    limit: the stored results of the processes that succeeded, the failures in words, and
    the regions that, re-run only to rebuild state, did not reproduce their recorded run."""
    deadline = time.monotonic() + options.limits.timeout
    ran: dict[int, StoredPage] = {}
    failures, differs = [], []
    for plan in plan_processes(keys.nodes, to_run):
        run = run_page(project.root, page, [executed[i] for i in plan.indices], device=device,
                       limits=options.limits, deadline=deadline, log_dir=project.state_dir / "logs",
                       on_event=lambda event: progress.region(page, event),
                       indices=list(plan.indices), replay=plan.replay, log_label=plan.label,
                       warm=options.warm)
        if not run.ok:
            failures.append(f"{run.failure}\nfull log: {run.log}")
            continue
        for again in run.replayed:  # against this build's run of it, else the stored one
            recorded = ran.get(again.index) or found.get(again.index)
            if recorded is not None and [getattr(again, k) for k in _SAME_RUN] != [
                    getattr(recorded.runs[0], k) for k in _SAME_RUN]:
                differs.append(again.index)
        executed_at = record.utc_now()
        for region_run in run.regions:
            index = region_run.index
            region_key, inputs = keys.regions[index]
            ran[index] = StoredPage(region_key, inputs, run.provenance, executed_at,
                                    region_run.duration, run.peak_mb, (region_run,))
    return ran, "\n".join(failures), sorted(set(differs))


def _not_reproduced(include: Include) -> str:
    region = include.region
    return (f"{include.where}: region {region.section!r} ({region.path}:{region.first_line}) "
            "printed or bound something else when it was run again to rebuild the state of a "
            "region in a process of its own, so that region's output would not follow from "
            "what the page shows: make it deterministic (seed it), or drop the own-process "
            "mark of the regions that use it")


def _page_entry(keys: key.PageKeys, found: dict[int, StoredPage | None],
                includes: list[Include], ran: bool) -> PageEntry:
    """The page's record entry, assembled from each executed region's stored result (each
    run renumbered to its place in the page now: a region keeps its key when an unrelated
    region is inserted before it)."""
    entries = [found[i] for i in range(len(keys.regions))]
    assert all(e is not None for e in entries)  # every region ran or was stored
    # a page that only shows code: where its (empty) run would have been
    provenance: dict = {} if entries else {**where_this_runs(), "device": keys.inputs["device"]}
    for entry in sorted(entries, key=lambda e: e.executed_at):  # the latest run wins
        provenance.update(entry.provenance)
    if entries:  # the stamp gives the span when regions ran in different builds
        provenance["first_executed_at"] = min(e.executed_at for e in entries)
    runs = [replace(entry.runs[0], index=i) for i, entry in enumerate(entries)]
    return PageEntry(keys.key, keys.inputs, provenance,
                     max((e.executed_at for e in entries), default=record.utc_now()),
                     sum(e.duration for e in entries), max((e.peak_mb for e in entries), default=0.0),
                     _regions(runs, includes), ran).sealed()
