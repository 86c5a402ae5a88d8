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
from d2l_compiler.engine.render.crossref import PageLabels, SectionCounter

PRIORITY = 4  # after toc (5), which gives the headings their ids
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


class _Number(Treeprocessor):
    def __init__(self, md: markdown.Markdown, current: Callable[[], PageLabels | None]) -> None:
        super().__init__(md)
        self.current = current

    def run(self, root: ElementTree.Element) -> None:
        labels = self.current()
        if labels is None:
            return
        _check(root, labels)
        if not labels.number:
            return
        counter = SectionCounter(labels.number)
        for heading in root:
            if heading.tag not in _HEADINGS:
                continue
            number = counter.next(int(heading.tag[1]))
            label = heading.get("id", "")
            target = labels.sections.get(label)
            if target is not None and target.number != number:
                raise RenderError(f"the section labelled {label!r} is numbered {number or 'not'} "
                                  f"here but {target.number or 'not'} in the book's index: "
                                  "write its headings as '#' lines, outside HTML blocks",
                                  line=target.line)
            if number:
                span = ElementTree.Element("span", {"class": "d2l-section-number"})
                span.text, span.tail = number, " " + (heading.text or "")
                heading.text = None
                heading.insert(0, span)


def _check(root: ElementTree.Element, labels: PageLabels) -> None:
    """Every labelled section of the index is a heading of the converted page (not one
    hidden in an HTML comment or block), and no caption's label is the anchor of another
    element (a reference would jump there)."""
    anchors = {element.get("id"): element for element in root.iter() if element.get("id")}
    for label, target in labels.sections.items():
        if label not in anchors or anchors[label].tag not in _HEADINGS:
            raise RenderError(f"the heading labelled {label!r} is no heading of the page (is it "
                              "inside an HTML comment or block?): a reference to it would lead "
                              "nowhere", line=target.line)
    for label, target in labels.captions.items():
        if label in anchors:
            raise RenderError(f"the label {label!r} is also the anchor of a "
                              f"<{anchors[label].tag}> on the page (a heading's, say): choose "
                              "another, or a reference jumps there", line=target.line)


class SectionNumbers(markdown.Extension):
    """Registers the numbering and its checks; ``current`` gives, for the page being
    converted, its share of the book's index (None: neither number nor check)."""

    def __init__(self, current: Callable[[], PageLabels | None]) -> None:
        super().__init__()
        self.current = current

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - Markdown's API
        """Register the tree processor after ``toc``."""
        md.treeprocessors.register(_Number(md, self.current), "d2l-section-numbers", PRIORITY)
