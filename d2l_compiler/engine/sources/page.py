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
from dataclasses import dataclass, field

from d2l_compiler.engine.errors import UsageError

# `--8<-- "path:section"` on a line of its own (pymdownx's inline form); `;` escapes it.
INCLUDE = re.compile(r"""^[ \t]*(?P<escape>;*)-+8<-+[ \t]+(?P<q>["'])(?P<target>.+?)(?P=q)[ \t]*$""")
_BLOCK_INCLUDE = re.compile(r"^[ \t]*-+8<-+[ \t]*$")
_OPEN_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_COMMENT = re.compile(r"<!--|-->")
# on the line before a fence, what its regions need: `<!-- d2l: own-process, exclusive, gpu=1 -->`
MARK = re.compile(r"^[ \t]*<!--[ \t]*d2l:(?P<words>[^>]*?)-->[ \t]*$")
# what an author may have meant as a mark (any case, spaces, over two lines): refused unless
# it is one, so a misspelt mark never silently declares nothing
_MARK_LIKE = re.compile(r"^[ \t]*<!--[ \t]*d2l[ \t]*:", re.IGNORECASE)
_WORD = re.compile(r"^(?P<name>[a-z][-a-z]*)(?:=(?P<value>[0-9]+|yes|no))?$")


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


def split_front_matter(text: str) -> tuple[str, str]:
    """(the YAML front matter of a page file, "" if none; the Markdown after it), as MkDocs
    splits them: hosts hand the engine the Markdown alone."""
    found = _FRONT_MATTER.match(text)
    return (found["yaml"], text[found.end():]) if found else ("", text)


class PageSyntaxError(UsageError):
    """A page the engine cannot render honestly, at ``page_file:line`` (the message starts so)."""

    def __init__(self, page_file: str, line: int, reason: str) -> None:
        super().__init__(f"{page_file}:{line}: {reason}")
        self.page_file, self.line, self.reason = page_file, line, reason


@dataclass(frozen=True)
class Needs:
    """What a fence's mark declares its regions need; None: not declared (inferred)."""

    gpus: int | None = None  # ``gpu`` (one) or ``gpu=N``; ``gpu=0`` runs without one
    exclusive: bool | None = None  # ``exclusive``: nothing else runs meanwhile (timings)
    memory_mb: int | None = None  # ``memory=MIB``: the scheduler keeps this much free for it


@dataclass(frozen=True)
class IncludeRef:
    """One include as written in the page."""

    line: int  # 1-based line number in the page
    target: str  # as written, e.g. ``snippets/a.py:r``
    indent: str  # the indentation of the fence holding it
    own_process: bool = False  # the fence is marked ``<!-- d2l: own-process -->``
    needs: Needs = field(default_factory=Needs)  # resources the mark declares


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

    def mark_lines(self) -> set[int]:
        """Line numbers (1-based) of the ``<!-- d2l: ... -->`` marks above fences: instructions
        to the engine, never published (a page with a mark anywhere else is refused)."""
        return {n for f in self.fences if f.includes for n in [_above(self.lines, f.start)]
                if n and MARK.match(self.lines[n - 1])}


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


MARK_WORDS = ("own-process", "exclusive", "gpu", "memory")


def _mark(lines: tuple[str, ...], fence_line: int, page_file: str) -> tuple[bool, Needs]:
    """The mark on the nearest non-blank line above the fence (1-based ``fence_line``):
    whether its regions run in a process of their own, and what they need."""
    number = _above(lines, fence_line)
    match = MARK.match(lines[number - 1]) if number else None
    return _parse_mark(match["words"], page_file, number) if match else (False, Needs())


def _parse_mark(words: str, page_file: str, line: int) -> tuple[bool, Needs]:
    own, values = False, {}
    for word in filter(None, re.split(r"[\s,]+", words.strip())):
        match = _WORD.match(word)
        name = match["name"] if match else word
        value = match["value"] if match else None
        if name not in MARK_WORDS or name in values or (name == "own-process" and own):
            raise PageSyntaxError(page_file, line, f"{word!r} is not a d2l mark or is given twice "
                                  f"(marks: own-process, exclusive[=no], gpu[=N], memory=MIB)")
        if name == "own-process" and value is None:
            own = True
        elif name == "exclusive" and value in (None, "yes", "no"):
            values[name] = value != "no"
        elif name == "gpu" and (value is None or value.isdigit()):
            values[name] = 1 if value is None else int(value)
        elif name == "memory" and value is not None and value.isdigit() and int(value) > 0:
            values[name] = int(value)
        else:
            raise PageSyntaxError(page_file, line, f"{word!r}: expected own-process, exclusive[=no], "
                                  "gpu[=N] or memory=MIB")
    return own, Needs(values.get("gpu"), values.get("exclusive"), values.get("memory"))


def parse_page(markdown: str, page_file: str) -> ParsedPage:
    """Parse ``markdown``; ``PageSyntaxError`` (naming ``page_file:line``) if it is unsafe to render."""
    lines = tuple(markdown.split("\n"))
    fences: list[CodeFence] = []
    opening: re.Match | None = None
    start, includes, in_comment = 0, [], False
    for number, line in enumerate(lines, 1):
        if opening is not None:
            if _closes(line, opening["fence"]):
                fences.append(CodeFence(start, number, opening["indent"], tuple(includes)))
                opening, includes = None, []
                continue
            if _BLOCK_INCLUDE.match(line):
                raise PageSyntaxError(page_file, number, "use the one-line form --8<-- \"path:section\"")
            match = INCLUDE.match(line)
            if match and not match["escape"]:
                includes.append(IncludeRef(number, match["target"], opening["indent"],
                                           *_mark(lines, start, page_file)))
            continue
        commented, in_comment = _comment_state(line, in_comment)
        include = INCLUDE.match(line)
        if (include and not include["escape"]) or _BLOCK_INCLUDE.match(line):
            place = "inside an HTML comment" if commented else "outside a code fence"
            raise PageSyntaxError(page_file, number, f"an include {place} would run without being shown; "
                                  "put it in a ```python fence, or escape it as ;--8<--")
        fence = _OPEN_FENCE.match(line)
        if fence and not commented and not (fence["fence"][0] == "`" and "`" in fence["info"]):
            opening, start = fence, number
    if opening is not None:
        raise PageSyntaxError(page_file, start, "this code fence is never closed "
                              f"(close it with {opening['fence']})")
    _no_stray_marks(lines, fences, page_file)
    return ParsedPage(lines, tuple(fences))


def _no_stray_marks(lines: tuple[str, ...], fences: list[CodeFence], page_file: str) -> None:
    """A mark must stand right above a fence that includes code: one anywhere else would
    silently declare nothing."""
    fenced = {n for f in fences for n in range(f.start, f.end + 1)}
    marked = {n for f in fences if f.includes for n in [_above(lines, f.start)] if n}
    for number, line in enumerate(lines, 1):
        if number not in fenced and _MARK_LIKE.match(line) and not MARK.match(line):
            raise PageSyntaxError(page_file, number, "this reads like a d2l mark but is not one: "
                                  "write it on one line as <!-- d2l: own-process --> (lower case, "
                                  "no space before the colon)")
        if number not in fenced and number not in marked and MARK.match(line):
            raise PageSyntaxError(page_file, number, "this d2l mark is not on the line "
                                  "above a code fence that includes a region; it would declare "
                                  "nothing")


def _above(lines: tuple[str, ...], fence_line: int) -> int | None:
    """The nearest non-blank line above a fence (1-based), if any."""
    return next((n for n in range(fence_line - 1, 0, -1) if lines[n - 1].strip()), None)
