"""Where the site may go, and the swap that publishes it without ever deleting the user's files.

The engine replaces the site directory whole. It does so only for a directory that is
provably a site it built (it holds the mark file this module writes), or one that is empty
or missing, and never for a directory that is, or contains, the project root, the docs,
an included source, or the engine's state directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.sources.project import Project

HOSTS = ("mkdocs", "zensical")  # what can build the site from the record (build --host)
MARK = ".d2l-site"
_MARK_TEXT = "Built by d2l_compiler: this directory is replaced whole by every build.\n"
_LEGACY_MARKS = ("d2l-record.json", "index.html")  # sites built before the mark existed


def project_paths(project: Project) -> list[Path]:
    """What a site directory must never be or contain, whatever the pages include: the project,
    its docs, the engine's state and the config (a build adds the included sources)."""
    return [project.root, project.docs_dir, project.state_dir, project.config_file]


def is_built_site(folder: Path) -> bool:
    """Whether ``folder`` holds a site this tool built."""
    return (folder / MARK).is_file() or all((folder / name).is_file() for name in _LEGACY_MARKS)


def check_site_dir(site_dir: Path, protected: Iterable[Path], docs_dir: Path) -> Path:
    """The resolved ``site_dir`` if replacing it loses nothing; ``UsageError`` otherwise."""
    target = site_dir.resolve()
    where = f"--site-dir {site_dir}"
    for path in protected:
        kept = path.resolve()
        if kept == target or kept.is_relative_to(target):
            raise UsageError(f"{where} would replace {kept}, which the build needs; "
                             "choose a directory of its own, such as 'site'")
    if target.is_relative_to(docs_dir.resolve()):
        raise UsageError(f"{where} is inside the docs directory {docs_dir}; choose one outside it")
    if target.exists() and not target.is_dir():
        raise UsageError(f"{where} is a file, not a directory")
    if target.is_dir() and any(target.iterdir()) and not is_built_site(target):
        raise UsageError(f"{where} holds files this tool did not build ({target} has no {MARK}); "
                         "choose an empty or new directory")
    return target


def publish(staging: Path, target: Path) -> None:
    """Mark ``staging`` as ours and put it at ``target``, replacing the site that was there.
    The folder gets the mode a folder made by hand would (a temporary one is private)."""
    (staging / MARK).write_text(_MARK_TEXT, encoding="utf-8")
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    if not target.exists():
        staging.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    target.rename(old / "site")
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
