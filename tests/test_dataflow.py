"""The data-flow diagram comes from the code: edit the code and the diagram follows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from d2l_compiler.engine.render.dataflow import DataflowError, dataflow, describe
from d2l_compiler.engine.sources.discover import read_region

# the chapter's own function, read as the site reads it
FANCY = read_region(Path(__file__).resolve().parents[1], "snippets/imperative.py:fancy_func").code


def test_fancy_func_edges():
    assert describe(dataflow(FANCY, "fancy_func")) == (
        "Data flow of fancy_func: e = add(a, b); f = add(c, d); g = add(e, f); return g.")


def test_diagram_follows_the_code():
    changed = FANCY.replace("g = add(e, f)", "g = mul(e, d)")
    text = describe(dataflow(changed, "fancy_func"))
    assert "g = mul(e, d)" in text and "add(e, f)" not in text


@pytest.mark.parametrize(("code", "message"), [
    (FANCY, "no function 'other'"),
    ("def other(a):\n    if a:\n        return a\n", "only `x = f(a, b)` and `return x`"),
])
def test_unsupported_code_is_refused(code, message):
    with pytest.raises(DataflowError, match=re.escape(message)):
        dataflow(code, "other")


GOLDEN = Path(__file__).parent / "golden" / "fancy_func_dataflow.svg"


def test_the_drawing_of_fancy_func_is_exactly_the_reviewed_one():
    """The whole SVG, compared with the one reviewed in a browser (layout, arrows, text). After
    an intended change to the drawing, look at the new one and regenerate the file with
    ``dataflow_svg(dataflow(FANCY, "fancy_func"), "zh")``."""
    from d2l_compiler.engine.render.dataflow import dataflow_svg

    assert dataflow_svg(dataflow(FANCY, "fancy_func"), "zh") + "\n" == GOLDEN.read_text(encoding="utf-8")
