"""Orchestration: discover -> key -> run what changed -> record -> strict MkDocs build."""

from __future__ import annotations

import fcntl
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError
from pathlib import Path, PurePosixPath

from msgspec.structs import replace

from d2l_compiler.engine.sources import key
from d2l_compiler.engine.record import io as record
from d2l_compiler.engine.record.model import PageEntry, RegionEntry, RegionRun, StoredPage
from d2l_compiler.engine.record.whole import BuildProvenance, PageTiming, Record
from d2l_compiler.engine.record.whole import BuildSummary as RecordedSummary
from d2l_compiler.engine.sources.device import check_memory_limit, resolve_device
from d2l_compiler.engine.sources.discover import Include, discover
from d2l_compiler.engine.errors import BuildError, PagesFailed, UsageError
from d2l_compiler.engine.render.crossref import book_index
from d2l_compiler.engine.render.notebook import render_notebooks
from d2l_compiler.engine.render.notebook_setup import NotebookSetup
from d2l_compiler.engine.publish.wheel import SITE_FOLDER, project_wheel
from d2l_compiler.engine.sources.installed import installed_version
from d2l_compiler.engine.record.io import clean_head
from d2l_compiler.engine.publish.generated import picture_files, publish_generated
from d2l_compiler.engine.record.guard import after_pages, guarding
from d2l_compiler.engine.progress import PlainProgress, make_progress
from d2l_compiler.engine.sources.project import Project
from d2l_compiler.engine.render.markdown import RenderError, labels_for
from d2l_compiler.engine.render.installed import extensions_for
from d2l_compiler.engine.run.child import provenance as where_this_runs
from d2l_compiler.engine.run.jobs import PageJob, PageOutcome, run_job
from d2l_compiler.engine.run.procs import sweep_scratch
from d2l_compiler.engine.run.ray_executor import RayExecutor
from d2l_compiler.engine.run.runner import Limits
from d2l_compiler.engine.run.schedule import Executor, InlineExecutor, PoolExecutor, run_jobs
from d2l_compiler.engine.run.shard import Shard, page_estimates, shard_pages, shard_record_path
from d2l_compiler.engine.sources.resources import Resources, page_resources
from d2l_compiler.engine.run.warm import WarmPool
from d2l_compiler.engine.publish.sitedir import check_site_dir, project_paths
from d2l_compiler.engine.publish.site_inputs import what_changed
from d2l_compiler.engine.sources.fingerprint import fingerprint, renderer_wired
from d2l_compiler.engine.record.named import load_named, save_origins, with_named_records
from d2l_compiler.engine.record.reuse import other_devices, recorded_results
from d2l_compiler.engine.record.store import Store
from d2l_compiler.engine.record.state_walk import stale_by_inputs, unproven
from d2l_compiler.engine.sources.page_env import page_env


# results no page uses any more, kept (newest first) so that undoing an edit runs nothing
SPARE_RESULTS = 64


@dataclass
class BuildOptions:
    """What ``python -m d2l_compiler build`` was asked to do."""

    only: str | None = None
    force: bool = False
    limits: Limits = field(default_factory=Limits)
    warm: WarmPool | None = None  # the live preview's warm page process (see run.warm)
    jobs: int = 1  # pages run at once (local worker processes when > 1)
    executor: str = "local"  # or "ray"
    shard: Shard | None = None  # run this shard's pages only and write a shard record
    # a publishing build: a page whose results do not all come from one complete in-order
    # run of it runs whole (region-level reuse is for the author's own builds)
    publish: bool = False
    # write the record only, no notebooks or derived files into the docs (build --verify's
    # scratch runs: the docs stay the project's)
    record_only: bool = False
    host: str = "mkdocs"  # what builds the site from the record: one of sitedir.HOSTS


@dataclass
class BuildSummary:
    """Counts and timings of one build, for the terminal and for tests."""

    ran: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    regions_ran: list[str] = field(default_factory=list)  # "page: path:section"
    regions_cached: int = 0
    site_unchanged: bool = False  # the site was already what building it now would make

    def __str__(self) -> str:
        return (f"pages: {len(self.ran)} run, {len(self.cached)} cached, "
                f"{len(self.failed)} failed; regions: {len(self.regions_ran)} run, "
                f"{self.regions_cached} cached; {self.seconds:.1f} s")


def last_build_path(project: Project) -> Path:
    """Where the last build's ``BuildSummary`` is kept. The record describes the build that
    produced its results (a build that ran nothing leaves it be); this says what the last build
    itself did, for people and for tools driving ``d2l-compiler build`` from outside."""
    return project.state_dir / "last-build.json"


@contextmanager
def project_lock(project: Project, progress: PlainProgress):
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


def protected_paths(project: Project, pages: dict[str, list[Include]]) -> list[Path]:
    """What a site directory must never be or contain."""
    sources = {project.root / inc.region.path for incs in pages.values() for inc in incs}
    return [*project_paths(project), *sources]


def site_builder(host: str, project: Project) -> Callable[[Project, Path, list[Path]], None]:
    """The site build of ``host`` (imported when asked for: each host is an optional
    dependency of a build that only runs and records); ``UsageError`` if it is missing or
    cannot build ``project``."""
    if host == "zensical":
        from d2l_compiler.engine.publish.zensical_host import (  # noqa: PLC0415 - optional host
            build_site, require_zensical)

        require_zensical(project)
    else:
        from d2l_compiler.engine.publish.mkdocs_plugin import build_site  # noqa: PLC0415 - optional host
    return build_site


def build(project: Project, options: BuildOptions, site_dir: Path | None,
          progress: PlainProgress | None = None) -> BuildSummary:
    """Run what changed, write the record, then (unless ``site_dir`` is None) build the site.

    The whole build holds the project's lock, so concurrent builds queue instead of racing.
    Every page is attempted; if any fails, the record and the site are left as they were
    (pages that succeeded are kept in the store, so the next build does not redo them).
    A region that changes the engine's state or generated files fails the build as soon as
    the pages ran, before anything is recorded (see ``d2l_compiler.engine.record.guard``).
    """
    pages = discover(project, options.only)
    device = resolve_device(project.state_dir)  # before anything runs: no GPU is a usage error
    check_memory_limit(device, options.limits.memory_mb)  # RLIMIT_AS and CUDA do not mix
    if site_dir is not None:  # refuse before anything runs, so that nothing is touched
        check_site_dir(site_dir, protected_paths(project, pages), project.docs_dir)
        renderer_wired(project)
        if pages:  # pages include code: without the extensions it would show as text
            project.check_extensions()
        build_site = site_builder(options.host, project)
    progress = progress or make_progress()
    for folder, module in project.shadowed_modules():
        progress.say(f"warning: {folder} is named like Python's standard module {module!r}: "
                     f"in its regions and the project's modules, `import {module}` loads the "
                     "folder instead; rename it")
    sweep_scratch()  # what a build killed outright (SIGKILL) left in the temporary directory
    try:
        with project_lock(project, progress), guarding(project):
            summary, failures = _execute(project, options, device, pages, progress)
            record.write_json_atomic(last_build_path(project), asdict(summary))
            if failures:
                raise PagesFailed(failures, str(summary))
            if site_dir is not None:
                why = "--force" if options.force else what_changed(project, options.host,
                                                                     site_dir)
                summary.site_unchanged = why is None
                if why is not None:
                    progress.say(f"site: building it again ({why})")
                    build_site(project, site_dir, protected_paths(project, pages))
    finally:
        progress.close()
    return summary


def _execute(project: Project, options: BuildOptions, device: str, pages: dict,
             progress: PlainProgress) -> tuple[BuildSummary, dict[str, str]]:
    """Run every page whose key has no stored result (all with ``force``); write the record."""
    start = time.perf_counter()
    previous = record.load_record(project.record_path)
    named = load_named(project)  # a bad records: entry fails now, not after the pages ran
    if options.shard is not None:
        pages = {p: pages[p] for p in shard_pages(project, pages, previous, options.shard)}
    sources_before = fingerprint(project, pages)
    store = Store(project.store_dir, warn=lambda msg: print(msg, file=sys.stderr))
    reusable = recorded_results(previous)  # a record brought from elsewhere (merged, committed)
    summary, failures = BuildSummary(), {}
    new_pages: dict[str, PageEntry] = {}
    if options.only is not None and previous is not None:  # keep the other pages' results
        new_pages.update({p: e for p, e in previous.pages.items() if p not in pages})
    planned: dict[str, tuple[list[Include], key.PageKeys, dict[int, StoredPage | None],
                             Resources]] = {}
    jobs: list[PageJob] = []
    estimate = page_estimates(previous)
    commit = record.git_commit(project.root)  # what the code that runs now was committed as
    probes = tuple(extensions_for(project.settings.extensions).probes)
    for page, includes in pages.items():
        executed = [inc for inc in includes if inc.region.executed]
        keys = key.include_keys(project.root, includes, device)
        found = {i: None if options.force else _stored(store, reusable, k)
                 for i, (k, _) in enumerate(keys.regions)}
        runs = {i: hit.runs[0] for i, hit in found.items() if hit is not None}
        for index, why in stale_by_inputs(runs, keys.nodes, project.root,
                                          page_env(project.root, device)).items():
            found[index] = None
            progress.say(f"{page}: {executed[index].region.id}: {why}")
        if options.publish and not _one_complete_run(found):  # nothing resting on a guess
            found = dict.fromkeys(found)
        if None not in found.values():  # reused whole: each result recorded from its state?
            why = unproven(keys.nodes, {}, [], {i: hit.runs[0] for i, hit in found.items()})
            if why:
                progress.say(f"{page}: {why[0]}; the whole page runs again")
                found = dict.fromkeys(found)
        to_run = [i for i, hit in found.items() if hit is None]
        summary.regions_cached += len(found) - len(to_run)
        resources = page_resources(project.root, includes)
        planned[page] = (includes, keys, found, resources)
        if not to_run:
            summary.cached.append(page)
            progress.cached(page)
            continue
        jobs.append(PageJob(project.root, page, tuple(executed), keys, tuple(to_run), device,
                            options.limits, project.logs_dir, dict(found), resources,
                            estimate(page), commit, project.engine_dirs(), probes))
    outcomes = _run(jobs, options, device, progress, store)
    after_pages([job.page for job in jobs])  # what a region did to the engine's files fails here
    for page, (includes, keys, found, resources) in planned.items():  # page order, whatever ran when
        outcome = outcomes.get(page)
        if outcome is not None:
            found.update(outcome.refreshed)
            found.update(outcome.ran)
            summary.regions_ran += [f"{page}: {keys.nodes[i].region.id}" for i in sorted(outcome.ran)]
            if outcome.failure:
                summary.failed.append(page)
                failures[page] = outcome.failure
                continue
            summary.ran.append(page)
        # the key covers executed code only: what the page merely shows is refreshed
        new_pages[page] = _page_entry(keys, found, includes, outcome is not None, resources.gpus)
    summary.seconds = time.perf_counter() - start
    if failures:
        return summary, failures
    changed = fingerprint(project, pages).changed_since(sources_before)
    if changed:
        return summary, {"*": f"sources changed while the build ran ({', '.join(changed[:5])}): "
                              "the outputs may not match them; run the build again"}
    timeline = tuple(sorted((PageTiming(o.page, o.started, o.ended, o.worker, o.gpus,
                                        job.resources.exclusive)
                             for job in jobs for o in [outcomes[job.page]]),
                            key=lambda t: (t.started, t.page)))
    provenance = BuildProvenance(device, commit, record.utc_now(), sys.version.split()[0],
                                 RecordedSummary(tuple(summary.ran), tuple(summary.cached),
                                                 round(summary.seconds, 3),
                                                 tuple(summary.regions_ran), timeline))
    others, origins = with_named_records(
        project, pages, lambda page: device,
        other_devices(project, pages, previous, device, progress.say), named, progress.say)
    if options.shard is not None:  # other shards' pages: their owners check and carry those
        others = {page: entries for page, entries in others.items() if page in pages}
    full = Record(provenance, new_pages, other_devices=others)
    if not jobs and _same_results(previous, full):
        full = previous  # a build that ran nothing and changed nothing leaves the record be
    in_use = [k for page in new_pages for entry in full.devices(page)
              for _, k in entry.inputs.region_keys]
    if options.shard is not None:  # a shard's record holds its pages only, for `merge`
        record.write_record(shard_record_path(project, options.shard), full)
        in_use += [k for entry in (previous.pages.values() if previous else ())
                   for _, k in entry.inputs.region_keys]  # the other shards' pages
    elif options.record_only:
        record.write_record(project.record_path, full)
    else:
        publish_record(project, pages, full)
        save_origins(project, origins)
    store.keep_only(in_use, SPARE_RESULTS)
    return summary, {}


def _same_results(previous: Record | None, new: Record) -> bool:
    """Whether ``new`` records what ``previous`` does, apart from which build wrote it (its
    provenance, and whether each page ran in that build): the record, and so the site, then
    go on describing the build that produced these results."""
    if previous is None or previous.pages.keys() != new.pages.keys():
        return False
    pages = {page: replace(entry, ran=previous.pages[page].ran, digest=previous.pages[page].digest)
             for page, entry in new.pages.items()}
    return replace(new, provenance=previous.provenance, pages=pages) == previous


def _one_complete_run(found: dict[int, StoredPage | None]) -> bool:
    """Whether every region's result comes from one run of the whole page, in order."""
    runs = {hit.provenance.page_run for hit in found.values() if hit is not None}
    return None not in found.values() and len(runs) <= 1 and all(
        hit.provenance.complete_run for hit in found.values() if hit is not None)


def _stored(store: Store, reusable: dict[str, StoredPage], region_key: str) -> StoredPage | None:
    """The stored result of a region key: the store's, else the record's (stored again)."""
    found = store.get(region_key)
    if found is None and region_key in reusable:
        found = reusable[region_key]
        store.put(region_key, found)
    return found


def notebook_setup(project: Project, full: Record) -> NotebookSetup | None:
    """What the notebooks' first cell installs (None unless the book asks for it): the book's
    extra distributions at their installed versions, and the project's own package from the
    site's copy of its wheel (``site_url``), else from its repository (``repo_url``)."""
    settings = project.settings
    if not settings.notebook_setup:
        return None
    extra = {}
    for name in settings.notebook_packages:
        try:
            extra[name] = installed_version(name)
        except PackageNotFoundError:
            raise UsageError(f"notebook_packages names {name}, which is not installed here, so "
                             "the notebooks cannot pin it: install it or remove it") from None
    imported = sorted({PurePosixPath(file).parts[0].removesuffix(".py")
                       for entry in full.pages.values() if entry.executed
                       for file in entry.inputs.files})
    if not imported:
        return NotebookSetup(extra)
    wheel = project_wheel(project, imported)
    name = wheel.name.split("-", 1)[0]
    # name@URL, no spaces: one argument in any shell (Windows' cmd.exe does not read quotes)
    if project.site_url is not None:
        return NotebookSetup(extra, f"{name}@{project.site_url}{SITE_FOLDER}/{wheel.name}")
    if project.repo_url is not None:
        commit = clean_head(project.root)
        return NotebookSetup(extra, f"{name}@git+{project.repo_url}" + (f"@{commit}" if commit else ""))
    raise UsageError(f"the notebooks import the project's own modules ({', '.join(imported)}), "
                     "which a reader can install only from the site or the repository: set "
                     "site_url (the site then ships the project as a wheel) or repo_url in "
                     f"{project.config_file.name}, or set notebook_setup: false")


def publish_record(project: Project, pages: dict[str, list[Include]], full: Record) -> None:
    """Write the derived files and notebooks of ``full``, then the record itself (if a page
    cannot be rendered, no notebook changes and the old record stays). Generated files that
    no page produces any more are removed; a file the engine did not write is never touched
    (see ``d2l_compiler.engine.publish.generated``)."""
    extensions = extensions_for(project.settings.extensions)
    try:
        derived = [path for write_derived in extensions.derived
                   for path in write_derived(project.docs_dir, full) or ()]
        notebooks = render_notebooks(project.docs_dir, full, {
            page: ((project.docs_dir / page).read_text(encoding="utf-8"),
                   {inc.region.id: inc.region.code for inc in includes})
            for page, includes in pages.items()}, project.root, extensions,
            labels_for(project.settings.labels), notebook_setup(project, full),
            markdown_pages=not project.jupyter_pages, tab=project.settings.notebook_tab,
            book=book_index(project))
    except RenderError as exc:
        raise BuildError(str(exc)) from None
    notebooks += picture_files(project.docs_dir, full, list(pages))
    publish_generated(project.docs_dir, project.state_dir, notebooks, derived,
                      kept_pages=set(full.pages) - set(pages))
    record.write_record(project.record_path, full)


def _run(jobs: list[PageJob], options: BuildOptions, device: str, progress: PlainProgress,
         store: Store) -> dict[str, PageOutcome]:
    """Run the jobs on the executor the options choose; each result is stored as soon as its
    page is done (kept even if another page fails or the build is interrupted)."""
    if not jobs:
        return {}

    def started(job: PageJob) -> None:
        progress.started(job.page, len(job.to_run))

    def done(job: PageJob, outcome: PageOutcome) -> None:
        for line in outcome.notes:
            progress.say(line)
        progress.finished(job.page, not outcome.failure, outcome.ended - outcome.started)
        for entry in [*outcome.refreshed.values(), *outcome.ran.values()]:
            store.put(entry.key, entry)

    executor = make_executor(options, device, len(jobs), jobs[0].root, lambda job, gpus: run_job(
        job, gpus, say=progress.say, on_event=lambda event: progress.region(job.page, event),
        warm=options.warm), state_dir=jobs[0].log_dir.parent)
    aborted = True
    try:
        outcomes = run_jobs(jobs, executor, started, done)
        aborted = False
    finally:
        executor.close(abort=aborted)
    return outcomes


def make_executor(options: BuildOptions, device: str, pages: int, root: Path,
                  inline: Callable[[PageJob, str | None], PageOutcome],
                  state_dir: Path | None = None) -> Executor:
    """Ray if asked for; local worker processes for several pages and jobs; else this process.
    (``state_dir``: the engine's, which Ray does not ship to a remote cluster.)"""
    if options.executor == "ray":
        return RayExecutor(device, root, state_dir)
    if options.jobs > 1 and pages > 1:
        return PoolExecutor(device, min(options.jobs, pages))
    return InlineExecutor(device, inline)


def _page_entry(keys: key.PageKeys, found: dict[int, StoredPage | None],
                includes: list[Include], ran: bool, gpus_wanted: int = 0) -> PageEntry:
    """The page's record entry, assembled from each executed region's stored result (each
    run renumbered to its place in the page now: a region keeps its key when an unrelated
    region is inserted before it)."""
    entries = [found[i] for i in range(len(keys.regions))]
    assert all(e is not None for e in entries)  # every region ran or was stored
    # a page that only shows code: where its (empty) run would have been
    if not entries:
        provenance = replace(where_this_runs(), device=keys.inputs.device)
    else:  # the latest run's, with the span when regions ran in different builds
        in_order = sorted(entries, key=lambda e: e.executed_at)  # stable: the later region wins a tie
        first, latest = in_order[0], in_order[-1].provenance
        provenance = replace(
            latest, first_executed_at=first.executed_at,
            # and the span of commits their code was at
            first_git_commit=(first.provenance.git_commit
                              if first.provenance.git_commit != latest.git_commit else None),
            # the outputs an earlier run of the page left standing
            reused_regions=tuple(keys.nodes[i].region.section for i, entry in enumerate(entries)
                                 if entry.provenance.page_run != latest.page_run))
    runs = [replace(entry.runs[0], index=i) for i, entry in enumerate(entries)]
    return PageEntry(keys.key, keys.inputs, provenance,
                     max((e.executed_at for e in entries), default=record.utc_now()),
                     sum(e.duration for e in entries), max((e.peak_mb for e in entries), default=0.0),
                     _regions(runs, includes), ran, gpus_wanted=gpus_wanted).sealed()
