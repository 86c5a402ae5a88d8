"""Turn a page's Markdown plus its recorded results into the Markdown MkDocs renders.

Pure functions over the record, no MkDocs import (the hook is a thin adapter), so that the
site could move to another generator. Three things happen to a page:

* after each code fence that includes an executed region, its recorded output (and any
  warnings it raised) is inserted as a text block: fenced, hence HTML-escaped, with control
  characters made visible and lines that ``pymdownx.snippets`` would act on escaped;
  the n-th include of the page shows the n-th recorded run, so a region included twice
  shows each run's own output;
* ``{{ d2l:... }}`` tokens in prose are replaced by recorded values or sentences built from
  them: ``SECTION.name[.field] | FORMAT``, ``compare A B``, ``claim A VERB B | text``,
  ``stamp``, ``report``, ``dataflow FILE:SECTION FUNCTION``, and ``paths_table``,
  ``paths_files``, ``paths_summary`` (VALUE BATCH), ``paths_chart``, ``paths_provenance``
  (VALUE); an unknown or unresolvable token is an error, never left as text;
* a provenance stamp goes under the page's first heading.

Every string that comes from a run (values, labels, warnings, provenance) passes through
:mod:`.escape` on its way into the page: it is shown, never interpreted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from d2l_compiler.claims import compare
from d2l_compiler.chapter import tables
from d2l_compiler.engine.render.dataflow import DataflowError, dataflow_mermaid
from d2l_compiler.engine.sources.discover import read_region
from d2l_compiler.engine.errors import BuildError
from d2l_compiler.engine.render.escape import inline, snippet_safe, visible
from d2l_compiler.engine.sources.page import PageSyntaxError, parse_page
from d2l_compiler.engine.render.report import report_markdown

_TOKEN = re.compile(r"\{\{\s*d2l:(?P<body>.*?)\s*\}\}")
_HEADING = re.compile(r"^#\s+\S")
_MAX_FORMAT_NUMBER = 200  # widths and precisions in a token's format spec
_MAX_TOKEN_TEXT = 10_000  # characters one formatted value may produce


class RenderError(ValueError):
    """The page cannot be rendered honestly from the record (missing, stale, unknown token)."""


def stamp(provenance: Mapping[str, Any], executed_at: str) -> str:
    """One line saying where and when a page's code ran."""
    device = provenance.get("device", "?")
    hardware = provenance.get("gpu") if device == "cuda" else provenance.get("cpu")
    parts = [f"设备 {device}" + (f"（{hardware}）" if hardware else "")]
    if "torch" in provenance:
        parts.append(f"PyTorch {provenance['torch']}，{provenance.get('threads', '?')} 个线程")
    parts.append(f"Python {provenance.get('python', '?')}")
    parts.append(f"执行于 {executed_at}")
    return inline("本页代码由构建实际运行：" + "；".join(parts) + "。")


def _fence_for(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _text_block(text: str, title: str, indent: str) -> list[str]:
    text = visible(text)
    fence = _fence_for(text)
    lines = [f'{indent}{fence} {{ .text .d2l-output title="{inline(title)}" }}']
    lines += [snippet_safe(f"{indent}{line}") if line else ""
              for line in text.rstrip("\n").split("\n")]
    return [*lines, f"{indent}{fence}"]


def output_blocks(region: Mapping[str, Any], indent: str = "") -> list[str]:
    """The Markdown shown under an executed region's code: its output and its warnings."""
    lines: list[str] = []
    if region.get("stdout"):
        lines += ["", *_text_block(region["stdout"], f"输出（用时 {region['duration']:.3f} 秒）", indent)]
    if region.get("stray"):
        lines += ["", *_text_block(region["stray"], "其他线程的输出（由前面代码段启动的线程写出）", indent)]
    if region.get("raised"):
        lines += ["", *_text_block(region["raised"], "异常（本段代码有意引发）", indent)]
    warnings = region.get("warnings") or []
    if warnings:
        text = "\n".join(f"{w['category']}: {w['message']}" for w in warnings)
        lines += ["", *_text_block(text, "运行时警告（构建时捕获）", indent)]
    return lines


def _by_section(entries: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Section name -> its executed entry; a name two includes share maps to their ids."""
    regions: dict[str, Any] = {}
    for entry in entries:
        if entry.get("executed"):
            regions.setdefault(entry["section"], []).append(entry)
    return {name: found[0] if len(found) == 1 else [e["id"] for e in found]
            for name, found in regions.items()}


def _lookup(regions: Mapping[str, Any], ref: str) -> Any:
    section, _, path = ref.partition(".")
    if section not in regions:
        raise RenderError(f"no region {section!r} on this page (token {ref!r})")
    if isinstance(regions[section], list):
        raise RenderError(f"token {ref!r} is ambiguous: the page runs more than one region named "
                          f"{section!r} ({', '.join(regions[section])}); rename one")
    value: Any = regions[section].get("values", {})
    parts = path.split(".") if path else []
    for number, part in enumerate(parts):
        if not isinstance(value, Mapping) or part not in value:
            dropped = regions[section].get("values_dropped") or {}
            if number == 0 and dropped:
                count = sum(d.get("count", 0) for d in dropped.values())
                raise RenderError(f"region {section!r} recorded no value {parts[0]!r}; {count} "
                                  f"values it bound were not kept ({'; '.join(dropped)}) "
                                  f"(token {ref!r})")
            raise RenderError(f"region {section!r} recorded no value {path!r} (token {ref!r})")
        value = value[part]
    return value


def _inert_samples(samples: Any) -> Any:
    """A samples record whose description is safe to place in prose."""
    if isinstance(samples, Mapping) and "description" in samples:
        return {**samples, "description": inline(samples["description"])}
    return samples


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


_PATHS_TOKENS = ("paths_table", "paths_files", "paths_summary", "paths_chart", "paths_provenance")


def _paths_token(words: list[str], regions: Mapping[str, Mapping], entry: Mapping[str, Any],
                 record: Mapping[str, Any] | None) -> str:
    kind = words[0]
    wanted = 3 if kind in ("paths_table", "paths_files", "paths_summary") else 2
    if len(words) != wanted:
        raise RenderError(f"'{kind}' takes {'a value and a batch size' if wanted == 3 else 'a value'}")
    paths = _lookup(regions, words[1])
    if not isinstance(paths, Mapping) or paths.get("type") != "paths":
        raise RenderError(f"{words[1]!r} is not a compare_paths result")
    try:
        if kind == "paths_table":
            return tables.paths_table(paths, words[2])
        if kind == "paths_files":
            return tables.paths_files(paths, words[2])
        if kind == "paths_summary":
            return tables.paths_summary(paths, words[2])
        if kind == "paths_provenance":
            return tables.paths_provenance(paths, entry, record)
    except ValueError as exc:
        raise RenderError(str(exc)) from None
    return (f"![各条路径每次调用的时间：中位数，误差线为四分位区间]"
            f"({tables.CHART_DIR}/{tables.chart_name(paths)})")


def _dataflow(words: list[str], root: Path | None) -> str:
    """``dataflow path.py:section function``: a Mermaid diagram derived from the code."""
    if len(words) != 3 or root is None:
        raise RenderError("a diagram reads {{ d2l:dataflow path/to/file.py:section function }}")
    try:
        code = read_region(root, words[1]).code
        return f"```mermaid\n{dataflow_mermaid(code, words[2])}\n```"
    except (BuildError, DataflowError) as exc:
        raise RenderError(f"dataflow {words[1]} {words[2]}: {exc}") from None


def _claim(body: str, regions: Mapping[str, Mapping]) -> str:
    """``claim LEFT VERB RIGHT | text``: the text, if the record agrees with it."""
    spec, sep, text = body.partition("|")
    words = spec.split()
    if len(words) != 4 or not sep or not text.strip():
        raise RenderError("a claim reads {{ d2l:claim LEFT VERB RIGHT | 文字 }}")
    _, left, verb, right = words
    try:
        problem = tables.check_claim(_lookup(regions, left), verb, _lookup(regions, right))
    except ValueError as exc:
        raise RenderError(f"claim {spec.strip()!r}: {exc}") from None
    if problem is not None:
        raise RenderError(f"the claim “{text.strip()}” ({left} {verb} {right}) contradicts "
                          f"the record, {problem}")
    return text.strip()


def _replace_token(body: str, regions: Mapping[str, Mapping], page_stamp: str,
                   record: Mapping[str, Any] | None, entry: Mapping[str, Any],
                   root: Path | None) -> str:
    words = body.split()
    if not words:
        raise RenderError("an empty {{ d2l: }} token")
    if words == ["stamp"]:
        if not page_stamp:
            raise RenderError("{{ d2l:stamp }} on a page that runs no code")
        return page_stamp
    if words == ["report"]:
        if record is None:
            raise RenderError("{{ d2l:report }} needs the whole build record")
        return report_markdown(record)
    if words[0] == "compare":
        if len(words) != 3:
            raise RenderError(f"'compare' takes two values: {{{{ d2l:{body} }}}}")
        return compare(*(_inert_samples(_lookup(regions, w)) for w in words[1:]))
    if words[0] == "claim":
        return _claim(body, regions)
    if words[0] == "dataflow":
        return _dataflow(words, root)
    if words[0] in _PATHS_TOKENS:
        return _paths_token(words, regions, entry, record)
    ref, _, fmt = body.partition("|")
    value = _lookup(regions, ref.strip())
    if isinstance(value, Mapping | list):
        raise RenderError(f"token {ref.strip()!r} is a structure, not a value; name a field")
    return _format(value, fmt.strip(), ref.strip())


def _included_outputs(fence_includes, runs, page_file: str) -> list[str]:
    """The output blocks for the includes of one fence, consuming their recorded runs."""
    lines: list[str] = []
    for ref in fence_includes:
        region = next(runs, None)
        if region is None or region.get("target", region["id"]) != ref.target:
            raise RenderError(f"{page_file}:{ref.line}: the record has no run for include "
                              f"{ref.target!r} at this place: rebuild")
        if region.get("executed"):
            lines += output_blocks(region, ref.indent)
    return lines


def render_page(markdown: str, entry: Mapping[str, Any] | None,
                record: Mapping[str, Any] | None = None, root: Path | None = None,
                page_file: str = "page", outputs: bool = True) -> str:
    """The page with outputs, values and stamp filled in from its record ``entry``.

    ``record`` (the whole build record) is needed only by ``{{ d2l:report }}`` and provenance
    lines; ``root`` (the project root) only by ``{{ d2l:dataflow }}``, which reads source code.
    ``page_file`` names the page in errors (``page_file:line: ...``). With ``outputs=False``
    (a prose fragment, as the notebook renders) no outputs are placed.
    """
    try:
        parsed = parse_page(markdown, page_file)
    except PageSyntaxError as exc:
        raise RenderError(str(exc)) from None
    entries = list((entry or {}).get("regions", []))
    regions = _by_section(entries)
    executed = any(r.get("executed") for r in entries)
    page_stamp = stamp(entry["provenance"], entry["executed_at"]) if executed else ""
    runs = iter(entries)
    fence_end = {f.end: f for f in parsed.fences}
    fenced = parsed.fenced_lines()
    out: list[str] = []
    stamped = not executed
    for number, line in enumerate(parsed.lines, 1):
        if number not in fenced:
            try:
                line = _TOKEN.sub(lambda m: _replace_token(
                    m["body"], regions, page_stamp, record, entry or {}, root), line)
            except RenderError as exc:
                raise RenderError(f"{page_file}:{number}: {exc}") from None
        out.append(line)
        if outputs and number in fence_end:
            out += _included_outputs(fence_end[number].includes, runs, page_file)
        if not stamped and _HEADING.match(line):
            out += ["", f'<p class="d2l-stamp">{page_stamp}</p>', ""]
            stamped = True
    if outputs and next(runs, None) is not None:
        raise RenderError(f"{page_file}: the record has more runs than the page has includes: rebuild")
    return "\n".join(out)
