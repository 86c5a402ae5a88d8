"""The live preview: ``python -m d2l_compiler serve`` (what ``nox -s serve`` runs).

It starts ``mkdocs serve`` and, beside it, watches the sources (:class:`SourceFilter`, on
the kernel's file notifications): pages, every Python file of the project (executed regions
and the modules they import) and the data files regions declare. When one changes and some
page's results are stale, it re-runs only the regions the edit affects (the same build as
``build --no-site``, in a page process started ahead with the heavy packages imported: see
:mod:`.run.warm`) and rewrites the record, which MkDocs watches, so the page reloads with the
new outputs. While regions run, the preview shows their previous outputs marked as outdated;
a failure is printed here and shown at the top of its page (:mod:`.publish.status`) until the
next build succeeds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from watchfiles import Change, watch

from d2l_compiler.engine.build import BuildOptions, build
from d2l_compiler.engine.errors import BuildError, NoRecord, PagesFailed
from d2l_compiler.engine.progress import PlainProgress
from d2l_compiler.engine.publish.status import SERVE_LOOP_ENV, read_status, write_status
from d2l_compiler.engine.record.freshness import check
from d2l_compiler.engine.record.io import load_record
from d2l_compiler.engine.record.whole import Record
from d2l_compiler.engine.sources.device import resolve_device
from d2l_compiler.engine.run.warm import WarmPool
from d2l_compiler.engine.sources.project import GENERATED_DIR, Project

# how often the loop wakes with nothing changed (to notice mkdocs exiting, or the end of a
# test's run), and how long it waits after a change for more (a save that writes twice)
WAKE_MS = 200
SETTLE_MS = 10
# folders no page's code or text lives in, at any depth (hidden ones, such as .git and .nox,
# are skipped too, and the built site at the top)
_SKIPPED_DIRS = {"__pycache__", "node_modules"}
_SITE = "site"


class SourceFilter:
    """Which changed paths may change a page: Markdown and Python files of the project, its
    MkDocs config, and the data files its regions declare; never the engine's own folders
    (the state directory, the generated pages), hidden folders or ``site``. Read by the file
    watcher (``watchfiles``: the kernel's notifications, no walk of the tree)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.root = project.root.resolve()
        self.config_file = project.config_file.resolve()
        self.engine_made = (project.state_dir.resolve(),
                            (project.docs_dir / GENERATED_DIR).resolve())
        self.data: frozenset[Path] = frozenset()
        self.refresh()

    def refresh(self) -> None:
        """Read the declared data files again (after a build: the record may name others)."""
        self.data = frozenset(path.resolve() for path in _declared_data(self.project))

    def folders(self) -> tuple[Path, ...]:
        """What to watch: the project, and the folder of each declared data file outside it."""
        outside = {path.parent for path in self.data if not path.is_relative_to(self.root)}
        return (self.root, *sorted(folder for folder in outside if folder.is_dir()))

    def __call__(self, change: Change, path: str) -> bool:
        """Whether ``path`` (changed by ``change``) is one an edit to which may change a page."""
        changed = Path(path)
        if changed in self.data:
            return True
        try:
            folders = changed.relative_to(self.root).parts[:-1]
        except ValueError:
            return False
        if any(part.startswith(".") or part in _SKIPPED_DIRS for part in folders) or any(
                changed.is_relative_to(made) for made in self.engine_made) or (
                folders[:1] == (_SITE,)):
            return False
        return changed.suffix in (".py", ".md") or changed == self.config_file


def _recorded(project: Project) -> Record | None:
    """The build record, or None (none yet, another format, or unreadable: the next build
    says why)."""
    try:
        return load_record(project.record_path)
    except BuildError:
        return None


def _declared_data(project: Project) -> list[Path]:
    record = _recorded(project)
    return [] if record is None else [project.root / rel for entry in record.pages.values()
                                      for rel in entry.inputs.data]


def heavy_packages(project: Project) -> tuple[str, ...]:
    """The third-party packages the recorded pages import (what a warm process imports)."""
    record = _recorded(project)
    return () if record is None else tuple(sorted(
        {name for entry in record.pages.values() for name in entry.inputs.packages}))


def refresh(project: Project, progress: PlainProgress,
            warm: WarmPool | None = None) -> dict[str, str]:
    """Run what is stale (nothing if nothing is); the failures by page, for the status file."""
    try:
        stale = [page for page, reasons in check(project).items() if reasons]
    except NoRecord:
        stale = ["*"]
    except BuildError as exc:
        return {"*": str(exc)}
    if not stale:
        return {}
    try:
        build(project, BuildOptions(warm=warm, jobs=1), None, progress)  # one warm process
    except PagesFailed as exc:
        return dict(exc.failures)
    except BuildError as exc:
        return {"*": str(exc)}
    return {}


def serve(project: Project, dev_addr: str, progress: PlainProgress | None = None,
          max_seconds: float | None = None) -> int:
    """Run ``mkdocs serve`` and the watch-and-rebuild loop until interrupted (or until
    ``max_seconds``, for tests); returns the exit status."""
    progress = progress or PlainProgress()
    write_status(project, refresh(project, progress))
    warm = WarmPool(heavy_packages(project))
    warm.prepare(project.root, resolve_device(project.state_dir), None)
    for page, failure in read_status(project).items():
        progress.say(f"FAILED {page}:\n{failure}")
    mkdocs = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "--dev-addr", dev_addr,
                               "-f", str(project.config_file)], cwd=project.root,
                              env={**os.environ, "NO_MKDOCS_2_WARNING": "1",
                                   SERVE_LOOP_ENV: str(os.getpid())})
    started = time.monotonic()
    sources = SourceFilter(project)
    try:
        while max_seconds is None or time.monotonic() - started < max_seconds:
            watched = sources.folders()
            # an edit made while a build runs is kept by the watcher and yielded next
            for changes in watch(*watched, watch_filter=sources, rust_timeout=WAKE_MS,
                                 step=SETTLE_MS, yield_on_timeout=True):
                if max_seconds is not None and time.monotonic() - started >= max_seconds:
                    break
                if mkdocs.poll() is not None:
                    progress.say(f"error: mkdocs serve exited with status {mkdocs.returncode}")
                    return 1
                if not changes:
                    continue
                failures = refresh(project, progress, warm)
                write_status(project, failures)
                for page, failure in failures.items():
                    progress.say(f"FAILED {page}:\n{failure}")
                sources.refresh()
                if sources.folders() != watched:  # a data file declared in another folder
                    break
    except KeyboardInterrupt:
        pass
    finally:
        warm.close()
        mkdocs.terminate()
        try:
            mkdocs.wait(10)
        except subprocess.TimeoutExpired:
            mkdocs.kill()
            mkdocs.wait()
    return 0
