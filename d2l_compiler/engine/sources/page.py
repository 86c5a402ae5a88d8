"""The one parser of a page's structure: code fences, the includes inside them, HTML comments.

Discovery (what runs), rendering (where outputs go) and the notebook (which cells exist) all
read a page through :func:`parse_page`, so they cannot disagree about what an include is. A
page that the engine could not render honestly is refused here, naming the page and line:
an include outside a code fence or inside an HTML comment, the block form of an include, and
a code fence that is never closed. Fences follow CommonMark: a closing fence uses the opening
fence's character, is at least as long, and carries nothing but spaces after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from d2l_compiler.engine.errors import UsageError

# `--8<-- "path:section"` on a line of its own (pymdownx's inline form); `;` escapes it.
INCLUDE = re.compile(r"""^[ \t]*(?P<escape>;*)-+8<-+[ \t]+(?P<q>["'])(?P<target>.+?)(?P=q)[ \t]*$""")
_BLOCK_INCLUDE = re.compile(r"^[ \t]*-+8<-+[ \t]*$")
_OPEN_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_COMMENT = re.compile(r"<!--|-->")
# on the line before a fence: run the regions it includes in a process of their own
OWN_PROCESS = re.compile(r"^[ \t]*<!--[ \t]*d2l:[ \t]*own-process[ \t]*-->[ \t]*$")


class PageSyntaxError(UsageError):
    """A page the engine cannot render honestly; the message starts with ``page:line``."""


@dataclass(frozen=True)
class IncludeRef:
    """One include as written in the page."""

    line: int  # 1-based line number in the page
    target: str  # as written, e.g. ``snippets/a.py:r``
    indent: str  # the indentation of the fence holding it
    own_process: bool = False  # the fence is marked ``<!-- d2l: own-process -->``


@dataclass(frozen=True)
class CodeFence:
    """A fenced code block: its first and last line (1-based) and the includes inside it."""

    start: int
    end: int
    indent: str
    includes: tuple[IncludeRef, ...]


@dataclass(frozen=True)
class ParsedPage:
    """A page's lines and its code fences, in page order."""

    lines: tuple[str, ...]
    fences: tuple[CodeFence, ...]

    @property
    def includes(self) -> list[IncludeRef]:
        """Every include in page order (a region included twice appears twice)."""
        return [inc for fence in self.fences for inc in fence.includes]

    def fenced_lines(self) -> set[int]:
        """Line numbers (1-based) inside a fence, the fence lines included."""
        return {n for f in self.fences for n in range(f.start, f.end + 1)}


def _closes(line: str, opening: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(opening) and set(stripped) == {opening[0]}


def _comment_state(line: str, inside: bool) -> tuple[bool, bool]:
    """(whether any part of ``line`` is inside a comment, whether a comment is open after it)."""
    touched = inside
    for mark in _COMMENT.findall(line):
        if mark == "<!--" and not inside:
            inside = touched = True
        elif mark == "-->" and inside:
            inside = False
    return touched, inside


def _marked(lines: tuple[str, ...], fence_line: int) -> bool:
    """Whether the nearest non-blank line above the fence (1-based ``fence_line``) marks it."""
    for line in reversed(lines[: fence_line - 1]):
        if line.strip():
            return bool(OWN_PROCESS.match(line))
    return False


def parse_page(markdown: str, page_file: str) -> ParsedPage:
    """Parse ``markdown``; ``PageSyntaxError`` (naming ``page_file:line``) if it is unsafe to render."""
    lines = tuple(markdown.split("\n"))
    fences: list[CodeFence] = []
    opening: re.Match | None = None
    start, includes, in_comment = 0, [], False
    for number, line in enumerate(lines, 1):
        where = f"{page_file}:{number}"
        if opening is not None:
            if _closes(line, opening["fence"]):
                fences.append(CodeFence(start, number, opening["indent"], tuple(includes)))
                opening, includes = None, []
                continue
            if _BLOCK_INCLUDE.match(line):
                raise PageSyntaxError(f"{where}: use the one-line form --8<-- \"path:section\"")
            match = INCLUDE.match(line)
            if match and not match["escape"]:
                includes.append(IncludeRef(number, match["target"], opening["indent"],
                                           _marked(lines, start)))
            continue
        commented, in_comment = _comment_state(line, in_comment)
        include = INCLUDE.match(line)
        if (include and not include["escape"]) or _BLOCK_INCLUDE.match(line):
            place = "inside an HTML comment" if commented else "outside a code fence"
            raise PageSyntaxError(f"{where}: an include {place} would run without being shown; "
                                  "put it in a ```python fence, or escape it as ;--8<--")
        fence = _OPEN_FENCE.match(line)
        if fence and not commented and not (fence["fence"][0] == "`" and "`" in fence["info"]):
            opening, start = fence, number
    if opening is not None:
        raise PageSyntaxError(f"{page_file}:{start}: this code fence is never closed "
                              f"(close it with {opening['fence']})")
    return ParsedPage(lines, tuple(fences))
