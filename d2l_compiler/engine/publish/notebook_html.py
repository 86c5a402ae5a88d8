"""The HTML mkdocs-jupyter makes of a notebook, made to read like the site's other pages.

mkdocs-jupyter (nbconvert's lab template) inlines about 590 KB of JupyterLab styles and a
clipboard, MathJax and Mermaid script (MathJax's and Mermaid's from a CDN) into every
notebook page; its headings get ids from a slug that drops Chinese (``id=""``: dead
table-of-contents links); its code blocks are not ones the theme's copy button knows. Here,
without importing MkDocs:

- :func:`trimmed` drops the inlined styles and scripts and the duplicate copy text, and
  writes code cells as the theme writes code (``<div class="highlight"><pre><code>``), so
  the site's stylesheet, copy button and colours apply;
- :func:`with_site_anchors` gives every heading the id the site's own ``toc`` slugify gives
  (unique on the page) and returns the headings, :func:`toc_tokens` the table of contents;
- :func:`title_first` moves the notebook's title above its setup cell, with the links
  (:func:`notebook_links`) under it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from markdown.extensions.toc import nest_toc_tokens, unique

_DROPPED = re.compile(
    r"<style\b[^>]*>.*?</style>|<script\b[^>]*>.*?</script>|<!--.*?-->"
    r'|<div class="zeroclipboard-container">.*?</clipboard-copy>\s*</div>'
    r'|<div class="clipboard-copy-txt"[^>]*>.*?</div>', re.S)
# a code cell's input, and a fenced block in a Markdown cell (no language class there)
_CODE = re.compile(r'<div class="(?:highlight-ipynb hl-(?P<lang>[\w+-]+)|highlight)">'
                   r'<pre>(?P<body>(?!<code\b).*?)</pre></div>', re.S)
_HEADING = re.compile(r'<h(?P<level>[1-6])(?P<attrs>[^>]*)>(?P<inner>.*?)</h(?P=level)>', re.S)
_ANCHOR = re.compile(r'<a class="anchor-link"[^>]*>.*?</a>', re.S)
_ID = re.compile(r'\s+id="[^"]*"')
_TAG = re.compile(r"<[^>]+>")


def trimmed(content: str) -> str:
    """``content`` without the inlined styles, scripts and copy-text duplicates, its code
    blocks marked up as the theme's."""
    content = _DROPPED.sub("", content)
    def themed(match: re.Match) -> str:
        language = f'language-{match["lang"]} ' if match["lang"] else ""
        return f'<div class="{language}highlight"><pre><code>{match["body"]}</code></pre></div>'
    return _CODE.sub(themed, content)


@dataclass(frozen=True)
class TocEntry:
    """One heading of the page (its name HTML-escaped)."""

    level: int
    id: str
    name: str


def toc_tokens(entries: list[TocEntry]) -> list[dict]:
    """The headings nested as Python-Markdown's toc nests them: the tokens MkDocs'
    ``get_toc`` takes."""
    return nest_toc_tokens([{"level": e.level, "id": e.id, "name": e.name} for e in entries])


_SECTION_NUMBER = re.compile(r'<span class="d2l-section-number">[^<]*</span>\s*')


def with_site_anchors(content: str, slugify: Callable[[str, str], str],
                      link_title: str) -> tuple[str, list[TocEntry]]:
    """Every heading's id from ``slugify(text, "-")`` (made unique as Python-Markdown's toc
    does: ``x``, ``x_1``, …), its permalink as the site's; the nested table of contents."""
    used: set[str] = set()
    flat: list[TocEntry] = []

    def fix(match: re.Match) -> str:
        inner = _ANCHOR.sub("", match["inner"])
        text = html.unescape(_TAG.sub("", inner)).strip()
        # a section's number is not part of its anchor, on the page as here
        named = html.unescape(_TAG.sub("", _SECTION_NUMBER.sub("", inner))).strip()
        base = slugify(named, "-") or f"h{match['level']}"
        anchor = unique(base, used)
        flat.append(TocEntry(int(match["level"]), anchor, html.escape(text)))
        attrs = _ID.sub("", match["attrs"])
        return (f'<h{match["level"]}{attrs} id="{anchor}">{inner}<a class="headerlink" '
                f'href="#{anchor}" title="{html.escape(link_title)}">&para;</a></h{match["level"]}>')

    return _HEADING.sub(fix, content), flat


def title_first(content: str, after_title: str = "") -> str:
    """The first ``<h1>`` moved to the top (a notebook opens with its setup cell, the page
    with its title), followed by ``after_title``."""
    found = re.search(r"<h1\b.*?</h1>", content, re.S)
    if found is None:
        return after_title + content
    return found[0] + after_title + content[:found.start()] + content[found.end():]


def notebook_links(download: str, download_label: str, colab: str | None = None,
                   colab_label: str = "", note: str = "") -> str:
    """The links under a page's title: download the ``.ipynb`` (and open it in Colab);
    ``note`` (HTML) before them."""
    links = [f'<a class="md-button" href="{html.escape(download)}" download>'
             f"{html.escape(download_label)}</a>"]
    if colab is not None:
        links.append(f'<a class="md-button" href="{html.escape(colab)}" rel="noopener">'
                     f"{html.escape(colab_label)}</a>")
    lead = f"<p>{note}</p>" if note else ""
    return f'<div class="d2l-notebook-links">{lead}<p>{" ".join(links)}</p></div>'


def colab_url(repo_url: str | None, branch: str | None, path: str) -> str | None:
    """Colab's address for the notebook at ``path`` on ``branch`` of a GitHub repository;
    None unless both are set and the repository is on github.com."""
    if not repo_url or not branch:
        return None
    found = re.fullmatch(r"https?://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", repo_url)
    if found is None:
        return None
    return (f"https://colab.research.google.com/github/{found[1]}/{found[2]}/blob/"
            f"{branch}/{path}")
