"""Property-based tests (Hypothesis) where inputs are a space: escaping of run data, the page
parser, the key's sensitivity to order. Pure functions and real Python-Markdown; no build."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import markdown
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import seal
from d2l_compiler.engine.record.model import FORMAT, PageEntry
from d2l_compiler.engine.record.whole import BuildProvenance, BuildSummary, Record
from d2l_compiler.engine.escape import inline, snippet_safe, visible
from d2l_compiler.engine.sources.page import PageSyntaxError, parse_page
from d2l_compiler.engine.render.markdown import RenderError, render_page

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
EXTENSIONS = ["attr_list", "md_in_html", "tables", "admonition", "pymdownx.superfences",
              "pymdownx.snippets"]
CONFIG = {"pymdownx.snippets": {"base_path": ["."], "check_paths": True}}
# text biased towards what Markdown, HTML and pymdownx.snippets give a meaning to
ACTIVE = st.lists(st.sampled_from(list("<>&\"'`*_[](){}!|#~^:=;-8 \\/\nab\x00\x1b\u2028")
                                 + ["--8<--", "<img src=x onerror=alert(1)>", "](", "javascript:"]),
                  max_size=30).map("".join)


def _markdown(text: str, snippets: bool = True) -> str:
    extensions = EXTENSIONS if snippets else [e for e in EXTENSIONS if e != "pymdownx.snippets"]
    return markdown.Markdown(extensions=extensions, extension_configs=CONFIG).convert(text)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs


def _tags(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    return parser


@SETTINGS
@given(ACTIVE)
def test_inline_text_is_never_markup(text):
    rendered = _markdown("值：" + inline(text))
    parsed = _tags(rendered)
    assert parsed.tags == ["p"] and parsed.attrs == []
    shown = html.unescape(re.sub(r"</?p>", "", rendered))
    assert shown == "值：" + visible(re.sub(r"\r\n|[\r\n\u2028\u2029\x85\x0b\x0c]", " ", text)).strip() \
        or shown.strip() == ("值：" + visible(re.sub(r"[\r\n\u2028\u2029\x85\x0b\x0c]", " ", text))).strip()


@SETTINGS
@given(st.lists(ACTIVE.filter(lambda s: "\n" not in s and "\u2028" not in s), min_size=1, max_size=5))
def test_output_lines_are_shown_exactly_and_never_acted_on(lines):
    lines = [line.rstrip() for line in lines]
    body = "\n".join(snippet_safe(visible(line)) for line in lines)
    rendered = _markdown(f"````text\n{body}\n````\n")
    code = re.search(r"<code>(.*)</code>", rendered, re.S)
    assert code is not None, rendered
    shown = html.unescape(code.group(1)).strip("\n")
    assert shown == "\n".join(visible(line) for line in lines).strip("\n")


FRAGMENTS = ["```python", "```", "````", "~~~", "<!--", "-->", "text {{ d2l:r.v }}", "",
             '--8<-- "snippets/s.py:r"', ';--8<-- "snippets/s.py:r"', "    ```", "--8<--"]


@SETTINGS
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=14))
def test_every_include_is_rendered_with_its_output_or_the_page_is_refused(lines):
    page = "\n".join(lines)
    try:
        parsed = parse_page(page, "docs/p.md")
    except PageSyntaxError as exc:
        assert re.match(r"docs/p\.md:\d+: ", str(exc))
        return
    fenced = parsed.fenced_lines()
    raw = [n for n, line in enumerate(parsed.lines, 1) if line.strip() == FRAGMENTS[8]]
    assert sorted(inc.line for inc in parsed.includes) == [n for n in raw if n in fenced]
    assert all(n in fenced for n in raw)  # an include outside a fence would have been refused
    runs = [_region_json(stdout=f"OUT{i}\n", values={"v": i}) for i in range(len(parsed.includes))]
    entry = _entry(runs, {"device": "cpu"}, "T")
    try:
        rendered = render_page(page, entry, page_file="docs/p.md")
    except RenderError as exc:  # only a token that names an ambiguous or absent region
        assert re.match(r"docs/p\.md:\d+: ", str(exc)) and ("ambiguous" in str(exc)
                                                              or "no region" in str(exc))
        return
    for i in range(len(runs)):
        assert f"OUT{i}" in rendered
    outside = [line for n, line in enumerate(rendered.split("\n")) if "{{ d2l:" in line]
    assert len(outside) <= sum(1 for n, line in enumerate(parsed.lines, 1)
                               if n in fenced and "{{ d2l:" in line)


def _region_json(**run) -> dict:
    return {"id": "snippets/s.py:r", "section": "r", "path": "snippets/s.py", "line": 2,
            "md_line": 4, "target": "snippets/s.py:r", "source_sha": "0" * 64, "executed": True,
            "run": {"index": 0, "id": "snippets/s.py:r", "status": "ok", "duration": 0.0, **run}}


def _entry(regions: list[dict], provenance: dict, executed_at: str, **extra) -> PageEntry:
    inputs = {"format": FORMAT, "python": "3.11", "device": "cpu", **extra.pop("inputs", {})}
    data = {"key": "a" * 64, "inputs": inputs, "provenance": provenance, "peak_mb": 0.0,
            "executed_at": executed_at, "duration": 0.1, "regions": regions, **extra}
    return PageEntry.from_json(seal(data), "page")


def _hostile_paths(text: str) -> dict:
    samples = {"median": 1e-5, "q1": 0.9e-5, "q3": 1.1e-5, "description": text}
    row = {"label": text, "compile_seconds": 0.1, "samples": samples, "speedup": 1.0,
           "speedup_low": 0.9, "speedup_high": 1.1, "vs_eager": "within noise",
           "artifacts": [{"kind": text, "size_bytes": 10, "reload_equal": True}]}
    return {"type": "paths", "device": text, "gpu": text, "torch": text, "threads": text,
            "quick": False, "batches": {"1": {"eager": row, text: row}}}


@settings(max_examples=40, deadline=None, derandomize=True)
@given(ACTIVE)
def test_no_token_turns_run_data_into_markup(text):

    region = _region_json(
        stdout=text, warnings=[{"category": "UserWarning", "message": text, "where": text}],
        values={"s": text, "paths": _hostile_paths(text),
                "a": {"description": text, "median": 1.0, "q1": 0.9, "q3": 1.1},
                "b": {"description": text, "median": 2.0, "q1": 1.9, "q3": 2.1}})
    entry = _entry([region], {"device": text, "cpu": text, "torch": text, "threads": 2,
                              "python": text}, text, ran=True,
                   inputs={"regions": [[text, "0" * 64]], "files": {text: "0" * 64},
                           "packages": {text: [text]}, "python": text, "device": text})
    record = Record(BuildProvenance(text, text, text, text, BuildSummary((text,), (), 1.0)),
                    {text + ".md": entry})
    page = ("# T\n\n```python\n--8<-- \"snippets/s.py:r\"\n```\n\n{{ d2l:stamp }}\n\n"
            "{{ d2l:r.s }} {{ d2l:compare r.a r.b }}\n\n{{ d2l:paths_table r.paths 1 }}\n\n"
            "{{ d2l:paths_files r.paths 1 }}\n\n{{ d2l:paths_summary r.paths 1 }}\n\n"
            "{{ d2l:paths_provenance r.paths }}\n\n{{ d2l:paths_chart r.paths }}\n\n{{ d2l:report }}\n")
    rendered = _markdown(render_page(page, entry, record, page_file="docs/p.md"), snippets=False)
    allowed = {"p", "h1", "h2", "h3", "table", "thead", "tbody", "tr", "th", "td", "code", "br",
               "div", "pre", "span", "small", "details", "summary", "a", "strong",
               "figure", "svg", "title", "text", "rect", "line"}  # the chart: SVG drawn here
    parsed = _tags(rendered)
    assert set(parsed.tags) <= allowed, set(parsed.tags) - allowed
    assert parsed.tags.count("a") == 1  # the report's own link to the raw record, nothing else
    from d2l_compiler.chapter.tables import FILES_HEADER, PATHS_HEADER, SCROLL_LABEL
    drawing = {"xmlns", "role", "aria-labelledby", "viewbox", "width", "height", "x", "y", "x1",
               "x2", "y1", "y2", "fill", "fill-opacity", "stroke", "stroke-width", "font-size",
               "font-weight", "text-anchor", "stroke-dasharray"}
    assert all(name in ("class", "title", "id", "style") or name in drawing
               or (name, value) == ("href", "d2l-record.json")
               or (name, value) in (("tabindex", "0"), ("aria-label", SCROLL_LABEL))
               or (name == "data-label" and value in PATHS_HEADER + FILES_HEADER)
               for name, value in parsed.attrs), parsed.attrs
    assert not any(value and "onerror" in value for _, value in parsed.attrs)
    assert not any(name.startswith("on") for name, _ in parsed.attrs)


def test_reordering_or_repeating_regions_changes_the_key(tmp_path):
    from d2l_compiler.engine.sources.discover import Region
    from conftest import page_key

    a, b = (Region("snippets/s.py", name, 1, f"{name} = 1\n") for name in "ab")
    keys = {page_key(tmp_path, regions, "cpu")[0] for regions in ([a, b], [b, a], [a, b, b], [a])}
    assert len(keys) == 4


@pytest.mark.parametrize("text", ["\x1b[31mred\x1b[0m", "\x1b]0;title\x07x", "a\x00b", "\udcff"])
def test_visible_removes_escapes_and_shows_controls(text):
    shown = visible(text)
    assert "\x1b" not in shown and "\x00" not in shown
    shown.encode("utf-8")  # always encodable
