"""The generic tokens: ``stamp``, ``report``, ``compare A B``, ``claim A VERB B | text``,
``agreement A B`` / ``agreement A1 B1 A2 B2``, ``dataflow FILE:SECTION FUNCTION``.
Registered like any extension (see :mod:`.tokens`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from d2l_compiler.claims import agreement, check_claim, compare, verdicts_agreement
from d2l_compiler.engine.errors import BuildError
from d2l_compiler.engine.render.dataflow import DataflowError, dataflow, dataflow_svg
from d2l_compiler.engine.render.escape import inline
from d2l_compiler.engine.render.report import REPORT_LABELS, report_markdown
from d2l_compiler.engine.render.tokens import Extensions, RenderError, TokenCall
from d2l_compiler.engine.sources.discover import read_region


def _inert_samples(samples: Any) -> Any:
    """A samples record whose description and conditions are safe to place in prose."""
    if not isinstance(samples, Mapping) or "description" not in samples:
        return samples
    conditions = samples.get("conditions")
    safe = {inline(str(k)): inline(str(v)) for k, v in conditions.items()} if isinstance(
        conditions, Mapping) else {}
    return {**samples, "description": inline(samples["description"]), "conditions": safe}


def stamp(call: TokenCall) -> str:
    """``stamp``: where and when the page's code ran."""
    if not call.page.stamp:
        raise RenderError("{{ d2l:stamp }} on a page that runs no code")
    return call.page.stamp


def report(call: TokenCall) -> str:
    """``report``: the whole build record as tables."""
    if call.page.record is None:
        raise RenderError("{{ d2l:report }} needs the whole build record")
    return report_markdown(call.page.record, REPORT_LABELS[call.page.language])


def compare_token(call: TokenCall) -> str:
    """``compare A B``: a sentence read off two timings."""
    call.expect(3, "compare A B")
    try:
        return compare(*(_inert_samples(call.page.lookup(w)) for w in call.words[1:]),
                       language=call.page.language)
    except ValueError as exc:
        raise RenderError(f"compare: {exc}") from None


def agreement_token(call: TokenCall) -> str:
    """``agreement A B``: whether two timings of the same work agree, and how their
    measurements differed; ``agreement A1 B1 A2 B2``: whether two comparisons of the same
    works reach the same verdict. Fails the build where the same conditions disagree."""
    if len(call.words) not in (3, 5):
        raise RenderError("agreement reads {{ d2l:agreement A B }} (two timings of the same "
                          "work) or {{ d2l:agreement A1 B1 A2 B2 }} (two comparisons)")
    found = [_inert_samples(call.page.lookup(w)) for w in call.words[1:]]
    try:
        if len(found) == 2:
            return agreement(*found, language=call.page.language)
        return verdicts_agreement((found[0], found[1]), (found[2], found[3]),
                                  language=call.page.language)
    except ValueError as exc:
        raise RenderError(f"agreement: {exc}") from None


def claim(call: TokenCall) -> str:
    """``claim LEFT VERB RIGHT | text``: the text, if the record agrees with it."""
    spec, sep, text = call.body.partition("|")
    words = spec.split()
    if len(words) != 4 or not sep or not text.strip():
        raise RenderError("a claim reads {{ d2l:claim LEFT VERB RIGHT | 文字 }}")
    _, left, verb, right = words
    try:
        problem = check_claim(call.page.lookup(left), verb, call.page.lookup(right))
    except ValueError as exc:
        raise RenderError(f"claim {spec.strip()!r}: {exc}") from None
    if problem is not None:
        raise RenderError(f"the claim “{text.strip()}” ({left} {verb} {right}) contradicts "
                          f"the record, {problem}")
    return text.strip()


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


def register(ext: Extensions) -> None:
    """Register the generic tokens."""
    for name, handler in (("stamp", stamp), ("report", report), ("compare", compare_token),
                          ("claim", claim), ("agreement", agreement_token),
                          ("dataflow", dataflow_token)):
        ext.token(name)(handler)
