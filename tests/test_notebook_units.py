"""The notebook's Markdown, first cell and site page, in isolation (no build)."""

from __future__ import annotations

import json
import os

import pytest

from conftest import page_inputs, provenance
from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.publish.notebook_html import (colab_url, notebook_links, title_first,
                                                       toc_tokens, trimmed, with_site_anchors)
from d2l_compiler.engine.record.model import PageEntry
from d2l_compiler.engine.render.notebook_markdown import notebook_flavoured
from d2l_compiler.engine.render.notebook_setup import NotebookSetup, setup_source
from d2l_compiler.engine.sources.project import Project


def test_admonitions_become_what_a_notebook_renders():
    page = ('a\n!!! warning "Old <API>"\n    one\n\n    two\n'
            '??? note "How"\n    x\n    !!! tip\n        inner\nafter')
    assert notebook_flavoured(page).split("\n") == [
        "a", "> **Old <API>**", ">", "> one", ">", "> two", "",
        '<details markdown="1"><summary>How</summary>', "", "x", "> **Tip**", ">", "> inner",
        "", "", "</details>", "", "after"]
    assert notebook_flavoured('???+ note\n    open').startswith('<details markdown="1" open>')
    plain = "no notes here\n    indented code\n!!!not an opener"
    assert notebook_flavoured(plain) == plain


def _entry(packages: dict, files: dict) -> PageEntry:
    return PageEntry(key="k", inputs=page_inputs({"packages": packages, "files": files}),
                     provenance=provenance(),
                     executed_at="", duration=0.0, peak_mb=0.0, regions=())


def test_the_setup_pins_imports_extras_and_the_project():
    setup = NotebookSetup({"numpy": "2.4.6", "torch": "9.9"}, "book@https://x.org/packages/b.whl")
    entry = _entry({"torch": ["torch==2.13.0+cpu"], "yaml": ["PyYAML==6.0.2"]},
                   {"book/helpers.py": "sha"})
    # a local build label names no published release; the code's own import wins over an extra
    assert setup.requirements(entry) == ["numpy==2.4.6", "PyYAML==6.0.2", "torch==2.13.0",
                                         "book@https://x.org/packages/b.whl"]
    assert setup.requirements(_entry({}, {})) == ["numpy==2.4.6", "torch==9.9"]  # no project module
    source = setup_source(["torch==2.13.0", "book@https://x.org/b.whl"], "install first")
    # no quotes (one word in any shell); the project installed again, whatever pip holds
    assert source == ("# install first\n%pip install torch==2.13.0 book@https://x.org/b.whl\n"
                      "%pip install --no-deps --force-reinstall book@https://x.org/b.whl\n")


def test_notebook_html_is_trimmed_and_anchored_as_the_site():
    html = ('<style>.jp{}</style><script src="https://cdn/mathjax.js"></script>'
            '<div class="zeroclipboard-container"><clipboard-copy>c</clipboard-copy>\n</div>'
            '<div class="highlight-ipynb hl-python"><pre><span>x</span></pre></div>'
            '<div class="clipboard-copy-txt" id="cell-1">x</div>'
            '<div class="highlight"><pre><span>md</span></pre></div>'
            '<div class="highlight"><pre><code>kept</code></pre></div>'
            '<h2 id="">命令式 <code>编程</code><a class="anchor-link" href="#">¶</a></h2>'
            '<h3 id="">命令式 编程</h3><h2 id="x">命令式 <code>编程</code></h2><h1>T</h1>')
    out = trimmed(html)
    assert "<style" not in out and "<script" not in out and "clipboard" not in out
    assert '<div class="language-python highlight"><pre><code><span>x</span></code></pre></div>' in out
    assert '<div class="highlight"><pre><code><span>md</span></code></pre></div>' in out
    assert '<pre><code>kept</code></pre>' in out and "<code><code>" not in out
    out, headings = with_site_anchors(out, lambda text, sep: text.replace(" ", sep), "link")
    toc = toc_tokens(headings)
    assert 'id="命令式-编程"' in out and 'id="命令式-编程_1"' in out and 'id="命令式-编程_2"' in out
    assert "anchor-link" not in out and out.count('class="headerlink"') == 4
    assert "<code>编程</code>" in out  # inline code stays in the heading
    assert [(e["level"], e["id"], [c["id"] for c in e["children"]]) for e in toc] == [
        (2, "命令式-编程", ["命令式-编程_1"]), (2, "命令式-编程_2", []), (1, "T", [])]
    # the same ids as Python-Markdown's toc gives, never one twice
    import markdown
    from markdown.extensions.toc import TocExtension

    headings = "## A\n\n## A\n\n## A_1\n\n## A\n"
    converter = markdown.Markdown(extensions=[TocExtension()])
    converter.convert(headings)
    site_ids = [t["id"] for t in converter.toc_tokens]
    ours = with_site_anchors("<h2>A</h2><h2>A</h2><h2>A_1</h2><h2>A</h2>",
                             lambda text, sep: text.lower(), "l")[1]
    assert [e.id for e in ours] == site_ids == ["a", "a_1", "a_2", "a_3"]
    first = title_first("<p>setup</p><h1 id=t>T</h1><p>body</p>", "<nav>links</nav>")
    assert first == "<h1 id=t>T</h1><nav>links</nav><p>setup</p><p>body</p>"


def test_links_and_colab_only_for_a_github_repository_and_branch():
    assert colab_url("https://github.com/o/r", "notebooks", "generated/p.ipynb") == (
        "https://colab.research.google.com/github/o/r/blob/notebooks/generated/p.ipynb")
    assert colab_url("https://github.com/o/r.git/", "nb", "a.ipynb").endswith("/o/r/blob/nb/a.ipynb")
    assert colab_url(None, "notebooks", "p.ipynb") is None
    assert colab_url("https://github.com/o/r", None, "p.ipynb") is None
    assert colab_url("https://gitlab.com/o/r", "notebooks", "p.ipynb") is None
    bar = notebook_links("p.ipynb", "Download <it>", None)
    assert 'href="p.ipynb" download' in bar and "Download &lt;it&gt;" in bar and "colab" not in bar


def test_site_and_repository_addresses_read_as_mkdocs_reads_them(tmp_path, monkeypatch):
    config = tmp_path / "mkdocs.yml"
    config.write_text('site_url: !ENV [D2L_X_SITE, "http://127.0.0.1:8000"]\n'
                      "repo_url: !ENV D2L_X_REPO\nplugins:\n  - mkdocs-jupyter\n  - d2l\n")
    monkeypatch.delenv("D2L_X_SITE", raising=False)
    monkeypatch.delenv("D2L_X_REPO", raising=False)
    project = Project(config)
    assert project.site_url == "http://127.0.0.1:8000/" and project.repo_url is None
    assert project.jupyter_pages
    monkeypatch.setenv("D2L_X_SITE", "https://book.example/sub")
    monkeypatch.setenv("D2L_X_REPO", "https://github.com/o/r/")
    project = Project(config)
    assert project.site_url == "https://book.example/sub/" and project.repo_url == "https://github.com/o/r"
    config.write_text("site_url: ftp://nope\n")
    with pytest.raises(UsageError, match="site_url must be an http"):
        Project(config).site_url  # noqa: B018
    for unsafe in ("https://x.org/{__import__('os')}", "https://x.org/$HOME", "https://x.org/a b",
                   "https://x.org/'q'"):
        config.write_text(f"repo_url: {json.dumps(unsafe)}\n")
        with pytest.raises(UsageError, match="%-encoded"):
            Project(config).repo_url  # noqa: B018
    assert os.environ.get("D2L_X_SITE") == "https://book.example/sub"


def test_an_environment_tag_reads_as_mkdocs_reads_it(tmp_path, monkeypatch):
    import yaml
    from yaml_env_tag import add_env_tag

    from d2l_compiler.engine.sources.project import TolerantLoader

    text = ("a: !ENV [D2L_X_ONE, D2L_X_TWO, fallback]\nb: !ENV D2L_X_ONE\nc: !ENV [D2L_X_ONE]\n"
            "d: !ENV [D2L_X_TWO, 3]\n")
    for values in ({}, {"D2L_X_ONE": ""}, {"D2L_X_TWO": "7"}, {"D2L_X_ONE": "x", "D2L_X_TWO": "y"},
                   {"D2L_X_ONE": "true"}):
        for name in ("D2L_X_ONE", "D2L_X_TWO"):
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        mkdocs = yaml.load(text, Loader=add_env_tag(type("L", (yaml.SafeLoader,), {})))
        assert yaml.load(text, Loader=TolerantLoader) == mkdocs, values


@pytest.mark.parametrize("branch", ["main", "gh-pages", "-x", "a b"])
def test_the_colab_branch_is_never_one_holding_the_sources(tmp_path, branch):
    config = tmp_path / "mkdocs.yml"
    config.write_text(f"plugins:\n  - d2l:\n      colab_branch: {json.dumps(branch)}\n")
    with pytest.raises(UsageError, match="branch of its own"):
        Project(config).settings  # noqa: B018
    config.write_text("plugins:\n  - d2l:\n      colab_branch: notebooks\n")
    assert Project(config).settings.colab_branch == "notebooks"
