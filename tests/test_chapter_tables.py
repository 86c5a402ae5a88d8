"""The chapter's generated tables and chart, from a hand-made record (no torch, no build)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from d2l_compiler.claims import verdict
from d2l_compiler.chapter.charts import paths_chart
from d2l_compiler.chapter.tables import (PATHS_HEADER, batch_scaling, breakeven_calls, breakeven_text,
                                         paths_summary, paths_table)


def _result(label: str, median: float, spread: float, compile_seconds: float, vs: str) -> dict:
    samples = {"description": label, "median": median, "q1": median - spread, "q3": median + spread}
    return {"label": label, "setting": "eval() + no_grad()", "compile_seconds": compile_seconds,
            "samples": samples, "speedup": 60e-6 / median, "speedup_low": 0.9, "speedup_high": 1.1,
            "vs_eager": vs, "artifacts": [], "paired_speedups": [60e-6 / median]}


PATHS = {"type": "paths", "batches": {"1": {
    "eager": _result("eager（命令式）", 60e-6, 1e-6, 0.0, "within noise"),
    "script": _result("torch.jit.script", 40e-6, 1e-6, 0.2, "faster"),
    "compile": _result("torch.compile", 90e-6, 1e-6, 20.0, "slower"),
    "trace": _result("torch.jit.trace", 59e-6, 5e-6, 0.1, "within noise")}}}


def test_breakeven_is_compile_time_over_time_saved_per_call():
    eager = PATHS["batches"]["1"]["eager"]
    script = PATHS["batches"]["1"]["script"]
    assert breakeven_calls(script, eager) == 10_000  # 0.2 s / 20 µs saved per call
    assert breakeven_text(script, eager) == "10,000"
    assert breakeven_calls(PATHS["batches"]["1"]["compile"], eager) is None
    assert breakeven_text(PATHS["batches"]["1"]["compile"], eager) == "永不（更慢）"
    assert breakeven_text(PATHS["batches"]["1"]["trace"], eager) == "无法确定（差别在波动之内）"


def test_the_paths_table_shows_settings_and_break_even_per_row():
    table = paths_table(PATHS, "1")
    cells = re.findall(r'<td data-label="([^"]+)"[^>]*>(.*?)</td>', table)
    rows = [cells[i:i + len(PATHS_HEADER)] for i in range(0, len(cells), len(PATHS_HEADER))]
    # the name kept whole in code style, its setting under it; the verdict under the speed-up
    assert [c[1] for c in rows[1]] == [
        '<span class="d2l-name">torch.jit.script</span><br><small>eval() + no_grad()</small>',
        "0.20", '<span class="d2l-figure">40.0</span><span class="d2l-figure">（39.0–41.0）</span>',
        '<span class="d2l-figure">1.50×</span><span class="d2l-figure">（0.90–1.10）</span>'
        "<br><small>更快</small>", "10,000"]
    assert all([c[0] for c in row] == PATHS_HEADER for row in rows)
    assert rows[0][-1][1] == "—"  # eager pays nothing back: it compiles nothing


def test_the_timing_cell_says_how_many_samples_the_median_rests_on():
    calls = {"eager": 1, "script": 1000, "compile": 1, "trace": 1}  # per sample
    counted = {**PATHS, "batches": {"1": {
        name: {**r, "samples": {**r["samples"], "count": 1200, "number": calls[name]}}
        for name, r in PATHS["batches"]["1"].items()}}}
    cells = re.findall(r'data-label="每次调用：中位数（四分位区间），微秒"[^>]*>(.*?)</td>',
                       paths_table(counted, "1"))
    figure = ('<span class="d2l-figure">{}</span><span class="d2l-figure">{}</span>'
              '<br><small>{}</small>').format
    assert cells[0] == figure("60.0", "（59.0–61.0）", "1,200 个样本")
    assert cells[1] == figure("40.0", "（39.0–41.0）", "1,200 个样本（每个 1,000 次调用）")


def test_tolerances_read_in_scientific_notation():
    from d2l_compiler.chapter.tables import _number

    assert [_number(v) for v in (1e-4, 1e-5, 1e-2, 2.5e-3, 0.5, 0)] == [
        "1e-4", "1e-5", "1e-2", "2.5e-3", "0.5", "0"]
    assert _number("<b>") == "&#60;b&#62;"


def test_the_summary_writes_each_speedup_once_without_stacked_brackets():
    summary = paths_summary(PATHS, "1")
    assert "）（" not in summary
    assert "比 eager 快的有 torch.jit.script 1.50×" in summary
    # the best speed-up, against the second's range: never medians taken in two processes
    assert "加速比最高的是 torch.jit.script 1.50×（0.90–1.10），但它与第二名" in summary
    ahead = {**PATHS, "batches": {"1": {**PATHS["batches"]["1"], "script": {
        **PATHS["batches"]["1"]["script"], "speedup_low": 1.45, "speedup_high": 1.55}}}}
    assert ("加速比最高的是 torch.jit.script 1.50×（1.45–1.55），区间整个高于第二名 torch.jit.trace 的 "
            "1.02×（0.90–1.10）。") in paths_summary(ahead, "1")
    assert "；并且" not in summary


def test_the_summary_says_a_tie_for_the_smallest_median_in_one_sentence():
    tied = {**PATHS, "batches": {"1": {**PATHS["batches"]["1"],
                                       "frozen": _result("script + freeze", 40.5e-6, 1e-6, 0.3,
                                                         "faster")}}}
    summary = paths_summary(tied, "1")
    assert summary.endswith("但它与第二名 script + freeze 的 1.48×（0.90–1.10）区间重叠，说不上谁更快。")


def _eager_at(medians: dict[str, float]) -> dict:
    return {"type": "paths", "batches": {
        batch: {"eager": _result("eager（命令式）", median, 1e-7, 0.0, "within noise")}
        for batch, median in medians.items()}}


def test_batch_scaling_never_rounds_a_share_to_all_or_nothing():
    # 30 µs at batch 1, 40 µs at 256: the fixed part is 99.9 % of batch 1, not "100%"
    nearly_all = batch_scaling(_eager_at({"1": 30e-6, "256": 40e-6}))
    assert "固定开销在批量 1 时几乎占了全部，在批量 256 时约占 75%（开销占主导）。" in nearly_all
    # the line through (1, 10.001 µs) and (256, 2560 µs) leaves a fixed part of 0.001 µs
    next_to_none = batch_scaling(_eager_at({"1": 10.001e-6, "256": 2560e-6}))
    assert "在批量 256 时所占不到 1%（计算占主导）。" in next_to_none
    assert "约占 0%" not in next_to_none and "约占 100%" not in nearly_all


def test_the_chart_draws_what_the_table_says_in_the_same_figures():
    svg = paths_chart(PATHS)
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    cells = dict(re.findall(r'<td data-label="路径（推理设置）"[^>]*><span class="d2l-name">(.*?)</span>'
                            r'.*?data-label="相对 eager 的加速比"[^>]*>(.*?)</td>',
                            paths_table(PATHS, "1")))
    assert "批量 1" in texts
    for name, result in PATHS["batches"]["1"].items():
        assert result["label"] in texts
        if name == "eager":
            assert "1.00×" in texts and "编译 —" in texts  # eager compiles nothing
            continue
        drawn = f"{result['speedup']:.2f}×"
        shown = re.sub(r"<[^>]+>", "", cells[result["label"]])
        assert drawn in texts and shown.startswith(drawn)  # the table's figure
        assert f"编译 {result['compile_seconds']:.2f} 秒" in texts  # 0.20, never rounded to 0.2
    # the bars are the speed-ups: eager's bar (1×) is as long as the dashed 1× line is far
    bars = [float(r.get("width")) for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    ones = [float(line.get("x1")) for line in root.iter("{http://www.w3.org/2000/svg}line")
            if line.get("stroke-dasharray")]
    assert bars[0] == pytest.approx(ones[0], abs=0.1)
    assert bars[1] == pytest.approx(1.5 * ones[0], abs=0.1)  # script: 1.50×
    width = float(root.get("viewBox").split()[2])
    assert width <= 360  # on a phone's 358-pixel column the text keeps the body's 16 px
    assert "font-size:16px" in root.get("style")
    assert all(float(t.get("font-size", 16)) >= 16 for t in root.iter("{http://www.w3.org/2000/svg}text"))


def test_a_path_never_timed_beside_eager_gets_no_bar():
    old = {**PATHS, "batches": {"1": {**PATHS["batches"]["1"], "script": {
        **PATHS["batches"]["1"]["script"], "paired_speedups": []}}}}
    texts = [t.text for t in ET.fromstring(paths_chart(old)).iter("{http://www.w3.org/2000/svg}text")]
    assert "未与 eager 交替计时" in texts and "1.50×" not in texts


def test_paired_rounds_decide_the_speedup_and_the_verdict():
    from d2l_compiler.measure import PathResult
    from d2l_compiler.timing import Samples

    eager = Samples("eager", (60e-6,) * 5)
    slow_alone = Samples("path", (70e-6,) * 5)  # timed alone it looks slower than eager ...

    def row(*ratios: float) -> dict:
        beside = (Samples("eager", tuple(70e-6 * r for r in ratios), session="s"),
                  Samples("path", (70e-6,) * len(ratios), session="s"))
        return PathResult("script", 0.2, slow_alone, True, 0.0, (), beside).to_record(eager)
    paired = row(1.01, 1.02, 1.02, 1.03, 1.05)  # ... but beside eager it is 2 % faster
    assert paired["vs_eager"] == "faster" and paired["speedup"] == pytest.approx(1.02)
    assert (paired["speedup_low"], paired["speedup_high"]) == pytest.approx((1.02, 1.03))
    saved = 70e-6 * 0.02  # the path's time per call times (speed-up - 1)
    assert breakeven_calls(paired, {"samples": eager.to_record()}) == 142_858 == -(-0.2 // saved)
    assert row(0.97, 0.98, 0.99, 1.01, 1.02)["vs_eager"] == "within noise"
    assert row(0.90, 0.95, 0.96, 0.97, 0.98)["vs_eager"] == "slower"
    assert row(1.5)["speedup_low"] == row(1.5)["speedup_high"] == 1.5
    unpaired = PathResult("script", 0.2, slow_alone, True, 0.0, ()).to_record(eager)
    assert unpaired["vs_eager"] == "slower" and unpaired["speedup"] == pytest.approx(60 / 70)
    # the pair itself is recorded, so a page can compare its two sides round by round
    recorded = row(1.01, 1.02, 1.02, 1.03, 1.05)["paired"]
    assert verdict(recorded["path"], recorded["eager"]) == "faster"
    assert paired["paired_speedups"] == pytest.approx([1.01, 1.02, 1.02, 1.03, 1.05])


def test_the_printed_report_the_table_and_the_chart_give_each_figure_once():
    """print(paths) under the code, the table and the chart: one measurement, one figure."""
    from d2l_compiler.measure import PathResult, PathsReport
    from d2l_compiler.timing import Samples

    eager_alone = Samples("eager", (44e-6, 34e-6, 56e-6))  # its own process: a wide spread
    beside = Samples("eager beside", (30e-6, 31e-6, 29e-6, 30.5e-6), session="s")
    path = Samples("script", (20e-6, 20.2e-6, 19.6e-6, 20.1e-6), session="s")
    report = PathsReport({256: {"eager": PathResult("eager", 0.0, eager_alone, True, 0.0, ()),
                                "script": PathResult("script", 0.04, path, True, 0.0, (),
                                                     (beside, path))}}, {"threads": 2})
    record = report.to_record()
    script = record["batches"]["256"]["script"]
    printed = next(line for line in str(report).splitlines() if line.startswith("script"))
    speedup = f"{script['speedup']:.2f}"
    # the ratio of the rounds (about 1.51), never the ratio of the two rows' medians (2.2)
    assert speedup == "1.51" and f"{44e-6 / script['samples']['median']:.2f}" not in printed
    assert f" {speedup} ({script['speedup_low']:.2f}–{script['speedup_high']:.2f})" in printed
    assert f"{beside.median * 1e6:.1f}" in printed  # the eager it was divided from
    assert f"{speedup}×（" in re.sub(r"<[^>]+>", "", paths_table(record, "256"))
    assert f">{speedup}×</text>" in paths_chart(record)


def test_a_ratio_range_shows_what_its_verdict_rests_on():
    from d2l_compiler.claims import ratio_range

    assert ratio_range(1.2612, 1.2794) == "1.26–1.28"
    assert ratio_range(1.2612, 1.2638) == "1.261–1.264"  # never "1.26–1.26"
    assert ratio_range(1.004, 1.10) == "1.004–1.100"  # wholly above 1, and it shows
    assert ratio_range(0.93, 0.998) == "0.930–0.998"
    assert ratio_range(1.0, 1.0) == "1.00–1.00"  # exactly 1: nothing to tell apart
