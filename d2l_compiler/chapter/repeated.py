"""The token ``repeated_figures``: every quantity the page measured more than once, found in
its record and checked, not only the pairs the prose names.

A timing's ``work`` (:func:`d2l_compiler.timing.work_of`) says what was timed apart from
how: the same work timed twice in one process under the same conditions must agree, and
the same two works compared twice under the same conditions must reach the same verdict
with overlapping ratios (:mod:`d2l_compiler.claims`); otherwise the build fails. Timings
taken another way or in another process are listed with what differed and by how much.
"""

from __future__ import annotations

from collections.abc import Mapping

from d2l_compiler.chapter.tables import html_table, tidy
from d2l_compiler.claims import (SAME_WORK_TOLERANCE, RepeatedComparison, Repeat, Timing,
                                 ratio_of, ratio_range, repeated_comparisons, repeated_timings,
                                 spread, timings_in)
from d2l_compiler.engine.escape import inline
from d2l_compiler.engine.render.tokens import RenderError, TokenCall

TIMINGS_HEADER = ["测的是什么", "出现在", "每次调用：中位数（四分位区间）", "与第一处相比"]
RATIOS_HEADER = ["比较", "出现在", "前者用时 ÷ 后者用时（逐轮）", "与第一处相比"]


def _timings(regions: Mapping) -> list[Timing]:
    """Every samples record the page's regions bound (a region run more than once is
    ambiguous for tokens and left out here too)."""
    return [timing for section, run in regions.items() if not isinstance(run, list)
            for timing in timings_in(run.values, section)]


def _place(timing: Timing) -> str:
    description = inline(str(timing.samples.get("description", "")))
    section = inline(timing.where.partition(".")[0])
    return f"“{description}”<br><small>{section}</small>"


def _timing_rows(repeats: list[Repeat]) -> list[list[str]]:
    rows = []
    for repeat in repeats:
        for i, timing in enumerate(repeat.timings):
            rows.append([inline(repeat.what) if i == 0 else "", _place(timing),
                         spread(timing.samples),
                         "（第一处）" if i == 0 else inline(repeat.beside_first[i - 1])])
    return rows


def _ratio(pair: tuple[Timing, Timing]) -> str:
    found = ratio_of(pair)
    if found is None:
        return "—"
    low, median, high = found
    return f"{median:.2f}（{ratio_range(low, high)}）"


def _comparison_rows(comparisons: list[RepeatedComparison]) -> list[list[str]]:
    rows = []
    for comparison in comparisons:
        what = "<br>与<br>".join(inline(w) for w in comparison.works)
        for i, pair in enumerate(comparison.pairs):
            places = "<br>".join(_place(t) for t in pair)
            rows.append([what if i == 0 else "", places, _ratio(pair),
                         "（第一处）" if i == 0 else inline(comparison.beside_first[i - 1])])
    return rows


def repeated_figures(repeats: list[Repeat], comparisons: list[RepeatedComparison],
                     other_devices: int) -> str:
    """A collapsed note: what was checked, in a few sentences, then the tables."""
    others = (f"另外 {other_devices} 台设备的记录也按同样的规则对照过。" if other_devices else "")
    if not repeats and not comparisons:
        return tidy(f"<p>本页没有哪个量测了不止一次。{others}</p>")
    places = sum(len(r.timings) for r in repeats)
    counted = [f"{len(repeats)} 个量测了不止一次，共出现在 {places} 处"] if repeats else []
    if comparisons:
        counted.append(f"{len(comparisons)} 组快慢比较做了不止一次")
    said = tidy(
        f"本页有 {'；'.join(counted)}。是不是同一个量，看被调用的是哪种对象、模型指纹（类、结构和参数）"
        f"以及输入的形状、类型和设备，与怎样测无关。构建把它们全部找出来逐一对照：同一个进程里用同样的"
        f"测法测同一个量，四分位区间必须相互重叠（或中位数相差不超过 {SAME_WORK_TOLERANCE:.0%}）；"
        f"同一个进程里用同样的测法比较同样两件工作，结论和倍数都必须一致，否则构建报错停止。测法或进程不同的几处，表中注明了"
        f"不同之处和相差多少。{others}")
    parts = [f"<p>{said}</p>"]
    if repeats:
        parts.append(html_table(TIMINGS_HEADER, _timing_rows(repeats), numeric=set()))
    if comparisons:
        parts.append(html_table(RATIOS_HEADER, _comparison_rows(comparisons), numeric=set()))
    return ('<details class="note d2l-repeated"><summary>本页测了不止一次的量</summary>'
            + "".join(parts) + "</details>")


def repeated_token(call: TokenCall) -> str:
    """``repeated_figures``: the note above, from this page's results; every other device's
    results (a merged record) are checked the same way."""
    call.expect(1, "repeated_figures")
    try:
        for _, regions in call.page.others:
            timings = _timings(regions)
            repeated_timings(timings)
            repeated_comparisons(timings)
        timings = _timings(call.page.regions)
        return repeated_figures(repeated_timings(timings), repeated_comparisons(timings),
                                len(call.page.others))
    except ValueError as exc:
        raise RenderError(f"repeated_figures: {exc}") from None
