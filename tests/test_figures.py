"""Pictures a region produces, shown as a notebook shows them (issue 24, item 2): matplotlib
figures it leaves open, and a trailing expression whose value draws itself. Kept in the
record, shown under the code as images, embedded in the notebook, and never live markup.
Real builds of fixture books."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser

import pytest

pytest.importorskip("matplotlib")

PLOT = ("import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3], [1, 4, 9])\n"
        "plt.title('squares')\n"
        "print('drawn')")
HOSTILE = ("class Drawing:\n"
           "    def _repr_svg_(self):\n"
           "        return ('<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\">'\n"
           "                '<script>alert(2)</script><text id=\"inj\">x</text></svg>')\n"
           "Drawing()")


def _page(site, code: str) -> None:
    site.write("snippets/s.py", f"# --8<-- [start:r]\n{code}\n# --8<-- [end:r]\n")
    site.write("docs/index.md", '# T\n\n```python\n--8<-- "snippets/s.py:r"\n```\n\nAfter.\n')


def _images(html: str) -> list[tuple[str, str, str]]:
    """(alt, type, base64 data) of each picture shown inline (a data URL)."""
    return re.findall(r'<img alt="([^"]*)" src="data:(image/[a-z+]+);base64,([A-Za-z0-9+/=]+)" ',
                      html)


_SUFFIXES = {".svg": "image/svg+xml", ".png": "image/png"}


def _pictures(site) -> list[tuple[str, str, str]]:
    """(alt, type, base64 data) of each picture the built page links to: a file of the site
    named by its content."""
    found = []
    for alt, src in re.findall(r'<img alt="([^"]*)" src="([^"]+)" />', site.html()):
        assert re.fullmatch(r"generated/pictures/[0-9a-f]{24}\.(svg|png)", src), src
        data = (site.root / "site" / src).read_bytes()
        assert hashlib.sha256(data).hexdigest()[:24] == src.split("/")[-1].split(".")[0]
        found.append((alt, _SUFFIXES[src[-4:]], base64.b64encode(data).decode("ascii")))
    return found


def test_a_figure_left_open_is_shown_under_the_code_and_kept_in_the_record(site):
    _page(site, PLOT)
    result = site.build()
    assert result.code == 0, result.stderr
    [(alt, mime, data)] = _pictures(site)
    assert (alt, mime) == ("squares", "image/svg+xml")
    svg = base64.b64decode(data).decode("utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg
    run = site.record()["pages"]["index.md"]["regions"][0]["run"]
    assert run["stdout"] == "drawn\n" and [d["mime"] for d in run["displays"]] == ["image/svg+xml"]
    book = json.loads((site.root / "docs" / "generated" / "index.ipynb").read_text())
    [cell] = [c for c in book["cells"] if c["cell_type"] == "code" and c["outputs"]]
    assert [o["output_type"] for o in cell["outputs"]] == ["stream", "display_data"]
    assert "".join(cell["outputs"][1]["data"]["image/svg+xml"]) == svg
    # the same figure drawn again is the same picture: a forced build shows the same run
    again = site.build("--force")
    assert again.code == 0 and _pictures(site)[0][2] == data


def test_a_figure_edit_runs_again_and_a_closed_figure_shows_nothing(site):
    _page(site, PLOT)
    assert site.build().code == 0
    _page(site, PLOT.replace("[1, 4, 9]", "[1, 8, 27]").replace("squares", "cubes"))
    assert site.build().code == 0
    assert [alt for alt, _, _ in _pictures(site)] == ["cubes"]
    # the squares' picture is gone from the docs and the site: no page shows it any more
    assert len(list((site.root / "docs" / "generated" / "pictures").iterdir())) == 1
    _page(site, PLOT + "\nplt.close('all')")
    assert site.build().code == 0 and _pictures(site) == []


def test_a_drawing_value_is_shown_as_an_image_and_nothing_it_holds_runs(site):
    _page(site, HOSTILE)
    result = site.build()
    assert result.code == 0, result.stderr
    html = site.html()
    # an SVG that could run when opened by itself is no file of the site: it stays inline
    assert _pictures(site) == [] and not (site.root / "site" / "generated" / "pictures").exists()
    [(alt, mime, data)] = _images(html)
    assert (alt, mime) == ("Drawing", "image/svg+xml")
    live = _Live()
    live.feed(html)
    assert live.found == []  # no element of the SVG became one of the page's
    assert "alert(2)" in base64.b64decode(data).decode("utf-8")  # only inside the image


class _Live(HTMLParser):
    """Elements of the page that carry what the drawing held: a script running alert, an
    element with its id, an onload handler."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_script = tag == "script"
        if dict(attrs).get("id") == "inj" or any(name == "onload" for name, _ in attrs):
            self.found.append(tag)

    def handle_data(self, data: str) -> None:
        if self._in_script and "alert(" in data:
            self.found.append("script")


def test_a_figure_reaches_the_notebook_page_of_a_host_without_mkdocs_jupyter(site):
    """Without mkdocs-jupyter the engine writes the notebook's page itself: its figures are
    there as on the chapter's page (not an empty block)."""
    _page(site, PLOT)
    assert site.build().code == 0
    page = (site.root / "docs" / "generated" / "index.md").read_text(encoding="utf-8")
    [(alt, mime, _)] = _images(page)
    assert (alt, mime) == ("squares", "image/svg+xml")


def test_a_trailing_value_naming_a_memory_address_is_not_shown(site):
    """``plt.plot(...)`` returns ``[<Line2D object at 0x7f…>]``: text that differs on every
    run, so it is not shown (the figure is)."""
    _page(site, "import matplotlib.pyplot as plt\nplt.plot([1, 2])")
    assert site.build().code == 0
    run = site.record()["pages"]["index.md"]["regions"][0]["run"]
    assert run["stdout"] == "" and len(run["displays"]) == 1
    again = site.build("--force")
    assert again.code == 0


RICH = ("class Table:\n"
        "    def _repr_html_(self):\n"
        "        return ('<table><tr><th>day</th><td>21.5</td></tr></table>'\n"
        "                '<script>alert(3)</script><img src=\"http://tracker.invalid/p.png\">'\n"
        "                '<a href=\"javascript:alert(4)\" onclick=\"alert(5)\">link</a>'\n"
        "                '<p style=\"x\" id=\"inj\">two\\nlines</p>')\n"
        "class Note:\n"
        "    def _repr_markdown_(self):\n"
        "        return '**bold** and <script>alert(6)</script> [x](javascript:alert(7))'\n"
        "display(Table(), 'plain', Note())\n"
        "print('between')\n"
        "Note()")


def test_html_and_markdown_values_are_shown_sanitised_in_order(site):
    """``display()`` as in a notebook, and a trailing value's ``_repr_html_`` or
    ``_repr_markdown_``: shown under the code in the order shown, with nothing that runs,
    fetches or styles (the record keeps what the value wrote; every place that shows it
    sanitises it)."""
    _page(site, RICH)
    result = site.build()
    assert result.code == 0, result.stderr
    run = site.record()["pages"]["index.md"]["regions"][0]["run"]
    assert run["stdout"] == "'plain'\nbetween\n"  # a value with no rich form: its repr
    assert [d["mime"] for d in run["displays"]] == ["text/html", "text/markdown", "text/markdown"]
    html = site.html()
    blocks = re.findall(r'<div class="d2l-html">(.*?)</div>', html)
    assert len(blocks) == 3
    assert "<table><tbody><tr><th>day</th><td>21.5</td></tr></tbody></table>" in blocks[0]
    assert "<strong>bold</strong>" in blocks[1] and blocks[1] == blocks[2]
    assert "two\nlines" in blocks[0] or "two&#10;lines" in blocks[0]
    for block in blocks:
        assert not re.search(r"<script|<img|javascript:|onclick|style=|id=\"inj\"", block), block
    live = _Live()
    live.feed(html)
    assert live.found == []
    book = json.loads((site.root / "docs" / "generated" / "index.ipynb").read_text())
    [cell] = [c for c in book["cells"] if c["cell_type"] == "code" and c["outputs"]]
    shown = ["".join(o["data"]["text/html"]) for o in cell["outputs"]
             if o["output_type"] == "display_data"]
    assert len(shown) == 3 and "<strong>bold</strong>" in shown[1]
    assert not any("<script" in text or "javascript:" in text for text in shown)
    page = (site.root / "docs" / "generated" / "index.md").read_text(encoding="utf-8")
    written = re.findall(r'<div class="d2l-html">(.*?)</div>', page)
    assert len(written) == 3 and not any("<script" in text for text in written)


_SVG = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">{}</svg>'


@pytest.mark.parametrize(("inner", "inert"), [
    ('<path d="M0 0L1 1" clip-path="url(#p1)"/><use xlink:href="#m1"/>', True),
    ('<image xlink:href="data:image/png;base64,AAAA"/>', True),
    ("<script>alert(1)</script>", False),
    ('<rect onclick="alert(1)"/>', False),
    ("<foreignObject><div>x</div></foreignObject>", False),
    ('<a xlink:href="javascript:alert(1)"><text>x</text></a>', False),
    ('<set attributeName="href" to="javascript:alert(1)"/>', False),
    ('<image href="http://tracker.invalid/p.png"/>', False),
    ("<style>@import url(http://tracker.invalid/a.css);</style>", False),
    ('<rect style="fill: url(http://tracker.invalid/x)"/>', False),
    # what a hostile reviewer got past an earlier deny-list: each fetched or redirected
    ('<rect style="fill:u&#114;l(https://evil.invalid/p2)"/>', False),
    ('<rect mask="u&#x72;l(https://evil.invalid/p)"/>', False),
    ("<style>rect{fill:\\75 rl(https://evil.invalid/p3)}</style>", False),
    ('<h:img xmlns:h="http://www.w3.org/1999/xhtml" src="https://evil.invalid/p4.png"/>', False),
    ('<h:meta xmlns:h="http://www.w3.org/1999/xhtml" http-equiv="refresh" content="0;x"/>', False),
    ("<feImage/>", False),
    ('<metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
     'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:type rdf:resource="http://purl.org/x"/>'
     "</rdf:RDF></metadata>", True),
])
def test_only_an_inert_svg_is_served_as_a_file(inner, inert):
    """A picture file is opened by itself on the site's origin: only an SVG with nothing to
    run or fetch may be one (matplotlib's are); any other stays an inline image."""
    from d2l_compiler.engine.record.model import Display
    from d2l_compiler.engine.render.pictures import served_as_file
    assert served_as_file(Display("image/svg+xml", _SVG.format(inner))) is inert
    entity = '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "b">]>' + _SVG.format("&a;")
    assert not served_as_file(Display("image/svg+xml", entity))
    styled = ('<?xml version="1.0"?><?xml-stylesheet type="text/css" href="https://evil.invalid/'
              'p1.css"?>' + _SVG.format(""))
    assert not served_as_file(Display("image/svg+xml", styled))
    assert served_as_file(Display("image/svg+xml", '<?xml version="1.0"?>' + _SVG.format("")))


def test_a_png_value_is_served_as_a_file_named_by_its_content(site):
    _page(site, "class Dot:\n    def _repr_png_(self):\n        return b'\\x89PNG\\r\\n\\x1a\\nfake'\nDot()")
    assert site.build().code == 0
    [(alt, mime, data)] = _pictures(site)
    assert (alt, mime) == ("Dot", "image/png")
    assert base64.b64decode(data) == b"\x89PNG\r\n\x1a\nfake"


def test_what_a_value_shows_is_never_a_token_on_any_page(site):
    """A value's Markdown holding ``{{ d2l:stamp }}`` or a reference: text on the page, in the
    notebook and on the notebook's page (the engine's pages are rendered once, not again)."""
    _page(site, "class Note:\n    def _repr_markdown_(self):\n"
                "        return 'see {{ d2l:stamp }} and {{ d2l:ref nowhere }}'\nNote()")
    result = site.build()
    assert result.code == 0, result.stderr
    for html in (site.html(), site.html("generated")):
        [block] = re.findall(r'<div class="d2l-html">(.*?)</div>', html)
        assert "{{ d2l:stamp }}" in block and "{{ d2l:ref nowhere }}" in block
