"""Fast, in-process tests of the engine's pure functions (no build, no subprocess): the
quickest guards for ``nox -s mutation``, which runs these first for every module."""

from __future__ import annotations

import pytest

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.publish import sitedir
from d2l_compiler.engine.escape import inline, snippet_safe, terminal, visible


# --- render/escape ----------------------------------------------------------------------------

@pytest.mark.parametrize("raw, shown", [
    ("\x1b[31mred\x1b[0m", "red"),                      # CSI colour
    ("\x1b]0;title\x07text", "text"),                   # OSC with BEL
    ("\x1b]8;;http://x\x1b\\link", "link"),             # OSC with ST
    ("a\x1bMb", "ab"),                                  # two-character ESC sequence
    ("nul\x00", "nul\u2400"), ("\x1f", "\u241f"), ("\x7f", "\u2421"), ("\x85", "\\x85"),
    ("\x9f", "\\x9f"), ("tab\tnew\nline", "tab\tnew\nline"), ("\x0b", "\u240b"),
    ("\udcff", "\\udcff"),                               # a lone surrogate is shown, not fatal
    ("ordinary 中文 \xa0", "ordinary 中文 \xa0"),
])
def test_visible_strips_sequences_and_pictures_controls(raw, shown):
    assert visible(raw) == shown


@pytest.mark.parametrize("raw, shown", [
    ("<b>", "&#60;b&#62;"), ("a & b", "a &#38; b"), ("[x](y)", "&#91;x&#93;(y)"),
    ("`c`", "&#96;c&#96;"), ("*e*", "&#42;e&#42;"), ("a|b", "a&#124;b"), ("{#id}", "&#123;#id&#125;"),
    ("~^\\", "&#126;&#94;&#92;"), ("_edge_", "&#95;edge&#95;"), ("snake_case", "snake_case"),
    ("1_000", "1_000"), ("two\nlines\r\nand\u2028more\x85end", "two lines and more end"),
    (3.5, "3.5"),
])
def test_inline_makes_every_markup_character_a_reference(raw, shown):
    assert inline(raw) == shown


@pytest.mark.parametrize("line, escaped", [
    ('--8<-- "mkdocs.yml"', ';--8<-- "mkdocs.yml"'),
    ("  --8<-- 'a.py:r'", "  ;--8<-- 'a.py:r'"),
    ("--8<--", ";--8<--"), ("-8<-", ";-8<-"), ("--8<--\r", ";--8<--\r"),
    ('x --8<-- [start:name] y', 'x ;--8<-- [start:name] y'),
    ('--8<-- [ END : n ]', ';--8<-- [ END : n ]'),
    (';--8<-- "x"', ';;--8<-- "x"'),  # snippets would eat one ';' and change what is shown
])
def test_snippet_instructions_in_output_are_escaped(line, escaped):
    assert snippet_safe(line) == escaped


@pytest.mark.parametrize("line", [
    'say --8<-- "x"', '--8<-- "x" trailing', "--8<-- ", "8<", "--8<-- [start:1bad]",
    "ordinary text",
])
def test_lines_snippets_would_not_act_on_are_left_alone(line):
    assert snippet_safe(line) == line


def test_terminal_cuts_each_line_at_the_width():
    text = "a" * 10 + "\n" + "b" * 3
    assert terminal(text, width=10) == text
    assert terminal(text, width=9) == "a" * 9 + " …\n" + "bbb"
    assert terminal("\x1b[1mx", width=400) == "x"
    assert terminal("c" * 400) == "c" * 400  # the default width is 400
    assert terminal("c" * 401) == "c" * 400 + " …"


# --- publish/sitedir --------------------------------------------------------------------------

def test_site_dir_checks(tmp_path):
    project, docs = tmp_path / "p", tmp_path / "p" / "docs"
    (docs).mkdir(parents=True)
    source = project / "snippets" / "a.py"
    source.parent.mkdir()
    source.write_text("")
    protected = [project, docs, source]
    assert sitedir.check_site_dir(project / "site", protected, docs) == (project / "site").resolve()
    for bad in (project, docs, source.parent, tmp_path):  # is, or holds, what the build needs
        with pytest.raises(UsageError, match="which the build needs"):
            sitedir.check_site_dir(bad, protected, docs)
    with pytest.raises(UsageError, match="inside the docs directory"):
        sitedir.check_site_dir(docs / "site", protected, docs)
    a_file = project / "file"
    a_file.write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        sitedir.check_site_dir(a_file, [], docs)
    foreign = project / "foreign"
    foreign.mkdir()
    assert sitedir.check_site_dir(foreign, [], docs) == foreign.resolve()  # empty: fine
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="did not build"):
        sitedir.check_site_dir(foreign, [], docs)
    (foreign / sitedir.MARK).write_text("")
    assert sitedir.check_site_dir(foreign, [], docs) == foreign.resolve()


def test_legacy_sites_need_both_marks(tmp_path):
    (tmp_path / "index.html").write_text("")
    assert not sitedir.is_built_site(tmp_path)
    (tmp_path / "d2l-record.json").write_text("")
    assert sitedir.is_built_site(tmp_path)


def test_publish_replaces_the_old_site_and_marks_the_new(tmp_path):
    target = tmp_path / "site"
    first = tmp_path / "stage1"
    first.mkdir()
    (first / "index.html").write_text("one")
    sitedir.publish(first, target)
    assert (target / "index.html").read_text() == "one" and (target / sitedir.MARK).is_file()
    second = tmp_path / "stage2"
    second.mkdir()
    (second / "index.html").write_text("two")
    sitedir.publish(second, target)
    assert (target / "index.html").read_text() == "two" and (target / sitedir.MARK).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # old site and staging gone


def test_publish_succeeds_when_the_old_site_cannot_be_fully_deleted(tmp_path, monkeypatch):
    target, stage = tmp_path / "site", tmp_path / "stage"
    target.mkdir()
    (target / sitedir.MARK).write_text("")
    stage.mkdir()
    (stage / "index.html").write_text("new")
    monkeypatch.setattr("os.unlink", lambda *a, **k: (_ for _ in ()).throw(PermissionError("busy")))
    sitedir.publish(stage, target)  # the new site is in place; a leftover is not a failure
    assert (target / "index.html").read_text() == "new"


def test_the_engine_s_value_objects_are_immutable(tmp_path):
    """Values passed between stages cannot be changed on the way (frozen dataclasses)."""
    from dataclasses import FrozenInstanceError

    from d2l_compiler.engine.render.tokens import PageContext, TokenCall
    from d2l_compiler.engine.run.runner import _Done
    from d2l_compiler.engine.sources.fingerprint import Fingerprint
    from d2l_compiler.engine.sources.page import parse_page
    from d2l_compiler.engine.sources.project import Project, Settings

    page = parse_page('```python\n--8<-- "a.py:r"\n```\n', "p.md")
    context = PageContext({}, None, None, None, "")
    for instance in (context, TokenCall(["x"], "x", context), _Done({}), Fingerprint({}), page,
                     page.fences[0], page.includes[0], Settings(), Project(tmp_path / "m.yml")):
        with pytest.raises(FrozenInstanceError):
            instance.some_field = None
