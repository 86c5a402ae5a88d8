"""What every host publishes beside the pages, whichever host renders them.

The MkDocs plugin adds these files to MkDocs' file list; the Zensical host
(:mod:`.zensical_host`) copies them into the site Zensical built. One list, so the two
sites offer readers the same downloads.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from d2l_compiler.engine.publish.wheel import SITE_FOLDER, published_wheel
from d2l_compiler.engine.record.schema import SCHEMA_NAME, schema_file
from d2l_compiler.engine.sources.project import Project

RECORD_FILE = "d2l-record.json"  # the build record, for readers and their tools


def downloads(project: Project) -> dict[str, Path]:
    """Site-relative name -> the file published under it: the record and its JSON Schema,
    and the project's wheel that the notebooks' first cell installs (when the build made one)."""
    files = {RECORD_FILE: project.record_path, SCHEMA_NAME: schema_file(project.state_dir)}
    wheel = published_wheel(project)
    if wheel is not None:
        files[f"{SITE_FOLDER}/{wheel.name}"] = wheel
    return files


def unwanted_source_map(site_name: str, source: Path | None, project: Project) -> bool:
    """Whether the file published as ``site_name`` (from ``source``, if known) is a theme's
    source map the book did not ask for: about 1.3 MB that only a theme's debugger reads.
    A ``.map`` file of the book's own docs is always kept."""
    if project.settings.keep_source_maps or PurePosixPath(site_name).suffix != ".map":
        return False
    own = project.docs_dir.resolve()
    source = source if source is not None else project.docs_dir / site_name
    return not (source.resolve().is_relative_to(own) and source.is_file())
