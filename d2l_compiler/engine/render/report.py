"""The execution report: the build record as Markdown tables, for the site, in the words of
the book's label set (``en`` or ``zh``)."""

from __future__ import annotations

from typing import Any

from d2l_compiler.engine.record.io import readable_time
from d2l_compiler.engine.record.model import PageEntry
from d2l_compiler.engine.record.whole import Record
from d2l_compiler.engine.escape import inline
from d2l_compiler.engine.render.labels import LABELS, ReportLabels




class _Markup(str):
    """A cell this module composed itself (its run-data parts already escaped)."""


def _code(text: Any) -> _Markup:
    return _Markup(f"<code>{inline(text)}</code>")


def _cell(text: Any) -> str:
    return text if isinstance(text, _Markup) else inline(text)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def _provenance(record: Record, words: ReportLabels) -> list[str]:
    prov = record.provenance
    rows = [[words.device, prov.device], [words.commit, _code(prov.git_commit)],
            [words.built_at, readable_time(prov.date_utc)], ["Python", prov.python]]
    summary = prov.summary
    if summary.ran or summary.cached:
        rows.append([words.this_build, words.build_summary.format(
            ran=len(summary.ran), cached=len(summary.cached), seconds=summary.seconds)])
    return _table([words.item, words.value], rows)


def _page(name: str, entry: PageEntry, words: ReportLabels) -> list[str]:
    prov = entry.provenance
    lines = [f"### {inline(name)}", "",
             inline(words.page_line.format(
                 how=words.ran if entry.ran else words.reused, when=readable_time(entry.executed_at),
                 seconds=entry.duration, peak=entry.peak_mb, torch=prov.torch or words.no_torch,
                 threads=prov.threads if prov.threads is not None else "?",
                 cpu=prov.cpu or "?")), ""]
    statuses = dict(words.statuses)
    rows = [[_code(r.id), statuses.get(r.run.status.value, r.run.status.value)
             if r.run is not None else words.shown_only,
             f"{r.run.duration:.3f}" if r.run is not None else "—",
             len(r.run.warnings) if r.run is not None else 0]
            for r in entry.regions]
    lines += _table([words.region, words.status, words.seconds, words.warning_count], rows)
    inputs = entry.inputs
    key_rows = ([[words.region, k, v[:12]] for k, v in inputs.regions]
                + [[words.module, k, v[:12]] for k, v in inputs.files.items()]
                + [[words.data_file, k, v[:12]] for k, v in inputs.data.items()]
                + [[words.package, k, ", ".join(v)] for k, v in inputs.packages.items()]
                + [["Python", "", inputs.python], [words.device, "", inputs.device]])
    lines += ["", f'??? note "{inline(words.key_inputs.format(key=entry.key[:16]))}"', ""]
    lines += ["    " + line for line in _table([words.kind, words.name, words.digest], key_rows)]
    return lines + [""]


def _warnings(record: Record, words: ReportLabels) -> list[str]:
    inventory: dict[tuple[str, str], list[str]] = {}
    for entry in record.pages.values():
        for region in entry.executed:
            for w in region.run.warnings:
                inventory.setdefault((w.category, w.message), []).append(region.id)
    if not inventory:
        return [words.no_warnings]
    rows = [[cat, msg, _Markup("<br>".join(_code(w) for w in sorted(set(where))))]
            for (cat, msg), where in sorted(inventory.items())]
    return _table([words.category, words.message, words.where], rows)


def report_markdown(record: Record, words: ReportLabels = LABELS["en"].report) -> str:
    """Build provenance, per-page and per-region results, cache-key inputs, warning inventory."""
    lines = [f"## {words.environment}", "", *_provenance(record, words), "", f"## {words.pages}", ""]
    for name, entry in sorted(record.pages.items()):
        lines += _page(name, entry, words)
    lines += [f"## {words.warnings}", "", words.warnings_intro, "",
              *_warnings(record, words), "", f"## {words.raw}", "", words.raw_link]
    return "\n".join(lines)
