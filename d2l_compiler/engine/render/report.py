"""The execution report (执行报告): the build record as Markdown tables, for the site."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def _provenance(record: Mapping[str, Any]) -> list[str]:
    prov = record["provenance"]
    rows = [["设备", prov.get("device")], ["git 提交", _code(prov.get("git_commit"))],
            ["构建时间（UTC）", prov.get("date_utc")], ["Python", prov.get("python")]]
    summary = prov.get("summary") or {}
    if summary:
        rows.append(["本次构建", f"运行 {len(summary['ran'])} 页，复用缓存 {len(summary['cached'])} 页，"
                                 f"执行阶段用时 {summary['seconds']:.2f} 秒"])
    return _table(["项目", "值"], rows)


def _page(name: str, entry: Mapping[str, Any]) -> list[str]:
    prov = entry.get("provenance", {})
    lines = [f"### {inline(name)}", "",
             inline(f"{'本次构建运行' if entry.get('ran') else '复用缓存结果'}；"
                    f"执行于 {entry['executed_at']}，"
                    f"用时 {entry['duration']:.2f} 秒，峰值内存 {entry.get('peak_mb', 0):.0f} MiB；"
                    f"PyTorch {prov.get('torch', '未使用')}，{prov.get('threads', '?')} 个线程；"
                    f"{prov.get('cpu', '?')}。"), ""]
    rows = [[_code(r["id"]), r.get("status", "仅展示") if r.get("executed") else "仅展示",
             f"{r['duration']:.3f}" if "duration" in r else "—", len(r.get("warnings") or [])]
            for r in entry["regions"]]
    lines += _table(["代码段", "状态", "用时（秒）", "警告数"], rows)
    inputs = entry["inputs"]
    key_rows = ([["代码段", k, v[:12]] for k, v in inputs["regions"]]
                + [["项目模块", k, v[:12]] for k, v in inputs["files"].items()]
                + [["数据文件", k, v[:12]] for k, v in inputs.get("data", {}).items()]
                + [["第三方包", k, ", ".join(v)] for k, v in inputs["packages"].items()]
                + [["Python", "", inputs["python"]], ["设备", "", inputs["device"]]])
    lines += ["", f'??? note "缓存键 {inline(entry["key"][:16])}… 的输入"', ""]
    lines += ["    " + line for line in _table(["类别", "名称", "内容摘要 / 版本"], key_rows)]
    return lines + [""]


def _warnings(record: Mapping[str, Any]) -> list[str]:
    inventory: dict[tuple[str, str], list[str]] = {}
    for entry in record["pages"].values():
        for region in entry["regions"]:
            for w in region.get("warnings") or []:
                inventory.setdefault((w["category"], w["message"]), []).append(region["id"])
    if not inventory:
        return ["本次构建没有捕获到任何警告。"]
    rows = [[cat, msg, _Markup("<br>".join(_code(w) for w in sorted(set(where))))]
            for (cat, msg), where in sorted(inventory.items())]
    return _table(["类别", "消息", "出现在"], rows)


def report_markdown(record: Mapping[str, Any]) -> str:
    """Build provenance, per-page and per-region results, cache-key inputs, warning inventory."""
    lines = ["## 构建环境", "", *_provenance(record), "", "## 各页面的执行情况", ""]
    for name, entry in sorted(record["pages"].items()):
        lines += _page(name, entry)
    lines += ["## 警告清单", "", "运行代码时捕获的全部警告（包括 Python 默认隐藏的弃用警告）：", "",
              *_warnings(record), "", "## 原始记录", "",
              "完整的构建记录（JSON）：[d2l-record.json](d2l-record.json)。"]
    return "\n".join(lines)
