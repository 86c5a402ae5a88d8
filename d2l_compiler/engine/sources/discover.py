"""Pages -> the regions they include (pymdownx.snippets syntax) -> the source of each region.

Only regions under the project's executed folders (``snippets/`` unless the plugin's
``executed`` option says otherwise) are run; a page may also include a region of any other
file (e.g. ``d2l_compiler/models.py:get_net``) to *show* code without running it.
Include paths resolve inside the project root (``..`` and symbolic links are followed first,
then checked), so a page can neither show nor run a file outside the project.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.sources.page import Needs, parse_page
from d2l_compiler.engine.sources.project import Project

DEFAULT_EXECUTED = ("snippets/",)

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
    executed: bool = True  # under one of the project's executed folders (else only shown)

    @property
    def id(self) -> str:
        """``path:section``."""
        return f"{self.path}:{self.section}"

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
        """SHA-256 of the region's code."""
        return hashlib.sha256(self.code.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Include:
    """A page's reference to a region: where in the page, and what it resolved to."""

    page: str  # relative to the docs directory
    page_file: str  # relative to the project root, for messages
    md_line: int
    region: Region
    target: str = ""  # as written in the page
    own_process: bool = False  # run in a process of its own (marked in the page)
    needs: Needs = field(default_factory=Needs)  # what the page's mark declares it needs

    @property
    def where(self) -> str:
        """``page_file:line`` for messages."""
        return f"{self.page_file}:{self.md_line}"


def read_region(root: Path, target: str,
                executed_roots: tuple[str, ...] = DEFAULT_EXECUTED) -> Region:
    """The region ``path:section`` of a file under ``root``; ``UsageError`` if it is not there."""
    written, sep, section = target.rpartition(":")
    if not sep or not written or not section:
        raise UsageError(f"include {target!r} names no section (expected 'path/to/file.py:NAME')")
    path = project_path(root, written)
    file = root / path
    if not file.is_file():
        raise UsageError(f"included file {path} does not exist")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"included file {path} is not UTF-8 text") from None
    # only \n and \r\n end a line of Python source (str.splitlines would also split at
    # U+2028, form feeds, ... inside string literals)
    lines = text.replace("\r\n", "\n").split("\n")
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
    return Region(path, section, start + 1, "\n".join(body) + "\n",
                  executed=path.startswith(executed_roots))


def project_path(root: Path, written: str) -> str:
    """``written`` as a POSIX path relative to ``root``, after resolving ``..`` and links;
    ``UsageError`` if it is absolute or leads outside the project."""
    if Path(written).is_absolute() or re.match(r"^[A-Za-z]:[\\/]", written):
        raise UsageError(f"include path {written!r} is absolute; name a file inside the project")
    base = root.resolve()
    resolved = (base / written).resolve()
    if not resolved.is_relative_to(base):
        raise UsageError(f"include path {written!r} leads outside the project root")
    return resolved.relative_to(base).as_posix()


def read_page(project: Project, page: Path) -> str:
    """A page's Markdown; ``UsageError`` if it is not UTF-8 text."""
    file = project.docs_dir / page
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{file.relative_to(project.root)}: not UTF-8 text ({exc.reason} "
                         f"at byte {exc.start})") from None


def page_includes(project: Project, page: Path) -> list[Include]:
    """Every region that ``page`` includes, in page order (twice if it is included twice)."""
    return includes_in(project, read_page(project, page), page)


def includes_in(project: Project, markdown: str, page: Path) -> list[Include]:
    """:func:`page_includes` for the text ``markdown`` of ``page``."""
    page_file = (project.docs_dir / page).relative_to(project.root).as_posix()
    includes: list[Include] = []
    for ref in parse_page(markdown, page_file).includes:
        try:
            region = read_region(project.root, ref.target, project.settings.executed)
        except UsageError as exc:
            raise UsageError(f"{page_file}:{ref.line}: {exc}") from None
        includes.append(Include(page.as_posix(), page_file, ref.line, region, ref.target,
                                ref.own_process, ref.needs))
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
