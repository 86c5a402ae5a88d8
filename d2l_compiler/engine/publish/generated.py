"""The files a build writes into the docs directory: exactly those, kept in step with the record.

A build writes each executed page's notebook (``generated/<page>.ipynb``) and its site page
(``generated/<page>.md``), the pictures its regions showed (``generated/pictures/``, see
:mod:`d2l_compiler.engine.render.pictures`), and whatever the book's derived-file writers
return. What it wrote is
listed in ``<state_dir>/generated.json`` (file -> the page it was made for), so that

* a file no build produces any more (its page stopped running code, was renamed or deleted)
  is removed, instead of being published, or breaking every later site build with a link to
  a page that is gone;
* a file the engine did not write is never touched: the author's own file under
  ``docs/generated`` stays, and one in the way of a file the engine must write fails the
  build in one line.

Without a list (a state directory deleted, or written by an engine that kept none), the
notebook files under ``docs/generated`` that carry the engine's marks are taken as its own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from d2l_compiler.engine.errors import BuildError
from d2l_compiler.engine.record.whole import Record
from d2l_compiler.engine.render.notebook import NotebookFile, engine_made, write_if_changed
from d2l_compiler.engine.render.pictures import FOLDER as PICTURES
from d2l_compiler.engine.render.pictures import (made_by_engine, picture_bytes, picture_path,
                                                 served_as_file)
from d2l_compiler.engine.sources.project import GENERATED_DIR

MANIFEST = "generated.json"  # under the state directory
DERIVED = ""  # the owner of a derived writer's file: the whole record, no one page
_FORMAT = 1


@dataclass
class GeneratedFiles:
    """The engine's files under the docs directory: docs-relative path -> owner page."""

    owners: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path, docs_dir: Path) -> GeneratedFiles:
        """The list the last build kept; without one, the engine's marked notebook files and
        its pictures (named by their content)."""
        try:
            data = json.loads((state_dir / MANIFEST).read_text(encoding="utf-8"))
            if data.get("format") == _FORMAT and isinstance(data.get("files"), dict):
                return cls({str(path): str(page) for path, page in data["files"].items()
                            if _inside(path)})
        except (OSError, ValueError, AttributeError):
            pass
        generated = docs_dir / GENERATED_DIR
        found = {path.relative_to(docs_dir).as_posix():
                 path.relative_to(generated).with_suffix(".md").as_posix()
                 for path in sorted(generated.rglob("*")) if engine_made(path)}
        found.update({path.relative_to(docs_dir).as_posix(): DERIVED
                      for path in sorted((docs_dir / PICTURES).glob("*")) if made_by_engine(path)})
        return cls(found)

    def save(self, state_dir: Path) -> None:
        """Write the list (atomically: a build killed midway leaves the old one or this)."""
        state_dir.mkdir(parents=True, exist_ok=True)
        staging = state_dir / f".{MANIFEST}.tmp"
        staging.write_text(json.dumps({"format": _FORMAT, "files": dict(sorted(self.owners.items()))},
                                      ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(staging, state_dir / MANIFEST)


def _inside(relative: str) -> bool:
    """Whether a docs-relative path stays inside the docs directory (the list is only data:
    nothing it says may make the engine touch a file elsewhere)."""
    path = PurePosixPath(relative)
    return bool(relative) and not path.is_absolute() and ".." not in path.parts


def publish_generated(docs_dir: Path, state_dir: Path, notebooks: Sequence[NotebookFile],
                      derived: Iterable[Path], kept_pages: Collection[str]) -> None:
    """Write ``notebooks`` (each only if its content changed), record them and ``derived``
    (already written by the book's writers) as the engine's, and remove every file of the
    engine's that this build no longer produces, except those of ``kept_pages`` (pages this
    build did not consider, as with ``--only``: their files stay as they are).

    ``BuildError`` in one line, before anything is written, if a file the engine did not
    write is where a notebook file goes.
    """
    owned = GeneratedFiles.load(state_dir, docs_dir)
    produced = {file.path.relative_to(docs_dir).as_posix(): file.page for file in notebooks}
    for file in notebooks:
        relative = file.path.relative_to(docs_dir).as_posix()
        if relative not in owned.owners and os.path.lexists(file.path):
            raise BuildError(f"docs/{relative}: a file the engine did not write is where it "
                             f"writes the notebook of {file.page}; move it out of "
                             f"docs/{GENERATED_DIR}")
    for path in derived:
        if path.is_absolute() and path.is_relative_to(docs_dir):
            path = path.relative_to(docs_dir)
        if not path.is_absolute() and _inside(path.as_posix()):
            produced.setdefault(path.as_posix(), DERIVED)
    kept = {path: page for path, page in owned.owners.items()
            if page in kept_pages and path not in produced}
    now = GeneratedFiles({**kept, **produced})
    # listed before written: a build killed while writing leaves no file of its own unlisted
    GeneratedFiles({**owned.owners, **now.owners}).save(state_dir)
    for file in notebooks:
        write_if_changed(file.path, file.text)
    for path in sorted(set(owned.owners) - set(now.owners)):
        _remove(docs_dir, path)
    now.save(state_dir)


def _remove(docs_dir: Path, relative: str) -> None:
    """Remove a file of the engine's, and the folders under ``generated`` it leaves empty."""
    path = docs_dir / relative
    if path.is_dir() and not path.is_symlink():
        return  # the engine writes files only: a folder here is someone else's
    path.unlink(missing_ok=True)
    generated = docs_dir / GENERATED_DIR
    parent = path.parent
    while parent != generated and parent.is_relative_to(generated):
        try:
            parent.rmdir()
        except OSError:  # not empty: someone else's files are there
            break
        parent = parent.parent


def picture_files(docs_dir: Path, record: Record, pages: Collection[str]) -> list[NotebookFile]:
    """A file for each picture the ``pages`` of ``record`` show, owned by the first page that
    shows it (a picture two pages show is one file)."""
    files: dict[str, NotebookFile] = {}
    for page in pages:
        entry = record.pages.get(page)
        for region in entry.regions if entry is not None else ():
            for shown in region.run.displays if region.run is not None else ():
                if not served_as_file(shown):
                    continue
                try:
                    path = picture_path(shown)
                except ValueError:
                    continue  # a record edited by hand: its page links to no file for it
                files.setdefault(path, NotebookFile(docs_dir / path, page, picture_bytes(shown)))
    return list(files.values())
