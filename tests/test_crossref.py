"""Numbered figures and tables, labelled sections, references across the book (issue 24,
item 9: d2l's ``:label:``/``:numref:`` in this project's syntax). Units on the index, then
real builds: the strict build resolves every reference, and one that names no label fails
at its page and line."""

from __future__ import annotations

import json
import re

import pytest

from d2l_compiler.engine.errors import RenderError
from d2l_compiler.engine.render.crossref import BookIndex
from d2l_compiler.engine.render.labels import LABELS
from d2l_compiler.engine.render.markdown import render_page

CHAPTER = """---
title: kept by MkDocs
number: 3.2
---

# Chapter

## Hybrid {#sec-hybrid}

![x](x.png)

{{ d2l:figure fig-one The *first* figure }}

```python
{{ d2l:figure fig-in-a-fence not a caption: code }}
```

{{ d2l:table tab-one A table }}

| a |
|---|

    {{ d2l:figure fig-two Indented, in an admonition's body }}
"""


def _index(pages: dict[str, str]) -> BookIndex:
    return BookIndex.of_pages(pages)


def test_numbers_follow_the_page_order_per_kind_with_the_pages_number():
    targets = _index({"c.md": CHAPTER}).targets
    assert {label: (t.kind, t.number) for label, t in targets.items()} == {
        "sec-hybrid": ("section", "3.2.1"), "fig-one": ("figure", "3.2.1"),
        "tab-one": ("table", "3.2.1"), "fig-two": ("figure", "3.2.2")}
    # errors and targets name the file's own lines (front matter counted)
    assert targets["fig-one"].line == CHAPTER.split("\n").index(
        "{{ d2l:figure fig-one The *first* figure }}") + 1
    unnumbered = _index({"c.md": CHAPTER.split("---\n", 2)[2]}).targets
    assert unnumbered["fig-two"].number == "2" and unnumbered["sec-hybrid"].number == ""


def test_references_link_across_pages_and_read_as_the_language_says():
    pages = {"part/c.md": CHAPTER,
             "other/d.md": "# D\n\nSee {{ d2l:ref fig-two }}, {{ d2l:ref tab-one }} and "
                           "{{ d2l:ref sec-hybrid }}; here {{ d2l:ref fig-here }}.\n\n"
                           "{{ d2l:figure fig-here Here }}\n"}
    book = _index(pages)
    text = render_page(pages["other/d.md"], None, page_name="other/d.md", book=book,
                       labels=LABELS["zh"])
    assert ("See [图 3.2.2](../part/c.md#fig-two), [表 3.2.1](../part/c.md#tab-one) and "
            "[第 3.2.1 节](../part/c.md#sec-hybrid); here [图 1](#fig-here).") in text
    assert ('<span class="d2l-caption d2l-figure-caption" id="fig-here">'
            '<span class="d2l-caption-number">图 1</span> Here</span>') in text
    english = render_page(pages["other/d.md"], None, page_name="other/d.md", book=book)
    assert "[Figure 3.2.2](../part/c.md#fig-two)" in english
    assert '[Section 3.2.1](../part/c.md#sec-hybrid)' in english
    untitled = render_page("# U\n\n## Plain {#sec-plain}\n\n{{ d2l:ref sec-plain }}\n", None)
    assert "[section “Plain”](#sec-plain)" in untitled  # a page without a number: the title
    shown = render_page(CHAPTER.split("---\n", 2)[2], None, page_name="part/c.md", book=book)
    assert "<em>first</em> figure</span>" in shown  # the caption's Markdown is rendered
    assert "{{ d2l:figure fig-in-a-fence" in shown  # a fence shows code, never a caption


@pytest.mark.parametrize(("page", "said", "line"), [
    ("# p\n\n{{ d2l:ref fig-on }}\n\n{{ d2l:figure fig-one x }}\n",
     "no figure, table or section in the book is labelled 'fig-on'; did you mean 'fig-one'?", 3),
    ("# p\n\n{{ d2l:figure fig-a x }}\n\n{{ d2l:table fig-a y }}\n",
     "the label 'fig-a' is given twice (first at page.md:3)", 5),
    ("# p\n\n{{ d2l:figure 1fig x }}\n", "'1fig' is not a label", 3),
    ("# p\n\n{{ d2l:figure fig-a }}\n", "a caption reads {{ d2l:figure LABEL caption text }}", 3),
    ("# p\n\n{{ d2l:ref }}\n", "'ref' reads {{ d2l:ref LABEL }}", 3),
])
def test_a_bad_label_or_reference_fails_at_its_line(page, said, line):
    with pytest.raises(RenderError) as caught:
        render_page(page, None, page_file="page.md")
    assert said in caught.value.reason and caught.value.line == line, caught.value


def test_a_caption_placed_by_a_stale_index_is_refused():
    book = _index({"a.md": "# a\n\n{{ d2l:figure fig-x x }}\n"})
    with pytest.raises(RenderError, match="'fig-x' labels a caption on a.md; a label names one place"):
        render_page("# b\n\n{{ d2l:figure fig-x x }}\n", None, page_name="b.md", book=book)


def _book(site) -> None:
    site.write("snippets/a.py", "# --8<-- [start:r]\nprint('ran')\n# --8<-- [end:r]\n")
    site.write("docs/index.md", """\
        ---
        number: 1
        ---

        # One

        ```python
        --8<-- "snippets/a.py:r"
        ```

        {{ d2l:figure fig-out The output above }}

        ## Later {#sec-later}

        See {{ d2l:ref tab-two }} on the other page.
        """)
    site.write("docs/two/index.md", """\
        # Two

        {{ d2l:table tab-two Numbers }}

        | n |
        |---|
        | 1 |

        Back to {{ d2l:ref fig-out }} and {{ d2l:ref sec-later }}.
        """)


def test_a_real_build_resolves_references_in_pages_and_notebook(site):
    _book(site)
    result = site.build()
    assert result.code == 0, result.stderr
    one, two = site.html(), site.html("two")
    assert re.search(r'<a href="two/#tab-two">表 1</a>', one), one
    assert re.search(r'<a href="\.\./#fig-out">图 1\.1</a>', two), two
    assert '<a href="../#sec-later">第 1.1 节</a>' in two
    assert 'id="sec-later"' in one and 'id="fig-out"' in one and 'id="tab-two"' in two
    notebook = json.loads((site.root / "docs/generated/index.ipynb").read_text())
    text = "".join("".join(cell["source"]) for cell in notebook["cells"])
    assert "图 1.1</span> The output above" in text and "number: 1" not in text


def test_a_dangling_reference_fails_the_build_at_its_line(site):
    _book(site)
    page = site.root / "docs/two/index.md"
    page.write_text(page.read_text().replace("ref fig-out", "ref fig-gone"))
    result = site.build()
    assert result.code != 0
    assert "docs/two/index.md:9" in result.stderr and "'fig-gone'" in result.stderr, result.stderr
    assert not (site.root / "site").exists()


def test_a_section_label_without_attr_list_is_an_error(site):
    _book(site)
    config = site.root / "mkdocs.yml"
    config.write_text(config.read_text().replace("  - attr_list\n", ""))
    result = site.build()
    assert result.code != 0
    assert "docs/index.md:13" in result.stderr and "attr_list" in result.stderr, result.stderr


def test_a_numbered_page_numbers_its_headings_and_references_cite_the_numbers(site):
    """``number: 1`` numbers the title (1), sections (1.1) and subsections (1.1.1), as d2l
    does; anchors stay as they were, and a reference to a section prints its number."""
    _book(site)
    page = site.root / "docs/index.md"
    page.write_text(page.read_text().replace("## Later {#sec-later}",
                                             "## First\n\n### Inner\n\n## Later {#sec-later}"))
    result = site.build()
    assert result.code == 0, result.stderr
    one, two = site.html(), site.html("two")
    shown = re.findall(r'<h(\d) id="([^"]+)"><span class="d2l-section-number">([\d.]+)</span> (\w+)',
                       one)
    assert shown == [("1", "one", "1", "One"), ("2", "first", "1.1", "First"),
                     ("3", "inner", "1.1.1", "Inner"), ("2", "sec-later", "1.2", "Later")], one
    assert '<a href="../#sec-later">第 1.2 节</a>' in two
    assert "d2l-section-number" not in two  # a page without a number: nothing numbered


def test_a_section_the_index_cannot_see_fails_instead_of_citing_a_wrong_number(site):
    """A heading underlined with dashes is a heading to the page but not a '#' line to the
    index: the labelled section after it would be cited by the wrong number, so the page
    fails."""
    _book(site)
    page = site.root / "docs/index.md"
    page.write_text(page.read_text().replace("## Later {#sec-later}",
                                             "Hidden\n------\n\n## Later {#sec-later}"))
    result = site.build()
    assert result.code != 0
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: docs/index.md:16: the section labelled 'sec-later' is numbered "
                           "1.2 here but 1.1"), result.stderr


@pytest.mark.parametrize(("hidden", "said"), [
    ("<!--\n## Old {#sec-later}\n-->", "the heading labelled 'sec-later' is no heading of the page"),
    ("<div>\n## In html {#sec-later}\n</div>", "the heading labelled 'sec-later' is no heading"),
])
def test_a_label_the_page_does_not_show_as_a_heading_fails(site, hidden, said):
    """A '#' line inside an HTML comment or block is in the index but no heading of the
    page: a reference to it would lead nowhere."""
    _book(site)
    page = site.root / "docs/index.md"
    page.write_text(page.read_text().replace("## Later {#sec-later}", hidden))
    result = site.build()
    assert result.code != 0 and said in result.stderr, result.stderr
    assert "docs/index.md:1" in result.stderr  # at the heading's line (13 or 14)


def test_a_caption_label_that_is_also_a_headings_anchor_fails(site):
    _book(site)
    page = site.root / "docs/index.md"
    page.write_text(page.read_text().replace("## Later {#sec-later}", "## Later {#sec-later}\n\n"
                                             "## Results\n\n{{ d2l:table results Numbers }}"))
    result = site.build()
    assert result.code != 0
    assert "the label 'results' is also the anchor of a <h2>" in result.stderr, result.stderr


def test_code_spans_show_tokens_as_written_and_captions_hold_no_token():
    page = ("# p\n\nWrite `{{ d2l:figure fig-x caption }}` for a caption.\n\n"
            "{{ d2l:figure fig-real Real }}\n")
    shown = render_page(page, None)
    assert "`{{ d2l:figure fig-x caption }}`" in shown  # code, not a caption
    assert '<span class="d2l-caption-number">Figure 1</span> Real' in shown  # not counted
    with pytest.raises(RenderError, match="a caption cannot hold another"):
        render_page("# p\n\n{{ d2l:figure f See {{ d2l:ref f }} here }}\n", None)


def test_a_title_with_a_bracket_still_links_and_a_caption_typesets_its_formula():
    page = ("# p\n\n## A ] bracket {#brk}\n\nSee {{ d2l:ref brk }}.\n\n"
            "{{ d2l:figure f The curve $y = x^2$ }}\n")
    shown = render_page(page, None)
    assert "[section “A &#93; bracket”](#brk)" in shown
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in shown


def test_the_notebook_numbers_its_headings_as_the_page_does(site):
    _book(site)
    assert site.build().code == 0
    notebook = json.loads((site.root / "docs/generated/index.ipynb").read_text())
    text = "".join("".join(cell["source"]) for cell in notebook["cells"])
    assert '# <span class="d2l-section-number">1</span> One' in text
    assert '## <span class="d2l-section-number">1.1</span> Later <a id="sec-later"></a>' in text
    assert "{#sec-later}" not in text
