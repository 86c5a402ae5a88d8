"""Pages -> the regions they include (pymdownx.snippets syntax) -> the source of each region.

Only regions under the project's executed folders (``snippets/`` unless the plugin's
``executed`` option says otherwise) are run; a page may also include a region of any other
file (e.g. ``d2l_compiler/models.py:get_net``) to *show* code without running it.
Include paths resolve inside the project root (``..`` and symbolic links are followed first,
then checked), so a page can neither show nor run a file outside the project.

A region's code is exactly what ``pymdownx.snippets`` puts in the page (escaped markers, an
upper-case ``[END:x]``, a marker inside a string: all read its way, with its own patterns, and
checked against its own ``extract_section``), so what runs is what the page shows; a region
pymdownx would show otherwise than marked (no end, an end before the start, a whole-line include
inside) is refused.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from d2l_compiler.engine.errors import UsageError, did_you_mean
from d2l_compiler.engine.sources.page import Needs, parse_page
from d2l_compiler.engine.sources.project import Project

DEFAULT_EXECUTED = ("snippets/",)

# first line of a region that is meant to fail, e.g. `# raises: ZeroDivisionError`
_EXPECT = re.compile(r"^\s*#\s*raises:\s*(?P<name>[A-Za-z_][A-Za-z_0-9]*)\s*$")
# a data file a region reads, so that editing it re-runs the page: `# reads: data/x.csv`
_READS = re.compile(r"^\s*#\s*reads:\s*(?P<path>\S.*?)\s*$")

# what pymdownx.snippets reads as a section marker and as a whole-line include: copies of its
# own patterns (13.x), used only where it is not installed (tests compare them with it)
_SECTION_MARKER_COPY = re.compile(
    r"(?xi)^(?P<pre>.*?)(?<!;)(?!(?<=-)-)(?P<escape>;*)(?P<inline_marker>-{1,}8<-{1,}[ \t]+)"
    r"(?P<section>\[[ \t]*(?P<type>start|end)[ \t]*:[ \t]*(?P<name>[a-z][-_0-9a-z]*)[ \t]*\])"
    r"(?P<post>.*?)$")
_WHOLE_LINE_SNIPPET_COPY = re.compile(
    r"""(?x)^(?P<space>[ \t]*)(?P<escape>;*)(?P<all>(?P<inline_marker>-{1,}8<-{1,}[ \t]+)"""
    r"""(?P<snippet>(?:"(?:\\"|[^"\n\r])+?"|'(?:\\'|[^'\n\r])+?'))(?![ \t])|"""
    r"""(?P<block_marker>-{1,}8<-{1,})(?![ \t]))\r?$""")
try:
    from pymdownx.snippets import SnippetPreprocessor as _Snippets
except ImportError:  # no site is built here
    _Snippets = None
SECTION_MARKER: re.Pattern[str] = (_Snippets.RE_SNIPPET_SECTION if _Snippets is not None
                                   else _SECTION_MARKER_COPY)
_WHOLE_LINE_SNIPPET: re.Pattern[str] = (_Snippets.RE_ALL_SNIPPETS if _Snippets is not None
                                        else _WHOLE_LINE_SNIPPET_COPY)


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


def read_region(root: Path, target: str, executed_roots: tuple[str, ...] = DEFAULT_EXECUTED,
                dedent: bool = False) -> Region:
    """The region ``path:section`` of a file under ``root``, exactly as ``pymdownx.snippets``
    shows it (``dedent``: its ``dedent_subsections`` option); ``UsageError`` if it is not there."""
    written, sep, section = target.rpartition(":")
    if not sep or not written or not section:
        raise UsageError(f"include {target!r} names no section (expected 'path/to/file.py:NAME')")
    path = project_path(root, written)
    file = root / path
    if not file.is_file():
        raise UsageError(f"included file {path} does not exist")
    try:
        text = file.read_text(encoding="utf-8")  # text mode: \r\n and \r end lines, as pymdownx reads
    except UnicodeDecodeError:
        raise UsageError(f"included file {path} is not UTF-8 text") from None
    # split at \n only, as pymdownx does (str.splitlines would also split at U+2028, form
    # feeds, ... inside string literals)
    lines = text.split("\n") if text else []
    numbered, opened = _section(lines, section, path)
    shown = [line for _, line in numbered]
    if dedent:  # what pymdownx's own `dedent` does
        shown = textwrap.dedent("\n".join(shown)).split("\n")
    if _Snippets is not None and shown != _snippets(dedent).extract_section(section, lines):
        raise UsageError(f"{path}: pymdownx.snippets reads region {section!r} differently from "
                         "the engine (a newer pymdownx?); please report this")
    code = []
    for (number, _), line in zip(numbered, shown, strict=True):
        # pymdownx then reads the section's lines as Markdown would: a whole-line include
        nested = _WHOLE_LINE_SNIPPET.match(line)
        if nested and not nested["escape"]:
            raise UsageError(f"{path}:{number}: pymdownx.snippets would replace this line of region "
                             f"{section!r} by what it names; escape it as ';--8<--'")
        code.append(line.replace(";", "", 1) if nested else line)  # shown with one `;` less
    first_line = numbered[0][0] if numbered else opened + 1
    return Region(path, section, first_line, "\n".join(code) + "\n",
                  executed=path.startswith(executed_roots))


def _section(lines: list[str], section: str, path: str) -> tuple[list[tuple[int, str]], int]:
    """``pymdownx.snippets``' ``extract_section``, step for step, keeping line numbers: the
    (1-based number, text) of each line it shows, and the line of the start marker.

    As there: an escaped marker (``;--8<--``) is shown with one ``;`` less, every other marker
    line is dropped, the first ``start`` of the section opens it, and any other marker naming
    the section (``end``, but also ``END`` or ``Start``: the type is compared as written)
    closes it, or, before the start, ends the search. Unlike there, a section that never
    closes is refused instead of running to the end of the file."""
    shown: list[tuple[int, str]] = []
    opened = 0
    for number, line in enumerate(lines, 1):
        marker = SECTION_MARKER.match(line) if "8<-" in line else None
        if marker and marker["escape"]:
            line = (marker["pre"] + marker["escape"].replace(";", "", 1) + marker["inline_marker"]
                    + marker["section"] + marker["post"])
        elif marker and marker["name"] == section:
            if marker["type"] == "start":
                opened = opened or number
                continue
            if opened:
                return shown, opened
            raise UsageError(f"{path} has no complete region {section!r}: line {number} "
                             f"('{marker['section']}') comes before its start, and "
                             "pymdownx.snippets stops reading there")
        elif marker:
            continue
        if opened:
            shown.append((number, line))
    if opened:
        raise UsageError(f"{path} has no complete region {section!r}: no '# --8<-- [end:{section}]' "
                         f"after its start on line {opened}")
    names = [m["name"] for line in lines if "8<-" in line
             for m in [SECTION_MARKER.match(line)] if m and m["type"].lower() == "start"]
    raise UsageError(f"{path} has no complete region {section!r} "
                     f"(needs '# --8<-- [start:{section}]' and '# --8<-- [end:{section}]')"
                     + did_you_mean(section, names))


@lru_cache(maxsize=2)
def _snippets(dedent: bool) -> Any:
    """A ``pymdownx.snippets`` preprocessor (its ``extract_section`` and ``dedent``)."""
    import markdown  # noqa: PLC0415 - optional: the page process extracts no regions
    from pymdownx.snippets import SnippetExtension  # noqa: PLC0415 - as above

    md = markdown.Markdown(extensions=[SnippetExtension(dedent_subsections=dedent)])
    return md.preprocessors["snippet"]


def dedents_sections(project: Project) -> bool:
    """Whether the project's ``pymdownx.snippets`` has ``dedent_subsections`` set."""
    for item in project.config().get("markdown_extensions") or []:
        if isinstance(item, dict) and isinstance(item.get("pymdownx.snippets"), dict):
            return item["pymdownx.snippets"].get("dedent_subsections") is True
    return False


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
            region = read_region(project.root, ref.target, project.settings.executed,
                                 dedents_sections(project))
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
    if only is None:
        check_executed(project, [inc for incs in found.values() for inc in incs])
    return {page: incs for page, incs in found.items() if incs}


def check_executed(project: Project, includes: list[Include]) -> None:
    """``UsageError`` when the ``executed`` setting cannot be what the author meant: a folder
    named there that is not one, or that holds no region any page includes; or, left at its
    default, pages that include code of which none would run."""
    settings, where = project.settings, project.config_file.name
    included = sorted({inc.region.path for inc in includes})
    if project.executed_given:
        for folder in settings.executed:
            if folder and not (project.root / folder).is_dir():
                raise UsageError(f"{where}: the d2l plugin's 'executed' names {folder!r}, which is "
                                 "not a folder of the project (relative to mkdocs.yml)")
            if not any(path.startswith(folder) for path in included):
                raise UsageError(f"{where}: the d2l plugin's 'executed' names {folder!r}, but no "
                                 f"page includes a region from it, so nothing there would run")
    elif included and not any(inc.region.executed for inc in includes):
        folders = sorted({f"{path.rpartition('/')[0]}/" if "/" in path else "." for path in included})
        raise UsageError(f"{where}: pages include code from {', '.join(folders)}, but the d2l "
                         f"plugin runs only what is under {', '.join(settings.executed)} (its "
                         f"default): set 'executed: [{folders[0]}]', or 'executed: []' to run nothing")
