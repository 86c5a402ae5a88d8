"""Markdown generated from a ``compare_paths`` record: tables, summary sentences, checked claims.

Every comparative word here is read off the paired speed-ups the record holds (a range wholly
above or below 1), never off medians measured in two processes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from d2l_compiler.claims import ratio_range
from d2l_compiler.models import human_size
from d2l_compiler.numerics import MatmulSettings
from d2l_compiler.paths import LABELS, PATHS
from d2l_compiler.engine.record.io import readable_time
from d2l_compiler.engine.escape import inline
from d2l_compiler.engine.render.labels import LABELS as ENGINE_LABELS

SCROLL_LABEL = "表格（较宽时可横向滚动）"
# Five columns fit the text column without breaking a name: the inference setting sits under
# the path's name, and the verdict under its speed-up.
PATHS_HEADER = ["路径（推理设置）", "编译（秒）", "每次调用：中位数（四分位区间），微秒",
                "相对 eager 的加速比", "回本所需调用次数"]
FILES_HEADER = ["路径", "格式", "大小（字节）", "大小", "重新加载后输出一致"]


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f}"


# Full-width punctuation already carries its own space: an ASCII space beside it (``cpu（AMD
# EPYC） 上``, ``（<code>.pt2</code>） 文件``) is a typo in Chinese, so generated sentences drop it.
_SPACE_BY_FULL_WIDTH = re.compile(r" +(?=[（）：；，。、])|(?<=[（）：；，。、]) +")


def tidy(text: str) -> str:
    """``text`` without ASCII spaces next to full-width punctuation."""
    return _SPACE_BY_FULL_WIDTH.sub("", text)


_RANK = {name: i for i, name in enumerate(PATHS)}


def chapter_order(name: object) -> tuple[int, str]:
    """Sort key: the chapter's order of paths (``PATHS``), unknown names after, by name (the
    record sorts its keys, so its own order says nothing)."""
    return _RANK.get(str(name), len(_RANK)), str(name)


def _batch(paths: Mapping[str, Any], batch: str) -> list[tuple[str, Mapping[str, Any]]]:
    """The results at one batch size, in the chapter's path order (the record sorts keys)."""
    try:
        results = paths["batches"][batch]
    except (KeyError, TypeError):
        raise ValueError(f"no measurements for batch size {batch!r} "
                         f"(have: {inline(', '.join(paths.get('batches', {})))})") from None
    return sorted(results.items(), key=lambda item: chapter_order(item[0]))


def html_table(header: list[str], rows: list[list[str]], numeric: set[int],
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
    # a wide table scrolls in this box: keyboard users must be able to reach and scroll it
    return (f'<div class="d2l-cards" tabindex="0" role="region" aria-label="{SCROLL_LABEL}">'
            f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')


def paths_table(paths: Mapping[str, Any], batch: str) -> str:
    """One row per path: compile time, per-call median and IQR, speed-up with its range."""
    results = _batch(paths, batch)
    rows = [[_path_name(r), *_device_cells(dict(results), name)] for name, r in results]
    return html_table(PATHS_HEADER, rows, numeric={1, 2, 3, 4})


def _path_name(r: Mapping[str, Any]) -> str:
    """The path's name in code style (kept whole by the stylesheet), its setting under it."""
    return (f'<span class="d2l-name">{inline(r["label"])}</span>'
            f'<br><small>{inline(r.get("setting", "—"))}</small>')


def device_name(paths: Mapping[str, Any]) -> str:
    """The device that measured ``paths`` in the chapter's words: ``CPU``, ``GPU``."""
    return ENGINE_LABELS["zh"].device_name(str(paths.get("device")))


def device_label(paths: Mapping[str, Any], cpu: str) -> str:
    """``GPU（NVIDIA H200）`` / ``CPU（Intel Xeon ...）``: which device measured
    ``paths`` (``cpu``: the CPU's name, from the page's provenance)."""
    hardware = paths.get("gpu") if paths.get("device") == "cuda" else cpu
    return inline(f"{device_name(paths)}（{hardware}）" if hardware else device_name(paths))


def eager_beside_paths(results: Mapping[str, Any]) -> list[float]:
    """Eager's per-call medians timed beside each path, in that path's process (the time
    each path's speed-up was divided from), in the chapter's path order."""
    found = []
    for name, r in sorted(results.items(), key=lambda item: chapter_order(item[0])):
        beside = (r.get("paired") or {}).get("eager") if isinstance(r, Mapping) else None
        if name != "eager" and isinstance(beside, Mapping):
            found.append(float(beside["median"]))
    return found


def _device_cells(results: Mapping[str, Any], name: str) -> list[str]:
    """One device's cells of a path's row: compile time, per-call time, speed-up, verdict,
    break-even. Every number in a row comes from one process: the path's per-call time and
    its speed-up from the same alternating rounds, beside which eager's own time is given, so
    that the row's arithmetic holds; eager's row gives the range of its times in every other
    process, so no eager figure on the page lies outside what its row states."""
    words = {"faster": "更快", "slower": "更慢", "within noise": "波动之内"}
    r, eager = results.get(name), results.get("eager")
    if r is None or eager is None:
        return ["—"] * 3 + ["未测量"]
    s = r["samples"]
    timing = _figure(f"{_us(s['median'])}（{_us(s['q1'])}–{_us(s['q3'])}）")
    if name == "eager":
        elsewhere = eager_beside_paths(results)
        note = (f"；单独测得，其他 {len(elsewhere)} 个进程里为 {_us(min(elsewhere))}–"
                f"{_us(max(elsewhere))}，不宜拿本行去除别的行" if elsewhere else "")
        return ["—", timing + _small(_sample_count(s) + note), "1（基准）", "—"]
    beside = (r.get("paired") or {}).get("eager")
    note = (f"{_rounds(s)}，同一进程里的 eager 为 {_us(beside['median'])}"
            if isinstance(beside, Mapping) else _sample_count(s))
    return [f"{r['compile_seconds']:.2f}", timing + _small(note),
            _figure(speedup_text(r)) + _small(words[r["vs_eager"]]), breakeven_text(r, eager)]


def _figure(text: str) -> str:
    """A figure and its range, each kept whole (the stylesheet's ``d2l-figure``); the line may
    break before the range's bracket, so a narrow column never overflows."""
    figure, bracket, spread = text.partition("（")
    return "".join(f'<span class="d2l-figure">{part}</span>'
                   for part in (figure, bracket + spread) if part)


def _rounds(samples: Mapping[str, Any]) -> str:
    """``11 轮``: how many alternating rounds a paired median rests on."""
    count = samples.get("count")
    return f"{count} 轮" if isinstance(count, int) and not isinstance(count, bool) else "交替计时"


def _small(note: str) -> str:
    return f"<br><small>{note}</small>" if note else ""


def _sample_count(samples: Mapping[str, Any]) -> str:
    """How many samples a median rests on (and calls per sample), for the timing cell; "" for
    records from before counts were kept."""
    count, number = samples.get("count"), samples.get("number")
    if not isinstance(count, int) or isinstance(count, bool):
        return ""
    calls = (f"（每个 {number:,} 次调用）" if isinstance(number, int)
             and not isinstance(number, bool) and number > 1 else "")
    return f"{count:,} 个样本{calls}"


def _device_columns(base: list[str], devices: list[str], naming: int
                    ) -> tuple[list[str], list[str], list[tuple[str, int]]]:
    """Header, card labels and column groups of a table whose first ``naming`` columns name
    the row and whose other ``base`` columns repeat once per device (a card names the device)."""
    header, labels, groups = base[:naming], base[:naming], [("", naming)]
    for label in devices:
        header = header + base[naming:]
        labels = labels + [f"{label}：{h}" for h in base[naming:]]
        groups.append((label, len(base) - naming))
    return header, labels, groups


def paths_table_devices(measured: list[tuple[str, Mapping[str, Any]]], batch: str) -> str:
    """:func:`paths_table` with a column group per device (``measured``: label, paths),
    one row per path any device measured."""
    if len(measured) == 1:
        return paths_table(measured[0][1], batch)
    per_device = [dict(_batch(paths, batch)) for _, paths in measured]
    names = sorted({n for results in per_device for n in results}, key=chapter_order)
    header, labels, groups = _device_columns(PATHS_HEADER, [label for label, _ in measured], 1)
    rows = []
    for name in names:
        row = [_path_name(next(results[name] for results in per_device if name in results))]
        for results in per_device:
            row += _device_cells(results, name)
        rows.append(row)
    numeric = set(range(1, len(header)))
    return html_table(header, rows, numeric, groups, labels)


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


# The name of each kind of saved file, and what is in it (the prose beside the files table).
KIND_NAMES = {"state_dict": "<code>state_dict</code>（<code>torch.save</code>）",
              "onnx": "ONNX（<code>.onnx</code>）",
              "torchscript": "TorchScript（<code>.save</code>）",
              "export": "<code>torch.export.save</code>（<code>.pt2</code>）",
              "aoti_package": "AOTInductor 包（<code>.pt2</code>）"}
KIND_CONTENTS = {
    "state_dict": "<code>state_dict</code> 只有参数，加载时还需要定义模型的 Python 代码",
    "torchscript": "TorchScript 文件里既有参数，也有计算图",
    "export": "<code>torch.export</code> 的 <code>.pt2</code> 里是参数和一张完整的计算图",
    "aoti_package": "AOTInductor 的包里是已经编译好的机器码，加上参数",
    "onnx": ("ONNX 文件是一张与框架无关的计算图连同参数，ONNX Runtime 等推理引擎可以直接加载它，"
             "完全不需要 PyTorch，这正是符号式程序能够“离开 Python”的最直接的例子"),
}


def _kind_name(kind: Any) -> str:
    return KIND_NAMES.get(kind, inline(kind))


def _file_cells(artifact: Mapping[str, Any]) -> list[str]:
    return [str(int(artifact["size_bytes"])), human_size(artifact["size_bytes"]),
            "是" if artifact["reload_equal"] else "<strong>否</strong>"]


def paths_files(paths: Mapping[str, Any], batch: str) -> str:
    """The files each path saved at one batch size: kind, size, reloads equal."""
    rows = []
    for _, r in _batch(paths, batch):
        for a in r["artifacts"]:
            rows.append([f'<span class="d2l-name">{inline(r["label"])}</span>',
                         _kind_name(a["kind"]), *_file_cells(a)])
    return html_table(FILES_HEADER, rows, numeric={2, 3})


def _not_measured(paths: Mapping[str, Any], name: str) -> str:
    """``未测量`` and, where the record says it, why this device skipped ``name``."""
    why = (paths.get("skipped") or {}).get(name)
    return f"未测量（{inline(why)}）" if why else "未测量"


def paths_files_devices(measured: list[tuple[str, Mapping[str, Any]]], batch: str) -> str:
    """:func:`paths_files` with a column group per device (``measured``: label, paths): one
    row per (path, kind of file) any device saved; a device that did not measure the path
    says ``未测量`` and why (a path skipped on one device still has its row from another)."""
    if len(measured) == 1:
        return paths_files(measured[0][1], batch)
    per_device = [dict(_batch(paths, batch)) for _, paths in measured]
    saved: dict[tuple[str, str], str] = {}  # (path, kind) -> the path's label, in first-seen order
    for results in per_device:
        for name, r in results.items():
            for a in r["artifacts"]:
                saved.setdefault((name, a["kind"]), r["label"])
    rows_keys = sorted(saved, key=lambda k: chapter_order(k[0]))
    header, labels, groups = _device_columns(FILES_HEADER, [label for label, _ in measured], 2)
    rows = []
    for name, kind in rows_keys:
        row = [f'<span class="d2l-name">{inline(saved[name, kind])}</span>', _kind_name(kind)]
        for (_, paths), results in zip(measured, per_device, strict=True):
            if name not in results:
                row += ["—", "—", _not_measured(paths, name)]
                continue
            found = [a for a in results[name]["artifacts"] if a["kind"] == kind]
            row += _file_cells(found[0]) if found else ["—", "—", "—"]
        rows.append(row)
    numeric = {i for i in range(2, len(header)) if (i - 2) % 3 in (0, 1)}
    return html_table(header, rows, numeric, groups, labels)


def paths_file_kinds(measured: list[tuple[str, Mapping[str, Any]]], batch: str) -> str:
    """What is in each kind of file the table shows: a clause per kind some device saved at
    ``batch``, so the text never describes a file no device produced."""
    kinds = {a["kind"] for _, paths in measured for _, r in _batch(paths, batch)
             for a in r["artifacts"]}
    clauses = [text for kind, text in KIND_CONTENTS.items() if kind in kinds]
    return "；".join(clauses) + "。" if clauses else ""


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
    ranked = sorted(((name, r) for name, r in results if name != "eager" and r.get("paired_speedups")),
                    key=lambda item: -item[1]["speedup"])
    lead = ""
    if len(ranked) >= 2:  # speed-ups, each paired in its own process, never medians of two
        (_, best), (_, second) = ranked[0], ranked[1]
        overlap = best["speedup_low"] <= second["speedup_high"]
        lead = (f"加速比最高的是 {inline(best['label'])} {speedup_text(best)}，"
                + (f"但它与第二名 {inline(second['label'])} 的 {speedup_text(second)} 区间重叠，"
                   "说不上谁更快。" if overlap else
                   f"区间整个高于第二名 {inline(second['label'])} 的 {speedup_text(second)}。"))
    return tidy(f"批量为 {inline(batch)} 时，" + "；".join(parts) + "。" + lead)


def speedup_text(r: Mapping[str, Any]) -> str:
    """A path's speed-up and its range as the page writes it everywhere: ``1.37×（1.36–1.38）``."""
    return f"{r['speedup']:.2f}×（{ratio_range(r['speedup_low'], r['speedup_high'])}）"


def _number(value: Any) -> str:
    """``1e-4`` rather than ``0.0001``: tolerances read best in scientific notation."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return inline(value)
    if value == 0 or 0.1 <= abs(value) < 1e4 or not math.isfinite(value):
        return f"{value:g}"
    mantissa, exponent = f"{value:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


# How ``compare_paths`` warns that warming up the compiler toolchain failed (the record keeps
# the seconds it took, not whether it succeeded); the clause of ``compile_covers`` that is then
# no longer true, and what the page says instead.
WARM_UP_FAILED = "warming up the compiler toolchain failed"
NOT_TOOLCHAIN = "，也不含编译工具链第一次从磁盘加载"
WARM_UP_UNFINISHED = "工具链预热未完成，最先计时的编译路径可能包含工具链加载的时间"


def warm_up_failed(warnings: tuple[str, ...]) -> bool:
    """Whether the ``compare_paths`` region's warnings say warming up the toolchain failed."""
    return any(str(w).startswith(WARM_UP_FAILED) for w in warnings)


def paths_warm_up(measured: list[tuple[str, Mapping[str, Any], bool]]) -> str:
    """How long warming up the compiler toolchain took on each device (``measured``: label,
    paths, whether it failed there), and what a failure means for the compile times; ""
    where no device recorded it."""
    parts = []
    for label, paths, failed in measured:
        seconds = paths.get("toolchain_warm_up_seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            continue
        parts.append(f"在 {label} 上没有完成（用了 {seconds:.1f} 秒），那里最先计时的编译路径，"
                     "编译时间可能包含工具链加载的时间" if failed
                     else f"在 {label} 上用了 {seconds:.1f} 秒")
    return tidy("本次构建中，这一步" + "；".join(parts) + "。") if parts else ""


def _arithmetic(paths: Mapping[str, Any], warm_up_failed: bool = False) -> list[str]:
    """The timer, float32 matmul precision and output tolerance, as far as the record has
    them (records from before they were kept have none); what the compile time covers, less
    the toolchain's loading where warming it up failed."""
    parts = []
    if paths.get("timer"):
        parts.append(f"计时方式：{inline(paths['timer'])}")
    matmul = paths.get("matmul")
    if isinstance(matmul, Mapping) and matmul.get("precision"):
        settings = MatmulSettings(str(matmul["precision"]), bool(matmul.get("tf32")),
                                  str(matmul.get("forced_by") or ""))
        parts.append(inline(settings.describe()))
    tol = paths.get("tolerance")
    if isinstance(tol, Mapping) and {"rtol", "atol"} <= set(tol):
        parts.append(f"与 eager 比对输出的容差：rtol={_number(tol['rtol'])}，"
                     f"atol={_number(tol['atol'])}")
    covers = str(paths.get("compile_covers") or "")
    if warm_up_failed:
        covers = covers.replace(NOT_TOOLCHAIN, "")
    if covers:
        # its own "；" would read as the end of the part: within it, a comma
        parts.append(f"编译时间包括{inline(covers.replace('；', '，'))}")
    if warm_up_failed:
        parts.append(WARM_UP_UNFINISHED)
    return parts


def _commit(commit: str, first_commit: str = "") -> str:
    """The commit(s) the numbers were measured at, saying what a range and ``+dirty`` mean."""
    shown = [c for c in (first_commit, commit) if c]
    if len(shown) == 2 and shown[0] == shown[1]:
        shown = shown[1:]
    notes = []
    if len(shown) == 2:
        notes.append("本页各段代码运行时的提交不止一个，这里是最早和最晚的")
    dirty = [i for i, c in enumerate(shown) if c.endswith("+dirty")]
    if dirty:
        whose = "" if len(shown) == 1 else ("两者都" if len(dirty) == 2
                                            else "前者" if dirty[0] == 0 else "后者")
        notes.append(f"{whose}含未提交的改动")
    codes = " 至 ".join(f"<code>{inline(c)}</code>" for c in shown)
    return codes + (f"（{'；'.join(notes)}）" if notes else "")


def paths_provenance(paths: Mapping[str, Any], cpu: str, executed_at: str,
                     commit: str, *, first_commit: str = "", warnings: tuple[str, ...] = ()) -> str:
    """Where these numbers come from: device, CPU/GPU model (and CUDA version), torch,
    threads, date, commit (``first_commit``: the earliest, where the page's regions ran at
    several); then the timer, the float32 matmul precision (TF32 or not), the tolerance
    outputs were compared with, what the compile time covers (``warnings``: the region's, which
    say whether warming up the toolchain failed), and what was skipped."""
    cuda = paths.get("device") == "cuda"
    hardware = paths.get("gpu") if cuda else cpu
    if cuda and paths.get("cuda"):
        hardware = f"{hardware}，CUDA {paths['cuda']}" if hardware else f"CUDA {paths['cuda']}"
    where = f"{device_name(paths)}（{hardware}）" if hardware else device_name(paths)
    tail = "".join(f"；{part}" for part in _arithmetic(paths, warm_up_failed(warnings)))
    if paths.get("quick"):
        tail += "；快速模式（D2L_BENCH_QUICK），数字仅供冒烟测试"
    skipped = paths.get("skipped") or {}
    if skipped:
        tail += "；未测量：" + "，".join(
            f"{inline(LABELS.get(name, name))}（{inline(skipped[name])}）"
            for name in sorted(skipped, key=chapter_order))  # the chapter's order
    # on a GPU the threads are still the CPU's (torch.get_num_threads): say so
    threads = f"{paths.get('threads')} 个{' CPU ' if cuda else ''}线程"
    return (inline(f"测量环境：设备 {where}，PyTorch {paths.get('torch')}，"
                   f"{threads}，执行于 {readable_time(executed_at)}，提交 ")
            + f"{_commit(commit, first_commit)}{tail}。")


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
            # the batch sizes once, at the first file that grew
            when = "" if sentences else f"批量从 {small} 增加到 {large} 时，"
            text = (f"{when}{label} 保存的 "
                    f"{_kind_name(artifact['kind'])} 文件大了 {grown} 字节（{human_size(grown)}）")
            if extra_rows and abs(grown - extra_rows) <= 0.05 * extra_rows:
                # say the gap as it is: 64 bytes is "只差 64 字节", not "不到 5%"
                gap = abs(grown - extra_rows)
                close = "正好相等" if gap == 0 else f"只差 {gap} 字节"
                text += (f"，与多出的 {int(large) - int(small)} 行示例输入的大小（{extra_rows} 字节）"
                         f"{close}，可见导出时用的示例输入也一并存进了文件")
            sentences.append(text)
    return tidy("；".join(sentences) + "。") if sentences else ""


def paths_file_growth_devices(measured: list[tuple[str, Mapping[str, Any]]]) -> str:
    """:func:`paths_file_growth` for every device (``measured``: label, paths): said once when
    every device found the same, else a sentence per device that found something."""
    found = [(label, paths_file_growth(paths)) for label, paths in measured]
    if len({text for _, text in found}) == 1:
        return found[0][1]
    return tidy("".join(f"在 {label} 上，{text}" for label, text in found if text))


def _eager_medians(paths: Mapping[str, Any]) -> list[tuple[int, float]]:
    """(batch size, eager's median seconds per call), smallest batch first."""
    found = []
    for batch, results in (paths.get("batches") or {}).items():
        eager = results.get("eager") if isinstance(results, Mapping) else None
        if isinstance(eager, Mapping) and str(batch).isdigit():
            found.append((int(batch), float(eager["samples"]["median"])))
    return sorted(found)


def _share(fixed: float, total: float) -> str:
    part = fixed / total
    if part >= 0.995:  # "约占 100%" would round the computation away
        return "几乎占了全部"
    if part < 0.005:
        return "所占不到 1%（计算占主导）"
    return f"约占 {part * 100:.0f}%（{'开销' if part >= 0.5 else '计算'}占主导）"


def batch_scaling(paths: Mapping[str, Any]) -> str:
    """How eager's time per call grows from the smallest batch to the largest, split by the
    straight line through the two medians into a part independent of the batch (interpreter,
    framework, kernel launches) and a part proportional to it (the computation); \"\" with
    fewer than two batch sizes."""
    medians = _eager_medians(paths)
    if len(medians) < 2:
        return ""
    (n1, t1), (n2, t2) = medians[0], medians[-1]
    said = (f"eager 每次调用的中位数从批量 {n1} 的 {_us(t1)} 微秒变为批量 {n2} 的 "
            f"{_us(t2)} 微秒")
    per_row = (t2 - t1) / (n2 - n1)
    fixed = t1 - per_row * n1
    if per_row <= 0:
        return f"{said}，没有随批量增长：两种批量下都是固定开销占主导。"
    if fixed <= 0:
        return f"{said}，与批量大致成正比：两种批量下都是计算占主导。"
    return (f"{said}；据此估算，固定开销在批量 {n1} 时{_share(fixed, t1)}，"
            f"在批量 {n2} 时{_share(fixed, t2)}。")


def paths_batch_scaling(measured: list[tuple[str, Mapping[str, Any]]]) -> str:
    """:func:`batch_scaling` for every device, each sentence naming its device."""
    return tidy("".join(f"在 {label} 上，{text}" for label, paths in measured
                        if (text := batch_scaling(paths))))


def process_spread(paths: Mapping[str, Any]) -> tuple[float, str, str] | None:
    """The largest relative difference between eager's median timed in its own process and
    eager's median timed beside a path in that path's process: (difference, batch, path
    label); None if no path was paired with eager."""
    worst: tuple[float, str, str] | None = None
    for batch, results in (paths.get("batches") or {}).items():
        own = results.get("eager") if isinstance(results, Mapping) else None
        if not isinstance(own, Mapping):
            continue
        for name, r in results.items():
            beside = (r.get("paired") or {}).get("eager") if isinstance(r, Mapping) else None
            if name == "eager" or not isinstance(beside, Mapping):
                continue
            gap = abs(beside["median"] / own["samples"]["median"] - 1)
            if worst is None or gap > worst[0]:
                worst = (gap, str(batch), str(r["label"]))
    return worst


def paths_process_spread(measured: list[tuple[str, Mapping[str, Any]]]) -> str:
    """A sentence for the page: how far eager's median moved between processes, per device,
    from :func:`process_spread`; "" when no device paired its paths with eager."""
    parts = []
    for label, paths in measured:
        found = process_spread(paths)
        if found:
            gap, batch, path = found
            parts.append(f"在 {label} 上最多相差 {gap * 100:.1f}%（批量 {inline(batch)}，"
                         f"{inline(path)} 的进程）")
    if not parts:
        return ""
    return tidy("这次测量里，eager 在各条路径的进程里与在它自己的进程里测得的中位数，"
                + "，".join(parts) + "。")




def compile_times(paths: Mapping[str, Any], batch: str) -> str:
    """Which paths took longer to convert than ``torch.jit.script`` at ``batch``, and which
    did not; \"\" if script or all of them were not measured."""
    results = dict(_batch(paths, batch))
    script = results.get("script")
    if script is None:
        return ""
    longer, not_longer = [], []
    for name, r in sorted(results.items(), key=lambda item: chapter_order(item[0])):
        if name not in ("eager", "script"):  # every other path, ONNX's export included
            (longer if r["compile_seconds"] > script["compile_seconds"] else not_longer).append(
                f"{inline(r['label'])} {r['compile_seconds']:.2f} 秒")
    if not longer and not not_longer:
        return ""
    than = f"{inline(script['label'])}（{script['compile_seconds']:.2f} 秒）"
    parts = []
    if longer:
        parts.append(f"一次性编译时间比 {than}长的有 " + "、".join(longer))
    if not_longer:
        parts.append(("不比它长的有 " if longer else f"一次性编译时间不比 {than}长的有 ")
                     + "、".join(not_longer))
    return f"批量为 {inline(batch)} 时，" + "；".join(parts) + "。"


def paths_compile_times(measured: list[tuple[str, Mapping[str, Any]]], batch: str) -> str:
    """:func:`compile_times` for every device, each sentence naming its device."""
    return tidy("".join(f"在 {label} 上，{text}" for label, paths in measured
                        if (text := compile_times(paths, batch))))


def outputs_from(main: str, others: list[str]) -> str:
    """Whose results the page's outputs and plain numbers are (``main``, the device that ran
    the page's own results), and where the ``others`` devices' measurements appear."""
    if not others:
        return tidy(f"本页代码块下方的输出和正文里引用的数字都来自 {main}。")
    which = f"另一台设备 {others[0]}" if len(others) == 1 else f"其他设备 {'、'.join(others)}"
    return tidy(f"本页代码块下方的输出和正文里引用的数字，凡是没有注明设备的，都来自 {main}；"
                f"{which} 的测量结果只出现在后面按设备分别列出的表格、图和句子里。")
