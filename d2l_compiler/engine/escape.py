"""Run data is data: make any text a region produced inert in every place it is shown.

Four sinks, four functions:

* :func:`visible` for text shown verbatim (code blocks, the terminal, logs): ANSI escape
  sequences are removed and every other control character (NUL included) is shown as a
  visible symbol, so nothing a region prints can move a cursor, recolour a terminal, or vanish;
* :func:`inline` for text placed into Markdown prose, tables and raw HTML: after ``visible``,
  every character Markdown or HTML gives a meaning to becomes a numeric character reference,
  so no emphasis, link, tag, table cell break or attribute can come out of run data;
* :func:`snippet_safe` for lines placed into the page before ``pymdownx.snippets`` runs: a line
  that reads as an include instruction gets the snippets escape (``;``), so output is never an
  instruction to a later Markdown stage;
* :func:`sanitised` for HTML a region produced (a value's ``_repr_html_``): only inert markup
  is kept, by nh3 (ammonia's allow-list), on one line.
"""

from __future__ import annotations

import re

import nh3

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), and two-character ESC sequences
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# characters with a meaning in Markdown inline syntax, HTML, tables or attr lists (`(` and `!`
# need no escape once `[` and `]` have one; `_` only at a word's edge, as Python-Markdown
# ignores it inside words)
_ACTIVE = re.compile(r"[&<>\[\]`*\\|{}~^]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# what pymdownx.snippets (10.x) reads as an instruction: its own two patterns, copied: a whole
# line `--8<-- "file"` or `--8<--` (an include), or `--8<-- [start:name]` anywhere (a marker it
# deletes). Both honour one leading `;` as an escape, which they remove.
_SNIPPET_LINE = re.compile(r"""^(?P<space>[ \t]*)(?P<escape>;*)(?:-{1,}8<-{1,}[ \t]+"""
                           r"""(?:"(?:\\"|[^"\n\r])+?"|'(?:\\'|[^'\n\r])+?')(?![ \t])"""
                           r"""|-{1,}8<-{1,}(?![ \t]))\r?$""")
_SNIPPET_SECTION = re.compile(r"(?i)(?<!;)(?!(?<=-)-);*-{1,}8<-{1,}[ \t]+\[[ \t]*(?:start|end)[ \t]*:"
                              r"[ \t]*[a-z][-_0-9a-z]*[ \t]*\]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x85\x0b\x0c]")


def _picture(match: re.Match) -> str:
    code = ord(match[0])
    if code < 0x20:
        return chr(0x2400 + code)  # U+2400 CONTROL PICTURE block: ␀ ␁ … ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\x{code:02x}"


def visible(text: str) -> str:
    """``text`` without ANSI sequences, with other controls shown as symbols; tabs and newlines kept."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates
    return _CONTROL.sub(_picture, _ANSI.sub("", text))


def inline(text: object) -> str:
    """``text`` as inert Markdown/HTML inline content: one line, no live markup of any kind."""
    flat = _LINE_BREAKS.sub(" ", str(text))
    return _ACTIVE.sub(lambda m: f"&#{ord(m[0])};", visible(flat))


def snippet_safe(line: str) -> str:
    """``line`` such that ``pymdownx.snippets`` shows it instead of acting on it."""
    whole = _SNIPPET_LINE.match(line)
    if whole:
        return line[:whole.end("space")] + ";" + line[whole.end("space"):]
    section = _SNIPPET_SECTION.search(line)
    if section:
        return line[:section.start()] + ";" + line[section.start():]
    return line


def terminal(text: str, width: int = 400) -> str:
    """``visible`` text with each line cut to ``width`` characters, for one-line reports."""
    return "\n".join(line if len(line) <= width else line[:width] + " …"
                     for line in visible(text).split("\n"))


# ammonia's inert tags, less those that would fetch something when a page is read (an image
# is a request to wherever a region pointed it) or link by an image map
_HTML_TAGS = frozenset(nh3.ALLOWED_TAGS) - {"img", "area", "map"}


def sanitised(html: str) -> str:
    """``html`` a region produced with only inert markup left (no script, style, event handler,
    form, frame or image; links get ``rel="noopener noreferrer"``), on one line (a newline
    becomes ``&#10;``, the same character to HTML), so a Markdown page keeps it as one block."""
    return snippet_safe(nh3.clean(html, tags=set(_HTML_TAGS)).replace("\r", "").replace("\n", "&#10;"))
