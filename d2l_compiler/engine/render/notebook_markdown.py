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


def _extent(lines: list[str], start: int, indent: int) -> tuple[int, int]:
    """Where a block opened at ``start - 1`` (an admonition, a tab: its lines indented past
    ``indent``, blank ones included) ends: the index after its last non-blank line, and the
    index of the first line after it."""
    after = start
    while after < len(lines) and (not lines[after].strip()
                                  or len(lines[after]) - len(lines[after].lstrip(" ")) >= indent + 4):
        after += 1
    end = after
    while end > start and not lines[end - 1].strip():
        end -= 1
    return end, after


def _body(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    """The lines of a block opened at ``start - 1`` (indented past ``indent``), dedented
    by four spaces, and the index of the first line after it."""
    end, after = _extent(lines, start, indent)
    return [line[indent + 4:] if line.strip() else "" for line in lines[start:end]], after


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


_TAB = re.compile(r'^(?P<indent> *)===(?P<flags>[!+]{0,2})[ \t]+"(?P<title>[^"]*)"[ \t]*$')


def one_tab_each(lines: list[str], fenced: set[int], keep: str | None = None
                 ) -> tuple[set[int], dict[int, int]]:
    """Content tabs (``=== "PyTorch"``, pymdownx.tabbed) as a notebook shows them: one
    framework's content. Of each group of tabs the one titled ``keep`` (else the first) is
    kept, its body dedented; the others, headers included, are left out. Returns the
    1-based numbers of the lines to leave out, and how many spaces to remove from each kept
    body line. Code inside fences is never read as a tab."""
    skip: set[int] = set()
    dedent: dict[int, int] = {}
    number = 1
    while number <= len(lines):
        found = None if number in fenced else _TAB.match(lines[number - 1])
        if found is None:
            number += 1
            continue
        indent = len(found["indent"])
        group: list[tuple[str, int, range]] = []  # title, header line, body lines
        while found is not None and len(found["indent"]) == indent and (
                not group or "!" not in found["flags"]):
            end, _ = _extent(lines, number, indent)  # the body: 0-based from the next line
            group.append((found["title"], number, range(number + 1, end + 1)))
            number = end + 1
            while number <= len(lines) and not lines[number - 1].strip():
                number += 1
            found = (None if number > len(lines) or number in fenced
                     else _TAB.match(lines[number - 1]))
        titles = [title for title, _, _ in group]
        kept = titles.index(keep) if keep in titles else 0
        for position, (_, header, body) in enumerate(group):
            skip.add(header)
            if position == kept:
                dedent.update({line: indent + 4 for line in body})
            else:
                skip.update(body)
    return skip, dedent

