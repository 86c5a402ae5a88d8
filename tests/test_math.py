"""Formulas typeset when the site is built (issue 24, item 9: math without any external
request): MathML in the page, no script or font to fetch; a formula that cannot be typeset
fails the build at its page and line; a formula makes MathML and nothing else."""

from __future__ import annotations

import re

import markdown
import pytest

from d2l_compiler.engine.render.math import FormulaError, formula_line, mathml

PAGE = r"""# Means

The mean is $\bar{x} = \frac{1}{n}\sum_i x_i$; a price is \$5, and \(a<b\) holds.

$$
\sigma^2 = \frac{1}{n}\sum_{i=1}^{n} (x_i - \bar{x})^2
$$

Code keeps its dollars: `$x$`.
"""


def _html(text: str) -> str:
    return markdown.markdown(text, extensions=["d2l_compiler.engine.render.math"])


def test_inline_and_display_formulas_become_mathml():
    html = _html(PAGE)
    inline = re.findall(r'<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">', html)
    assert len(inline) == 2
    assert '<div class="d2l-math"><math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in html
    assert "<mfrac>" in html and "<msup><mi>σ</mi><mn>2</mn></msup>" in html
    assert "a price is $5" in html and "<code>$x$</code>" in html  # escapes and code kept


@pytest.mark.parametrize(("tex", "said"), [
    (r"\href{javascript:alert(1)}{x}", "href"),
    (r"\text{a</mtext><script>alert(1)</script><mtext>}", "script"),
    (r"\frac{1}{", "cannot typeset"),
    (r"\alpah + \betta", "uses \\alpah, a command the typesetter does not know"),
    (r"\color{url(https://evil.invalid/x)}{y}", "names a colour that is not one"),
])
def test_a_formula_that_would_publish_markup_or_cannot_be_read_is_refused(tex, said):
    with pytest.raises(FormulaError, match=re.escape(said)):
        mathml(tex, display=False)


def test_text_in_a_formula_stays_text():
    written = mathml(r"\text{<b>bold</b> & <i>}", display=False)
    assert "<mtext>&lt;b&gt;bold&lt;/b&gt;\xa0&amp;\xa0&lt;i&gt;</mtext>" in written


def test_aligned_equations_are_typeset():
    assert "<mtable" in mathml("\\begin{aligned} a &= b \\\\ c &= d \\end{aligned}", display=True)


def test_the_line_of_a_formula_is_found_in_its_page():
    page = "A $x_1, \\dots$ b\n\nBroken: $x_$ here.\n"
    assert formula_line(page, "x_") == 3  # between its dollars, not inside an earlier one
    assert formula_line(PAGE, "\n\\sigma^2 = \\frac{1}{n}\\sum_{i=1}^{n} (x_i - \\bar{x})^2\n") == 6
    assert formula_line(PAGE, "not there") is None


def _book(site, formula: str) -> None:
    config = site.root / "mkdocs.yml"
    config.write_text(config.read_text().replace(
        "markdown_extensions:\n", "markdown_extensions:\n  - d2l_compiler.engine.render.math\n"))
    site.write("docs/index.md", f"---\ntitle: Means\n---\n\n# Means\n\nBelow.\n\n$$\n{formula}\n$$\n")


def test_a_real_build_publishes_mathml_and_nothing_to_fetch(site):
    _book(site, r"\bar{x} = \frac{1}{n}\sum_i x_i")
    result = site.build()
    assert result.code == 0, result.stderr
    html = site.html()
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in html
    assert not re.search(r"mathjax|katex|polyfill|cdn\.", html, re.IGNORECASE)


def test_a_formula_that_cannot_be_typeset_fails_the_build_at_its_line(site):
    _book(site, r"\frac{1}{")
    result = site.build()
    assert result.code != 0
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: docs/index.md:10: cannot typeset the formula"), result.stderr
    assert not (site.root / "site").exists()
