"""``python -m d2l_compiler merge``: shard records and other devices' records into the
project's record, and the site built from it, running nothing."""

from __future__ import annotations

import sys
from pathlib import Path

from d2l_compiler.engine.build import project_lock, protected_paths, publish_record, site_builder
from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.progress import PlainProgress, make_progress
from d2l_compiler.engine.publish.sitedir import check_site_dir
from d2l_compiler.engine.record import io as record
from d2l_compiler.engine.record.freshness import staleness
from d2l_compiler.engine.record.merge import Labelled, merge_records
from d2l_compiler.engine.record.model import FORMAT
from d2l_compiler.engine.record.whole import Record
from d2l_compiler.engine.record.named import load_named, save_origins, with_named_records
from d2l_compiler.engine.record.reuse import recorded_results
from d2l_compiler.engine.record.store import Store
from d2l_compiler.engine.sources.discover import discover
from d2l_compiler.engine.sources.fingerprint import renderer_wired
from d2l_compiler.engine.sources.project import Project


def _main_device(merged: Record, page: str) -> str | None:
    entry = merged.pages.get(page)
    return None if entry is None else str(entry.inputs.device)


def merge(project: Project, paths: list[Path], site_dir: Path | None, prefer: str = "cuda",
          progress: PlainProgress | None = None) -> Record:
    """Merge the records at ``paths`` (shards, other devices) into the project's record,
    runs nothing: every page with executed code must be in one of them, each result must
    match the page's sources now; the results go into the store, then the derived files,
    the record and (unless ``site_dir`` is None) the site are written."""
    loaded = []
    for path in paths:
        found = record.load_record(path, hint="")
        if found is None:
            raise UsageError(f"merge: {path}: no build record (of format {FORMAT}) there")
        loaded.append(Labelled(str(path), found))
    merged = merge_records(loaded, prefer)
    named = load_named(project)
    pages = discover(project)
    if site_dir is not None:
        check_site_dir(site_dir, protected_paths(project, pages), project.docs_dir)
        renderer_wired(project)
    for page in merged.pages:
        if page not in pages:
            raise UsageError(f"merge: {page} is in the records but is no page of this project "
                             "with code")
    for page, includes in pages.items():
        if not any(inc.region.executed for inc in includes):
            continue
        if page not in merged.pages:
            raise UsageError(f"merge: no record has {page} (did a shard not run?)")
        for entry in merged.devices(page):
            reasons = staleness(project, includes, entry, against_store=False, elsewhere=True)
            if reasons:
                raise UsageError(f"merge: {page} ({entry.inputs.device}) was built from "
                                 f"other sources than this checkout: {reasons[0]}")
    progress = progress or make_progress()
    others, origins = with_named_records(project, pages, lambda page: _main_device(merged, page),
                                         merged.other_devices, named, progress.say)
    merged = Record(merged.provenance, merged.pages, other_devices=others)
    try:
        with project_lock(project, progress):
            store = Store(project.store_dir, warn=lambda msg: print(msg, file=sys.stderr))
            for region_key, result in recorded_results(merged).items():
                store.put(region_key, result)  # the record and the store agree again
            publish_record(project, pages, merged)
            save_origins(project, origins)
            if site_dir is not None:
                site_builder("mkdocs", project)(project, site_dir, protected_paths(project, pages))
    finally:
        progress.close()
    return merged
