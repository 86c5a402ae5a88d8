"""Zensical as a second host (``build --host zensical``): the chapter built there shows what
the MkDocs site shows, publishes the same downloads, never touches the author's ``site/``,
and the README's paragraph on it is this build's measurement."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest

from benchmarks.zensical import (QUERIES, README_BEGIN, SITE, build, measure, readme_section,
                                 search_finds, tree_digest)
from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.publish.zensical_host import variant_config
from d2l_compiler.engine.render.markdown import render_page
from d2l_compiler.engine.sources.project import find_project

from conftest import ROOT, FixtureSite

if importlib.util.find_spec("zensical") is None:
    if os.environ.get("CI"):
        raise RuntimeError("Zensical is not installed: CI must check the Zensical build "
                           "(it is in the test extra)")
    pytest.skip("Zensical is not installed (pip install zensical)", allow_module_level=True)


@pytest.fixture(scope="module")
def zensical_site(chapter):
    """The chapter built by Zensical into its own folder, as ``nox -s zensical`` builds it."""
    authors_site = tree_digest(chapter / "site")
    code, seconds, error = build(chapter, chapter / SITE)
    assert code == 0, error
    return measure(chapter, chapter / SITE, code, seconds, error), authors_site


def test_zensical_shows_every_output_token_and_stamp(zensical_site, chapter):
    report, _ = zensical_site
    shown, expected = report.outputs
    assert expected >= 10 and shown == expected
    assert all(p.built and p.tokens_left == 0 and p.marks_left == 0 for p in report.pages.values())
    assert report.stamps >= 1


def test_zensical_publishes_the_record_notebook_and_api_page(zensical_site, chapter):
    report, _ = zensical_site
    assert report.record_published
    assert report.notebooks_ok and report.notebooks == ["generated/compilers.ipynb"]
    mkdocs_api = (chapter / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert report.api_objects == len(re.findall(r'class="doc doc-object[ "]', mkdocs_api)) > 10
    assert report.search_index


def test_the_authors_site_is_left_untouched(zensical_site, chapter):
    _, before = zensical_site
    assert before and tree_digest(chapter / "site") == before
    assert (chapter / "site" / "d2l-record.json").is_file()  # still the MkDocs build
    leftovers = [p.name for p in [*chapter.glob(".d2l-zensical-*"), *(chapter / ".d2l").glob(".zensical-*")]]
    assert leftovers == []


def test_chinese_search_finds_words_inside_sentences(zensical_site, chapter):
    report, _ = zensical_site
    if report.chinese_search is None:
        if os.environ.get("CI"):
            raise AssertionError("CI has Chromium: the Zensical search must be measured")
        pytest.skip("no Chromium or Playwright: Chinese search under Zensical not measured")
    assert report.chinese_search == dict.fromkeys(QUERIES, True)
    # the measurement can say no: a word the book never uses is not found
    assert search_finds(chapter / SITE, ("量子纠缠",)) == {"量子纠缠": False}


def test_readme_says_what_this_build_measured(zensical_site):
    report, _ = zensical_site
    if report.chinese_search is None:
        pytest.skip("the README's search row needs Chromium to be reproduced")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert README_BEGIN in readme, "README.md lost its generated Zensical section"
    assert readme_section(report) in readme, (
        "README.md's Zensical section differs from this build: run "
        "`nox -s zensical -- --readme` and commit README.md")


@pytest.mark.parametrize("host_site", ["site", str(SITE)])
def test_no_engine_mark_reaches_any_published_page(zensical_site, chapter, host_site):
    pages = list((chapter / host_site).rglob("*.html"))
    assert len(pages) >= 5
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<!--\s*d2l:|\{\{\s*d2l:", text), page


def test_a_mark_is_dropped_above_a_fence_and_kept_as_code_inside_one():
    page = ("# T\n\n<!-- d2l: own-process -->\n```python\n--8<-- \"s.py:r\"\n```\n\n"
            "````markdown\n<!-- d2l: own-process -->\n```python\n````\n")
    rendered = render_page(page, None, page_file="docs/t.md", outputs=False)
    assert rendered.count("<!-- d2l: own-process -->") == 1  # the one shown as code
    assert rendered.index("<!-- d2l") > rendered.index("````markdown")


def test_a_record_that_changes_under_the_same_page_is_rendered_again(tmp_path):
    """Zensical caches pages; the variant config names the record's digest, so new outputs
    of an unchanged page and snippet are shown, never the cached old ones."""
    book = FixtureSite(tmp_path / "book")
    data = book.write("data.txt", "first-value\n")
    book.write("snippets/a.py", f"""\
        # --8<-- [start:r]
        print(open({str(data)!r}).read())
        # --8<-- [end:r]
        """)
    book.write("docs/index.md", '# T\n\n```python\n--8<-- "snippets/a.py:r"\n```\n')
    first = book.build("--host", "zensical")
    assert first.code == 0, first.stderr
    assert "first-value" in book.html()
    data.write_text("second-value\n", encoding="utf-8")
    again = book.build("--host", "zensical")
    assert again.code == 0, again.stderr
    assert "second-value" in book.html() and "first-value" not in book.html()
    assert (book.root / "site" / "d2l-record.json").is_file()


def test_a_config_zensical_cannot_read_fails_in_one_line_leaving_nothing(tmp_path):
    book = FixtureSite(tmp_path / "book")
    book.write("docs/index.md", "# T\n")
    config = book.root / "mkdocs.yml"
    config.write_text(config.read_text().replace("[!relative $config_dir]", "!relative"))
    result = book.build("--host", "zensical")
    assert result.code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "!relative" in result.stderr and "Traceback" not in result.stderr
    assert not (book.root / "site").exists()
    assert list(book.root.glob(".d2l-zensical-*")) == []


def _project(tmp_path: Path, config: str):
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")
    return find_project(str(tmp_path / "mkdocs.yml"))


def test_the_variant_config_resolves_tags_and_adds_the_extension(tmp_path):
    project = _project(tmp_path, "site_name: t\nsite_dir: elsewhere\nmarkdown_extensions:\n"
                       "  - pymdownx.snippets:\n      base_path: [!relative $docs_dir]\n")
    text = variant_config(project, project.state_dir / "out")
    assert text.startswith('site_dir: ".d2l/out"\n') and "elsewhere" not in text
    assert f'base_path: ["{(tmp_path / "docs").resolve()}"]' in text
    extensions = text.split("markdown_extensions:\n", 1)[1]
    assert extensions.startswith("  - d2l_compiler.engine.render.extension:")
    bare = _project(tmp_path, "site_name: t\n")
    assert "markdown_extensions:\n  - d2l_compiler.engine.render.extension" in variant_config(
        bare, bare.state_dir / "out")


def test_the_variant_config_follows_the_record(tmp_path):
    project = _project(tmp_path, "site_name: t\n")
    project.state_dir.mkdir()
    project.record_path.write_text("{}", encoding="utf-8")
    before = variant_config(project, project.state_dir / "out")
    project.record_path.write_text('{"pages": {}}', encoding="utf-8")
    assert variant_config(project, project.state_dir / "out") != before


@pytest.mark.parametrize("config", [
    "site_name: t\nmarkdown_extensions: [toc]\n",
    "site_name: t\nmarkdown_extensions:\n  - pymdownx.snippets:\n      base_path: [!relative]\n",
])
def test_a_config_the_variant_cannot_express_is_a_usage_error(tmp_path, config):
    project = _project(tmp_path, config)
    with pytest.raises(UsageError):
        variant_config(project, project.state_dir / "out")


def test_without_zensical_the_host_is_a_usage_error(monkeypatch):
    from d2l_compiler.engine import build as build_module

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "zensical" else real(name, *a))
    with pytest.raises(UsageError, match="pip install zensical"):
        build_module.site_builder("zensical")
