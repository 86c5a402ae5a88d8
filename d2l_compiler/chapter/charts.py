"""The paths chart, drawn from the record as inline SVG (no plotting library, no image file).

Per batch size, one row per path: per-call time (median bar, interquartile whisker) and,
beside it, the one-off compile time. Text is real SVG text in the page's font, so the Chinese
labels render with whatever font the page uses, the chart follows the light or dark scheme
(``currentColor``), and it is narrow enough (360 units) to read on a phone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from html import escape
from typing import Any

from d2l_compiler.chapter.tables import chapter_order

WIDTH, ROW, TITLE = 360, 40, 38
CALL_BAR, CALL_NUMBER_X = 196, 200   # per-call bars from x=0, their median printed after them
COMPILE_X, COMPILE_BAR = 252, 64     # compile-time bars, their seconds printed after them


def _ordered(results: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return sorted(results.items(), key=lambda item: chapter_order(item[0]))


def _panel(batch: str, results: Mapping[str, Any], top: float) -> tuple[list[str], float]:
    """One batch size's rows, starting at ``top``; the SVG parts and the height used. Each
    path's name has a line of its own, so long names fit a phone."""
    rows = _ordered(results)
    slowest = max(r["samples"]["q3"] for _, r in rows) or 1.0
    longest_compile = max((r.get("compile_seconds") or 0.0 for _, r in rows), default=0.0) or 1.0
    parts = [f'<text x="0" y="{top + 14}" font-weight="bold">批量 {escape(batch)}</text>',
             f'<text x="0" y="{top + 30}" font-size="11">'
             '每次调用，微秒（条：中位数；横线：四分位区间）</text>',
             f'<text x="{COMPILE_X}" y="{top + 14}" font-size="11">编译，秒</text>']
    scale = CALL_BAR / slowest
    for number, (name, r) in enumerate(rows):
        y = top + TITLE + number * ROW
        s = r["samples"]
        opacity = "0.45" if name == "eager" else "0.8"
        parts += [f'<text x="0" y="{y + 12}" font-size="11">{escape(str(r["label"]))}</text>',
                  f'<rect x="0" y="{y + 17}" width="{s["median"] * scale:.1f}" height="13" '
                  f'fill="currentColor" fill-opacity="{opacity}"/>',
                  f'<line x1="{s["q1"] * scale:.1f}" x2="{s["q3"] * scale:.1f}" y1="{y + 23.5}" '
                  f'y2="{y + 23.5}" stroke="currentColor" stroke-width="1.5"/>',
                  f'<text x="{CALL_NUMBER_X}" y="{y + 28}" font-size="10">'
                  f'{s["median"] * 1e6:.1f}</text>']
        seconds = r.get("compile_seconds")
        if name == "eager" or seconds is None:
            parts.append(f'<text x="{COMPILE_X}" y="{y + 28}" font-size="10">—</text>')
        else:
            width = COMPILE_BAR * seconds / longest_compile
            parts += [f'<rect x="{COMPILE_X}" y="{y + 17}" width="{width:.1f}" height="13" '
                      'fill="currentColor" fill-opacity="0.25"/>',
                      f'<text x="{COMPILE_X + width + 3:.1f}" y="{y + 28}" font-size="10">'
                      f'{seconds:.1f}</text>']
    return parts, TITLE + len(rows) * ROW + 14


def paths_chart(paths: Mapping[str, Any]) -> str:
    """The chart as one line of inline SVG (Markdown passes it through as raw HTML)."""
    parts: list[str] = []
    top = 0.0
    for batch, results in paths["batches"].items():
        panel, height = _panel(batch, results, top)
        parts += panel
        top += height
    digest = hashlib.sha256(json.dumps(paths["batches"], sort_keys=True).encode()).hexdigest()[:10]
    title = ("各条路径每次调用的时间（条形为中位数，横线为四分位区间，数字为中位数微秒）"
             "与一次性的编译时间（秒），按批量大小分组")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="d2l-chart" role="img" '
            f'aria-labelledby="paths-{digest}" viewBox="0 0 {WIDTH} {top:.0f}" width="{WIDTH}" '
            f'style="max-width:100%;height:auto;font-family:inherit;font-size:12px" '
            f'fill="currentColor"><title id="paths-{digest}">{title}</title>'
            + "".join(parts) + "</svg>")


SERIES = 15  # height of one device's bar and numbers within a path's row


def _device_panel(batch: str, measured: list[tuple[str, Mapping[str, Any]]],
                  top: float) -> tuple[list[str], float]:
    """One batch size with a series per device: under each path's name, one bar per device
    (its per-call median, the interquartile whisker, the device's name after the number),
    on one scale, so the devices compare at a glance."""
    per_device = [(label, dict(_ordered(paths["batches"].get(batch, {})))) for label, paths in measured]
    names = [n for n, _ in _ordered({n: r for _, results in per_device for n, r in results.items()})]
    slowest = max((r["samples"]["q3"] for _, results in per_device for r in results.values()),
                  default=0.0) or 1.0
    scale = CALL_BAR / slowest
    parts = [f'<text x="0" y="{top + 14}" font-weight="bold">批量 {escape(batch)}</text>',
             f'<text x="0" y="{top + 30}" font-size="11">'
             '每次调用，微秒（条：中位数；横线：四分位区间），每种设备一条</text>']
    y = top + TITLE
    for name in names:
        label = next(results[name]["label"] for _, results in per_device if name in results)
        parts.append(f'<text x="0" y="{y + 12}" font-size="11">{escape(str(label))}</text>')
        y += 17
        for number, (device, results) in enumerate(per_device):
            r = results.get(name)
            opacity = ("0.8", "0.45", "0.25")[number % 3]
            if r is None:
                parts.append(f'<text x="0" y="{y + 11}" font-size="10">'
                             f'{escape(device)}：未测量</text>')
            else:
                s = r["samples"]
                parts += [f'<rect x="0" y="{y}" width="{s["median"] * scale:.1f}" height="11" '
                          f'fill="currentColor" fill-opacity="{opacity}"/>',
                          f'<line x1="{s["q1"] * scale:.1f}" x2="{s["q3"] * scale:.1f}" '
                          f'y1="{y + 5.5}" y2="{y + 5.5}" stroke="currentColor" '
                          'stroke-width="1.5"/>',
                          f'<text x="{CALL_NUMBER_X}" y="{y + 10}" font-size="10">'
                          f'{s["median"] * 1e6:.1f} · {escape(device)}</text>']
            y += SERIES
        y += 8
    return parts, y - top + 6


def paths_chart_devices(measured: list[tuple[str, Mapping[str, Any]]]) -> str:
    """:func:`paths_chart` for one device; with several (label, paths), a series per device."""
    if len(measured) == 1:
        return paths_chart(measured[0][1])
    batches = list(dict.fromkeys(b for _, paths in measured for b in paths["batches"]))
    parts: list[str] = []
    top = 0.0
    for batch in batches:
        panel, height = _device_panel(batch, measured, top)
        parts += panel
        top += height
    digest = hashlib.sha256(json.dumps([[label, paths["batches"]] for label, paths in measured],
                                       sort_keys=True).encode()).hexdigest()[:10]
    devices = "、".join(label for label, _ in measured)
    title = f"各条路径每次调用的时间在 {devices} 上的对比（条形为中位数，横线为四分位区间），按批量大小分组"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="d2l-chart" role="img" '
            f'aria-labelledby="paths-{digest}" viewBox="0 0 {WIDTH} {top:.0f}" width="{WIDTH}" '
            f'style="max-width:100%;height:auto;font-family:inherit;font-size:12px" '
            f'fill="currentColor"><title id="paths-{digest}">{escape(title)}</title>'
            + "".join(parts) + "</svg>")
