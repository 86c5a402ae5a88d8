"""Zensical as a second host (``build --host zensical``): the chapter built there shows what
the MkDocs site shows, publishes the same downloads, never touches the author's ``site/``,
and the README's paragraph on it is this build's measurement."""

from __future__ import annotations

import importlib.util
import os
import re

import pytest

from benchmarks.zensical import (QUERIES, README_BEGIN, SITE, build, measure, readme_section,
                                 search_finds, tree_digest)
from conftest import ROOT

if importlib.util.find_spec("zensical") is None:
    if os.environ.get("CI"):
        raise RuntimeError("Zensical is not installed: CI must check the Zensical build "
                           "(it is in the docs extra)")
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
