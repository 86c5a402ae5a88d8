"""The same rendering as a Python-Markdown extension, for hosts that run no MkDocs plugin.

Zensical (the successor of mkdocs-material) reads ``mkdocs.yml`` but ignores ``hooks:`` and
plugins it does not know, while it passes ``markdown_extensions`` through. This extension
fills a page from the build record in a preprocessor that runs before ``pymdownx.snippets``::

    markdown_extensions:
      - d2l_compiler.engine.render.extension:
          config_file: mkdocs.yml

A Markdown extension is not told which file it renders, so the page is found by its text
(the one page file ending with it), else by its includes (the record entry whose regions, in
order, are the page's includes). Its freshness rule is the plugin's (``refuse_stale``).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

import markdown
from markdown.preprocessors import Preprocessor

from d2l_compiler.engine.errors import NoRecord
from d2l_compiler.engine.record.io import load_record
from d2l_compiler.engine.record.model import PageEntry
from d2l_compiler.engine.render.crossref import BookIndex, PageLabels
from d2l_compiler.engine.render.section_numbers import SectionNumbers
from d2l_compiler.engine.render.markdown import RenderError, labels_for, refuse_stale, render_page
from d2l_compiler.engine.render.installed import extensions_for
from d2l_compiler.engine.sources.discover import includes_in
from d2l_compiler.engine.sources.page import parse_page
from d2l_compiler.engine.sources.project import GENERATED_DIR, find_project

PRIORITY = 100  # before pymdownx.snippets (32): outputs must be in place when it runs


def _lines(text: str) -> str:
    """``text`` with every line ending as ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class _Render(Preprocessor):
    def __init__(self, md: markdown.Markdown, config_file: str) -> None:
        super().__init__(md)
        self.project = find_project(config_file)
        record = load_record(self.project.record_path)
        if record is None:
            raise NoRecord(self.project.record_path,
                           "run `python -m d2l_compiler build --no-site` first")
        self.record = record
        self.extensions = extensions_for(self.project.settings.extensions)
        self.labels = labels_for(self.project.settings.labels)
        self.sections: PageLabels | None = None  # of the page being converted (section_numbers)

    @cached_property
    def _page_texts(self) -> dict[str, str]:
        """Every page of the book (docs-relative name -> its text), read once per build."""
        texts = {}
        for page in self.project.pages():
            try:
                texts[page.as_posix()] = _lines((self.project.docs_dir / page).read_text(
                    encoding="utf-8-sig")).rstrip("\n")
            except (OSError, UnicodeDecodeError):
                continue
        return texts

    @cached_property
    def _book(self) -> BookIndex:
        """The labels of the whole book, read once per build."""
        return BookIndex.of_pages(self._page_texts, self.project.docs_dir.name)

    def _entry(self, text: str) -> tuple[str, PageEntry | None]:
        """The page whose Markdown is ``text`` (a Markdown extension is not told): the one
        file that ends with this text (front matter comes before it); else the record entry
        whose regions are its includes, and among several, the one whose file holds it."""
        body = text.rstrip("\n")
        named = [name for name, page in self._page_texts.items() if body and page.endswith(body)]
        if len(named) == 1:
            return named[0], self.record.pages.get(named[0])
        targets = [ref.target for ref in parse_page(text, "page").includes]
        if not targets:
            return "page", None
        found = [(name, entry) for name, entry in self.record.pages.items()
                 if [r.target for r in entry.regions] == targets]
        if len(found) > 1:
            found = [(name, entry) for name, entry in found if name in named]
        if len(found) == 1:
            return found[0]
        if not found:
            raise RenderError(f"no record entry runs {', '.join(targets)}: rebuild")
        raise RenderError(f"pages {', '.join(name for name, _ in found)} have the same text: "
                          "a Markdown extension cannot tell which one it renders")

    def run(self, lines: list[str]) -> list[str]:
        # before Python-Markdown's own normalisation (priority 30): a page saved with CRLF
        text = _lines("\n".join(lines))
        name, entry = self._entry(text)
        self.sections = None
        if PurePosixPath(name).parts[0] == GENERATED_DIR:  # the engine's: rendered already,
            return lines  # and what a region printed there is never a token
        page_file = f"{self.project.docs_dir.name}/{name}"
        includes = includes_in(self.project, text, Path(name)) if entry is not None else []
        refuse_stale(self.project, includes, self.record, name, page_file)
        self.sections = self._book.page_labels(name)
        return render_page(text, entry, self.record, self.project.root, page_file,
                           extensions=self.extensions, labels=self.labels, page_name=name,
                           book=self._book).split("\n")


class D2LExtension(markdown.Extension):
    """``markdown_extensions: [d2l_compiler.engine.render.extension]``."""

    def __init__(self, **kwargs: Any) -> None:
        self.config = {"config_file": ["mkdocs.yml", "the MkDocs config of the book"],
                       # unread: it changes with the record, so that a host caching pages by
                       # their Markdown and config (Zensical) renders them again
                       "record_digest": ["", "the digest of the build record"]}
        super().__init__(**kwargs)

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - Markdown's API
        """Register the preprocessor before ``pymdownx.snippets``."""
        render = _Render(md, self.getConfig("config_file"))
        md.preprocessors.register(render, "d2l", PRIORITY)
        SectionNumbers(lambda: render.sections).extendMarkdown(md)


def makeExtension(**kwargs: Any) -> D2LExtension:  # noqa: N802 - Markdown's entry point
    """Python-Markdown's hook for ``markdown_extensions: [d2l_compiler.engine.render.extension]``."""
    return D2LExtension(**kwargs)
