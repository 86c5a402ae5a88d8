"""The generic tokens: ``stamp``, ``report``, ``dataflow FILE:SECTION FUNCTION``, and the
numbered captions and references ``figure``, ``table``, ``ref`` (see :mod:`.crossref`).
Registered like any extension (see :mod:`.tokens`); tokens that know what a book measures
(this chapter's timing comparisons, say) belong to that book's extension."""

from __future__ import annotations

from d2l_compiler.engine.errors import BuildError
from d2l_compiler.engine.render.crossref import BookIndex, caption, link
from d2l_compiler.engine.render.dataflow import DataflowError, dataflow, dataflow_svg
from d2l_compiler.engine.render.labels import LABELS
from d2l_compiler.engine.render.report import report_markdown
from d2l_compiler.engine.render.tokens import Extensions, RenderError, TokenCall
from d2l_compiler.engine.sources.discover import read_region


def stamp(call: TokenCall) -> str:
    """``stamp``: where and when the page's code ran."""
    if not call.page.stamp:
        raise RenderError("{{ d2l:stamp }} on a page that runs no code")
    return call.page.stamp


def report(call: TokenCall) -> str:
    """``report``: the whole build record as tables."""
    if call.page.record is None:
        raise RenderError("{{ d2l:report }} needs the whole build record")
    return report_markdown(call.page.record, LABELS[call.page.language].report)


def dataflow_token(call: TokenCall) -> str:
    """``dataflow path.py:section function``: an SVG diagram derived from the code."""
    if len(call.words) != 3 or call.page.root is None:
        raise RenderError("a diagram reads {{ d2l:dataflow path/to/file.py:section function }}")
    _, target, function = call.words
    try:
        code = read_region(call.page.root, target).code
        svg = dataflow_svg(dataflow(code, function), call.page.language)
        return f'<figure class="d2l-dataflow">{svg}</figure>'
    except (BuildError, DataflowError) as exc:
        raise RenderError(f"dataflow {target} {function}: {exc}") from None


def _book(call: TokenCall) -> BookIndex:
    if call.page.book is None:
        raise RenderError(f"{{{{ d2l:{call.words[0]} }}}} needs the book's labels")
    return call.page.book


def numbered_caption(call: TokenCall) -> str:
    """``figure LABEL caption`` / ``table LABEL caption``: a numbered caption, the target of
    ``{{ d2l:ref LABEL }}``."""
    if len(call.words) < 3:
        raise RenderError(f"a caption reads {{{{ d2l:{call.words[0]} LABEL caption text }}}}")
    target = _book(call).get(call.words[1], (call.words[0],))  # type: ignore[arg-type]
    if target.page != call.page.page_name:
        raise RenderError(f"{call.words[1]!r} labels a caption on {target.page}; a label "
                          "names one place in the book")
    labels = LABELS[call.page.language]
    return caption(target, labels.figure if target.kind == "figure" else labels.table)


def reference(call: TokenCall) -> str:
    """``ref LABEL``: a link to a figure, table or section of the book, by its number (a
    section of a page without a number: by its title)."""
    call.expect(2, "ref LABEL")
    target = _book(call).get(call.words[1])
    labels = LABELS[call.page.language]
    if target.kind == "section":
        text = (labels.section_number.format(number=target.number) if target.number else
                labels.section_ref.format(title=target.title))
    else:
        text = f"{labels.figure if target.kind == 'figure' else labels.table} {target.number}"
    return link(target, text, call.page.page_name)


def register(ext: Extensions) -> None:
    """Register the generic tokens."""
    for name, handler in (("stamp", stamp), ("report", report), ("dataflow", dataflow_token),
                          ("figure", numbered_caption), ("table", numbered_caption),
                          ("ref", reference)):
        ext.token(name)(handler)
