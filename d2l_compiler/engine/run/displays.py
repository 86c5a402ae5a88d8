"""What a region shows besides its text, as a notebook would: the matplotlib figures it left
open (then closed, so the next region starts without them), and the values it shows (its
trailing expression's, and each passed to ``display()``) that show themselves
(``_repr_png_``, ``_repr_svg_``, then ``_repr_html_``, ``_repr_markdown_``). Runs in the page
process; matplotlib is looked at only if a region imported it.

Figures are written as SVG with a fixed id salt and no date, so a figure drawn twice from the
same data is the same text (a region re-run to rebuild state must show the same)."""

from __future__ import annotations

import base64
import io
import sys
from typing import Any

from d2l_compiler.engine.record.model import Display

MAX_DISPLAY_BYTES = 2 * 1024 * 1024  # one picture; a bigger one is left out, said in its alt
MAX_DISPLAYS = 20  # pictures one region keeps (the first ones)
_SALT = "d2l"


def open_figures() -> list[Display]:
    """The figures left open (in the order they were made), each closed once kept."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return []
    found = []
    for number in pyplot.get_fignums():
        figure = pyplot.figure(number)
        if len(found) == MAX_DISPLAYS:  # the rest: closed undrawn, and said so
            found.append(Display("image/svg+xml", _LEFT_OUT, "figures left out: at most "
                                 f"{MAX_DISPLAYS} are kept"))
        if len(found) > MAX_DISPLAYS:
            pyplot.close(figure)
            continue
        buffer = io.StringIO()
        with pyplot.rc_context({"svg.hashsalt": _SALT}):
            figure.savefig(buffer, format="svg", metadata={"Date": None})
        found.append(_bounded(Display("image/svg+xml", buffer.getvalue(), _title(figure))))
        pyplot.close(figure)
    return found


def _title(figure: Any) -> str:
    titles = [figure._suptitle.get_text()] if getattr(figure, "_suptitle", None) else []
    titles += [axes.get_title() for axes in figure.get_axes() if axes.get_title()]
    return "; ".join(titles)[:200] or "figure"


def drawn(value: Any) -> Display | None:
    """``value``'s own picture (PNG preferred, as notebooks do), or None if it draws none."""
    for method, mime in (("_repr_png_", "image/png"), ("_repr_svg_", "image/svg+xml")):
        draw = getattr(type(value), method, None)
        if draw is None:
            continue
        data = draw(value)
        if isinstance(data, bytes) and mime == "image/png":
            return _bounded(Display(mime, base64.b64encode(data).decode("ascii"), type(value).__name__))
        if isinstance(data, str) and mime == "image/svg+xml":
            return _bounded(Display(mime, data, type(value).__name__))
    return None


def shown_by(value: Any) -> Display | None:
    """What ``value`` shows of itself: its picture, else its HTML or Markdown (kept as it wrote
    them: the page sanitises them), else None (its text is its repr)."""
    picture = drawn(value)
    if picture is not None:
        return picture
    for method, mime in (("_repr_html_", "text/html"), ("_repr_markdown_", "text/markdown")):
        write = getattr(type(value), method, None)
        data = write(value) if write is not None else None
        if isinstance(data, tuple) and data:  # (data, metadata), as IPython allows
            data = data[0]
        if isinstance(data, str):
            return _bounded(Display(mime, data, type(value).__name__))
    return None


class Displayed:
    """``display()`` for a region's code (a builtin, as in a notebook; IPython's own, if the
    region imports it, takes its place): each value shown is kept, in order, for the record."""

    def __init__(self) -> None:
        self.kept: list[Display] = []

    def display(self, *values: Any) -> None:
        """Show each of ``values`` under the region: its picture, HTML or Markdown, else its
        repr, printed."""
        for value in values:
            found = shown_by(value)
            if found is None:
                print(repr(value))
            elif len(self.kept) <= MAX_DISPLAYS:
                self.kept.append(found)

    def taken(self) -> list[Display]:
        """What was shown since the last call, emptied."""
        kept, self.kept = self.kept, []
        return kept


def _bounded(display: Display) -> Display:
    if len(display.data) <= MAX_DISPLAY_BYTES:
        return display
    return Display("image/svg+xml", _TOO_BIG, f"{display.alt} (left out: over 2 MiB)")


def _note(text: str) -> str:
    """A small picture that says, in ``text``, why a picture is missing."""
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="240" height="24"><text x="4" y="16">'
            f'{text}</text></svg>')


_LEFT_OUT = _note("more figures: left out")
_TOO_BIG = _note("picture over 2 MiB: left out")
