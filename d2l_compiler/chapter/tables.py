"""Markdown generated from a ``compare_paths`` record: tables, summary sentences, checked claims.

Every comparative word here is derived from the numbers with the rule of
:func:`d2l_compiler.claims.verdict` (interquartile ranges must not overlap).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from d2l_compiler.claims import verdict
from d2l_compiler.models import human_size
from d2l_compiler.paths import LABELS, PATHS
from d2l_compiler.engine.record.io import readable_time
from d2l_compiler.engine.render.escape import inline

PATHS_HEADER = ["路径", "推理设置", "编译（秒）", "每次调用：中位数（四分位区间），微秒",
                "相对 eager 的加速比", "与 eager 相比", "回本所需调用次数"]
FILES_HEADER = ["路径", "格式", "大小（字节）", "大小", "重新加载后输出一致"]


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f}"


def _batch(paths: Mapping[str, Any], batch: str) -> list[tuple[str, Mapping[str, Any]]]:
    """The results at one batch size, in the chapter's path order (the record sorts keys)."""
    try:
        results = paths["batches"][batch]
    except (KeyError, TypeError):
        raise ValueError(f"no measurements for batch size {batch!r} "
                         f"(have: {inline(', '.join(paths.get('batches', {})))})") from None
    rank = {name: i for i, name in enumerate(PATHS)}
    return sorted(results.items(), key=lambda item: rank.get(item[0], len(rank)))


def _table(header: list[str], rows: list[list[str]], numeric: set[int],
           groups: list[tuple[str, int]] | None = None, labels: list[str] | None = None) -> str:
    """An HTML table whose cells carry their column's name (``data-label``, or ``labels``
    where the header alone does not say it), so that on a phone the stylesheet can show each
    row as a card instead of a too-wide table. Cells are already escaped Markdown-free HTML;
    the header words are this module's own. ``groups`` (title, columns) puts a row of
    column-group titles above the header."""
    labels = labels or header

    def cell(tag: str, column: int, text: str) -> str:
        align = ' style="text-align:right"' if column in numeric else ""
        label = f' data-label="{labels[column]}"' if tag == "td" else ""
        return f"<{tag}{label}{align}>{text}</{tag}>"
    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    if groups:
        head = ("".join(f'<th colspan="{span}" scope="colgroup">{title}</th>'
                        for title, span in groups) + "</tr><tr>" + head)
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return f'<div class="d2l-cards"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def paths_table(paths: Mapping[str, Any], batch: str) -> str:
    """One row per path: compile time, per-call median and IQR, speed-up with its range."""
    results = _batch(paths, batch)
    eager = dict(results)["eager"]
    rows = [[inline(r["label"]), inline(r.get("setting", "—")), *_device_cells(r, eager, name)]
            for name, r in results]
    return _table(PATHS_HEADER, rows, numeric={2, 3, 4, 6})


def device_label(paths: Mapping[str, Any], provenance: Mapping[str, Any]) -> str:
    """``cuda（NVIDIA H200）`` / ``cpu（Intel Xeon ...）``: which device measured ``paths``."""
    hardware = paths.get("gpu") if paths.get("device") == "cuda" else provenance.get("cpu")
    return inline(f"{paths.get('device')}（{hardware}）" if hardware else str(paths.get("device")))


def _device_cells(r: Mapping[str, Any] | None, eager: Mapping[str, Any] | None, name: str) -> list[str]:
    words = {"faster": "更快", "slower": "更慢", "within noise": "波动之内"}
    if r is None or eager is None:
        return ["—"] * 4 + ["未测量"]
    s = r["samples"]
    timing = f"{_us(s['median'])}（{_us(s['q1'])}–{_us(s['q3'])}）"
    if name == "eager":
        return ["—", timing, "1（基准）", "—", "—"]
    return [f"{r['compile_seconds']:.2f}", timing,
            f"{r['speedup']:.2f}×（{r['speedup_low']:.2f}–{r['speedup_high']:.2f}）",
            words[r["vs_eager"]], breakeven_text(r, eager)]


def paths_table_devices(measured: list[tuple[str, Mapping[str, Any]]], batch: str) -> str:
    """:func:`paths_table` with a column group per device (``measured``: label, paths),
    one row per path any device measured."""
    if len(measured) == 1:
        return paths_table(measured[0][1], batch)
    per_device = [dict(_batch(paths, batch)) for _, paths in measured]
    rank = {name: i for i, name in enumerate(PATHS)}
    names = sorted({n for results in per_device for n in results},
                   key=lambda n: (rank.get(n, len(rank)), n))
    header, labels, groups = PATHS_HEADER[:2], PATHS_HEADER[:2], [("", 2)]
    for label, _ in measured:
        header += PATHS_HEADER[2:]
        labels += [f"{label}：{h}" for h in PATHS_HEADER[2:]]  # a card names the device
        groups.append((label, len(PATHS_HEADER) - 2))
    rows = []
    for name in names:
        first = next(results[name] for results in per_device if name in results)
        row = [inline(first["label"]), inline(first.get("setting", "—"))]
        for results in per_device:
            row += _device_cells(results.get(name), results.get("eager"), name)
        rows.append(row)
    numeric = {i for i in range(2, len(header)) if (i - 2) % 5 in (0, 1, 2, 4)}
    return _table(header, rows, numeric, groups, labels)


def breakeven_calls(result: Mapping[str, Any], eager: Mapping[str, Any]) -> int | None:
    """Calls after which a path's one-off compile time is paid back by the time it saves per
    call (compile seconds / seconds saved per call, rounded up); None if it saves nothing
    measurable: slower than eager, or within the noise."""
    if result["vs_eager"] != "faster":
        return None
    # eager's time per call is the path's times its speed-up (paired, where it was measured so)
    saved = result["samples"]["median"] * (result["speedup"] - 1)
    return math.ceil(round(result["compile_seconds"] / saved, 6))  # 10000.000000002 is 10000


def breakeven_text(result: Mapping[str, Any], eager: Mapping[str, Any]) -> str:
    """The break-even count for the table: a number, or why there is none."""
    calls = breakeven_calls(result, eager)
    if calls is not None:
        return f"{calls:,}"
    return "永不（更慢）" if result["vs_eager"] == "slower" else "无法确定（差别在波动之内）"


def paths_files(paths: Mapping[str, Any], batch: str) -> str:
    """The files each path saved at one batch size: kind, size, reloads equal."""
    names = {"state_dict": "<code>state_dict</code>（<code>torch.save</code>）",
             "onnx": "ONNX（<code>.onnx</code>）",
             "torchscript": "TorchScript（<code>.save</code>）",
             "export": "<code>torch.export.save</code>（<code>.pt2</code>）",
             "aoti_package": "AOTInductor 包（<code>.pt2</code>）"}
    rows = []
    for _, r in _batch(paths, batch):
        for a in r["artifacts"]:
            rows.append([inline(r["label"]), names.get(a["kind"], inline(a["kind"])),
                         str(int(a["size_bytes"])), human_size(a["size_bytes"]),
                         "是" if a["reload_equal"] else "<strong>否</strong>"])
    return _table(FILES_HEADER, rows, numeric={2, 3})


def paths_summary(paths: Mapping[str, Any], batch: str) -> str:
    """Sentences: which paths beat eager, which lost, which are within noise; the fastest."""
    results = _batch(paths, batch)
    groups: dict[str, list[str]] = {"faster": [], "slower": [], "within noise": []}
    for name, r in results:
        if name != "eager":
            groups[r["vs_eager"]].append(f"{inline(r['label'])} {r['speedup']:.2f}×")
    parts = []
    if groups["faster"]:
        parts.append("比 eager 快的有 " + "、".join(groups["faster"]))
    if groups["slower"]:
        parts.append("比 eager 慢的有 " + "、".join(groups["slower"]))
    if groups["within noise"]:
        parts.append("与 eager 的差别在测量波动之内的有 " + "、".join(groups["within noise"]))
    ranked = sorted(results, key=lambda item: item[1]["samples"]["median"])
    (_, best_r), (_, second_r) = ranked[0], ranked[1]
    tie = verdict(best_r["samples"], second_r["samples"]) == "within noise"
    best, second = inline(best_r["label"]), inline(second_r["label"])
    lead = (f"中位数最小的是 {best}，每次调用 {_us(best_r['samples']['median'])} 微秒；"
            + (f"但它与 {second} 的差别在测量波动之内" if tie else f"并且明显快于第二名 {second}"))
    return f"批量为 {inline(batch)} 时，" + "；".join(parts) + f"。{lead}。"


def paths_provenance(paths: Mapping[str, Any], provenance: Mapping[str, Any], executed_at: str,
                     commit: str) -> str:
    """Where these numbers come from: device, CPU/GPU model, torch, threads, date, commit."""
    hardware = paths.get("gpu") if paths.get("device") == "cuda" else provenance.get("cpu")
    quick = "；快速模式（D2L_BENCH_QUICK），数字仅供冒烟测试" if paths.get("quick") else ""
    skipped = paths.get("skipped") or {}
    if skipped:
        quick += "；未测量：" + "，".join(f"{inline(LABELS.get(name, name))}（{inline(why)}）"
                                       for name, why in skipped.items())
    return (inline(f"测量环境：设备 {paths.get('device')}（{hardware}），PyTorch {paths.get('torch')}，"
                   f"{paths.get('threads')} 个线程，执行于 {readable_time(executed_at)}，提交 ")
            + f"<code>{inline(commit)}</code>{quick}。")


def paths_file_growth(paths: Mapping[str, Any]) -> str:
    """Which saved files grew with the batch size, and whether the example input explains it
    (``torch.export.save`` stores the example inputs in the ``.pt2``): read off the record."""
    batches = sorted(paths["batches"], key=int)
    small, large = batches[0], batches[-1]
    row = paths.get("input_row_bytes")
    sentences = []
    for name, result in _batch(paths, large):
        before = {a["kind"]: a["size_bytes"] for a in paths["batches"][small].get(name, {}).get(
            "artifacts", [])}
        for artifact in result["artifacts"]:
            grown = artifact["size_bytes"] - before.get(artifact["kind"], artifact["size_bytes"])
            if grown <= 0 or artifact["kind"] not in ("export", "aoti_package"):
                continue
            extra_rows = (int(large) - int(small)) * row if row else None
            label = inline(result["label"])
            text = (f"批量从 {small} 增加到 {large} 时，{label} 保存的 {inline(artifact['kind'])} "
                    f"文件大了 {grown} 字节（{human_size(grown)}）")
            if extra_rows and abs(grown - extra_rows) <= 0.05 * extra_rows:
                text += (f"，与多出的 {int(large) - int(small)} 行示例输入的大小（{extra_rows} 字节）"
                         f"相差不到 5%：文件里连同导出时使用的示例输入一起保存了")
            sentences.append(text)
    return "；".join(sentences) + "。" if sentences else ""
