"""The sources stage in-process: the page parser, regions, and the content key. Fast guards
for ``nox -s mutation``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import page_key

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.sources import key
from d2l_compiler.engine.sources.discover import Region
from d2l_compiler.engine.sources.page import PageSyntaxError, parse_page


def _page(text: str):
    return parse_page(textwrap.dedent(text), "docs/p.md")


# --- the page parser ---------------------------------------------------------------------------

def test_includes_inside_fences_in_page_order():
    page = _page("""\
        # T

        ```python
        --8<-- "snippets/a.py:one"
        ```

            ~~~~
            --8<-- 'snippets/a.py:two'
            ;--8<-- "snippets/a.py:escaped"
            ~~~~~
        """)
    assert [(f.start, f.end, f.indent) for f in page.fences] == [(3, 5, ""), (7, 10, "    ")]
    assert [(i.line, i.target, i.indent) for i in page.includes] == [
        (4, "snippets/a.py:one", ""), (8, "snippets/a.py:two", "    ")]
    assert page.fenced_lines() == {3, 4, 5, 7, 8, 9, 10}
    assert page.lines[0] == "# T"


def test_a_closing_fence_must_match_the_opening_one():
    page = _page("""\
        ````python
        --8<-- "a.py:r"
        ```
        ~~~~
        `````
        after
        """)
    assert [(f.start, f.end) for f in page.fences] == [(1, 5)]
    with pytest.raises(PageSyntaxError, match=r"^docs/p.md:1: this code fence is never closed "
                                              r"\(close it with ~~~\)$"):
        _page("~~~\n--8<-- \"a.py:r\"\n```\n")


def test_inline_backticks_do_not_open_a_fence():
    page = _page("```not `a fence` here\n```python\n--8<-- \"a.py:r\"\n```\n")
    assert [(f.start, f.end) for f in page.fences] == [(2, 4)]


@pytest.mark.parametrize("text, line, what", [
    ('text\n--8<-- "a.py:r"\n', 2, "outside a code fence"),
    ('<!--\n--8<-- "a.py:r"\n-->\n', 2, "inside an HTML comment"),
    ('<!-- closed -->\n--8<-- "a.py:r"\n', 2, "outside a code fence"),
    ('<!-- x\n-->\n--8<--\n', 3, "outside a code fence"),
])
def test_includes_that_would_run_unseen_are_refused(text, line, what):
    with pytest.raises(PageSyntaxError, match=f"^docs/p.md:{line}: an include {what}"):
        parse_page(text, "docs/p.md")


def test_the_block_form_of_an_include_is_refused_inside_a_fence():
    with pytest.raises(PageSyntaxError, match=r"^docs/p.md:2: use the one-line form"):
        parse_page("```python\n--8<--\na.py:r\n--8<--\n```\n", "docs/p.md")


def test_a_fence_inside_a_comment_is_not_a_fence():
    page = parse_page("<!--\n```python\n-->\ntext\n", "docs/p.md")
    assert page.fences == ()
    page = parse_page("<!-- a --> <!-- b -->\n```\ncode\n```\n", "docs/p.md")
    assert [(f.start, f.end) for f in page.fences] == [(2, 4)]


def test_escaped_includes_outside_fences_are_prose():
    assert parse_page(';--8<-- "a.py:r"\n', "docs/p.md").includes == []


# --- regions -------------------------------------------------------------------------------------

def test_region_declarations():
    region = Region("snippets/a.py", "r", 3, "\n# raises: KeyError\n# reads: data/x.csv \n{}['k']\n")
    assert region.id == "snippets/a.py:r"
    assert region.expect_raises == "KeyError"
    assert region.reads == ("data/x.csv",)
    assert Region("a", "r", 1, "x = 1\n# raises: KeyError").expect_raises is None  # first line only
    assert Region("a", "r", 1, "").expect_raises is None
    assert len(region.source_sha) == 64
    assert region.source_sha != Region("snippets/a.py", "r", 3, "x").source_sha


# --- the key ---------------------------------------------------------------------------------------

def _project(tmp_path):
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "__init__.py").write_text("")
    (tmp_path / "snippets" / "helper.py").write_text("from . import deep\nimport json\n")
    (tmp_path / "snippets" / "deep.py").write_text("VALUE = 1\n")
    (tmp_path / "snippets" / "unused.py").write_text("")
    (tmp_path / "data.csv").write_text("1,2\n")
    return tmp_path


def test_imported_names_follow_every_form():
    source = ("import a.b, c\nfrom d import e\nfrom j import *\nfrom . import f\nfrom ..g import h\n"
              "def inner():\n    import i\n")
    names = key._imported_names(source, "pkg.sub.mod")
    assert names == {"a.b", "c", "d", "d.e", "j", "pkg.sub", "pkg.sub.f", "pkg.g", "pkg.g.h", "i"}
    assert key._imported_names("from . import x", "pkg", is_package=True) == {"pkg", "pkg.x"}


def test_dependencies_are_followed_transitively(tmp_path):
    root = _project(tmp_path)
    regions = [Region("snippets/a.py", "r", 1, "import snippets.helper\nimport yaml\nimport os")]
    files, packages = key.dependencies(root, regions)
    assert set(files) == {"snippets/__init__.py", "snippets/helper.py", "snippets/deep.py"}
    assert list(packages) == ["yaml"] and packages["yaml"][0].startswith("PyYAML==")
    assert key._distribution_versions("surely_not_installed_pkg") == [
        "surely_not_installed_pkg==not-installed"]


def test_the_key_changes_with_every_input_and_nothing_else(tmp_path, monkeypatch):
    root = _project(tmp_path)
    regions = [Region("snippets/a.py", "r", 1, "# reads: data.csv\nimport snippets.helper"),
               Region("snippets/a.py", "s", 5, "print(1)")]
    base, inputs = page_key(root, regions, "cpu")
    assert inputs["regions"] == [[r.id, r.source_sha] for r in regions]
    assert set(inputs["data"]) == {"data.csv"} and inputs["device"] == "cpu"
    assert page_key(root, regions, "cpu")[0] == base  # stable
    (root / "snippets" / "unused.py").write_text("changed")  # not imported: no change
    assert page_key(root, regions, "cpu")[0] == base
    changed = [page_key(root, regions[::-1], "cpu")[0],
               page_key(root, regions + regions[1:], "cpu")[0],
               page_key(root, regions, "cuda")[0]]
    (root / "snippets" / "deep.py").write_text("VALUE = 2\n")
    changed.append(page_key(root, regions, "cpu")[0])
    (root / "data.csv").write_text("3,4\n")
    changed.append(page_key(root, regions, "cpu")[0])
    monkeypatch.setenv("TZ", "Asia/Shanghai")  # read by the C library, never seen being read
    changed.append(page_key(root, regions, "cpu")[0])
    monkeypatch.setenv("D2L_BENCH_QUICK", "0")  # a book's variable: checked as it is read
    assert page_key(root, regions, "cpu")[0] == changed[-1]
    assert len({base, *changed}) == len(changed) + 1


def test_a_declared_data_file_must_exist(tmp_path):
    with pytest.raises(UsageError, match="declares '# reads: nope.csv', which does not exist"):
        key.data_files(tmp_path, [Region("a.py", "r", 1, "# reads: nope.csv")])


# --- the project's settings ------------------------------------------------------------------------

def _config(tmp_path, text: str):
    from d2l_compiler.engine.sources.project import Project

    path = tmp_path / "mkdocs.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return Project(path)


def test_settings_from_the_plugin_options(tmp_path):
    project = _config(tmp_path, """\
        site_name: x
        docs_dir: pages
        markdown_extensions:
          - pymdownx.snippets:
              base_path: [!relative $config_dir]
        plugins:
          - search
          - d2l:
              executed: [code, lib/]
              state_dir: state
              labels: zh
              extensions: [chapter]
        """)
    settings = project.settings
    assert settings.executed == ("code/", "lib/") and settings.labels == "zh"
    assert settings.extensions == ("chapter",) and settings.record is None
    assert project.uses_plugin and project.root == tmp_path
    assert project.docs_dir == tmp_path / "pages" and project.state_dir == tmp_path / "state"
    assert project.record_path == tmp_path / "state" / "record.json"
    bare = _config(tmp_path, "plugins:\n  - d2l\n")
    assert bare.settings.executed == ("snippets/",) and bare.settings.labels == "en"
    assert bare.docs_dir == tmp_path / "docs" and bare.state_dir == tmp_path / ".d2l"
    recorded = _config(tmp_path, "plugins:\n  - d2l:\n      record: out/r.json\n")
    assert recorded.record_path == tmp_path / "out" / "r.json"
    assert not _config(tmp_path, "site_name: x\n").uses_plugin
    assert _config(tmp_path, "plugins: d2l\n").uses_plugin


@pytest.mark.parametrize("text, message", [
    ("plugins:\n  - d2l: [1]\n", "options must be a mapping"),
    ("plugins:\n  - d2l:\n      colour: red\n", "unknown d2l plugin option(s) colour"),
    ("plugins:\n  - d2l:\n      executed: code\n", "'executed' must be a list of names"),
    ("plugins:\n  - d2l:\n      executed: ['  ']\n", "'executed' must be a list of names"),
    ("plugins:\n  - d2l:\n      extensions: [1]\n", "'extensions' must be a list of names"),
    ("plugins:\n  - d2l:\n      state_dir: 5\n", "'state_dir' must be text"),
    ("plugins:\n  - d2l:\n      labels: fr\n", "labels must be one of en, zh"),
])
def test_bad_settings_are_one_line(tmp_path, text, message):
    with pytest.raises(UsageError) as error:
        _ = _config(tmp_path, text).settings
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("options, message", [
    ("      labels: fr\n", "labels must be one of en, zh"),
    ("      keep_source_maps: maybe\n", "'keep_source_maps' must be true or false"),
    ("      executed: code\n", "'executed' must be a list of names"),
])
def test_mkdocs_reads_the_plugin_options_by_the_engines_one_rule(tmp_path, options, message):
    """``mkdocs build`` alone (no engine command) refuses a bad option with the engine's line:
    the plugin's MkDocs schema is generated from ``Settings``, which validates."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# x\n")
    (tmp_path / "mkdocs.yml").write_text(f"site_name: x\nplugins:\n  - d2l:\n{options}")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("text, message", [
    ("docs_dir: 5\n", "docs_dir must be a path, not 5"),
    ("[1, 2]\n", "expected a mapping at the top level"),
    ("a: [\n", "not valid YAML"),
])
def test_bad_configs_are_one_line(tmp_path, text, message):
    with pytest.raises(UsageError, match=message):
        _ = _config(tmp_path, text).docs_dir


def test_non_utf8_config_and_missing_docs(tmp_path):
    from d2l_compiler.engine.sources.project import find_project

    project = _config(tmp_path, "site_name: x\n")
    with pytest.raises(UsageError, match="does not exist"):
        project.pages()
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "b.md").write_text("")
    (tmp_path / "docs" / "sub" / "a.md").write_text("")
    (tmp_path / "docs" / "c.txt").write_text("")
    assert [p.as_posix() for p in project.pages()] == ["b.md", "sub/a.md"]
    (tmp_path / "mkdocs.yml").write_bytes(b"site_name: \xff\n")
    with pytest.raises(UsageError, match="not UTF-8 text"):
        find_project(tmp_path / "mkdocs.yml").config()
    with pytest.raises(UsageError, match="no MkDocs config at"):
        find_project(tmp_path / "nope.yml")


# --- discovery --------------------------------------------------------------------------------------

def _site(tmp_path):
    project = _config(tmp_path, "plugins:\n  - d2l:\n      executed: [code]\n")
    (tmp_path / "code").mkdir()
    (tmp_path / "lib").mkdir()
    (tmp_path / "code" / "a.py").write_text(
        "x = 0\n# --8<-- [start:r]\n# --8<-- [start:inner]\ny = 1\n# --8<-- [end:inner]\n"
        "z = 2\n# --8<-- [end:r]\n# --8<-- [start:open]\nw = 3\n", encoding="utf-8")
    (tmp_path / "lib" / "b.py").write_text("# --8<-- [start:s]\nshown = 1\n# --8<-- [end:s]\n")
    (tmp_path / "docs").mkdir()
    return project


def test_read_region_follows_pymdownx(tmp_path):
    from d2l_compiler.engine.sources.discover import read_region

    project = _site(tmp_path)
    region = read_region(tmp_path, "code/a.py:r", project.settings.executed)
    # nested markers dropped; the first line shown is line 4 (line 3 is a marker)
    assert region == Region("code/a.py", "r", 4, "y = 1\nz = 2\n", True)
    assert read_region(tmp_path, "code/a.py:inner", ("code/",)).code == "y = 1\n"
    assert read_region(tmp_path, "lib/b.py:s", ("code/",)).executed is False
    assert read_region(tmp_path, "code/../lib/b.py:s", ("code/",)).path == "lib/b.py"
    for target, message in (("code/a.py", "names no section"), (":r", "names no section"),
                            ("code/a.py:", "names no section"),
                            ("code/a.py:open", "no complete region 'open'"),
                            ("code/a.py:missing", "no complete region 'missing'"),
                            ("code/none.py:r", "does not exist"),
                            ("../outside.py:r", "leads outside the project root"),
                            ("/etc/passwd:r", "is absolute"), ("C:\\x.py:r", "is absolute")):
        with pytest.raises(UsageError, match=message):
            read_region(tmp_path, target)
    (tmp_path / "code" / "latin.py").write_bytes(b"# \xff\n")
    with pytest.raises(UsageError, match="not UTF-8 text"):
        read_region(tmp_path, "code/latin.py:r")


def test_region_lines_end_only_at_newlines(tmp_path):
    from d2l_compiler.engine.sources.discover import read_region

    (tmp_path / "a.py").write_text("# --8<-- [start:r]\r\ns = 'a\u2028b\x0cc'\r\n# --8<-- [end:r]\r\n",
                                   encoding="utf-8", newline="")
    assert read_region(tmp_path, "a.py:r").code == "s = 'a\u2028b\x0cc'\n"


def test_discover_names_the_page_line_and_keeps_only_pages_with_code(tmp_path):
    from d2l_compiler.engine.sources.discover import discover

    project = _site(tmp_path)
    (tmp_path / "docs" / "a.md").write_text('```python\n--8<-- "code/a.py:r"\n--8<-- "lib/b.py:s"\n'
                                            '--8<-- "code/a.py:r"\n```\n')
    (tmp_path / "docs" / "prose.md").write_text("# only prose\n")
    found = discover(project)
    assert list(found) == ["a.md"]
    assert [(i.md_line, i.region.section, i.where) for i in found["a.md"]] == [
        (2, "r", "docs/a.md:2"), (3, "s", "docs/a.md:3"), (4, "r", "docs/a.md:4")]
    assert list(discover(project, only="docs/a.md")) == ["a.md"]
    assert discover(project, only="prose.md") == {}
    with pytest.raises(UsageError, match="--only nope.md: no such page"):
        discover(project, only="nope.md")
    (tmp_path / "docs" / "bad.md").write_text('```python\n\n--8<-- "code/a.py:missing"\n```\n')
    with pytest.raises(UsageError, match=r"^docs/bad.md:3: code/a.py has no complete region"):
        discover(project)
    (tmp_path / "docs" / "bad.md").write_bytes(b"\xfe\n")
    with pytest.raises(UsageError, match=r"^docs/bad.md: not UTF-8 text"):
        discover(project)


def test_fingerprint_sees_every_source_and_only_sources(tmp_path):
    from d2l_compiler.engine.sources.discover import discover
    from d2l_compiler.engine.sources.fingerprint import fingerprint, renderer_wired

    project = _site(tmp_path)
    (tmp_path / "code" / "a.py").write_text(
        "# --8<-- [start:r]\n# reads: data.txt\nimport code.helper\n# --8<-- [end:r]\n")
    (tmp_path / "code" / "helper.py").write_text("")
    (tmp_path / "code" / "__init__.py").write_text("")  # a package named like stdlib `code`
    (tmp_path / "data.txt").write_text("1")
    (tmp_path / "docs" / "a.md").write_text('```python\n--8<-- "code/a.py:r"\n```\n')
    (tmp_path / "docs" / "generated").mkdir()
    pages = discover(project)
    before = fingerprint(project, pages)
    assert set(before.digests) == {"docs/a.md", "mkdocs.yml", "code/a.py", "code/helper.py",
                                   "code/__init__.py", "data.txt"}
    (tmp_path / "docs" / "generated" / "a.ipynb").write_text("{}")  # generated: not a source
    assert fingerprint(project, pages).changed_since(before) == []
    for name in ("code/helper.py", "data.txt", "docs/a.md"):
        (tmp_path / name).write_text("changed")
    (tmp_path / "docs" / "new.md").write_text("")
    assert fingerprint(project, pages).changed_since(before) == [
        "code/helper.py", "data.txt", "docs/a.md", "docs/new.md"]
    renderer_wired(project)
    with pytest.raises(UsageError, match="does not load the d2l renderer"):
        renderer_wired(_config(tmp_path, "site_name: x\n"))


def test_regions_and_includes_are_immutable():
    from dataclasses import FrozenInstanceError

    from d2l_compiler.engine.sources.discover import Include

    region = Region("a.py", "r", 1, "x = 1\n")
    include = Include("p.md", "docs/p.md", 3, region, "a.py:r")
    for instance, field in ((region, "code"), (include, "region")):
        with pytest.raises(FrozenInstanceError):
            setattr(instance, field, None)
    assert len({region, Region("a.py", "r", 1, "x = 1\n")}) == 1  # hashable, by value


def test_region_markers_first_start_then_first_end(tmp_path):
    from d2l_compiler.engine.sources.discover import read_region

    (tmp_path / "a.py").write_text(
        "before = 0\n# --8<-- [start:r]\na = 1\n# --8<-- [start:r]\nb = 2\n"
        "# --8<-- [end:r]\nafter = 3\n# --8<-- [start:r]\nc = 4\n# --8<-- [end:r]\n")
    region = read_region(tmp_path, "a.py:r")
    assert region.code == "a = 1\nb = 2\n" and region.first_line == 3
    # pymdownx.snippets stops at an end before the start: it shows nothing, so neither do we
    (tmp_path / "b.py").write_text("# --8<-- [end:r]\n# --8<-- [start:r]\na = 1\n# --8<-- [end:r]\n")
    with pytest.raises(UsageError, match="line 1 .* comes before its start"):
        read_region(tmp_path, "b.py:r")


def test_comment_marks_open_and_close_only_in_their_own_state():
    with pytest.raises(PageSyntaxError, match=r"^docs/p.md:2: an include outside a code fence"):
        parse_page('-->\n--8<-- "a.py:r"\n', "docs/p.md")  # a stray close opens nothing
    with pytest.raises(PageSyntaxError, match=r"^docs/p.md:3: an include inside an HTML comment"):
        parse_page('<!-- one <!-- two\n```python\n--8<-- "a.py:r"\n```\n-->\n', "docs/p.md")
    assert Region("a.py", "r", 1, "").executed is True  # regions run unless said otherwise


def test_only_the_d2l_plugin_counts_and_unreadable_sources_hash_empty(tmp_path):
    from d2l_compiler.engine.sources.fingerprint import _digest

    assert not _config(tmp_path, "plugins:\n  - search\n  - mkdocs-d2l-other\n").uses_plugin
    assert _digest(tmp_path / "missing.py") == ""
    (tmp_path / "folder.py").mkdir()
    assert _digest(tmp_path / "folder.py") == ""


def test_every_module_of_a_diamond_of_imports_is_hashed(tmp_path):
    # ten modules import one shared module: the walk meets `shared` again with modules still
    # pending, and must go on to them (whatever order the set of names comes in)
    (tmp_path / "shared.py").write_text("VALUE = 1\n")
    for i in range(10):
        (tmp_path / f"m{i}.py").write_text("import shared\n")
    regions = [Region("snippets/a.py", "r", 1, "".join(f"import m{i}\n" for i in range(10)))]
    files, packages = key.dependencies(tmp_path, regions)
    assert set(files) == {"shared.py", *(f"m{i}.py" for i in range(10))} and packages == {}


def test_a_distribution_without_metadata_is_named_missing(monkeypatch):
    monkeypatch.setattr(key, "_distributions", lambda: {"odd_top": ["No-Such-Dist-For-D2L"]})
    assert key._distribution_versions("odd_top") == ["No-Such-Dist-For-D2L==missing"]


def test_the_key_is_the_digest_of_its_recorded_inputs(tmp_path):
    """Anyone can recompute a page's key from the record (the schema states the rule)."""
    import hashlib
    import json
    root = _project(tmp_path)
    digest, inputs = page_key(root, [Region("snippets/a.py", "r", 1, "import yaml")], "cpu")
    shuffled = dict(reversed(list(inputs.items())))  # as a JSON reader may hand them back
    canonical = json.dumps(shuffled, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(canonical.encode()).hexdigest() == digest
