"""A site page's Markdown as a notebook renders it: the site's block extensions rewritten
into what every notebook front end (JupyterLab, Colab, nbconvert) shows.

Admonitions (``!!! note "T"``) become block quotes with a bold title; collapsible ones
(``??? note "T"``, ``???+``) become ``<details>`` with a ``<summary>``, their body still
Markdown (a blank line after an HTML block's first line hands it back to Markdown in
CommonMark; ``markdown="1"`` does the same for the site's ``md_in_html``). Anything else
passes through unchanged.
"""

from __future__ import annotations

import html
import re

from d2l_compiler.engine.sources.page import parse_page

_OPENER = re.compile(r'^(?P<indent> *)(?P<mark>!!!|\?\?\?\+?)[ \t]+(?P<kind>[\w-]+)'
                     r'(?:[ \t]+"(?P<title>[^"]*)")?[ \t]*$')


def _body(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    """The lines of a block opened at ``start - 1`` (indented past ``indent``), dedented
    by four spaces, and the index of the first line after it."""
    body, at = [], start
    while at < len(lines):
        line = lines[at]
        if line.strip() and len(line) - len(line.lstrip(" ")) < indent + 4:
            break
        body.append(line[indent + 4:] if line.strip() else "")
        at += 1
    while body and not body[-1]:
        body.pop()
    return body, at


def notebook_flavoured(markdown: str) -> str:
    """``markdown`` with the site's admonitions and collapsible notes written as plain
    Markdown and HTML, recursively (a note inside a note too)."""
    parsed = parse_page(markdown, "notebook")  # the engine's own reading of code fences
    lines, fenced = list(parsed.lines), parsed.fenced_lines()  # code: never rewritten
    out: list[str] = []
    at = 0
    while at < len(lines):
        found = None if at + 1 in fenced else _OPENER.match(lines[at])
        if found is None:
            out.append(lines[at])
            at += 1
            continue
        indent = len(found["indent"])
        title = found["title"] if found["title"] is not None else found["kind"].capitalize()
        body, at = _body(lines, at + 1, indent)
        inner = notebook_flavoured("\n".join(body)).split("\n")
        pad = " " * indent
        if found["mark"] == "!!!":
            quoted = [f"**{title}**", "", *inner] if title else inner
            out += [f"{pad}> {line}".rstrip() for line in quoted] + [""]
        else:
            opened = " open" if found["mark"].endswith("+") else ""
            # markdown="1": the site's own Markdown (md_in_html) reads the body as Markdown too
            out += [f'{pad}<details markdown="1"{opened}><summary>{html.escape(title)}</summary>',
                    "", *[f"{pad}{line}" if line else "" for line in inner], "",
                    f"{pad}</details>", ""]
    return "\n".join(out)
