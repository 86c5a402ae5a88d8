"""The execution report: the build record as Markdown tables, for the site, in the words of
the book's label set (``en`` or ``zh``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from d2l_compiler.engine.record.io import readable_time
from d2l_compiler.engine.record.model import PageEntry
from d2l_compiler.engine.record.whole import Record
from d2l_compiler.engine.escape import inline


@dataclass(frozen=True)
class ReportLabels:
    """The words of the execution report."""

    environment: str = "Build environment"
    item: str = "Item"
    value: str = "Value"
    device: str = "Device"
    commit: str = "git commit"
    built_at: str = "Built at (UTC)"
    this_build: str = "This build"
    build_summary: str = "ran {ran} pages, reused {cached} from the cache, {seconds:.2f} s running code"
    pages: str = "Pages"
    ran: str = "run by this build"
    reused: str = "reused from the cache"
    page_line: str = ("{how}; run at {when}, {seconds:.2f} s, peak memory {peak:.0f} MiB; "
                      "PyTorch {torch}, {threads} threads; {cpu}.")
    no_torch: str = "not used"
    region: str = "Region"
    status: str = "Status"
    seconds: str = "Seconds"
    warning_count: str = "Warnings"
    shown_only: str = "shown only"
    key_inputs: str = "Inputs of cache key {key}…"
    kind: str = "Kind"
    name: str = "Name"
    digest: str = "Digest / version"
    module: str = "Project module"
    data_file: str = "Data file"
    package: str = "Package"
    warnings: str = "Warnings"
    warnings_intro: str = "Every warning the code raised (including deprecations Python hides by default):"
    no_warnings: str = "This build captured no warnings."
    category: str = "Category"
    message: str = "Message"
    where: str = "Where"
    raw: str = "Raw record"
    raw_link: str = "The whole build record (JSON): [d2l-record.json](d2l-record.json)."


REPORT_LABELS = {
    "en": ReportLabels(),
    "zh": ReportLabels(
        environment="构建环境", item="项目", value="值", device="设备", commit="git 提交",
        built_at="构建时间（UTC）", this_build="本次构建",
        build_summary="运行 {ran} 页，复用缓存 {cached} 页，执行阶段用时 {seconds:.2f} 秒",
        pages="各页面的执行情况", ran="本次构建运行", reused="复用缓存结果",
        page_line="{how}；执行于 {when}，用时 {seconds:.2f} 秒，峰值内存 {peak:.0f} MiB；"
                  "PyTorch {torch}，{threads} 个线程；{cpu}。",
        no_torch="未使用", region="代码段", status="状态", seconds="用时（秒）", warning_count="警告数",
        shown_only="仅展示", key_inputs="缓存键 {key}… 的输入", kind="类别", name="名称",
        digest="内容摘要 / 版本", module="项目模块", data_file="数据文件", package="第三方包",
        warnings="警告清单", warnings_intro="运行代码时捕获的全部警告（包括 Python 默认隐藏的弃用警告）：",
        no_warnings="本次构建没有捕获到任何警告。", category="类别", message="消息", where="出现在",
        raw="原始记录", raw_link="完整的构建记录（JSON）：[d2l-record.json](d2l-record.json)。"),
}


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
    if prov.ran or prov.cached:
        rows.append([words.this_build, words.build_summary.format(
            ran=len(prov.ran), cached=len(prov.cached), seconds=prov.seconds)])
    return _table([words.item, words.value], rows)


def _page(name: str, entry: PageEntry, words: ReportLabels) -> list[str]:
    prov = entry.provenance
    lines = [f"### {inline(name)}", "",
             inline(words.page_line.format(
                 how=words.ran if entry.ran else words.reused, when=readable_time(entry.executed_at),
                 seconds=entry.duration, peak=entry.peak_mb, torch=prov.get("torch", words.no_torch),
                 threads=prov.get("threads", "?"), cpu=prov.get("cpu", "?"))), ""]
    rows = [[_code(r.id), r.run.status.value if r.run is not None else words.shown_only,
             f"{r.run.duration:.3f}" if r.run is not None else "—",
             len(r.run.warnings) if r.run is not None else 0]
            for r in entry.regions]
    lines += _table([words.region, words.status, words.seconds, words.warning_count], rows)
    inputs = entry.inputs
    key_rows = ([[words.region, k, v[:12]] for k, v in inputs["regions"]]
                + [[words.module, k, v[:12]] for k, v in inputs["files"].items()]
                + [[words.data_file, k, v[:12]] for k, v in inputs.get("data", {}).items()]
                + [[words.package, k, ", ".join(v)] for k, v in inputs["packages"].items()]
                + [["Python", "", inputs["python"]], [words.device, "", inputs["device"]]])
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


def report_markdown(record: Record, words: ReportLabels = REPORT_LABELS["en"]) -> str:
    """Build provenance, per-page and per-region results, cache-key inputs, warning inventory."""
    lines = [f"## {words.environment}", "", *_provenance(record, words), "", f"## {words.pages}", ""]
    for name, entry in sorted(record.pages.items()):
        lines += _page(name, entry, words)
    lines += [f"## {words.warnings}", "", words.warnings_intro, "",
              *_warnings(record, words), "", f"## {words.raw}", "", words.raw_link]
    return "\n".join(lines)
