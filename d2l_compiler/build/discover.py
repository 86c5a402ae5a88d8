"""Pages -> the regions they include (pymdownx.snippets syntax) -> the source of each region.

Only regions under ``snippets/`` are executed; a page may also include a region of the
library itself (e.g. ``d2l_compiler/models.py:get_net``) to *show* code without running it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .project import Project

EXECUTED_PREFIX = "snippets/"

# `--8<-- "path:section"` on a line of its own (pymdownx's inline form); `;` escapes it.
# Shared by everything that reads includes (render, notebook), so they agree on what one is.
INCLUDE = re.compile(r"""^[ \t]*(?P<escape>;*)-+8<-+[ \t]+(?P<q>["'])(?P<target>.+?)(?P=q)[ \t]*$""")
_BLOCK_INCLUDE = re.compile(r"^[ \t]*-+8<-+[ \t]*$")
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})")
# first line of a region that is meant to fail, e.g. `# raises: ZeroDivisionError`
_EXPECT = re.compile(r"^\s*#\s*raises:\s*(?P<name>[A-Za-z_][A-Za-z_0-9]*)\s*$")
# a data file a region reads, so that editing it re-runs the page: `# reads: data/x.csv`
_READS = re.compile(r"^\s*#\s*reads:\s*(?P<path>\S.*?)\s*$")
_MARKER = re.compile(r"-+8<-+[ \t]+\[[ \t]*(?P<kind>start|end)[ \t]*:"
                     r"[ \t]*(?P<name>[A-Za-z][-_0-9A-Za-z]*)[ \t]*\]")


@dataclass(frozen=True)
class Region:
    """One named section of a source file, as pymdownx.snippets renders it."""

    path: str  # relative to the project root, POSIX separators
    section: str
    first_line: int  # 1-based line number of the region's first code line
    code: str

    @property
    def id(self) -> str:
        return f"{self.path}:{self.section}"

    @property
    def executed(self) -> bool:
        return self.path.startswith(EXECUTED_PREFIX)

    @property
    def expect_raises(self) -> str | None:
        """Exception class name a teaching region declares it raises (``# raises: Name``)."""
        for line in self.code.splitlines():
            if line.strip():
                match = _EXPECT.match(line)
                return match["name"] if match else None
        return None

    @property
    def reads(self) -> tuple[str, ...]:
        """Data files the region declares it reads (``# reads: path``, relative to the root)."""
        return tuple(m["path"].strip() for m in map(_READS.match, self.code.splitlines()) if m)

    @property
    def source_sha(self) -> str:
        return hashlib.sha256(self.code.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Include:
    """A page's reference to a region: where in the page, and what it resolved to."""

    page: str  # relative to the docs directory
    page_file: str  # relative to the project root, for messages
    md_line: int
    region: Region

    @property
    def where(self) -> str:
        return f"{self.page_file}:{self.md_line}"


def read_region(root: Path, target: str) -> Region:
    """The region ``path:section`` of a file under ``root``; ``UsageError`` if it is not there."""
    path, sep, section = target.rpartition(":")
    if not sep or not path or not section:
        raise UsageError(f"include {target!r} names no section (expected 'path/to/file.py:NAME')")
    file = root / path
    if not file.is_file():
        raise UsageError(f"included file {path} does not exist")
    lines = file.read_text(encoding="utf-8").splitlines()
    start = end = None
    for number, line in enumerate(lines, 1):
        marker = _MARKER.search(line)
        if marker and marker["name"] == section:
            if marker["kind"] == "start" and start is None:
                start = number
            elif marker["kind"] == "end" and start is not None:
                end = number
                break
    if start is None or end is None:
        raise UsageError(f"{path} has no complete region {section!r} "
                         f"(needs '# --8<-- [start:{section}]' and '# --8<-- [end:{section}]')")
    # pymdownx drops every marker line inside a region (nested regions included): so do we.
    body = [line for line in lines[start:end - 1] if not _MARKER.search(line)]
    return Region(path, section, start + 1, "\n".join(body) + "\n")


def page_includes(project: Project, page: Path) -> list[Include]:
    """Every region that ``page`` includes, in page order."""
    file = project.docs_dir / page
    page_file = file.relative_to(project.root).as_posix()
    includes: list[Include] = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{page_file}:{number}"
        if _BLOCK_INCLUDE.match(line):
            raise UsageError(f"{where}: use the one-line form --8<-- \"path:section\"")
        match = INCLUDE.match(line)
        if not match or match["escape"]:
            continue
        try:
            region = read_region(project.root, match["target"])
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
        includes.append(Include(page.as_posix(), page_file, number, region))
    return includes


def discover(project: Project, only: str | None = None) -> dict[str, list[Include]]:
    """Map each page (relative to the docs directory) to its includes; pages with none are left out."""
    pages = project.pages()
    if only is not None:
        wanted = Path(only).as_posix().removeprefix("docs/")
        pages = [p for p in pages if p.as_posix() == wanted]
        if not pages:
            raise UsageError(f"--only {only}: no such page under {project.docs_dir}")
    found = {p.as_posix(): page_includes(project, p) for p in pages}
    return {page: incs for page, incs in found.items() if incs}
