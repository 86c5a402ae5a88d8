"""Section numbers on the headings of a numbered page (``number: 12.1`` in its front matter),
as d2l shows them: "12.1 编译器和解释器", "12.1.3 混合式编程", "12.1.3.1 ...".

A Python-Markdown tree processor that runs after ``toc``: a heading's anchor, its entry in
the table of contents and links to it stay as they were; the number is text before the title.
It numbers the page's own headings (not those inside admonitions or tabs) by the rule the
book's index uses (:class:`.crossref.SectionCounter`), and checks that every labelled section
got the number its references print: a heading the index could not see fails the page
instead of publishing a reference to the wrong number.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Callable

import markdown
from markdown.treeprocessors import Treeprocessor

from d2l_compiler.engine.errors import RenderError
from d2l_compiler.engine.render.crossref import SectionCounter

PRIORITY = 4  # after toc (5), which gives the headings their ids
# the page being converted: its number ("" none) and its labelled sections' numbers
Sections = tuple[str, dict[str, str]]


class _Number(Treeprocessor):
    def __init__(self, md: markdown.Markdown, current: Callable[[], Sections | None]) -> None:
        super().__init__(md)
        self.current = current

    def run(self, root: ElementTree.Element) -> None:
        sections = self.current()
        if not sections or not sections[0]:
            return
        page, expected = sections
        counter = SectionCounter(page)
        for heading in root:
            if len(heading.tag) != 2 or heading.tag[0] != "h" or not heading.tag[1].isdigit():
                continue
            number = counter.next(int(heading.tag[1]))
            label = heading.get("id", "")
            if label in expected and expected[label] != number:
                raise RenderError(f"the section labelled {label!r} is numbered {number or 'not'} "
                                  f"here but {expected[label] or 'not'} in the book's index: "
                                  "write its headings as '#' lines, outside HTML blocks")
            if number:
                span = ElementTree.Element("span", {"class": "d2l-section-number"})
                span.text, span.tail = number, " " + (heading.text or "")
                heading.text = None
                heading.insert(0, span)


class SectionNumbers(markdown.Extension):
    """Registers the numbering; ``current`` says, for the page being converted, its number
    and its labelled sections' numbers (None: number nothing)."""

    def __init__(self, current: Callable[[], Sections | None]) -> None:
        super().__init__()
        self.current = current

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - Markdown's API
        """Register the tree processor after ``toc``."""
        md.treeprocessors.register(_Number(md, self.current), "d2l-section-numbers", PRIORITY)
