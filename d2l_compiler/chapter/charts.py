"""The paths chart, drawn from the record as inline SVG (no plotting library, no image file).

It draws what the table can stand behind: per batch size, one row per path, its speed-up
over eager (the median of the round-by-round ratios timed alternately in the path's own
process, the interquartile range as a whisker, a line at 1×) and its one-off compile time,
each printed as the table prints it. Per-call medians are not drawn side by side: each comes
from its own process, and bars of times from different processes would show differences the
paired ratios do not have. Text is real SVG text in the page's font, at the body's size
on a phone (16 units in a 360-unit-wide drawing) and larger on a desktop; it follows the light
or dark scheme (``currentColor``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from html import escape
from typing import Any

from d2l_compiler.chapter.tables import chapter_order

WIDTH, FONT = 360, 16
NAME_LINE, BAR, ROW_GAP = 20, 18, 10       # a path's name, then its bar(s), then a gap
BAR_WIDTH = 170                           # the longest speed-up bar
NUMBER_X = BAR_WIDTH + 6                  # the speed-up printed after the bars
# at 16 units a line holds about 21 Chinese characters
LEGEND = ("条形：相对 eager 的加速比", "（逐轮交替计时，各轮比值的中位数）", "横线：四分位区间；虚线：1×")


def _ordered(results: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return sorted(results.items(), key=lambda item: chapter_order(item[0]))


def _speedup(name: str, r: Mapping[str, Any]) -> tuple[float, float, float] | None:
    """(low, median, high) of a path's paired speed-up; eager is 1 exactly; None if the path
    was not timed beside eager (an old record)."""
    if name == "eager":
        return 1.0, 1.0, 1.0
    if not r.get("paired_speedups"):
        return None
    return float(r["speedup_low"]), float(r["speedup"]), float(r["speedup_high"])


def _compile_text(name: str, r: Mapping[str, Any]) -> str:
    seconds = r.get("compile_seconds")
    if name == "eager" or not isinstance(seconds, int | float):
        return "编译 —"
    return f"编译 {seconds:.2f} 秒"  # as the table prints it


def _bar(y: float, found: tuple[float, float, float] | None, scale: float, opacity: str,
         after: str) -> list[str]:
    """One speed-up bar at ``y`` with its whisker and number (``after`` follows the number)."""
    if found is None:
        return [f'<text x="0" y="{y + 14}">未与 eager 交替计时{escape(after)}</text>']
    low, median, high = found
    return [f'<rect x="0" y="{y + 2}" width="{median * scale:.1f}" height="{BAR - 4}" '
            f'fill="currentColor" fill-opacity="{opacity}"/>',
            f'<line x1="{low * scale:.1f}" x2="{high * scale:.1f}" y1="{y + BAR / 2}" '
            f'y2="{y + BAR / 2}" stroke="currentColor" stroke-width="2"/>',
            f'<text x="{NUMBER_X}" y="{y + 14}">{median:.2f}×{escape(after)}</text>']


def _scale(found: list[tuple[float, float, float] | None]) -> float:
    widest = max([f[2] for f in found if f is not None] + [1.25])
    return BAR_WIDTH / widest


def _one_line(x: float, top: float, bottom: float) -> str:
    return (f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="currentColor" '
            'stroke-dasharray="3 3" stroke-width="1"/>')


def _panel(batch: str, results: Mapping[str, Any], top: float) -> tuple[list[str], float]:
    """One batch size's rows, starting at ``top``: the SVG parts and the height used. Each
    path's name has a line of its own, so long names fit a phone."""
    rows = _ordered(results)
    found = [_speedup(name, r) for name, r in rows]
    scale = _scale(found)
    parts = [f'<text x="0" y="{top + 18}" font-weight="bold">批量 {escape(batch)}</text>']
    y = top + 30
    for (name, r), speedup in zip(rows, found, strict=True):
        parts.append(f'<text x="0" y="{y + 15}">{escape(str(r["label"]))}</text>')
        y += NAME_LINE
        opacity = "0.45" if name == "eager" else "0.8"
        parts += _bar(y, speedup, scale, opacity, "")
        parts.append(f'<text x="{WIDTH}" y="{y + 14}" text-anchor="end">'
                     f'{escape(_compile_text(name, r))}</text>')
        y += BAR + ROW_GAP
    parts.append(_one_line(scale, top + 30, y - ROW_GAP))
    return parts, y - top + 8


def _legend(lines: tuple[str, ...]) -> tuple[list[str], float]:
    parts = [f'<text x="0" y="{18 + 22 * i}">{escape(line)}</text>' for i, line in enumerate(lines)]
    return parts, 22 * len(lines) + 8


def _svg(parts: list[str], height: float, title: str, key: Any) -> str:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="d2l-chart" role="img" '
            f'aria-labelledby="paths-{digest}" viewBox="0 0 {WIDTH} {height:.0f}" '
            f'width="{WIDTH}" style="width:100%;max-width:34rem;height:auto;'
            f'font-family:inherit;font-size:{FONT}px" fill="currentColor">'
            f'<title id="paths-{digest}">{escape(title)}</title>' + "".join(parts) + "</svg>")


def paths_chart(paths: Mapping[str, Any]) -> str:
    """The chart as one line of inline SVG (Markdown passes it through as raw HTML)."""
    parts, top = _legend(LEGEND)
    for batch, results in paths["batches"].items():
        panel, height = _panel(batch, results, top)
        parts += panel
        top += height
    title = ("各条路径相对 eager 的加速比（条形为逐轮比值的中位数，横线为四分位区间）"
             "与一次性的编译时间（秒），按批量大小分组")
    return _svg(parts, top, title, paths["batches"])


def _device_panel(batch: str, measured: list[tuple[str, Mapping[str, Any]]],
                  top: float) -> tuple[list[str], float]:
    """One batch size with a series per device: under each path's name, one speed-up bar
    per device (the device's name after the number), on one scale."""
    per_device = [(label, dict(_ordered(paths["batches"].get(batch, {})))) for label, paths in measured]
    names = [n for n, _ in _ordered({n: r for _, results in per_device for n, r in results.items()})]
    found = {(device, name): _speedup(name, results[name])
             for device, results in per_device for name in results}
    scale = _scale(list(found.values()))
    parts = [f'<text x="0" y="{top + 18}" font-weight="bold">批量 {escape(batch)}</text>']
    y = top + 30
    for name in names:
        label = next(results[name]["label"] for _, results in per_device if name in results)
        parts.append(f'<text x="0" y="{y + 15}">{escape(str(label))}</text>')
        y += NAME_LINE
        for number, (device, results) in enumerate(per_device):
            if name not in results:
                parts.append(f'<text x="0" y="{y + 14}">{escape(device)}：未测量</text>')
            else:
                opacity = ("0.8", "0.45", "0.25")[number % 3]
                parts += _bar(y, found[device, name], scale, opacity, f" · {device}")
            y += BAR
        y += ROW_GAP
    parts.append(_one_line(scale, top + 30, y - ROW_GAP))
    return parts, y - top + 8


def paths_chart_devices(measured: list[tuple[str, Mapping[str, Any]]]) -> str:
    """:func:`paths_chart` for one device; with several (label, paths), a series per device
    (speed-ups only: each device's compile times are in its table)."""
    if len(measured) == 1:
        return paths_chart(measured[0][1])
    batches = list(dict.fromkeys(b for _, paths in measured for b in paths["batches"]))
    parts, top = _legend(LEGEND)
    for batch in batches:
        panel, height = _device_panel(batch, measured, top)
        parts += panel
        top += height
    devices = "、".join(label for label, _ in measured)
    title = (f"各条路径相对 eager 的加速比在 {devices} 上的对比（条形为逐轮比值的中位数，"
             "横线为四分位区间），按批量大小分组")
    return _svg(parts, top, title, [[label, paths["batches"]] for label, paths in measured])
