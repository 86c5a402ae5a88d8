"""An executed Jupyter notebook of a page, built from its regions and their recorded outputs.

Nothing is executed here: code cells hold the regions' code, outputs come from the record,
and the prose between them is the page's own Markdown with its values filled in.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from d2l_compiler.engine.record.model import PageEntry, RegionRun
from d2l_compiler.engine.record.whole import Record
from d2l_compiler.engine.escape import visible
from d2l_compiler.engine.sources.page import MARK, parse_page, split_front_matter
from d2l_compiler.engine.sources.project import GENERATED_DIR
from d2l_compiler.engine.render.crossref import BookIndex, SectionCounter
from d2l_compiler.engine.render.markdown import LABELS, Labels, RenderError, render_page, rich_html
from d2l_compiler.engine.render.notebook_markdown import notebook_flavoured, one_tab_each
from d2l_compiler.engine.render.notebook_page import NOTEBOOK_META, notebook_markdown
from d2l_compiler.engine.render.notebook_setup import NotebookSetup, setup_source
from d2l_compiler.engine.render.tokens import Extensions

NOTEBOOK_DIR = GENERATED_DIR


def notebook_of(page: str) -> str:
    """The docs-relative path of the notebook the engine writes for ``page`` (``a/b.md`` ->
    ``generated/a/b.ipynb``)."""
    return f"{NOTEBOOK_DIR}/{PurePosixPath(page).with_suffix('.ipynb').as_posix()}"


def page_of(notebook: str) -> str | None:
    """The page a notebook of :func:`notebook_of` was made from; None for any other path."""
    path = PurePosixPath(notebook)
    if path.suffix != ".ipynb" or path.parts[:1] != (NOTEBOOK_DIR,) or len(path.parts) < 2:
        return None
    return PurePosixPath(*path.parts[1:]).with_suffix(".md").as_posix()


_LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)")


def _self_contained(markdown: str, page_dir: Path) -> str:
    """Links relative to the page would break inside a notebook (on the site and once
    downloaded): local images are embedded as data URIs, other relative links become text."""
    def fix(match: re.Match) -> str:
        target = match["target"]
        if target.startswith(("http://", "https://", "#", "data:", "mailto:")):
            return match[0]
        file = page_dir / target.split("#")[0]
        if match["bang"] and file.is_file():
            kind = "svg+xml" if file.suffix == ".svg" else file.suffix.lstrip(".")
            data = base64.b64encode(file.read_bytes()).decode("ascii")
            return f"![{match['text']}](data:image/{kind};base64,{data})"
        return match["text"]
    return _LINK.sub(fix, markdown)


def rebased(markdown: str, page_dir: Path, target_dir: Path, itself: Path | None = None) -> str:
    """Relative links and images of a page in ``page_dir``, rewritten to work from a page in
    ``target_dir`` (the notebook's own page on the site). A link to ``itself`` (that page:
    the chapter's "view the notebook online") would lead nowhere there: it becomes its text."""
    def fix(match: re.Match) -> str:
        target = match["target"]
        if target.startswith(("http://", "https://", "#", "data:", "mailto:", "/")):
            return match[0]
        path, _, anchor = target.partition("#")
        if (itself is not None and not match["bang"] and not anchor
                and os.path.normpath(page_dir / path) == os.path.normpath(itself)):
            return match["text"]
        moved = os.path.relpath(page_dir / path, target_dir).replace(os.sep, "/")
        return f"{match['bang']}[{match['text']}]({moved}{'#' + anchor if anchor else ''})"
    return _LINK.sub(fix, markdown)


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _markdown_cell(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": _lines(text.strip("\n"))}


def _code_cell(run: RegionRun, code: str, count: int) -> dict[str, Any]:
    outputs = []
    if run.stdout:
        outputs.append({"output_type": "stream", "name": "stdout", "text": _lines(visible(run.stdout))})
    if run.stray:
        outputs.append({"output_type": "stream", "name": "stderr",
                        "text": _lines("[other threads]\n" + visible(run.stray))})
    if run.raised:
        outputs.append({"output_type": "stream", "name": "stderr", "text": _lines(visible(run.raised))})
    if run.warnings:  # on standard error, as Jupyter shows them (not where: the build's folders)
        text = "".join(f"{w.category}: {w.message}\n" for w in run.warnings)
        outputs.append({"output_type": "stream", "name": "stderr", "text": _lines(visible(text))})
    for shown in run.displays:  # as Jupyter keeps them: SVG as text, PNG in base64
        if shown.mime.startswith("image/"):
            mime = shown.mime
            data: Any = _lines(shown.data) if mime == "image/svg+xml" else shown.data
        else:  # HTML and Markdown, sanitised: a notebook page shows its HTML as it is
            mime, data = "text/html", _lines(rich_html(shown))
        outputs.append({"output_type": "display_data", "metadata": {},
                        "data": {mime: data, "text/plain": [shown.alt]}})
    return {"cell_type": "code", "execution_count": count, "metadata": {"d2l_region": run.id},
            "outputs": outputs, "source": _lines(code.rstrip("\n"))}


def _chunks(markdown: str, page_file: str, tab: str | None = None) -> list[tuple[str, Any]]:
    """Split a page into ("markdown", text) and ("include", n) pieces, in order, where n
    counts the page's includes (the n-th include is the n-th region entry of the record).
    Of content tabs only one framework's is kept (``tab``, else each group's first; see
    :func:`.notebook_markdown.one_tab_each`). The page has been rendered (so parsed) once
    already: its syntax is known to be sound."""
    parsed = parse_page(markdown, page_file)
    fences = {f.start: f for f in parsed.fences if f.includes}
    left_out, dedent = one_tab_each(list(parsed.lines), parsed.fenced_lines(), tab)
    chunks: list[tuple[str, Any]] = []
    prose: list[str] = []
    included = 0  # includes passed, shown or left out (each is a region entry)
    number = 1  # 1-based, as the parser counts lines
    while number <= len(parsed.lines):
        fence = fences.get(number)
        if number in left_out:
            included += len(fence.includes) if fence is not None else 0
            number = fence.end + 1 if fence is not None else number + 1
            continue
        if fence is None:
            prose.append(parsed.lines[number - 1][dedent.get(number, 0):])
            number += 1
            continue
        while prose and not prose[-1].strip():
            prose.pop()
        if prose and MARK.match(prose[-1].strip()):
            prose.pop()  # the engine's mark for this fence says nothing to a notebook's reader
        chunks.append(("markdown", "\n".join(prose)))
        chunks += [("include", included + i) for i in range(len(fence.includes))]
        included += len(fence.includes)
        prose, number = [], fence.end + 1
    chunks.append(("markdown", "\n".join(prose)))
    return chunks


def setup_cell(entry: PageEntry, setup: NotebookSetup | None, labels: Labels) -> dict[str, Any] | None:
    """The first cell: ``%pip install`` of what the notebook needs, as the build had it
    (None if the book asks for none, or there is nothing to install)."""
    requirements = setup.requirements(entry) if setup is not None else []
    if not requirements:
        return None
    torch = entry.provenance.torch
    comment = labels.notebook_setup.format(torch=labels.notebook_torch.format(torch=torch)
                                           if torch else "")
    return {"cell_type": "code", "execution_count": None, "metadata": {"d2l_setup": True},
            "outputs": [], "source": _lines(setup_source(requirements, comment).rstrip("\n"))}


def notebook_cells(markdown: str, entry: PageEntry, record: Record, code_of: Mapping[str, str],
                   fix_links: Callable[[str], str], root: Path | None = None,
                   page_file: str = "page", extensions: Extensions | None = None,
                   labels: Labels = LABELS["en"], tab: str | None = None,
                   page_name: str | None = None,
                   book: BookIndex | None = None) -> list[dict[str, Any]]:
    """The page as notebook cells: its prose (values filled in, links passed through
    ``fix_links``), each executed region as a code cell with its recorded outputs; of content
    tabs, the one titled ``tab`` (else each group's first). ``page_name`` and ``book`` are
    :func:`render_page`'s (the prose is rendered in pieces: the numbers come from the book)."""
    page_name = page_file if page_name is None else page_name
    if book is None:
        book = BookIndex.of_pages({page_name: markdown}, "")
    markdown = split_front_matter(markdown)[1]  # the page's metadata, not its text
    options = {"extensions": extensions, "labels": labels, "page_name": page_name, "book": book}
    render_page(markdown, entry, record, root, page_file, **options)  # errors name its own lines
    cells, count = [], 0
    sections = SectionCounter(book.page_labels(page_name).number)
    for kind, payload in _chunks(markdown, page_file, tab):
        if kind == "markdown":
            text = render_page(payload, entry, record, root, page_file, outputs=False,
                               **options) if payload.strip() else ""
            if text.strip():
                text = _headings_numbered(text, sections)
                cells.append(_markdown_cell(notebook_flavoured(fix_links(text))))
        elif entry.regions[payload].run is not None:
            count += 1
            cells.append(_code_cell(entry.regions[payload].run, code_of[entry.regions[payload].id],
                                    count))
        else:  # library code the page shows but does not run: show it as text
            cells.append(_markdown_cell(f"```python\n{code_of[entry.regions[payload].id]}```"))
    return cells


_HEADING_LINE = re.compile(r"^(?P<hashes>#{1,6})[ \t]+(?P<title>.*?)[ \t]*(?:#+[ \t]*)?"
                          r"(?:\{:?[ \t]*#(?P<label>[^\s}]+)[^}]*\})?[ \t]*$")


def _headings_numbered(text: str, sections: SectionCounter) -> str:
    """The headings of a notebook's prose as the site shows them: numbered as the page's
    (``sections`` counts across cells), a label (``{#x}``, which Jupyter would show as text)
    turned into an anchor the references link to."""
    lines, fenced = text.split("\n"), False
    for number, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        heading = None if fenced else _HEADING_LINE.match(line)
        if heading is None:
            continue
        shown = sections.next(len(heading["hashes"]))
        anchor = f' <a id="{heading["label"]}"></a>' if heading["label"] else ""
        # the number marked as the page marks it: the site's copy leaves it out of the anchor
        mark = f'<span class="d2l-section-number">{shown}</span> ' if shown else ""
        lines[number] = f"{heading['hashes']} {mark}{heading['title']}{anchor}"
    return "\n".join(lines)


def page_notebooks(markdown: str, entry: PageEntry, record: Record,
                   code_of: Mapping[str, str], root: Path | None, page_dir: Path | None,
                   page_file: str, extensions: Extensions | None, labels: Labels,
                   notebook_setup: NotebookSetup | None,
                   links_from: list[Path | None], tab: str | None = None,
                   page_name: str | None = None,
                   book: BookIndex | None = None) -> list[dict[str, Any]]:
    """The notebook (nbformat 4 JSON) of one page for each of ``links_from``, rendering the
    page once; ``code_of`` maps region ids to their code. With ``None`` local images are
    embedded, so the downloaded file stands alone; with a directory, relative links are
    rewritten for a page there (the site's copy)."""
    cells = notebook_cells(markdown, entry, record, code_of, lambda text: text, root, page_file,
                           extensions, labels, tab, page_name, book)
    setup = setup_cell(entry, notebook_setup, labels)
    if setup is not None:  # the very first cell: "run all" installs before anything imports
        cells.insert(0, setup)
    notebooks = []
    for target in links_from:
        def fix_links(text: str, target: Path | None = target) -> str:
            if page_dir is None:
                return text
            if target is None:
                return _self_contained(text, page_dir)
            return rebased(text, page_dir, target, target / Path(page_file).with_suffix(".md").name)
        variant = []
        for number, cell in enumerate(cells):
            copy = {**cell, "id": f"cell-{number}"}  # nbformat 4.5 requires ids; these diff well
            if cell["cell_type"] == "markdown":
                copy["source"] = _lines(fix_links("".join(cell["source"])).strip("\n"))
            variant.append(copy)
        notebooks.append({"cells": variant, "nbformat": 4, "nbformat_minor": 5, "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "d2l": {"executed_at": entry.executed_at,
                    "provenance": dict(sorted(entry.provenance.to_json().items()))}}})
    return notebooks


@dataclass(frozen=True)
class NotebookFile:
    """One file the build writes for a page under ``<docs>/generated`` (its notebook, the
    notebook's page, a picture it shows), rendered and not yet written."""

    path: Path  # under ``<docs>/generated``
    page: str  # the page it was made from (docs-relative)
    text: str | bytes  # bytes: a picture


def render_notebooks(docs_dir: Path, record: Record,
                     sources: Mapping[str, tuple[str, Mapping[str, str]]],
                     root: Path | None = None, extensions: Extensions | None = None,
                     labels: Labels = LABELS["en"], setup: NotebookSetup | None = None,
                     markdown_pages: bool = True, tab: str | None = None,
                     book: BookIndex | None = None) -> list[NotebookFile]:
    """``<docs>/generated/<page>.ipynb`` for each page with executed code, and beside it
    ``<page>.md``, the notebook as a site page; nothing is written (a page that cannot be
    rendered fails before any file changes).

    ``sources`` maps a page to (its Markdown, its region code by id); ``book`` holds the labels
    of the whole book (default: those of ``sources``).
    """
    if book is None:
        book = BookIndex.of_pages({page: markdown for page, (markdown, _) in sources.items()})
    files = []
    for page, (markdown, code_of) in sources.items():
        entry = record.pages[page]
        if not entry.executed:
            continue
        target = docs_dir / notebook_of(page)
        try:
            notebook, on_site = page_notebooks(
                markdown, entry, record, code_of, root, (docs_dir / page).parent,
                f"docs/{page}", extensions, labels, setup, [None, target.parent], tab, page, book)
        except RenderError as exc:
            raise exc.at(f"docs/{page}") from None
        relative = target.relative_to(docs_dir).as_posix()
        files.append(NotebookFile(target, page,
                                  json.dumps(notebook, ensure_ascii=False, indent=1) + "\n"))
        if markdown_pages:  # a host without mkdocs-jupyter: the notebook's page as Markdown
            files.append(NotebookFile(target.with_suffix(".md"), page,
                                      notebook_markdown(on_site, page, relative, labels)))
    return files


def write_notebooks(docs_dir: Path, record: Record,
                    sources: Mapping[str, tuple[str, Mapping[str, str]]],
                    root: Path | None = None, extensions: Extensions | None = None,
                    labels: Labels = LABELS["en"], setup: NotebookSetup | None = None,
                    tab: str | None = None) -> list[Path]:
    """Write what :func:`render_notebooks` renders; the paths. A file is rewritten only when
    its content changes, so live preview does not loop. (A build writes them through
    :func:`d2l_compiler.engine.publish.generated.publish_generated`, which also removes what
    no page produces any more.)"""
    files = render_notebooks(docs_dir, record, sources, root, extensions, labels, setup, tab=tab)
    for file in files:
        write_if_changed(file.path, file.text)
    return [file.path for file in files]


def write_if_changed(path: Path, text: str | bytes) -> None:
    """Write ``text`` (or bytes) to ``path`` unless it holds that already (its mtime then
    stays)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def engine_made(path: Path) -> bool:
    """Whether ``path`` is a notebook file as :func:`render_notebooks` makes them (an
    ``.ipynb`` with the engine's metadata, or its site page with the engine's front matter):
    how files written before the engine kept a list of its files are recognized."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".md":
            return text.startswith(f"---\nsearch:\n  exclude: true\n{NOTEBOOK_META}: ")
        if path.suffix == ".ipynb":
            data = json.loads(text)
            return isinstance(data, dict) and "d2l" in data.get("metadata", {})
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        pass
    return False
