"""Turn a page's Markdown plus its recorded results into the Markdown MkDocs renders.

Pure functions over the record, no MkDocs import (the plugin is a thin adapter), so that the
site could move to another generator. Three things happen to a page:

* after each code fence that includes an executed region, its recorded output (and any
  warnings it raised) is inserted as a text block: fenced, hence HTML-escaped, with control
  characters made visible and lines that ``pymdownx.snippets`` would act on escaped;
  the n-th include of the page shows the n-th recorded run, so a region included twice
  shows each run's own output;
* ``{{ d2l:... }}`` tokens in prose are replaced: by a registered token's handler (see
  :mod:`.tokens`; the generic ones are in :mod:`.builtin`), or else by a recorded value,
  ``SECTION.name[.field] | FORMAT``; an unresolvable token is an error, never left as text;
* a provenance stamp goes under the page's first heading.

Every string that comes from a run (values, labels, warnings, provenance) passes through
:mod:`.escape` on its way into the page: it is shown, never interpreted.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import markdown as python_markdown

__all__ = ["LABELS", "Labels", "RenderError", "labels_for", "output_blocks", "refuse_stale",
           "render_page", "stamp"]

from d2l_compiler.engine.record.freshness import staleness
from d2l_compiler.engine.record.io import readable_span, readable_time
from d2l_compiler.engine.record.model import Display, PageEntry, Provenance, RegionEntry, RegionRun
from d2l_compiler.engine.record.whole import Record
from d2l_compiler.engine.escape import inline, sanitised, snippet_safe, visible
from d2l_compiler.engine.render.crossref import BookIndex, code_spans, in_code
from d2l_compiler.engine.render.installed import load_extensions
from d2l_compiler.engine.render.labels import LABELS, Labels, labels_for, ran_for
from d2l_compiler.engine.render.pictures import picture_link, served_as_file
from d2l_compiler.engine.render.tokens import Extensions, PageContext, RenderError, TokenCall
from d2l_compiler.engine.sources.discover import Include
from d2l_compiler.engine.sources.page import PageSyntaxError, parse_page
from d2l_compiler.engine.sources.project import Project

TOKEN = _TOKEN = re.compile(r"\{\{\s*d2l:(?P<body>.*?)\s*\}\}")
_HEADING = re.compile(r"^#\s+\S")
_MAX_FORMAT_NUMBER = 200  # widths and precisions in a token's format spec
_MAX_TOKEN_TEXT = 10_000  # characters one formatted value may produce


def stamp(provenance: Provenance, executed_at: str, labels: Labels = LABELS["en"],
          template: str | None = None, gpus_wanted: int = 0) -> str:
    """One line saying where and when a page's code ran (``template``: another wording of
    the line, e.g. ``labels.stamp_other``; ``gpus_wanted``: the GPUs the page would use,
    said when it ran where there were none)."""
    device = provenance.device or "?"
    hardware = provenance.gpu if device == "cuda" else provenance.cpu
    parts = [labels.device.format(device=labels.device_name(device))
             + (labels.hardware.format(hardware=hardware) if hardware else "")]
    if gpus_wanted and device != "cuda":
        parts.append(labels.gpus_unmet.format(gpus=gpus_wanted,
                                              plural="s" if gpus_wanted != 1 else ""))
    if provenance.torch is not None:
        parts.append(labels.torch.format(torch=provenance.torch, threads=provenance.threads
                                         if provenance.threads is not None else "?"))
    parts.extend(f"{label} {value}" for label, value in provenance.extensions.items())
    parts.append(labels.python.format(python=provenance.python or "?"))
    when = readable_time(executed_at)
    first = provenance.first_executed_at
    if first and first != executed_at:  # regions ran at other times
        when = readable_span(first, executed_at)
    parts.append(labels.when.format(when=when))
    reused = provenance.reused_regions
    if reused:
        parts.append(labels.reused.format(count=len(reused),
                                          names=", ".join(str(r) for r in reused[:8])
                                          + (" …" if len(reused) > 8 else "")))
    return inline((template or labels.stamp).format(parts=labels.separator.join(parts)))


def fence_for(text: str) -> str:
    """A backtick fence longer than any run of backticks in ``text`` (so it cannot close early)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def text_block(text: str, title: str, indent: str = "") -> list[str]:
    """``text`` as a fenced output block titled ``title``: control characters made visible,
    nothing in it read as Markdown, HTML or a snippet include."""
    text = visible(text)
    fence = fence_for(text)
    lines = [f'{indent}{fence} {{ .text .d2l-output title="{inline(title)}" }}']
    lines += [snippet_safe(f"{indent}{line}") if line else ""
              for line in text.rstrip("\n").split("\n")]
    return [*lines, f"{indent}{fence}"]


def output_blocks(run: RegionRun, indent: str = "", labels: Labels = LABELS["en"],
                  page: str | None = None) -> list[str]:
    """The Markdown shown under an executed region's code: its output and its warnings. Its
    pictures link to their files from ``page`` (docs-relative; None: the pictures inline)."""
    lines: list[str] = []
    if run.stdout:
        title = labels.output.format(time=ran_for(run.duration, labels))
        lines += ["", *text_block(run.stdout, title, indent)]
    if run.stray:
        lines += ["", *text_block(run.stray, labels.stray, indent)]
    if run.raised:
        lines += ["", *text_block(run.raised, labels.raised, indent)]
    if run.warnings:
        text = "\n".join(f"{w.category}: {w.message}" for w in run.warnings)
        lines += ["", *text_block(text, labels.warnings, indent)]
    for shown in run.displays:
        lines += ["", indent + display_html(shown, page)]
    return lines


def display_html(shown: Display, page: str | None = None) -> str:
    """What a region showed (a picture, HTML, Markdown) as one line of the page: a picture
    as an image linking to its file from ``page`` (docs-relative), or inline if None."""
    if page is not None and served_as_file(shown):
        try:
            return f"![{inline(shown.alt)}]({picture_link(shown, page)})"
        except ValueError:  # a record edited by hand: no file was written for it
            return picture_html(Display(shown.mime, "", shown.alt))
    if shown.mime.startswith("image/"):
        return picture_html(shown)
    return f'<div class="d2l-html">{rich_html(shown)}</div>'


def rich_html(shown: Display) -> str:
    """A value's HTML or Markdown as sanitised HTML on one line (see ``escape.sanitised``)."""
    text = shown.data
    if shown.mime == "text/markdown":
        text = python_markdown.markdown(text, extensions=["tables", "fenced_code"])
    return sanitised(text)


def picture_html(picture: Display) -> str:
    """A figure as an ``<img>`` whose source is the picture itself (a data URL): an image is
    never a document, so nothing in an SVG a region drew can run on the site."""
    data = (base64.b64encode(picture.data.encode("utf-8")).decode("ascii")
            if picture.mime == "image/svg+xml" else picture.data)
    if not _BASE64.fullmatch(data):  # a record edited by hand: never an attribute's end
        data = ""
    return (f'<figure class="d2l-figure"><img alt="{html.escape(visible(picture.alt), quote=True)}" '
            f'src="data:{picture.mime};base64,{data}" style="max-width:100%;height:auto"></figure>')


_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _other_devices(record: Record | None, entry: PageEntry | None) -> tuple[PageEntry, ...]:
    """The results from other devices of the page whose main results are ``entry``."""
    if record is None or entry is None:
        return ()
    name = next((page for page, found in record.pages.items() if found is entry), None)
    return tuple(record.devices(name)[1:]) if name is not None else ()


def _by_section(entries: tuple[RegionEntry, ...]) -> dict[str, RegionRun | list[str]]:
    """Section name -> its run; a name two executed includes share maps to their ids."""
    regions: dict[str, list[RegionEntry]] = {}
    for entry in entries:
        if entry.run is not None:
            regions.setdefault(entry.section, []).append(entry)
    return {name: found[0].run if len(found) == 1 else [e.id for e in found]
            for name, found in regions.items()}


def _format(value: Any, fmt: str, ref: str) -> str:
    if any(int(n) > _MAX_FORMAT_NUMBER for n in re.findall(r"\d+", fmt)):
        raise RenderError(f"format {fmt!r} of {ref!r} asks for more than {_MAX_FORMAT_NUMBER} "
                          "characters or digits")
    try:
        text = format(value, fmt)
    except (ValueError, TypeError) as exc:
        raise RenderError(f"cannot format {ref!r} with {fmt!r}: {exc}") from None
    if len(text) > _MAX_TOKEN_TEXT:
        raise RenderError(f"{ref!r} is {len(text)} characters long; a value cited in prose "
                          f"is at most {_MAX_TOKEN_TEXT}")
    return inline(text)


def _replace_token(body: str, page: PageContext, extensions: Extensions) -> str:
    words = body.split()
    if not words:
        raise RenderError("an empty {{ d2l: }} token")
    handler = extensions.tokens.get(words[0])
    if handler is not None:
        return handler(TokenCall(words, body, page))
    ref, _, fmt = body.partition("|")
    value = page.lookup(ref.strip())
    if isinstance(value, Mapping | list):
        raise RenderError(f"token {ref.strip()!r} is a structure, not a value; name a field")
    return _format(value, fmt.strip(), ref.strip())


def _tokens_replaced(line: str, page: PageContext, extensions: Extensions) -> str:
    """``line`` with its tokens replaced, except those inside code spans (shown as code)."""
    spans = code_spans(line)
    return _TOKEN.sub(lambda m: m[0] if in_code(m.start(), spans) else
                      _replace_token(m["body"], page, extensions), line)


def _included_outputs(fence_includes, runs, page_file: str, labels: Labels,
                      outdated: frozenset[int] = frozenset(), page: str | None = None) -> list[str]:
    """The output blocks for the includes of one fence, consuming their recorded runs
    (``runs`` yields (n, entry): n counts the executed includes; those in ``outdated`` are
    marked as such)."""
    lines: list[str] = []
    for ref in fence_includes:
        n, region = next(runs, (None, None))
        if region is None or region.target != ref.target:
            raise RenderError(f"the record has no run for include {ref.target!r} at this "
                              "place: rebuild", page_file, ref.line)
        if region.run is not None:
            if n in outdated:
                lines += ["", f'{ref.indent}<p class="d2l-outdated">{inline(labels.outdated)}</p>']
            lines += output_blocks(region.run, ref.indent, labels, page)
    return lines


def _numbered(entries) -> Iterator[tuple[int | None, Any]]:
    n = 0
    for entry in entries:
        yield (n if entry.executed else None), entry
        n += entry.executed


def render_page(markdown: str, entry: PageEntry | None, record: Record | None = None,
                root: Path | None = None,
                page_file: str = "page", outputs: bool = True,
                extensions: Extensions | None = None, labels: Labels = LABELS["en"],
                outdated: frozenset[int] = frozenset(), page_name: str | None = None,
                book: BookIndex | None = None) -> str:
    """The page with outputs, values and stamp filled in from its record ``entry``.

    ``record`` (the whole build record) is needed only by ``{{ d2l:report }}`` and provenance
    lines; ``root`` (the project root) only by ``{{ d2l:dataflow }}``, which reads source code.
    ``page_file`` names the page in errors (``page_file:line: ...``). With ``outputs=False``
    (a prose fragment, as the notebook renders) no outputs are placed. The outputs of the
    executed includes numbered in ``outdated`` (0 = the first) are marked as outdated (the
    live preview, while they run again). ``page_name`` (docs-relative; default: ``page_file``)
    is where references link from; ``book`` holds the labels of the whole book (default: this
    page's own, numbered without the page's front matter).
    """
    page_name = page_file if page_name is None else page_name
    if book is None:
        book = BookIndex.of_pages({page_name: markdown}, "")
    try:
        parsed = parse_page(markdown, page_file)
    except PageSyntaxError as exc:
        raise RenderError(exc.reason, exc.page_file, exc.line) from None
    entries = entry.regions if entry is not None else ()
    executed = entry is not None and bool(entry.executed)
    others = tuple((other, _by_section(other.regions)) for other in _other_devices(record, entry))
    page_stamp = " ".join([stamp(entry.provenance, entry.executed_at, labels,
                                 gpus_wanted=entry.gpus_wanted)] + [
        stamp(other.provenance, other.executed_at, labels, labels.stamp_other)
        for other, _ in others]) if executed else ""
    page = PageContext(_by_section(entries), entry, record, root, page_stamp, labels.language,
                       others, page_name, book)
    extensions = extensions or load_extensions()
    runs = _numbered(entries)
    fence_end = {f.end: f for f in parsed.fences}
    fenced, marks = parsed.fenced_lines(), parsed.mark_lines()
    out: list[str] = []
    # a page that places the stamp itself ({{ d2l:stamp }}) gets it there, not twice
    writes_stamp = any(match["body"].split()[:1] == ["stamp"]
                       for number, line in enumerate(parsed.lines, 1) if number not in fenced
                       for match in _TOKEN.finditer(line))
    stamped = not executed or writes_stamp
    for number, line in enumerate(parsed.lines, 1):
        if number in marks:  # for the engine, not the reader: no host publishes it
            line = ""
        elif number not in fenced:
            try:
                line = _tokens_replaced(line, page, extensions)
            except RenderError as exc:
                raise exc.at(page_file, number) from None
        out.append(line)
        if outputs and number in fence_end:
            out += _included_outputs(fence_end[number].includes, runs, page_file, labels,
                                     outdated, page_name)
        if not stamped and _HEADING.match(line):
            out += ["", f'<p class="d2l-stamp">{page_stamp}</p>', ""]
            stamped = True
    if outputs and next(runs, None) is not None:
        raise RenderError("the record has more runs than the page has includes: rebuild", page_file)
    return "\n".join(out)


def refuse_stale(project: Project, includes: list[Include], record: Record, page: str,
                 page_file: str) -> None:
    """``RenderError`` (placed in ``page_file``) unless every device's results for ``page``
    are fresh for ``includes``: the one rule every host renders by (the MkDocs plugin and
    the Markdown extension), ``check``'s rule without the environment (a site may be built
    in another shell than the regions ran in)."""
    entry = record.pages.get(page)
    for results in record.devices(page):  # every device's results shown
        problems = staleness(project, includes, results, environment=False)
        if problems:
            where = "" if results is entry else f" ({results.inputs.device})"
            raise RenderError(f"stale results{where}: {'; '.join(problems)}", page_file)
