"""The execution report (执行报告): the build record as Markdown tables, for the site."""

from __future__ import annotations

from typing import Any

from d2l_compiler.engine.record.model import PageEntry, Record
from d2l_compiler.engine.render.escape import inline


class _Markup(str):
    """A cell this module composed itself (its run-data parts already escaped)."""


def _code(text: Any) -> _Markup:
    return _Markup(f"<code>{inline(text)}</code>")


def _cell(text: Any) -> str:
    return text if isinstance(text, _Markup) else inline(text)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def _provenance(record: Record) -> list[str]:
    prov = record.provenance
    rows = [["设备", prov.device], ["git 提交", _code(prov.git_commit)],
            ["构建时间（UTC）", prov.date_utc], ["Python", prov.python]]
    if prov.ran or prov.cached:
        rows.append(["本次构建", f"运行 {len(prov.ran)} 页，复用缓存 {len(prov.cached)} 页，"
                                 f"执行阶段用时 {prov.seconds:.2f} 秒"])
    return _table(["项目", "值"], rows)


def _page(name: str, entry: PageEntry) -> list[str]:
    prov = entry.provenance
    lines = [f"### {inline(name)}", "",
             inline(f"{'本次构建运行' if entry.ran else '复用缓存结果'}；"
                    f"执行于 {entry.executed_at}，"
                    f"用时 {entry.duration:.2f} 秒，峰值内存 {entry.peak_mb:.0f} MiB；"
                    f"PyTorch {prov.get('torch', '未使用')}，{prov.get('threads', '?')} 个线程；"
                    f"{prov.get('cpu', '?')}。"), ""]
    rows = [[_code(r.id), r.run.status.value if r.run is not None else "仅展示",
             f"{r.run.duration:.3f}" if r.run is not None else "—",
             len(r.run.warnings) if r.run is not None else 0]
            for r in entry.regions]
    lines += _table(["代码段", "状态", "用时（秒）", "警告数"], rows)
    inputs = entry.inputs
    key_rows = ([["代码段", k, v[:12]] for k, v in inputs["regions"]]
                + [["项目模块", k, v[:12]] for k, v in inputs["files"].items()]
                + [["数据文件", k, v[:12]] for k, v in inputs.get("data", {}).items()]
                + [["第三方包", k, ", ".join(v)] for k, v in inputs["packages"].items()]
                + [["Python", "", inputs["python"]], ["设备", "", inputs["device"]]])
    lines += ["", f'??? note "缓存键 {inline(entry.key[:16])}… 的输入"', ""]
    lines += ["    " + line for line in _table(["类别", "名称", "内容摘要 / 版本"], key_rows)]
    return lines + [""]


def _warnings(record: Record) -> list[str]:
    inventory: dict[tuple[str, str], list[str]] = {}
    for entry in record.pages.values():
        for region in entry.executed:
            for w in region.run.warnings:
                inventory.setdefault((w.category, w.message), []).append(region.id)
    if not inventory:
        return ["本次构建没有捕获到任何警告。"]
    rows = [[cat, msg, _Markup("<br>".join(_code(w) for w in sorted(set(where))))]
            for (cat, msg), where in sorted(inventory.items())]
    return _table(["类别", "消息", "出现在"], rows)


def report_markdown(record: Record) -> str:
    """Build provenance, per-page and per-region results, cache-key inputs, warning inventory."""
    lines = ["## 构建环境", "", *_provenance(record), "", "## 各页面的执行情况", ""]
    for name, entry in sorted(record.pages.items()):
        lines += _page(name, entry)
    lines += ["## 警告清单", "", "运行代码时捕获的全部警告（包括 Python 默认隐藏的弃用警告）：", "",
              *_warnings(record), "", "## 原始记录", "",
              "完整的构建记录（JSON）：[d2l-record.json](d2l-record.json)。"]
    return "\n".join(lines)
