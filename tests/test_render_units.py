"""The render stage in-process: outputs under code, tokens, the stamp, the extension point.
Fast guards for ``nox -s mutation``."""

from __future__ import annotations

from pathlib import Path

import pytest

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.record.model import CapturedWarning, PageEntry, RegionEntry, RegionRun
from conftest import page_inputs, provenance
from d2l_compiler.engine.record.whole import BuildProvenance, BuildSummary, Record
from d2l_compiler.engine.render import markdown as md
from d2l_compiler.engine.render.markdown import RenderError, render_page
from d2l_compiler.engine.render.installed import load_extensions
from d2l_compiler.engine.render.tokens import Extensions, PageContext, TokenCall

PAGE = """\
# Title

```python
--8<-- "snippets/a.py:one"
```

Value {{ d2l:one.x }} and {{ d2l:one.t | .2f }} and {{ d2l:one.nested.deep }}.
"""


def _entry(*runs: RegionRun, targets: tuple[str, ...] = ("snippets/a.py:one",),
           prov: dict | None = None) -> PageEntry:
    regions = tuple(RegionEntry(t, t.rpartition(":")[2], t.partition(":")[0], 1, 4, t, "s", True, run)
                    for t, run in zip(targets, runs, strict=True))
    return PageEntry("k", page_inputs(), provenance(prov or {"device": "cpu", "cpu": "Fast CPU",
                                                            "python": "3.11"}),
                     "2026-11-30T12:00:00Z", 1.0, 1.0, regions)


ONE = RegionRun(0, "snippets/a.py:one", stdout="hello\n", duration=0.5,
                values={"x": 3, "t": 1.23456, "nested": {"deep": "<b>"}})


def test_outputs_values_and_stamp_are_placed():
    out = render_page(PAGE, _entry(ONE), page_file="docs/p.md")
    lines = out.split("\n")
    assert lines[0] == "# Title"
    assert lines[1:4] == ["", ("<p class=\"d2l-stamp\">This page's code was run by the build: device CPU "
                               "(Fast CPU); Python 3.11; run at 2026-11-30 12:00 UTC.</p>"), ""]
    title = "Output (this code ran for 500 ms)"
    assert f'``` {{ .text .d2l-output title="{title}" }}\nhello\n```' in out
    assert "Value 3 and 1.23 and &#60;b&#62;." in out


def test_stamp_parts():
    full = md.stamp(provenance({"device": "cuda", "gpu": "H200", "cpu": "x", "torch": "2.13",
                                "threads": 4, "python": "3.11"}), "T", md.LABELS["en"])
    assert full == ("This page's code was run by the build: device GPU (H200); PyTorch 2.13, "
                    "4 threads; Python 3.11; run at T.")
    bare = md.stamp(provenance(), "T")
    assert bare == "This page's code was run by the build: device ?; Python ?; run at T."
    zh = md.stamp(provenance({"device": "cpu", "python": "3.11"}), "T", md.labels_for("zh"))
    assert zh == "本页代码由构建实际运行：设备 CPU；Python 3.11；执行于 T。"
    assert md.stamp(provenance({"device": "cpu", "cpu": "<i>"}), "T").count("&#60;i&#62;") == 1


def test_output_blocks_cover_every_kind_of_output():
    run = RegionRun(0, "a:r", stdout="o\n", stray="s\n", raised="r\n", duration=1.0,
                    warnings=(CapturedWarning("UserWarning", "w1"), CapturedWarning("X", "w2")))
    blocks = "\n".join(md.output_blocks(run, "  "))
    for title in ("Output (this code ran for 1.00 s)", md.LABELS["en"].stray,
                  md.LABELS["en"].raised, md.LABELS["en"].warnings):
        assert f'title="{title}"' in blocks
    assert "  UserWarning: w1\n  X: w2" in blocks
    assert md.output_blocks(RegionRun(0, "a:r")) == []


@pytest.mark.parametrize(("seconds", "en", "zh"), [
    (3.336, "3.34 s", "运行了 3.34 秒"), (1.0, "1.00 s", "运行了 1.00 秒"),
    (0.075, "75 ms", "运行了 75 毫秒"), (0.0006, "1 ms", "运行了 1 毫秒"),
    (0.0004, "under a millisecond", "运行了不到 1 毫秒"), (0.0, "under a millisecond", "运行了不到 1 毫秒")])
def test_how_long_a_region_ran_reads_as_a_person_would_say_it(seconds, en, zh):
    """Never ``0.000 秒``: a unit that leaves a digit to read, or "under a millisecond"."""
    assert md.ran_for(seconds, md.LABELS["en"]) == en
    chinese = md.labels_for("zh")
    assert chinese.output.format(time=md.ran_for(seconds, chinese)) == f"输出（这段代码{zh}）"


def test_a_fence_is_longer_than_any_backtick_run_in_the_output():
    assert md.fence_for("plain") == "```"
    assert md.fence_for("``") == "```"
    assert md.fence_for("```") == "````"
    assert md.fence_for("a ````` b ``") == "``````"
    block = md.text_block("x\n\nsay --8<-- \"f\"\n--8<-- \"mkdocs.yml\"\n", "t", "")
    assert block[1:5] == ["x", "", 'say --8<-- "f"', ';--8<-- "mkdocs.yml"']


@pytest.mark.parametrize("token, message", [
    ("{{ d2l: }}", "an empty {{ d2l: }} token"),
    ("{{ d2l:nope.x }}", "no region 'nope' on this page"),
    ("{{ d2l:one.y }}", "recorded no value 'y'"),
    ("{{ d2l:one.nested }}", "is a structure, not a value"),
    ("{{ d2l:one.x | 201d }}", "asks for more than 200"),
    ("{{ d2l:one.x | q }}", "cannot format 'one.x' with 'q'"),
    ("{{ d2l:one.nested.deep.deeper }}", "recorded no value 'nested.deep.deeper'"),
])
def test_bad_tokens_name_the_line(token, message):
    with pytest.raises(RenderError) as error:
        render_page(PAGE.replace("{{ d2l:one.nested.deep }}", token), _entry(ONE), page_file="docs/p.md")
    assert str(error.value).startswith("docs/p.md:7: ") and message in str(error.value)


def test_a_number_in_a_token_picks_a_list_s_item_and_only_one_that_exists():
    run = RegionRun(0, "snippets/a.py:one", values={**ONE.values,
                                                    "files": [{"size": 10}, {"size": 20}]})
    page = PAGE.replace("{{ d2l:one.nested.deep }}", "{{ d2l:one.files.1.size }}")
    assert "and 20." in render_page(page, _entry(run), page_file="docs/p.md")
    for missing in ("files.2.size", "files.-1.size", "files.x.size"):
        with pytest.raises(RenderError, match=f"recorded no value '{missing}'"):
            render_page(PAGE.replace("{{ d2l:one.nested.deep }}", f"{{{{ d2l:one.{missing} }}}}"),
                        _entry(run), page_file="docs/p.md")


def test_format_limits():
    assert md._format(5, "200d", "r") == " " * 199 + "5"
    with pytest.raises(RenderError, match="at most 10000"):
        md._format("y" * 10_001, "", "r")
    assert md._format("y" * 10_000, "", "r") == "y" * 10_000


def test_dropped_values_are_explained():
    run = RegionRun(0, "snippets/a.py:one", values={},
                    values_dropped={"more than 200 values": {"count": 7, "names": ["x"]}})
    with pytest.raises(RenderError, match="7 values it bound were not kept"):
        render_page(PAGE, _entry(run), page_file="docs/p.md")


def test_ambiguous_sections_name_both_files():
    twice = "```python\n--8<-- \"a.py:r\"\n--8<-- \"b.py:r\"\n```\n{{ d2l:r.v }}\n"
    runs = (RegionRun(0, "a.py:r", values={"v": 1}), RegionRun(1, "b.py:r", values={"v": 2}))
    with pytest.raises(RenderError, match=r"ambiguous.*\(a.py:r, b.py:r\)"):
        render_page(twice, _entry(*runs, targets=("a.py:r", "b.py:r")), page_file="p")


def test_a_region_run_twice_is_not_a_name_clash():
    twice = "```python\n--8<-- \"a.py:r\"\n--8<-- \"a.py:r\"\n```\n{{ d2l:r.v }}\n"
    runs = (RegionRun(0, "a.py:r", values={"v": 1}), RegionRun(1, "a.py:r", values={"v": 2}))
    with pytest.raises(RenderError, match=r"the page runs a.py:r 2 times and each run binds"):
        render_page(twice, _entry(*runs, targets=("a.py:r", "a.py:r")), page_file="p")


def test_the_record_must_match_the_page_include_for_include():
    with pytest.raises(RenderError, match=r"^p:4: the record has no run for include"):
        render_page(PAGE, _entry(ONE, targets=("snippets/a.py:other",)), page_file="p")
    extra = _entry(ONE, ONE, targets=("snippets/a.py:one", "snippets/a.py:one"))
    with pytest.raises(RenderError, match="more runs than the page has includes"):
        render_page(PAGE.split("Value")[0], extra, page_file="p")
    assert "hello" not in render_page(PAGE, _entry(ONE), page_file="p", outputs=False)


def test_a_page_without_an_executed_region_gets_no_stamp():
    out = render_page("# T\n\ntext\n", None, page_file="p")
    assert out == "# T\n\ntext\n"
    with pytest.raises(RenderError, match="on a page that runs no code"):
        render_page("# T\n{{ d2l:stamp }}\n", None, page_file="p")


def test_tokens_inside_fences_are_left_as_code():
    text = "```text\n{{ d2l:whatever }}\n```\n"
    assert render_page(text, None, page_file="p") == text


def test_registered_tokens_and_the_extension_point():
    ext = Extensions()

    @ext.token("shout")
    def shout(call: TokenCall) -> str:
        call.expect(2, "shout WORD")
        return call.words[1].upper()
    with pytest.raises(UsageError, match="two extensions register the token 'shout'"):
        ext.token("shout")(shout)
    assert render_page("{{ d2l:shout hi }}", None, page_file="p", extensions=ext) == "HI"
    with pytest.raises(RenderError, match=r"'shout' reads \{\{ d2l:shout WORD \}\}"):
        render_page("{{ d2l:shout }}", None, page_file="p", extensions=ext)
    builtin = load_extensions(("chapter",))
    assert {"stamp", "report", "compare", "claim", "agreement", "dataflow"} <= set(builtin.tokens)
    with pytest.raises(UsageError, match="unknown d2l extension"):
        load_extensions(("no-such-extension",))


def test_claims_and_comparisons_read_the_record():
    fast = {"median": 1.0, "q1": 0.9, "q3": 1.1, "description": "<fast>"}
    slow = {"median": 2.0, "q1": 1.9, "q3": 2.1, "description": "slow"}
    ctx = PageContext({"r": RegionRun(0, "a:r", values={"f": fast, "s": slow})}, None, None, None, "")
    ext = load_extensions(("chapter",))
    claim = ext.tokens["claim"]
    assert claim(TokenCall(["claim", "r.f", "faster", "r.s"], "claim r.f faster r.s | 快", ctx)) == "快"
    with pytest.raises(RenderError, match="contradicts the record"):
        claim(TokenCall(["claim", "r.s", "faster", "r.f"], "claim r.s faster r.f | 快", ctx))
    for body in ("claim r.f", "claim r.f faster r.s", "claim r.f faster r.s |  ", "claim r.f r.s | 快"):
        with pytest.raises(RenderError, match="a claim reads"):
            claim(TokenCall(body.split("|")[0].split(), body, ctx))
    ctx_bad = PageContext({"r": RegionRun(0, "a:r", values={"f": fast, "n": {"median": 1.0}})},
                          None, None, None, "")
    with pytest.raises(RenderError, match="not a samples record"):
        ext.tokens["compare"](TokenCall(["compare", "r.f", "r.n"], "compare r.f r.n", ctx_bad))
    sentence = ext.tokens["compare"](TokenCall(["compare", "r.f", "r.s"], "compare r.f r.s", ctx))
    assert "&#60;fast&#62;" in sentence and "<fast>" not in sentence
    with pytest.raises(RenderError, match="compare A B"):
        ext.tokens["compare"](TokenCall(["compare", "r.f"], "compare r.f", ctx))
    with pytest.raises(RenderError, match="needs the whole build record"):
        ext.tokens["report"](TokenCall(["report"], "report", ctx))
    with pytest.raises(RenderError, match="a diagram reads"):
        ext.tokens["dataflow"](TokenCall(["dataflow", "x"], "dataflow x", ctx))


def test_the_agreement_token_reads_four_or_two_timings_and_escapes_conditions():
    def timed(median: float, name: str, **conditions: str) -> dict:
        return {"median": median, "q1": median * 0.95, "q3": median * 1.05,
                "description": name, "conditions": conditions}

    values = {"here": timed(1.0, "here", 进程="本页"), "fresh": timed(2.0, "fresh", 进程="<i>新</i>"),
              "again": timed(2.0, "again", 进程="本页"), "other": timed(1.0, "other", 进程="<i>新</i>"),
              "plain": {"median": 1.0, "q1": 1.0, "q3": 1.0, "description": "p", "conditions": "?"}}
    ctx = PageContext({"r": RegionRun(0, "a:r", values=values)}, None, None, None, "",
                      language="zh")
    agreement = load_extensions(("chapter",)).tokens["agreement"]

    def call(*refs: str) -> str:
        words = ["agreement", *(f"r.{ref}" for ref in refs)]
        return agreement(TokenCall(words, " ".join(words), ctx))

    assert "（进程：前者为本页，后者为&#60;i&#62;新&#60;/i&#62;）" in call("here", "fresh")
    assert "“here”的中位数为 1.0000 秒" in call("here", "fresh")
    with pytest.raises(RenderError, match="agreement: .* under the same conditions"):
        call("here", "again")
    assert ("结论正好相反：前一次“here”比“again”快，后一次“fresh”比“other”慢"
            in call("here", "again", "fresh", "other"))  # each timing in its place
    with pytest.raises(RenderError, match="agreement: .*opposite verdicts"):
        call("here", "again", "again", "here")
    assert "进程：前者为未记录，后者为本页" in call("plain", "here")  # conditions that are not a mapping
    for refs in (("here",), ("here", "fresh", "here")):
        with pytest.raises(RenderError, match="agreement reads"):
            call(*refs)


def test_the_report_token_renders_the_whole_record(tmp_path: Path):
    entry = _entry(ONE)
    inputs = page_inputs({"regions": [["snippets/a.py:one", "s" * 64]], "files": {},
                          "packages": {}, "python": "3.11", "device": "cpu"})
    entry = PageEntry(entry.key, inputs, entry.provenance, entry.executed_at, 1.0, 1.0, entry.regions)
    record = Record(BuildProvenance("cpu", "abc", "T", "3.11"), {"p.md": entry})
    out = render_page("{{ d2l:report }}", None, record, page_file="p")
    assert "p.md" in out and "snippets/a.py:one" in out
    assert "## Build environment" in out and "构建环境" not in out
    zh = render_page("{{ d2l:report }}", None, record, page_file="p", labels=md.labels_for("zh"))
    assert "## 构建环境" in zh and "Build environment" not in zh


def test_comparisons_speak_the_book_s_language():
    fast = {"median": 1.0, "q1": 0.9, "q3": 1.1, "description": "a"}
    slow = {"median": 2.0, "q1": 1.9, "q3": 2.1, "description": "b"}
    entry = _entry(RegionRun(0, "snippets/a.py:one", values={"f": fast, "s": slow}))
    text = "```python\n--8<-- \"snippets/a.py:one\"\n```\n{{ d2l:compare one.f one.s }}\n"
    assert "In this build “a” was faster" in render_page(text, entry, page_file="p")
    zh = render_page(text, entry, page_file="p", labels=md.labels_for("zh"))
    assert "“a”更快，中位数为" in zh


# --- the notebook --------------------------------------------------------------------------------

NOTEBOOK_PAGE = """\
# Title

Intro {{ d2l:one.x }} with [a link](other.md) and [web](https://x.org) and [top](#t).

![chart](chart.svg) ![missing](none.png)

```python
--8<-- "snippets/a.py:one"
--8<-- "lib/b.py:shown"
```

Between.

```text
not code of ours
```
"""


def _notebook_entry() -> PageEntry:
    run = RegionRun(0, "snippets/a.py:one", stdout="hi\x1b[1m\n", stray="t\n", raised="E\n",
                    values={"x": 7})
    regions = (RegionEntry("snippets/a.py:one", "one", "snippets/a.py", 1, 8, "snippets/a.py:one",
                           "s", True, run),
               RegionEntry("lib/b.py:shown", "shown", "lib/b.py", 1, 9, "lib/b.py:shown", "s",
                           False, None))
    return PageEntry("k", page_inputs(), provenance({"device": "cpu"}), "T", 1.0, 1.0, regions)


def test_a_page_becomes_a_self_contained_notebook(tmp_path):
    from conftest import page_notebook

    (tmp_path / "chart.svg").write_text("<svg/>")
    code = {"snippets/a.py:one": "print('hi')\n", "lib/b.py:shown": "def f():\n    pass\n"}
    record = Record(BuildProvenance("cpu", "c", "T", "3"), {})
    book = page_notebook(NOTEBOOK_PAGE, _notebook_entry(), record, code, page_dir=tmp_path,
                         page_file="docs/p.md")
    kinds = [c["cell_type"] for c in book["cells"]]
    assert kinds == ["markdown", "code", "markdown", "markdown"]
    intro, cell, shown, rest = book["cells"]
    text = "".join(intro["source"])
    assert text.startswith("# Title") and "Intro 7 with a link and [web](https://x.org)" in text
    assert "[top](#t)" in text and "data:image/svg+xml;base64,PHN2Zy8+" in text
    assert "![missing]" not in text and "missing" in text  # a missing image becomes its text
    assert cell["source"] == ["print('hi')"] and cell["execution_count"] == 1
    assert cell["metadata"] == {"d2l_region": "snippets/a.py:one"}
    assert cell["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": ["hi\n"]},
        {"output_type": "stream", "name": "stderr", "text": ["[other threads]\n", "t\n"]},
        {"output_type": "stream", "name": "stderr", "text": ["E\n"]}]
    assert "".join(shown["source"]) == "```python\ndef f():\n    pass\n```"
    assert "".join(rest["source"]).startswith("Between.\n\n```text")
    assert [c["id"] for c in book["cells"]] == ["cell-0", "cell-1", "cell-2", "cell-3"]
    assert book["nbformat"] == 4 and book["nbformat_minor"] == 5
    assert book["metadata"]["d2l"] == {"executed_at": "T",
                                       "provenance": provenance({"device": "cpu"}).to_json()}


def test_notebooks_are_written_only_for_pages_that_ran_and_only_when_changed(tmp_path):
    from d2l_compiler.engine.render.notebook import NOTEBOOK_DIR, write_notebooks

    docs = tmp_path / "docs"
    docs.mkdir()
    shown_only = PageEntry("k", page_inputs(), provenance(), "T", 0, 0, (_notebook_entry().regions[1],))
    record = Record(BuildProvenance("cpu", "c", "T", "3"),
                    {"p.md": _notebook_entry(), "q.md": shown_only})
    code = {"snippets/a.py:one": "x = 1\n", "lib/b.py:shown": "y = 2\n"}
    sources = {"p.md": (NOTEBOOK_PAGE, code), "q.md": ("```python\n--8<-- \"lib/b.py:shown\"\n```\n", code)}
    written = write_notebooks(docs, record, sources)
    assert written == [docs / NOTEBOOK_DIR / "p.ipynb", docs / NOTEBOOK_DIR / "p.md"]
    stamps = [path.stat().st_mtime_ns for path in written]
    assert write_notebooks(docs, record, sources) == written
    assert [path.stat().st_mtime_ns for path in written] == stamps  # unchanged: not rewritten
    with pytest.raises(RenderError, match=r"^docs/p.md:3: no region 'nope'"):
        write_notebooks(docs, record, {"p.md": (NOTEBOOK_PAGE.replace("one.x", "nope.x"), code)})


# --- the data-flow diagram -------------------------------------------------------------------------

def test_dataflow_draws_straight_line_functions_exactly():
    from d2l_compiler.engine.render.dataflow import DataflowError, dataflow, describe

    code = ('def fancy(a, b):\n    """doc"""\n    e = add(a, b)\n    f = mul(e, b)\n    return f\n'
            'def other():\n    pass\n')
    flow = dataflow(code, "fancy")
    assert [(n.label, n.kind, n.layer) for n in flow.nodes] == [
        ("a", "value", 0), ("b", "value", 0), ("add", "call", 1), ("e", "value", 2),
        ("mul", "call", 3), ("f", "value", 4), ("return f", "result", 5)]
    assert flow.edges() == [(0, 2), (1, 2), (2, 3), (3, 4), (1, 4), (4, 5), (5, 6)]
    assert describe(flow) == "Data flow of fancy: e = add(a, b); f = mul(e, b); return f."
    assert describe(flow, "zh") == "fancy 的数据流：e = add(a, b)；f = mul(e, b)；return f。"
    with pytest.raises(DataflowError, match="no function 'missing'"):
        dataflow(code, "missing")
    for body in ("x, y = f(a)", "x = f(a + 1)", "x = obj.f(a)", "x = 1", "return f(a)", "print(a)",
                 "x.y = f(a)", "x = y = f(a)", "x = f(a, key=a)"):
        with pytest.raises(DataflowError, match="line 2: only"):
            dataflow(f"def g(a):\n    {body}\n", "g")


def test_dataflow_follows_reassignment_and_outside_names():
    from d2l_compiler.engine.render.dataflow import dataflow

    flow = dataflow("def g(x):\n    x = f(x, SCALE)\n    x = f(x)\n    return x\n", "g")
    labels = [n.label for n in flow.nodes]
    assert labels == ["x", "SCALE", "f", "x", "f", "x", "return x"]
    assert flow.edges() == [(0, 2), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]  # each use reads the latest x
    assert [n.layer for n in flow.nodes] == [0, 0, 1, 2, 3, 4, 5]  # an outside name enters on top
    made = dataflow("def g():\n    x = make()\n    return x\n", "g")
    assert [(n.label, n.layer) for n in made.nodes] == [("make", 1), ("x", 2), ("return x", 3)]


def test_dataflow_rows_put_calls_under_the_mean_position_of_their_inputs():
    from d2l_compiler.engine.render.dataflow import _order, dataflow

    flow = dataflow("def g(a, b, c, d):\n    p = one(d)\n    q = two(a, c)\n    return q\n", "g")
    labels = [[flow.nodes[i].label for i in row] for row in _order(flow)]
    assert labels[1] == ["two", "one"]  # mean of a, c (0, 2) is 1; d sits at 3


def _svg_boxes(svg: str):
    import xml.etree.ElementTree as ET
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    return root, ns


def test_the_dataflow_svg_is_laid_out_top_to_bottom_without_overlap():
    from d2l_compiler.engine.render.dataflow import dataflow, dataflow_svg

    code = "def fancy(a, b, c, d):\n    e = add(a, b)\n    f = add(c, d)\n    g = add(e, f)\n    return g\n"
    svg = dataflow_svg(dataflow(code, "fancy"), "zh")
    assert "\n" not in svg  # one line: Markdown passes it through as raw HTML
    root, ns = _svg_boxes(svg)
    width, height = (float(v) for v in root.get("viewBox").split()[2:])
    assert root.get("role") == "img" and root.find(f"{ns}title").text.startswith("fancy 的数据流：")
    texts = [(float(t.get("x")), float(t.get("y")), t.text) for t in root.iter(f"{ns}text")]
    assert sorted(t for _, _, t in texts) == sorted(["a", "b", "c", "d", "add", "add", "e", "f",
                                                     "add", "g", "return g"])
    rows: dict[float, list[float]] = {}
    for x, y, _ in texts:
        assert 0 < x < width and 0 < y < height
        rows.setdefault(y, []).append(x)
    assert len(rows) == 6  # inputs, two calls, e and f, the last call, g, the return
    lines = list(root.iter(f"{ns}line"))
    assert len(lines) == 10 and all(float(e.get("y2")) > float(e.get("y1")) for e in lines)
    # the first row's calls sit under their own inputs: a, b feed the left one
    first, second = sorted(rows)[0], sorted(rows)[1]
    assert max(rows[first][:2]) < min(rows[first][2:]) and rows[second][0] < rows[second][1]
    # the geometry itself: 32-unit nodes 36 apart in rows, 20 apart in a row, 8.4 per character
    # of a label plus 12 of padding on each side, 12 around the drawing
    assert root.get("viewBox") == "0 0 214 396" and root.get("width") == "214"
    assert (106.8, 300.0, "g") in texts
    assert 'rx="16.2" ry="16.0"' in svg and 'width="49.2" height="32" rx="4"' in svg
    labels_out = dataflow_svg(dataflow("def g(a):\n    b = f(a)\n    return b\n", "g"))
    assert "<script" not in labels_out and "Data flow of g: b = f(a); return b." in labels_out


# --- the Python-Markdown extension (hosts without MkDocs plugins) ---------------------------------

def test_the_markdown_extension_renders_from_the_record(site):
    import markdown

    from d2l_compiler.engine.errors import BuildError
    from d2l_compiler.engine.render.extension import makeExtension

    config = str(site.root / "mkdocs.yml")
    with pytest.raises(BuildError, match="no build record"):
        markdown.Markdown(extensions=[makeExtension(config_file=config)])
    site.write("snippets/a.py", "# --8<-- [start:r]\nvalue = 6 * 7\nprint(value)\n# --8<-- [end:r]\n")
    page = '# P\n\n```python\n--8<-- "snippets/a.py:r"\n```\n\nIt is {{ d2l:r.value }}.\n'
    site.write("docs/index.md", page)
    assert site.build("--no-site").code == 0

    def convert(text: str) -> str:
        return markdown.Markdown(extensions=[makeExtension(config_file=config), "pymdownx.superfences",
                                             "attr_list"]).convert(text)
    html = convert(page)
    assert "42" in html and "It is 42." in html and "d2l-stamp" in html
    assert convert("# Just prose\n") == "<h1>Just prose</h1>"
    with pytest.raises(RenderError, match="no record entry runs snippets/a.py:other"):
        convert('```python\n--8<-- "snippets/a.py:other"\n```\n')
    site.write("snippets/a.py", "# --8<-- [start:r]\nvalue = 0\n# --8<-- [end:r]\n")
    with pytest.raises(RenderError, match=r"^docs/index.md: stale results: snippets/a.py:r changed"):
        convert(page)


def test_the_dataflow_token_reads_the_code_it_draws(tmp_path):
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "f.py").write_text(
        "# --8<-- [start:f]\ndef f(a):\n    b = g(a)\n    return b\n# --8<-- [end:f]\n")
    ext = load_extensions(("chapter",))
    dataflow = ext.tokens["dataflow"]
    ctx = PageContext({}, None, None, tmp_path, "")
    drawn = dataflow(TokenCall(["dataflow", "snippets/f.py:f", "f"], "dataflow snippets/f.py:f f", ctx))
    assert drawn.startswith('<figure class="d2l-dataflow"><svg ') and drawn.endswith("</svg></figure>")
    assert ">g</text>" in drawn and "Data flow of f: b = g(a); return b." in drawn
    in_chinese = PageContext({}, None, None, tmp_path, "", "zh")
    zh = dataflow(TokenCall(["dataflow", "snippets/f.py:f", "f"], "", in_chinese))
    assert "f 的数据流：b = g(a)；return b。" in zh
    for words in (["dataflow", "snippets/f.py:f"], ["dataflow", "snippets/f.py:f", "f", "x"]):
        with pytest.raises(RenderError, match="a diagram reads"):
            dataflow(TokenCall(words, " ".join(words), ctx))
    with pytest.raises(RenderError, match="a diagram reads"):
        dataflow(TokenCall(["dataflow", "snippets/f.py:f", "f"], "", PageContext({}, None, None, None, "")))
    with pytest.raises(RenderError, match="dataflow snippets/f.py:nope f: .*no complete region"):
        dataflow(TokenCall(["dataflow", "snippets/f.py:nope", "f"], "", ctx))
    with pytest.raises(RenderError, match="dataflow snippets/f.py:f h: no function 'h'"):
        dataflow(TokenCall(["dataflow", "snippets/f.py:f", "h"], "", ctx))


def test_a_claim_with_an_unknown_verb_is_one_render_error():
    fast = {"median": 1.0, "q1": 0.9, "q3": 1.1, "description": "a"}
    ctx = PageContext({"r": RegionRun(0, "a:r", values={"f": fast, "n": 3})}, None, None, None, "")
    claim = load_extensions(("chapter",)).tokens["claim"]
    with pytest.raises(RenderError, match="claim 'claim r.f beats r.f': unknown claim verb"):
        claim(TokenCall(["claim", "r.f", "beats", "r.f"], "claim r.f beats r.f | x", ctx))
    with pytest.raises(RenderError, match="'>' compares two numbers"):
        claim(TokenCall(["claim", "r.f", ">", "r.n"], "claim r.f > r.n | x", ctx))


def test_label_sets_are_immutable():
    from dataclasses import FrozenInstanceError

    with pytest.raises(FrozenInstanceError):
        md.LABELS["en"].output = "changed"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        md.LABELS["zh"].report.environment = "changed"  # type: ignore[misc]


def test_one_stamp_under_the_first_heading_and_parser_errors_as_render_errors():
    out = render_page(PAGE + "\n# Second heading\n", _entry(ONE), page_file="p")
    assert out.count('class="d2l-stamp"') == 1
    # a page that places the stamp itself gets it there, once; a token shown as code is not one
    placed = render_page(PAGE + "\n<small>{{ d2l:stamp }}</small>\n", _entry(ONE), page_file="p")
    assert 'class="d2l-stamp"' not in placed and placed.count("code was run by the build") == 1
    quoted = render_page(PAGE + "\n```text\n{{ d2l:stamp }}\n```\n", _entry(ONE), page_file="p")
    assert quoted.count('class="d2l-stamp"') == 1
    with pytest.raises(RenderError, match=r"^p:1: this code fence is never closed"):
        render_page("```python\n--8<-- \"a.py:r\"\n", None, page_file="p")


def _report_record(ran: tuple[str, ...], cached: tuple[str, ...], page_ran: bool) -> Record:
    from d2l_compiler.engine.record.model import CapturedWarning
    warned = RegionRun(0, "snippets/a.py:one", duration=0.25,
                       warnings=(CapturedWarning("UserWarning", "careful", "a.py:3"),
                                 CapturedWarning("UserWarning", "again", "a.py:4")))
    regions = (RegionEntry("snippets/a.py:one", "one", "snippets/a.py", 1, 4,
                           "snippets/a.py:one", "s", True, warned),
               RegionEntry("lib/b.py:shown", "shown", "lib/b.py", 1, 8, "lib/b.py:shown", "s",
                           False, None))
    inputs = page_inputs({"regions": [["snippets/a.py:one", "0123456789abcdef"]],
                          "files": {"lib/helper.py": "fedcba9876543210"},
                          "data": {"data/x.csv": "aaaabbbbccccdddd"},
                          "packages": {"torch": ["2.13.0", "cpu"]}, "python": "3.11",
                          "device": "cpu"})
    entry = PageEntry("k" * 64, inputs, provenance({"torch": "2.13.0", "threads": 2,
                                                     "cpu": "Fast CPU"}),
                      "T0", 1.5, 42.0, regions, ran=page_ran)
    return Record(BuildProvenance("cpu", "abc", "T", "3.11", BuildSummary(ran, cached, 2.0)),
                  {"p.md": entry})


def test_the_report_rows_say_what_ran_what_was_reused_and_what_was_only_shown():
    from d2l_compiler.engine.render.report import report_markdown
    out = report_markdown(_report_record(("p.md",), (), page_ran=True)).split("\n")
    assert "| This build | ran 1 pages, reused 0 from the cache, 2.00 s running code |" in out
    assert ("run by this build; run at T0, 1.50 s, peak memory 42 MiB; PyTorch 2.13.0, "
            "2 threads; Fast CPU.") in out
    assert "| <code>snippets/a.py:one</code> | ok | 0.250 | 2 |" in out
    from d2l_compiler.engine.render.labels import LABELS
    zh = report_markdown(_report_record(("p.md",), (), page_ran=True), LABELS["zh"].report)
    assert "| <code>snippets/a.py:one</code> | 成功 | 0.250 | 2 |" in zh.split("\n")  # no "ok"
    assert "| <code>lib/b.py:shown</code> | shown only | — | 0 |" in out
    assert "    | Region | snippets/a.py:one | 0123456789ab |" in out  # digests cut to 12
    assert "    | Project module | lib/helper.py | fedcba987654 |" in out
    assert "    | Data file | data/x.csv | aaaabbbbcccc |" in out
    assert "    | Package | torch | 2.13.0, cpu |" in out
    assert '??? note "Inputs of cache key kkkkkkkkkkkkkkkk…"' in out  # the key's first 16
    reused = report_markdown(_report_record((), ("p.md",), page_ran=False)).split("\n")
    assert "| This build | ran 0 pages, reused 1 from the cache, 2.00 s running code |" in reused
    assert any(line.startswith("reused from the cache; run at T0") for line in reused)
    neither = report_markdown(_report_record((), (), page_ran=False))
    assert "This build" not in neither  # a record written before summaries existed


def test_a_missing_value_says_whether_values_were_dropped():
    kept = RegionRun(0, "snippets/a.py:one", values={"x": {"y": 1}})
    ctx = PageContext({"one": kept}, None, None, None, "")
    with pytest.raises(RenderError) as plain:
        ctx.lookup("one.z")
    assert str(plain.value) == "region 'one' recorded no value 'z' (token 'one.z')"
    dropped = {"more than 200 values": {"count": 2, "names": ["a"]},
               "over 1048576 bytes": {"names": ["b"]}}  # an entry without a count adds none
    lossy = RegionRun(0, "snippets/a.py:one", values={"x": {"y": 1}}, values_dropped=dropped)
    ctx = PageContext({"one": lossy}, None, None, None, "")
    with pytest.raises(RenderError) as first:
        ctx.lookup("one.z.deep")
    assert str(first.value).startswith("region 'one' recorded no value 'z'; 2 values it bound "
                                       "were not kept (more than 200 values; over 1048576 bytes)")
    with pytest.raises(RenderError) as nested:  # the value exists: nothing was dropped from it
        ctx.lookup("one.x.missing")
    assert str(nested.value) == "region 'one' recorded no value 'x.missing' (token 'one.x.missing')"


def test_a_token_with_the_wrong_number_of_words_names_itself():
    call = TokenCall(["compare", "a", "b", "c"], "compare a b c", PageContext({}, None, None, None, ""))
    with pytest.raises(RenderError) as wrong:
        call.expect(3, "compare A B")
    assert str(wrong.value) == "'compare' reads {{ d2l:compare A B }}"


class _EntryPoint:
    def __init__(self, name: str, register) -> None:
        self.name, self._register = name, register

    def load(self):
        return self._register


def test_installed_extensions_are_loaded_once_each_and_named_when_one_is_unknown(monkeypatch):
    from d2l_compiler.engine.render import installed
    calls: list[str] = []

    def shout(ext: Extensions) -> None:
        calls.append("shout")
        ext.token("shout")(lambda call: "!")

    def whisper(ext: Extensions) -> None:
        calls.append("whisper")
        ext.token("whisper")(lambda call: ".")
    entry_points = [_EntryPoint("whisper", whisper), _EntryPoint("shout", shout)]
    monkeypatch.setattr(installed.metadata, "entry_points", lambda group: entry_points)
    installed.load_extensions.cache_clear()
    try:
        everything = installed.load_extensions()
        assert {"shout", "whisper", "stamp"} <= set(everything.tokens)
        assert calls == ["shout", "whisper"]  # sorted by name
        assert set(installed.load_extensions(("whisper",)).tokens) >= {"whisper"}
        assert "shout" not in installed.load_extensions(("whisper",)).tokens
        assert installed.load_extensions() is everything  # per build, not once per page
        assert calls == ["shout", "whisper", "whisper"]
        with pytest.raises(UsageError) as unknown:
            installed.load_extensions(("loud", "shout"))
        assert str(unknown.value) == "unknown d2l extension(s) loud; installed: shout, whisper"
        monkeypatch.setattr(installed.metadata, "entry_points", lambda group: [])
        with pytest.raises(UsageError, match=r"extension\(s\) loud; installed: none$"):
            installed.load_extensions.__wrapped__(("loud",))
    finally:
        installed.load_extensions.cache_clear()


def test_the_notebook_starts_with_a_cell_installing_what_it_imports(tmp_path):
    from conftest import page_notebook

    from d2l_compiler.engine.render.notebook_setup import NotebookSetup

    code = {"snippets/a.py:one": "print('hi')\n", "lib/b.py:shown": "def f():\n    pass\n"}
    entry = PageEntry("k", page_inputs({"packages": {"torch": ["torch==2.13.0+cpu"]},
                                        "files": {"lib/b.py": "s"}}),
                      provenance({"device": "cpu", "torch": "2.13.0+cpu"}), "T", 1.0, 1.0,
                      _notebook_entry().regions)
    record = Record(BuildProvenance("cpu", "c", "T", "3"), {})
    setup = NotebookSetup({"numpy": "2.4.6"}, "lib@https://x.org/packages/lib-1-py3-none-any.whl")
    book = page_notebook(NOTEBOOK_PAGE, entry, record, code, page_file="docs/p.md",
                         labels=md.labels_for("zh"), setup=setup)
    first = book["cells"][0]
    assert first["cell_type"] == "code" and first["metadata"] == {"d2l_setup": True}
    assert "".join(first["source"]) == (
        "# 请先运行这一格：它安装本 notebook 用到的包，版本与记录这些输出时相同（PyTorch 2.13.0+cpu）\n"
        "%pip install numpy==2.4.6 torch==2.13.0 lib@https://x.org/packages/lib-1-py3-none-any.whl\n"
        "%pip install --no-deps --force-reinstall lib@https://x.org/packages/lib-1-py3-none-any.whl")
    assert first["outputs"] == [] and first["execution_count"] is None
    assert "".join(book["cells"][1]["source"]).startswith("# ")  # the title follows
    plain = page_notebook(NOTEBOOK_PAGE, _notebook_entry(), record, code, page_file="docs/p.md",
                          setup=NotebookSetup({"x": "1"}))
    assert "".join(plain["cells"][0]["source"]).startswith("# Run this cell first")
    assert len(page_notebook(NOTEBOOK_PAGE, _notebook_entry(), record, code)["cells"]) == 4
    # nothing to install: no cell
    assert len(page_notebook(NOTEBOOK_PAGE, _notebook_entry(), record, code,
                             setup=NotebookSetup())["cells"]) == 4


def test_links_are_rebased_for_the_notebook_s_own_page(tmp_path):
    from d2l_compiler.engine.render.notebook import rebased

    text = ("[a](other.md#x) ![c](img/c.svg) [w](https://x.org) [t](#top) [r](/abs) "
            "[up](../up.md)")
    moved = rebased(text, tmp_path / "docs" / "part", tmp_path / "docs" / "generated" / "part")
    assert moved == ("[a](../../part/other.md#x) ![c](../../part/img/c.svg) [w](https://x.org) "
                     "[t](#top) [r](/abs) [up](../../up.md)")


def test_the_notebook_page_shows_the_notebook_and_stays_out_of_search():
    from d2l_compiler.engine.render.notebook_page import notebook_markdown

    notebook = {"cells": [
        {"cell_type": "markdown", "source": ["# Title\n", "\n", "Intro."]},
        {"cell_type": "code", "source": ["print('```')"],
         "outputs": [{"output_type": "stream", "name": "stdout", "text": ["```\n", "<b>x</b>\n"]},
                     {"output_type": "stream", "name": "stderr", "text": ["E\n"]}]},
        {"cell_type": "markdown", "source": ["## Next"]}]}
    page = notebook_markdown(notebook, "part/p.md", "generated/part/p.ipynb")
    assert page.split("\n")[:9] == [
        "---", "search:", "  exclude: true", "d2l_notebook: generated/part/p.ipynb", "---", "",
        "# Title", "",
        "This page is the Jupyter notebook of [Title](../../part/p.md): the same code, with the "
        "outputs this build recorded. [Download the notebook (p.ipynb)](p.ipynb)."]
    assert "\nIntro.\n\n````python\nprint('```')\n````\n" in page  # a fence longer than the code's
    # inside a fence longer than any backtick run in it, HTML is shown, never parsed
    assert '\n```` { .text .d2l-output title="Output" }\n```\n<b>x</b>\n````\n' in page
    assert '``` { .text .d2l-output title="Standard error" }\nE\n```' in page
    assert page.endswith("## Next\n")
    untitled = notebook_markdown({"cells": [notebook["cells"][1]]}, "p.md", "generated/p.ipynb")
    assert "[p.md](../p.md)" in untitled.split("\n")[6]  # the note still comes first


def test_notebook_cells_follow_includes_across_fences_and_pages_without_a_title(tmp_path):
    from conftest import page_notebook

    from d2l_compiler.engine.render.notebook_setup import NotebookSetup

    (tmp_path / "c.svg").write_text("<svg/>")
    page = ('Intro ![c](c.svg#part)\n\n```python\n--8<-- "a.py:r0"\n```\n\nMiddle.\n\n'
            '```python\n--8<-- "a.py:r1"\n--8<-- "a.py:r2"\n```\n')
    runs = [RegionRun(i, f"a.py:r{i}", stdout=f"out{i}\n") for i in range(3)]
    regions = tuple(RegionEntry(f"a.py:r{i}", f"r{i}", "a.py", 1, 1, f"a.py:r{i}", "s", True, run)
                    for i, run in enumerate(runs))
    entry = PageEntry("k", page_inputs(), provenance({"device": "cpu"}), "T", 1.0, 1.0, regions)
    code = {f"a.py:r{i}": f"print('out{i}')\n" for i in range(3)}
    record = Record(BuildProvenance("cpu", "c", "T", "3"), {})
    book = page_notebook(page, entry, record, code, page_dir=tmp_path, page_file="docs/p.md",
                         setup=NotebookSetup({"x": "1"}))
    kinds = [c["cell_type"] for c in book["cells"]]
    assert kinds == ["code", "markdown", "code", "markdown", "code", "code"]
    assert "".join(book["cells"][0]["source"]).startswith("# Run this cell first")
    intro = "".join(book["cells"][1]["source"])
    assert intro.startswith("Intro ![c](data:image/svg+xml;base64,")  # anchor dropped, embedded
    regions = [c for c in book["cells"] if "d2l_region" in c["metadata"]]
    assert [c["metadata"]["d2l_region"] for c in regions] == ["a.py:r0", "a.py:r1", "a.py:r2"]
    assert [c["outputs"][0]["text"] for c in regions] == [["out0\n"], ["out1\n"], ["out2\n"]]


def test_a_page_that_only_shows_code_does_not_stop_the_notebooks_after_it(tmp_path):
    from d2l_compiler.engine.render.notebook import NOTEBOOK_DIR, write_notebooks

    docs = tmp_path / "docs"
    docs.mkdir()
    shown_only = PageEntry("k", page_inputs(), provenance(), "T", 0, 0, (_notebook_entry().regions[1],))
    record = Record(BuildProvenance("cpu", "c", "T", "3"),
                    {"a.md": shown_only, "p.md": _notebook_entry()})
    code = {"snippets/a.py:one": "x = 1\n", "lib/b.py:shown": "y = 2\n"}
    sources = {"a.md": ("```python\n--8<-- \"lib/b.py:shown\"\n```\n", code),
               "p.md": (NOTEBOOK_PAGE, code)}
    assert write_notebooks(docs, record, sources) == [docs / NOTEBOOK_DIR / "p.ipynb",
                                                      docs / NOTEBOOK_DIR / "p.md"]


def test_only_a_markdown_first_cell_gives_the_notebook_page_its_title():
    from d2l_compiler.engine.render.notebook_page import notebook_markdown

    code = {"cell_type": "code", "source": ["# 注释，不是标题\n", "x = 1"], "outputs": []}
    titled = {"cell_type": "markdown", "source": ["#  Title  \n", "text"]}
    page = notebook_markdown({"cells": [titled, code]}, "p.md", "generated/p.ipynb")
    assert "notebook of [Title](../p.md)" in page
    page = notebook_markdown({"cells": [code, titled]}, "p.md", "generated/p.ipynb")
    assert "notebook of [p.md](../p.md)" in page  # a code comment is not a title
    assert notebook_markdown({"cells": []}, "p.md", "generated/p.ipynb").startswith("---\n")


def test_notebook_files_are_readable_json_in_nested_folders(tmp_path):
    from d2l_compiler.engine.render.notebook import NOTEBOOK_DIR, write_notebooks

    docs = tmp_path / "docs"
    (docs / "part").mkdir(parents=True)
    chinese = NOTEBOOK_PAGE.replace("# Title", "# 标题")
    record = Record(BuildProvenance("cpu", "c", "T", "3"), {"part/p.md": _notebook_entry()})
    code = {"snippets/a.py:one": "x = 1\n", "lib/b.py:shown": "y = 2\n"}
    written = write_notebooks(docs, record, {"part/p.md": (chinese, code)})
    assert written[0] == docs / NOTEBOOK_DIR / "part" / "p.ipynb"  # its folder created
    text = written[0].read_text(encoding="utf-8")
    assert "# 标题" in text  # characters as they are, not \\u escapes: the file diffs well
    assert text.startswith('{\n "cells": [\n  {\n') and text.endswith("}\n")  # nbformat's indent


def test_notebook_prose_keeps_the_line_after_a_fence_and_the_last_line():
    from conftest import page_notebook

    page = 'Intro\n```python\n--8<-- "a.py:r0"\n```\nRight after.\nEnd'  # no final newline
    run = RegionRun(0, "a.py:r0", stdout="x\n")
    entry = PageEntry("k", page_inputs(), provenance({"device": "cpu"}), "T", 1.0, 1.0,
                      (RegionEntry("a.py:r0", "r0", "a.py", 1, 1, "a.py:r0", "s", True, run),))
    record = Record(BuildProvenance("cpu", "c", "T", "3"), {})
    book = page_notebook(page, entry, record, {"a.py:r0": "print('x')\n"}, page_file="docs/p.md")
    assert ["".join(c["source"]) for c in book["cells"]] == ["Intro", "print('x')",
                                                           "Right after.\nEnd"]


def test_the_live_preview_marks_exactly_the_outdated_outputs():
    two = ("```python\n--8<-- \"a.py:shown\"\n--8<-- \"a.py:p\"\n```\n\n"
           "```python\n--8<-- \"a.py:q\"\n```\n")
    shown = RegionEntry("a.py:shown", "shown", "a.py", 1, 2, "a.py:shown", "s", False, None)
    runs = [RegionRun(0, "a.py:p", stdout="P\n"), RegionRun(1, "a.py:q", stdout="Q\n")]
    entry = _entry(*runs, targets=("a.py:p", "a.py:q"))
    entry = PageEntry(entry.key, entry.inputs, entry.provenance, entry.executed_at, 1.0, 1.0,
                      (shown, *entry.regions))
    labels = md.LABELS["zh"]
    for outdated, marked in ((frozenset(), []), ({0}, ["P"]), ({1}, ["Q"]), ({0, 1}, ["P", "Q"])):
        out = render_page(two, entry, page_file="p", labels=labels, outdated=frozenset(outdated))
        assert out.count('class="d2l-outdated"') == len(marked)
        for text in marked:  # the note sits right above the output it is about
            note = out.index('class="d2l-outdated"', out.index(f"--8<-- \"a.py:{text.lower()}\""))
            assert note < out.index(f"\n{text}\n") and labels.outdated in out[note:note + 200]


def test_one_label_registry_serves_every_language_a_book_may_choose():
    from d2l_compiler.engine.render.labels import LABELS
    from d2l_compiler.engine.sources.project import LABEL_SETS

    assert tuple(LABELS) == LABEL_SETS  # what the settings accept is what the engine has
    for name, words in LABELS.items():
        assert words.language == name and words.report.environment
    assert LABELS["zh"].report.environment == "构建环境" != LABELS["en"].report.environment
