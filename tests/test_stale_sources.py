"""Issue 22, classes 13, 15 and 16: what runs is what the page shows, the record reads back as
written, and a long section name is no file name.

* 15: a region is extracted exactly as ``pymdownx.snippets`` renders its include (escaped
  markers, upper-case types, nested and overlapping sections, markers inside strings), checked
  against pymdownx itself: its Markdown rendering for every marker form, and its preprocessor
  on generated marker soups;
* 13: every record the engine writes reads back identical and sealed (a page of shown-only code
  records ``"duration": 0``), over the record's whole shape;
* 16: a region with a 300-character name runs in a process of its own.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
import tempfile
from collections.abc import Mapping
import msgspec
from pathlib import Path

import pytest

markdown = pytest.importorskip("markdown")
snippets = pytest.importorskip("pymdownx.snippets")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from d2l_compiler.engine.build import BuildOptions, build  # noqa: E402
from d2l_compiler.engine.errors import UsageError  # noqa: E402
from d2l_compiler.engine.progress import PlainProgress  # noqa: E402
from d2l_compiler.engine.record.freshness import check, staleness  # noqa: E402
from d2l_compiler.engine.record.io import load_record, tampered, write_record  # noqa: E402
from conftest import page_inputs, provenance  # noqa: E402
from d2l_compiler.engine.record.model import (FORMAT, CapturedWarning, Display, Fault,  # noqa: E402
                                              PageEntry, Provenance, RegionEntry, RegionError,
                                              RegionRun, Status)
from d2l_compiler.engine.record.whole import (BuildProvenance, BuildSummary,  # noqa: E402
                                              PageTiming, Record)
from d2l_compiler.engine.sources.inputs import PageInputs  # noqa: E402
from d2l_compiler.engine.run.runner import LOG_NAME_LIMIT, Limits, log_name  # noqa: E402
from d2l_compiler.engine.sources import discover  # noqa: E402
from d2l_compiler.engine.sources.discover import page_includes, read_region  # noqa: E402
from d2l_compiler.engine.sources.project import Project  # noqa: E402

OWN = "<!-- d2l: own-process -->\n\n"


# --- class 15: regions as pymdownx.snippets renders them ---------------------------------------

def _rendered(root: Path, target: str, dedent: bool = False) -> str:
    """The text of the code block a page shows for ``target``: Markdown with pymdownx.snippets,
    configured as the chapter's mkdocs.yml configures it."""
    md = markdown.Markdown(extensions=["fenced_code", snippets.SnippetExtension(
        base_path=[str(root)], check_paths=True, dedent_subsections=dedent)])
    page = md.convert(f'```python\n--8<-- "{target}"\n```\n')
    block = re.fullmatch(r'<pre><code class="language-python">(.*)</code></pre>', page, re.S)
    assert block is not None, page
    return html.unescape(block[1])


# (file text, section, the code pymdownx shows, its first line in the file)
SHOWN = {
    "an escaped end inside the region is shown, without its escape": (
        "# --8<-- [start:a]\nx = 1\n# ;--8<-- [end:a]\ny = 2\n# --8<-- [end:a]\n", "a",
        "x = 1\n# --8<-- [end:a]\ny = 2\n", 2),
    "an upper-case END ends it": (
        "# --8<-- [start:a]\nx = 1\n# --8<-- [END:a]\ny = 2\n# --8<-- [end:a]\n", "a",
        "x = 1\n", 2),
    "a second start, upper-case, ends it too": (
        "# --8<-- [start:a]\nx = 1\n# --8<-- [Start:a]\ny = 2\n# --8<-- [end:a]\n", "a",
        "x = 1\n", 2),
    "a doubled escape loses one semicolon": (
        "# --8<-- [start:a]\n# ;;--8<-- [end:a]\nx = 1\n# --8<-- [end:a]\n", "a",
        "# ;--8<-- [end:a]\nx = 1\n", 2),
    "overlapping sections: a": (
        "# --8<-- [start:a]\na = 1\n# --8<-- [start:b]\nb = 2\n# --8<-- [end:a]\nc = 3\n"
        "# --8<-- [end:b]\n", "a", "a = 1\nb = 2\n", 2),
    "overlapping sections: b": (
        "# --8<-- [start:a]\na = 1\n# --8<-- [start:b]\nb = 2\n# --8<-- [end:a]\nc = 3\n"
        "# --8<-- [end:b]\n", "b", "b = 2\nc = 3\n", 4),
    "a nested marker first: the first line shown is after it": (
        "\n# --8<-- [start:a]\n# --8<-- [start:b]\n\n# --8<-- [end:b]\nx = 1\n# --8<-- [end:a]\n",
        "a", "\nx = 1\n", 4),
    "a marker inside a string ends the region there": (
        '# --8<-- [start:a]\nx = 0\ns = "--8<-- [end:a]"\nt = 1\n# --8<-- [end:a]\n', "a",
        "x = 0\n", 2),
    "an escaped marker inside a string changes the string": (
        '# --8<-- [start:a]\ns = ";--8<-- [start:b]"\nprint(s)\n# --8<-- [end:a]\n', "a",
        's = "--8<-- [start:b]"\nprint(s)\n', 2),
    "a marker after code drops the whole line": (
        "# --8<-- [start:a]\nx = 1  # --8<-- [end:b]\ny = 2\n# --8<-- [end:a]\n", "a",
        "y = 2\n", 3),
    "names are compared as written": (
        "# --8<-- [start:a]\nx = 1\n# --8<-- [end:A]\ny = 2\n# --8<-- [end:a]\n", "a",
        "x = 1\ny = 2\n", 2),
    "spaces, tabs and long scissors in a marker": (
        "#---8<---\t[ start :\ta ]\nx = 1\n# -8<- [end: a]\n", "a", "x = 1\n", 2),
    "an escaped whole-line include is shown without its escape": (
        '# --8<-- [start:a]\ndoc = """\n;--8<-- "other.py"\n"""\n# --8<-- [end:a]\n', "a",
        'doc = """\n--8<-- "other.py"\n"""\n', 2),
    "lone carriage returns end lines, as in text mode": (
        "# --8<-- [start:a]\rx = 1\r# --8<-- [end:a]\r", "a", "x = 1\n", 2),
}


@pytest.mark.parametrize("case", sorted(SHOWN))
def test_a_region_is_the_code_its_include_renders(tmp_path, case):
    text, section, code, first_line = SHOWN[case]
    (tmp_path / "f.py").write_text(text, encoding="utf-8", newline="")
    region = read_region(tmp_path, f"f.py:{section}")
    assert region.code == code == _rendered(tmp_path, f"f.py:{section}")
    assert region.first_line == first_line


REFUSED = {  # pymdownx shows nothing, or more than the author marked: the build says so
    "an upper-case START before the start": (
        "# --8<-- [START:a]\nx = 1\n# --8<-- [end:a]\n", "line 1 .* comes before its start"),
    "an end before the start": (
        "# --8<-- [end:a]\n# --8<-- [start:a]\nx = 1\n# --8<-- [end:a]\n",
        "line 1 .* comes before its start"),
    "no end": ("# --8<-- [start:a]\nx = 1\n", r"no '# --8<-- \[end:a\]' after its start on line 1"),
    "no start": ("x = 1\n", "no complete region 'a'"),
    "a whole-line include inside the region": (
        '# --8<-- [start:a]\ndoc = """\n--8<-- "other.py"\n"""\n# --8<-- [end:a]\n',
        "f.py:3: pymdownx.snippets would replace this line"),
    "a block include inside the region": (
        "# --8<-- [start:a]\n--8<--\n# --8<-- [end:a]\n", "f.py:2: pymdownx.snippets would replace"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_region_pymdownx_would_not_show_as_marked_is_refused(tmp_path, case):
    text, message = REFUSED[case]
    (tmp_path / "f.py").write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        read_region(tmp_path, "f.py:a")


def test_dedent_subsections_is_honoured_as_pymdownx_honours_it(tmp_path):
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: t\nmarkdown_extensions:\n  - pymdownx.snippets:\n      dedent_subsections: true\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "p.md").write_text('```python\n--8<-- "f.py:a"\n```\n')
    (tmp_path / "f.py").write_text(
        "def f():\n    # --8<-- [start:a]\n    x = 1\n    if x:\n\n        print(x)\n    # --8<-- [end:a]\n")
    [include] = page_includes(Project(tmp_path / "mkdocs.yml"), Path("p.md"))
    assert include.region.code == "x = 1\nif x:\n\n    print(x)\n" == _rendered(tmp_path, "f.py:a", True)
    assert include.region.first_line == 3


# generated files: marker lines of every form pymdownx knows, escaped or not, among code lines
_MARKER_LINE = st.builds(
    lambda before, escape, scissors, space, kind, name, after: (
        f"{before}{escape}{scissors}{space}[{kind}:{name}]{after}"),
    st.sampled_from(["", "# ", "    # ", "x = 1  # ", 's = "', "#"]),
    st.sampled_from(["", "", ";", ";;"]),
    st.sampled_from(["--8<--", "-8<-", "---8<---", "--8<-"]),
    st.sampled_from([" ", "\t", "  "]),
    st.sampled_from(["start", "end", "START", "End", " start ", "end\t"]),
    st.sampled_from(["a", "b", "A", " a", "a-1"]),
    st.sampled_from(["", '"', "  # note"]))
_OTHER_LINE = st.sampled_from(["x = 1", "", "    y = 2", "print(x)", '--8<-- "g.py"', ';--8<-- "g.py"',
                               ";;--8<-- 'g.py'", "--8<--", ";--8<--", "# --8<--", "s = '8<-'"])
_FILE = st.tuples(st.lists(st.one_of(_MARKER_LINE, _OTHER_LINE), max_size=14),
                  st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())


def _pymdownx_lines(root: Path, target: str) -> list[str]:
    """The lines pymdownx.snippets puts in the page for the include ``target``."""
    md = markdown.Markdown(extensions=[snippets.SnippetExtension(base_path=[str(root)],
                                                                 check_paths=True)])
    return md.preprocessors["snippet"].run([f'--8<-- "{target}"'])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_FILE, st.sampled_from(["a", "b", "A"]))
@example((["# --8<-- [start:a]", "x = 1", "# ;--8<-- [end:a]", "# --8<-- [end:a]"], "\n", True), "a")
def test_regions_are_extracted_as_pymdownx_extracts_them(file, section):
    lines, newline, final_newline = file
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        text = newline.join(lines) + (newline if final_newline else "")
        (root / "f.py").write_text(text, encoding="utf-8", newline="")
        try:
            region = read_region(root, f"f.py:{section}")
        except UsageError as refused:
            assert "differently" not in str(refused)
            missing = "comes before its start" in str(refused) or "needs '# --8<--" in str(refused)
            if missing and text:  # (pymdownx shows an empty file as empty, whatever it names)
                with pytest.raises(snippets.SnippetMissingError):  # pymdownx finds nothing too
                    _pymdownx_lines(root, f"f.py:{section}")
            return
        shown = _pymdownx_lines(root, f"f.py:{section}")
        assert region.code == "\n".join(shown) + "\n"
        if shown:  # the first line shown is the file's line first_line, escape removed
            source = text.replace("\r\n", "\n").replace("\r", "\n")
            first = source.split("\n")[region.first_line - 1]
            assert shown[0] in (first, first.replace(";", "", 1))


@given(st.one_of(_MARKER_LINE, _OTHER_LINE, st.text(max_size=30)))
def test_the_copied_patterns_read_lines_as_pymdownx_reads_them(line):
    preprocessor = snippets.SnippetPreprocessor
    for copy, own in ((discover._SECTION_MARKER_COPY, preprocessor.RE_SNIPPET_SECTION),
                      (discover._WHOLE_LINE_SNIPPET_COPY, preprocessor.RE_ALL_SNIPPETS)):
        ours, theirs = copy.match(line), own.match(line)
        assert (ours and ours.groupdict()) == (theirs and theirs.groupdict())


def _write_book(root: Path, code_file: str, pages: dict[str, str]) -> Project:
    (root / "snippets").mkdir(exist_ok=True)
    (root / "lib").mkdir(exist_ok=True)
    (root / "docs").mkdir(exist_ok=True)
    (root / "mkdocs.yml").write_text("site_name: t\nmarkdown_extensions: [pymdownx.superfences, "
                                     "pymdownx.snippets]\nplugins:\n  - d2l\n")
    (root / "snippets" / "s.py").write_text(code_file, encoding="utf-8")
    for name, text in pages.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")
    return Project(root / "mkdocs.yml")


def _build(project: Project, site: Path | None = None) -> Record:
    build(project, BuildOptions(limits=Limits(timeout=60)), site, PlainProgress(io.StringIO()))
    written = load_record(project.record_path)
    assert written is not None
    return written


def test_a_page_runs_the_code_it_shows(tmp_path):
    code = ('# --8<-- [start:a]\ns = ";--8<-- [start:b]"\nprint(s)\n# ;--8<-- [end:a]\n'
            "print('after the escaped end')\n# --8<-- [END:a]\nprint('after END')\n# --8<-- [end:a]\n")
    project = _write_book(tmp_path, code, {"p.md": '# p\n\n```python\n--8<-- "snippets/s.py:a"\n```\n'})
    entry = _build(project).pages["p.md"]
    assert entry.regions[0].run.stdout == "--8<-- [start:b]\nafter the escaped end\n"
    assert entry.regions[0].line == 2


# --- class 16: limits --------------------------------------------------------------------------

def test_a_300_character_section_runs_in_a_process_of_its_own(tmp_path):
    name = "r" + "x" * 299
    project = _write_book(
        tmp_path, f"# --8<-- [start:{name}]\nprint('long')\n# --8<-- [end:{name}]\n",
        {"p.md": f'# p\n\n{OWN}```python\n--8<-- "snippets/s.py:{name}"\n```\n'})
    assert _build(project).pages["p.md"].regions[0].run.stdout == "long\n"
    logs = [p.name for p in (project.state_dir / "logs").iterdir()]
    assert logs and all(len(n.encode()) <= LOG_NAME_LIMIT for n in logs)


def test_log_names_stay_short_and_distinct():
    assert log_name("a/b.md", "3-net") == "a%2Fb.md.3-net.log"  # short names are as they were
    long = "x" * 400
    names = {log_name("p.md", f"1-{long}"), log_name("p.md", f"2-{long}"),
             log_name("p.md", f"1-{long}y"), log_name("很长" * 60 + ".md")}
    assert len(names) == 4 and all(len(n) <= LOG_NAME_LIMIT and n.endswith(".log") for n in names)


# --- class 13: the record reads back as written -------------------------------------------------

def test_a_page_of_shown_only_code_builds_again_and_publishes(tmp_path):
    project = _write_book(tmp_path, "# --8<-- [start:a]\nprint(1)\n# --8<-- [end:a]\n", {
        "shown.md": '# s\n\n```python\n--8<-- "lib/h.py:f"\n```\n',
        "p.md": '# p\n\n```python\n--8<-- "snippets/s.py:a"\n```\n'})
    (tmp_path / "lib" / "h.py").write_text("# --8<-- [start:f]\ndef f():\n    return 1\n# --8<-- [end:f]\n")
    for _ in range(2):
        entry = _build(project).pages["shown.md"]
        assert entry.duration == 0.0 and not tampered(entry)
        assert staleness(project, page_includes(project, Path("shown.md")), entry) == []
    assert check(project) == {"p.md": []}
    _build(project, tmp_path / "site")  # the site build reads every page's entry back
    assert (tmp_path / "site" / "shown" / "index.html").is_file()


_SPECIAL_TEXT = ["", "\u2028", "\u2029", "\ud800", "\udfff", "\ud83d\ude00", "😀", "<&>", "\x00",
                 "NaN", "\\u003c", "a\r\nb"]
_TEXT = st.one_of(st.sampled_from(_SPECIAL_TEXT), st.text(max_size=8),
                  st.text(st.characters(categories=["Cs", "Zl", "Zp", "Lo", "Cc"]), max_size=6))
# names (pages, keys): no two that JSON reads as one (a surrogate pair and the character it makes)
_NAME = st.one_of(st.sampled_from(["", "\u2028", "\ud800", "<&>", "页.md"]), st.text(max_size=8))
_NUMBER = st.one_of(st.integers(-2**63, 2**63), st.floats(), st.sampled_from([0, 0.0, -0.0]))
_JSON = st.recursive(st.one_of(st.none(), st.booleans(), _NUMBER, _TEXT),
                     lambda inner: st.one_of(st.lists(inner, max_size=3),
                                             st.dictionaries(_NAME, inner, max_size=3)),
                     max_leaves=6)
_DIGESTS = st.dictionaries(_NAME, _TEXT, max_size=3)


def _builds(cls, **strategies):
    """``st.builds(cls)`` with a strategy for every field: a field added to the record's
    model must be added here, so that the round trip covers it."""
    assert set(strategies) == set(cls.__struct_fields__), f"{cls.__name__}: fields changed"
    return st.builds(cls, **strategies)


_RUN = _builds(
    RegionRun, index=st.integers(-1, 40), id=_TEXT, status=st.sampled_from(Status),
    duration=_NUMBER, stdout=_TEXT, stray=_TEXT, raised=_TEXT,
    warnings=st.lists(_builds(CapturedWarning, category=_TEXT, message=_TEXT, where=_TEXT),
                      max_size=2).map(tuple),
    values=st.dictionaries(_NAME, _JSON, max_size=3),
    values_dropped=st.dictionaries(_NAME, _JSON, max_size=2),
    error=st.none() | _builds(RegionError, fault=st.sampled_from(Fault), type=_TEXT, message=_TEXT,
                              line=st.none() | st.integers(-5, 2**40), traceback=_TEXT),
    seen=_DIGESTS, state_before=_DIGESTS,
    state_changed=st.dictionaries(_NAME, st.none() | _TEXT, max_size=3),
    displays=st.lists(_builds(Display, mime=st.sampled_from(["image/svg+xml", "image/png"]),
                              data=_TEXT, alt=_TEXT), max_size=2).map(tuple))
_REGION = st.booleans().flatmap(lambda executed: _builds(
    RegionEntry, id=_TEXT, section=_TEXT, path=_TEXT, line=st.integers(0, 2**40),
    md_line=st.integers(0, 2**40), target=_TEXT.filter(bool),  # a page names what it includes
    source_sha=_TEXT, executed=st.just(executed), run=_RUN if executed else st.none()))
_TEXTS = st.lists(_TEXT, max_size=3).map(tuple)
_HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
_PAIRS = st.lists(st.tuples(_TEXT, _TEXT), max_size=3)
_INPUTS = _builds(
    PageInputs, format=st.integers(0, 9), python=_TEXT, device=_TEXT, env=_DIGESTS,
    files=_DIGESTS, packages=st.dictionaries(_NAME, st.lists(_TEXT, max_size=2), max_size=2),
    data=_DIGESTS, regions=_PAIRS, region_keys=st.lists(st.tuples(_TEXT, _HEX), max_size=3))
_OPTIONAL_TEXT = st.none() | _TEXT
_RUN_PROVENANCE = _builds(
    Provenance, python=_TEXT, platform=_TEXT, cpu=_TEXT, cpu_count=st.none() | st.integers(0, 512),
    device=_TEXT, torch=_OPTIONAL_TEXT, threads=st.none() | st.integers(0, 512),
    gpu=_OPTIONAL_TEXT, state_digest_seconds=_NUMBER, git_commit=_TEXT, page_run=_TEXT,
    complete_run=st.booleans(), first_executed_at=_OPTIONAL_TEXT, first_git_commit=_OPTIONAL_TEXT,
    reused_regions=_TEXTS, extensions=st.dictionaries(_NAME, _TEXT, max_size=2))
_PAGE = _builds(
    PageEntry, key=_HEX, inputs=_INPUTS, provenance=_RUN_PROVENANCE, executed_at=_TEXT,
    duration=_NUMBER,
    peak_mb=_NUMBER, regions=st.lists(_REGION, max_size=3).map(tuple), ran=st.booleans(),
    digest=_TEXT, gpus_wanted=st.integers(0, 8)).map(PageEntry.sealed)
_TIMING = _builds(PageTiming, page=_TEXT, started=_NUMBER, ended=_NUMBER, worker=_TEXT,
                  gpus=st.none() | _TEXT, exclusive=st.booleans())
_PROVENANCE = _builds(
    BuildProvenance, device=_TEXT, git_commit=_TEXT, date_utc=_TEXT, python=_TEXT,
    summary=_builds(BuildSummary, ran=_TEXTS, cached=_TEXTS, seconds=_NUMBER, regions_ran=_TEXTS,
                    timeline=st.lists(_TIMING, max_size=2).map(tuple)))
_RECORD = _builds(
    Record, provenance=_PROVENANCE, pages=st.dictionaries(_NAME, _PAGE, max_size=3),
    format=st.just(FORMAT),
    other_devices=st.dictionaries(_NAME, st.lists(_PAGE, max_size=2).map(tuple), max_size=2))


def _identical(a: object, b: object) -> bool:
    """``a == b``, with NaN equal to NaN and every number's type compared too."""
    if isinstance(a, msgspec.Struct):
        return type(a) is type(b) and all(_identical(getattr(a, name), getattr(b, name))
                                          for name in a.__struct_fields__)
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and a.keys() == b.keys() and all(
            _identical(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_identical, a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _same_data(a: object, b: object) -> bool:
    """JSON data equal as JSON means it: numbers as numbers (``0`` is ``0.0``), text as its
    escaped form (a surrogate pair written as two lone halves is the character they make)."""
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and a.keys() == b.keys() and all(
            _same_data(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same_data, a, b))
    if isinstance(a, str) or isinstance(b, str) or isinstance(a, bool) or a is None:
        return json.dumps(a) == json.dumps(b)
    return float(a) == float(b) or (math.isnan(a) and math.isnan(b))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_RECORD)
def test_every_record_the_engine_writes_reads_back_identical_and_sealed(record):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "record.json"
        written = write_record(path, record)
        read = load_record(path)
        assert _identical(read, written)
        for page, entry in record.pages.items():  # a sealed entry is written as it is
            assert _identical(read.pages[page], entry)
        assert not any(tampered(e) for e in read.pages.values())
        assert not any(tampered(e) for entries in read.other_devices.values() for e in entries)
        # nothing is lost: the file holds the record's own data, as JSON means it
        assert _same_data(json.loads(json.dumps(record.to_json())),
                          json.loads(path.read_text(encoding="utf-8")))
        # and writing what was read writes the same bytes
        again = Path(tmp) / "again.json"
        write_record(again, read)
        assert again.read_bytes() == path.read_bytes()


def test_a_page_whose_duration_is_the_integer_0_stays_sealed(tmp_path):
    entry = PageEntry("a" * 64, page_inputs(), provenance(), "2026-01-01T00:00:00Z", 0, 0, (),
                      False).sealed()
    record = Record(BuildProvenance("cpu", "c", "d", "3.11"), {"p.md": entry})
    write_record(tmp_path / "r.json", record)
    assert '"duration": 0.0' in (tmp_path / "r.json").read_text()
    assert not tampered(load_record(tmp_path / "r.json").pages["p.md"])
