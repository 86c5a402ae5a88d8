"""Numbered figures and tables, labelled sections, and references to them across the book.

An author writes, in a page's Markdown (d2l's ``:label:`` and ``:numref:`` in this syntax)::

    {{ d2l:figure LABEL caption }}    a numbered caption, under the figure it names
    {{ d2l:table LABEL caption }}     a numbered caption, above the table it names
    ## A heading {#LABEL}             a labelled section (needs ``attr_list``)
    {{ d2l:ref LABEL }}               a link to it: "图 2.3", "表 1", "“A heading”一节"

Labels are unique in the whole book. A page's figures and tables are numbered in the order
they appear; ``number: 12.1`` in the page's front matter makes them 12.1.1, 12.1.2, ...
Numbers come from the source alone, so every host (and the notebook) shows the same ones,
and a reference that names no label fails the build at its page and line.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import markdown as python_markdown

from d2l_compiler.engine.errors import RenderError, did_you_mean
from d2l_compiler.engine.render.math import MathExtension
from d2l_compiler.engine.sources.page import PageSyntaxError, parse_page, split_front_matter
from d2l_compiler.engine.sources.project import Project

Kind = Literal["figure", "table", "section"]
CAPTION_TOKENS: tuple[Kind, ...] = ("figure", "table")
LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_TOKEN = re.compile(r"\{\{\s*d2l:(?P<body>.*?)\s*\}\}")
# ``## Title {#label}`` or ``## Title {: #label .class }`` (attr_list), closing #s allowed
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(?P<title>.*?)[ \t]*(?:#+[ \t]*)?"
                      r"\{:?[ \t]*#(?P<label>[^\s}]+)[^}]*\}[ \t]*$")
_ANY_HEADING = re.compile(r"^ {0,3}(?P<level>#{1,6})(?:[ \t]|$)")
NUMBERED_LEVELS = 3  # of a numbered page: its title, sections and subsections (12.1, 12.1.2, 12.1.2.1)
_NUMBER = re.compile(r"^number:[ \t]*['\"]?(?P<number>[0-9]+(?:\.[0-9]+)*)['\"]?[ \t]*$",
                     re.MULTILINE)


@dataclass(frozen=True)
class Target:
    """What a label names: a figure's or table's caption, or a section's heading."""

    kind: Kind
    label: str
    page: str  # docs-relative, as ``a/b.md``
    line: int  # 1-based, in the page file (front matter included)
    number: str  # "12.1.3" or "3"; a section's "" on a page without a number
    title: str  # the caption's or heading's Markdown




_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)")


def code_spans(line: str) -> list[tuple[int, int]]:
    """Where ``line``'s inline code spans are (start, end): text there is code, shown as
    written, never a token (a page may show the syntax ``{{ d2l:ref x }}`` itself)."""
    return [match.span() for match in _CODE_SPAN.finditer(line)]


def in_code(position: int, spans: list[tuple[int, int]]) -> bool:
    """Whether ``position`` lies inside one of ``spans``."""
    return any(start <= position < end for start, end in spans)


def page_number(text: str) -> str:
    """The number a page file's front matter declares (``number: 12.1``), "" if none."""
    declared = _NUMBER.search(split_front_matter(text)[0])
    return declared["number"] if declared else ""


class SectionCounter:
    """The numbers of a numbered page's headings, in order (the one rule the index and the
    headings shown both follow): its title is the page's number, a section adds one place,
    a subsection another; deeper headings, and every heading of a page without a number,
    are unnumbered ("")."""

    def __init__(self, page: str) -> None:
        self.page = page
        self.counts = [0] * (NUMBERED_LEVELS - 1)

    def next(self, level: int) -> str:
        """The number of the next heading, of ``level`` (1 for ``#``)."""
        if not self.page or level > NUMBERED_LEVELS:
            return ""
        if level == 1:
            return self.page
        self.counts[level - 2] += 1
        self.counts[level - 1:] = [0] * (len(self.counts) - level + 1)
        return ".".join([self.page, *map(str, self.counts[:level - 1])])


def _caption(body: str) -> tuple[Kind, str, str] | None:
    """(kind, label, caption) of a caption token's body, None if it is another token."""
    words = body.split(None, 2)
    if not words or words[0] not in CAPTION_TOKENS:
        return None
    kind: Kind = "figure" if words[0] == "figure" else "table"
    if len(words) < 3:
        raise RenderError(f"a caption reads {{{{ d2l:{kind} LABEL caption text }}}}")
    if "{{" in words[2]:
        raise RenderError("a caption cannot hold another {{ d2l: }} token")
    return kind, words[1], words[2]


def _checked(label: str) -> str:
    if not LABEL.fullmatch(label):
        raise RenderError(f"{label!r} is not a label: a letter, then letters, digits, - or _")
    return label


@dataclass(frozen=True)
class PageLabels:
    """One page's share of the index: what its converted page must agree with."""

    number: str  # "" if the page has none
    sections: Mapping[str, Target]
    captions: Mapping[str, Target]


@dataclass(frozen=True)
class BookIndex:
    """Every label of the book and what it names."""

    targets: Mapping[str, Target]
    numbers: Mapping[str, str] = field(default_factory=dict)  # page -> its number, if it has one

    @classmethod
    def of_pages(cls, pages: Mapping[str, str], docs: str = "docs") -> BookIndex:
        """The index of ``pages`` (docs-relative name -> the file's text, in the book's order;
        ``docs``: the docs directory's name, for errors);
        ``RenderError`` at the page and line of a malformed or repeated label."""
        targets: dict[str, Target] = {}
        numbers = {}
        for page, text in pages.items():
            number = page_number(text)
            if number:
                numbers[page] = number
            where = f"{docs}/{page}" if docs else page
            for target in _page_targets(page, text, where):
                if target.label in targets:
                    first = targets[target.label]
                    first_file = f"{docs}/{first.page}" if docs else first.page
                    raise RenderError(f"the label {target.label!r} is given twice (first at "
                                      f"{first_file}:{first.line}): labels are unique "
                                      "in the book", where, target.line)
                targets[target.label] = target
        return cls(targets, numbers)

    def page_labels(self, page: str) -> PageLabels:
        """What the index holds of ``page``: its number and its labelled sections and captions."""
        mine = [t for t in self.targets.values() if t.page == page]
        return PageLabels(self.numbers.get(page, ""),
                          {t.label: t for t in mine if t.kind == "section"},
                          {t.label: t for t in mine if t.kind != "section"})

    def get(self, label: str, kinds: tuple[Kind, ...] = ("figure", "table", "section")) -> Target:
        """The target of ``label``; ``RenderError`` if the book has none of ``kinds``."""
        target = self.targets.get(label)
        if target is None or target.kind not in kinds:
            known = {name for name, t in self.targets.items() if t.kind in kinds}
            named = ", ".join(kinds[:-1]) + " or " * (len(kinds) > 1) + kinds[-1]
            raise RenderError(f"no {named} in the book is labelled {label!r}"
                              + did_you_mean(label, known))
        return target


def _page_targets(page: str, text: str, page_file: str) -> list[Target]:
    """The labelled captions and headings of one page, in order."""
    body = split_front_matter(text)[1]
    number = page_number(text)
    skipped = text[:len(text) - len(body)].count("\n")  # errors name the file's own lines
    try:
        fenced = parse_page(body, page_file).fenced_lines()
    except PageSyntaxError:
        return []  # rendering the page reports it, at its line
    counts = {"figure": 0, "table": 0}
    sections = SectionCounter(number)
    found = []
    for offset, line in enumerate(body.split("\n"), 1):
        if offset in fenced:
            continue
        place = offset + skipped
        try:
            spans = code_spans(line)
            for match in _TOKEN.finditer(line):
                if in_code(match.start(), spans):
                    continue
                caption = _caption(match["body"])
                if caption is None:
                    continue
                kind, label, title = caption
                counts[kind] += 1
                shown = f"{number}.{counts[kind]}" if number else str(counts[kind])
                found.append(Target(kind, _checked(label), page, place, shown, title))
            level = _ANY_HEADING.match(line)
            section = sections.next(len(level["level"])) if level else ""
            heading = _HEADING.match(line)
            if heading and LABEL.fullmatch(heading["label"]):  # others cannot be cited
                found.append(Target("section", heading["label"], page, place, section,
                                    heading["title"]))
        except RenderError as exc:
            raise exc.at(page_file, place) from None
    return found


def caption_html(text: str) -> str:
    """A caption's Markdown (the author's, not run data) as inline HTML, its formulas typeset."""
    html = python_markdown.markdown(text, extensions=[MathExtension()]).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return html


def caption(target: Target, name: str) -> str:
    """The numbered caption of ``target`` (``name``: 图, Figure, ...), as one line of inline
    HTML (a paragraph of its own on the page, and one inside an admonition or a tab alike)."""
    return (f'<span class="d2l-caption d2l-{target.kind}-caption" id="{target.label}">'
            f'<span class="d2l-caption-number">{name} {target.number}</span> '
            f'{caption_html(target.title)}</span>')


def link(target: Target, text: str, from_page: str) -> str:
    """A Markdown link to ``target`` from the page ``from_page`` (docs-relative)."""
    if target.page == from_page:
        path = ""
    else:
        path = posixpath.relpath(target.page, posixpath.dirname(from_page) or ".")
    shown = text.replace("[", "&#91;").replace("]", "&#93;")  # a title's bracket ends no link
    return f"[{shown}]({path}#{target.label})"


def page_index(page: str, text: str, docs: str = "docs") -> BookIndex:
    """The index of one page alone (a fragment rendered without its book)."""
    return BookIndex.of_pages({page: text}, docs)


def book_index(project: Project) -> BookIndex:
    """The index of every page of ``project`` (read from its docs directory)."""
    texts = {}
    for page in project.pages():
        try:
            text = (project.docs_dir / page).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue  # rendering that page reports it
        texts[page.as_posix()] = text.replace("\r\n", "\n").replace("\r", "\n")
    book = BookIndex.of_pages(texts, project.docs_dir.name)
    sections = [t for t in book.targets.values() if t.kind == "section"]
    if sections and "attr_list" not in project.markdown_extensions:
        first = sections[0]
        raise RenderError(f"the heading's label {{#{first.label}}} needs 'attr_list' in "
                          f"markdown_extensions of {project.config_file.name} (without it the "
                          "label shows as text)", f"{project.docs_dir.name}/{first.page}",
                          first.line)
    return book
