"""Formulas typeset when the site is built: no script, no font and no request when a page is read.

A Python-Markdown extension: ``pymdownx.arithmatex`` finds the formulas (``$...$``,
``\\(...\\)``, ``$$...$$``, ``\\[...\\]``, ``\\begin{align}...``, with its escapes and smart
dollars) and this module writes each as MathML, which every current browser draws by itself
(MathML Core). Use it instead of ``pymdownx.arithmatex``, with the same options::

    markdown_extensions:
      - d2l_compiler.engine.render.math

A formula the converter cannot read fails the build, naming the formula. The MathML is
parsed before it is published: only MathML elements, so a formula's ``\\text{...}`` is text,
never markup.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ElementTree
from typing import Any

import markdown
from latex2mathml.converter import convert
from pymdownx.arithmatex import ArithmatexExtension, BlockArithmatexProcessor, InlineArithmatexPattern

from d2l_compiler.engine.errors import RenderError

_MATHML = "{http://www.w3.org/1998/Math/MathML}"
# what a formula may make: MathML's presentation elements and their layout attributes (no
# link, no style, no event handler: a formula is drawn, it does nothing)
_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup munder mover munderover mfrac msqrt "
    "mroot mstyle merror mpadded mphantom mtable mtr mtd mlabeledtr mmultiscripts mprescripts "
    "none semantics annotation menclose mfenced".split())
_ATTRIBUTES = frozenset(
    "display mathvariant stretchy fence separator form largeop movablelimits accent accentunder "
    "lspace rspace minsize maxsize symmetric mathsize mathcolor mathbackground displaystyle "
    "scriptlevel linethickness columnalign columnlines columnspacing columnspan rowalign rowlines "
    "rowspacing rowspan frame framespacing width height depth voffset notation align "
    "encoding linebreak".split())
_COLOURS = frozenset({"mathcolor", "mathbackground"})
_COLOUR = re.compile(r"#?[A-Za-z0-9]{1,32}")
_COMMAND = re.compile(r"\\[A-Za-z]+")
# a token element's text (a self-closing one, ``<mi />``, has none)
_TEXT = re.compile(r"(<(mtext|mi|mn|mo|ms)(?:\s[^>]*?)?(?<!/)>)(.*?)(</\2>)", re.DOTALL)


class FormulaError(RenderError):
    """A formula that cannot be typeset; ``tex`` is the formula (a host that knows the page
    places the error with :func:`formula_line`)."""

    def __init__(self, reason: str, tex: str) -> None:
        super().__init__(reason)
        self.tex = tex


def formula_line(markdown: str, tex: str) -> int | None:
    """The line (1-based) of ``markdown`` where the formula ``tex`` starts: written between
    its delimiters (``$tex$``, ``\\(tex\\)``, ``$$tex$$``, ``\\[tex\\]``), else anywhere;
    None if it is not found."""
    for opening, closing in (("$$", "$$"), ("\\[", "\\]"), ("$", "$"), ("\\(", "\\)")):
        found = markdown.find(opening + tex + closing)
        if found >= 0:
            start = found + len(opening) + len(tex) - len(tex.lstrip())
            return markdown.count("\n", 0, start) + 1
    first = next((line.strip() for line in tex.split("\n") if line.strip()), "")
    return next((number for number, line in enumerate(markdown.split("\n"), 1)
                 if first and first in line), None)


def mathml(tex: str, display: bool) -> str:
    """``tex`` as MathML (``display``: a block of its own); ``FormulaError`` if it cannot be."""
    # the converter lays out ``split`` as LaTeX lays out ``aligned`` (right, then left) but
    # reads ``aligned`` as plain text: one name for the same layout
    written_tex = tex.replace("\\begin{aligned}", "\\begin{split}").replace(
        "\\end{aligned}", "\\end{split}")
    try:
        written = convert(written_tex, display="block" if display else "inline")
    except Exception as exc:  # noqa: BLE001 - the converter raises many kinds, all one failure
        raise FormulaError(f"cannot typeset the formula {tex.strip()!r}: "
                           f"{str(exc) or type(exc).__name__}", tex) from None
    # the converter copies the text of \text{...} as it is: make it text
    written = _TEXT.sub(lambda m: m[1] + html.escape(html.unescape(m[3]), quote=False) + m[4],
                        written)
    try:
        tree = ElementTree.fromstring(written)
    except ElementTree.ParseError as exc:
        raise FormulaError(f"the formula {tex.strip()!r} does not make MathML: {exc}",
                           tex) from None
    stray = sorted({el.tag.removeprefix(_MATHML) for el in tree.iter()
                    if not el.tag.startswith(_MATHML) or el.tag[len(_MATHML):] not in _ELEMENTS}
                   | {name for el in tree.iter() for name in el.attrib if name not in _ATTRIBUTES})
    if stray:
        raise FormulaError(f"the formula {tex.strip()!r} makes what a page does not publish: "
                           f"{', '.join(stray)}", tex)
    for element in tree.iter():
        if element.tag in (_MATHML + "mi", _MATHML + "mo") and _COMMAND.fullmatch(element.text or ""):
            raise FormulaError(f"the formula {tex.strip()!r} uses {element.text}, a command the "
                               "typesetter does not know (a typo?)", tex)
        if element.tag == _MATHML + "mi" and element.text == "&":
            raise FormulaError(f"the formula {tex.strip()!r} aligns with & outside an "
                               "environment the typesetter lays out (align, aligned, split, "
                               "array, matrix, cases)", tex)
        if any(name in _COLOURS and not _COLOUR.fullmatch(value)
               for name, value in element.attrib.items()):
            raise FormulaError(f"the formula {tex.strip()!r} names a colour that is not one "
                               "(a name or #hex)", tex)
    return written


class _Inline(InlineArithmatexPattern):
    def __init__(self, pattern: str, config: dict[str, Any], md: markdown.Markdown) -> None:
        super().__init__(pattern, config)
        self.md = md

    def handleMatch(self, m: re.Match, data: str) -> tuple[Any, int, int]:  # noqa: N802
        found, start, end = super().handleMatch(m, data)
        if isinstance(found, str):  # an escaped dollar or backslash: arithmatex's text
            return found, start, end
        groups = m.groups()  # (escapes, opening, formula) for each syntax allowed, in turn
        tex = groups[2] or (groups[5] if len(groups) > 5 else "")
        return self.md.htmlStash.store(mathml(tex, display=False)), start, end


class _Block(BlockArithmatexProcessor):
    def __init__(self, pattern: str, config: dict[str, Any], md: markdown.Markdown) -> None:
        super().__init__(pattern, config, md)
        self.md = md

    def run(self, parent: ElementTree.Element, blocks: list[str]) -> bool:
        blocks.pop(0)
        groups = self.match.groupdict()
        # math2: a whole \begin{env} ... \end{env}, the environment included
        tex = groups.get("math") or groups.get("math2") or groups.get("math3") or ""
        block = ElementTree.SubElement(parent, "div", {"class": "d2l-math"})
        block.text = self.md.htmlStash.store(mathml(tex, display=True))
        return True


class MathExtension(ArithmatexExtension):
    """``pymdownx.arithmatex``'s syntax, typeset as MathML at build time."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - Markdown's API
        """Register arithmatex, then put the MathML writers in its place."""
        super().extendMarkdown(md)
        config = self.getConfigs()
        if "arithmatex-inline" in md.inlinePatterns:
            found = md.inlinePatterns["arithmatex-inline"]
            inline = _Inline(found.pattern, config, md)
            md.inlinePatterns.register(inline, "arithmatex-inline", 189.9)
        if "arithmatex-block" in md.parser.blockprocessors:
            found = md.parser.blockprocessors["arithmatex-block"]
            md.parser.blockprocessors.register(_Block(found.pattern.pattern, config, md),
                                               "arithmatex-block", 79.9)


def makeExtension(**kwargs: Any) -> MathExtension:  # noqa: N802 - Markdown's entry point
    """Python-Markdown's hook for ``markdown_extensions: [d2l_compiler.engine.render.math]``."""
    return MathExtension(**kwargs)
