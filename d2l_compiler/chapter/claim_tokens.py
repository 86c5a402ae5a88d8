"""The chapter's tokens that state what its timings say: ``compare A B``,
``claim A VERB B | text``, ``agreement A B`` / ``agreement A1 B1 A2 B2``. Each reads timing
records (:mod:`d2l_compiler.timing`'s ``Samples``) and words them with
:mod:`d2l_compiler.claims`; registered by the chapter's extension."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from d2l_compiler.claims import agreement, check_claim, compare, verdicts_agreement
from d2l_compiler.engine.escape import inline
from d2l_compiler.engine.render.tokens import Extensions, RenderError, TokenCall


def _inert_samples(samples: Any) -> Any:
    """A samples record whose description and conditions are safe to place in prose."""
    if not isinstance(samples, Mapping) or "description" not in samples:
        return samples
    conditions = samples.get("conditions")
    safe = {inline(str(k)): inline(str(v)) for k, v in conditions.items()} if isinstance(
        conditions, Mapping) else {}
    return {**samples, "description": inline(samples["description"]), "conditions": safe}


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


def register(ext: Extensions) -> None:
    """Register ``compare``, ``claim`` and ``agreement``."""
    for name, handler in (("compare", compare_token), ("claim", claim),
                          ("agreement", agreement_token)):
        ext.token(name)(handler)
