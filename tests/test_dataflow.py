"""The data-flow diagram comes from the code: edit the code and the diagram follows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from d2l_compiler.engine.render.dataflow import DataflowError, dataflow_mermaid
from d2l_compiler.engine.sources.discover import read_region

# the chapter's own function, read as the site reads it
FANCY = read_region(Path(__file__).resolve().parents[1], "snippets/imperative.py:fancy_func").code


def test_fancy_func_edges():
    lines = dataflow_mermaid(FANCY, "fancy_func").splitlines()
    assert lines[0] == "flowchart LR"
    assert {"    a --> call1[\"add\"]", "    b --> call1[\"add\"]", "    call1 --> e((e))",
            "    c --> call2[\"add\"]", "    call3 --> g((g))",
            '    g --> result(["return g"])'} <= set(lines)


def test_diagram_follows_the_code():
    changed = FANCY.replace("g = add(e, f)", "g = mul(e, d)")
    text = dataflow_mermaid(changed, "fancy_func")
    assert 'call3["mul"]' in text and "d --> call3" in text and "f --> call3" not in text


@pytest.mark.parametrize(("code", "message"), [
    (FANCY, "no function 'other'"),
    ("def other(a):\n    if a:\n        return a\n", "only `x = f(a, b)` and `return x`"),
])
def test_unsupported_code_is_refused(code, message):
    with pytest.raises(DataflowError, match=re.escape(message)):
        dataflow_mermaid(code, "other")
