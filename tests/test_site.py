"""The real chapter, built from scratch: every region's code and recorded output is on the page."""

from __future__ import annotations

import html
import json
import re

from conftest import read_record
from d2l_compiler.claims import ratio_range
from d2l_compiler.timing import duration


def _page(chapter, name: str) -> str:
    return (chapter / "site" / name / "index.html").read_text(encoding="utf-8")


def _text(fragment: str) -> str:
    """Visible text of highlighted HTML: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_every_region_code_and_output_is_rendered(chapter):
    record = read_record(chapter)
    page = _text(_page(chapter, "compilers"))
    regions = record["pages"]["compilers.md"]["regions"]
    assert len([r for r in regions if r["executed"]]) == 12
    for region in regions:
        code = (chapter / region["path"]).read_text(encoding="utf-8")
        first_code_line = code.splitlines()[region["line"] - 1].strip()
        assert first_code_line in page, region["id"]
        if region["executed"]:
            assert region["run"]["status"] == "ok"
            for line in region["run"]["stdout"].splitlines():
                assert line.strip() in page, (region["id"], line)


def test_demos_print_what_the_chapter_claims(chapter):
    regions = {r["section"]: r["run"] for r in read_record(chapter)["pages"]["compilers.md"]["regions"]
               if r["executed"]}
    assert regions["fancy_func"]["stdout"] == "10\n"
    assert regions["symbolic"]["stdout"].endswith("\n10\n")
    assert regions["script"]["values"]["outputs_equal"] is True
    saved = regions["save"]["values"]["saved"]
    assert saved["size_bytes"] > 100_000 and saved["reload_equal"] is True
    warnings = [w["message"] for w in regions["script"]["warnings"]]
    assert any("torch.jit.script` is deprecated" in m for m in warnings)


def test_prose_values_come_from_the_record(chapter):
    regions = {r["section"]: r["run"] for r in read_record(chapter)["pages"]["compilers.md"]["regions"]
               if r["executed"]}
    page = _text(_page(chapter, "compilers"))
    saved = regions["save"]["values"]["saved"]
    assert f"有 {saved['size_bytes']} 字节（约 {saved['size_human']}）" in page
    eager_once = regions["benchmark"]["values"]["eager_once"]["seconds"]
    assert f"用了 {eager_once:.4f} 秒" in page
    eager = regions["benchmark_repeated"]["values"]["eager"]
    assert f"中位数 {duration(eager['median'])}" in page  # cited by the generated sentence
    assert "{{" not in page and "d2l:" not in page


def test_verdict_sentence_matches_the_numbers(chapter):
    regions = {r["section"]: r["run"] for r in read_record(chapter)["pages"]["compilers.md"]["regions"]
               if r["executed"]}
    values = regions["benchmark_repeated"]["values"]
    page = _text(_page(chapter, "compilers"))
    from d2l_compiler.claims import compare, round_ratios, verdict
    for a, b in (("eager", "scripted"), ("eager_no_grad", "scripted_no_grad"),
                 ("eager", "eager_no_grad")):  # each pair's sentence, as the record decides it
        sentence = compare(values[a], values[b])
        assert sentence in page
        first, second = values[a], values[b]
        outcome = verdict(first, second)  # timed side by side: read off the rounds' ratios
        assert (round_ratios(first, second) is not None) == (first["session"] == second["session"])
        if outcome == "faster":
            assert f"“{first['description']}”更快" in sentence
        elif outcome == "slower":
            assert f"“{second['description']}”更快" in sentence
        else:
            assert "测量波动之内" in sentence and "四分位区间" in sentence
    overhead = regions["call_overhead"]["values"]
    assert compare(overhead["plain"], overhead["compiled"]) in page
    assert f"{overhead['overhead_us']:.1f} 微秒" in page


def test_figures_of_the_same_work_are_checked_against_each_other(chapter):
    from d2l_compiler.claims import agreement, verdicts_agreement

    regions = {r["section"]: r["run"]["values"] for r in
               read_record(chapter)["pages"]["compilers.md"]["regions"] if r["executed"]}
    fresh = regions["compile_paths"]["paths"]["batches"]["1"]
    here, careful = regions["benchmark_repeated"], regions["seed_vs_careful"]["careful"]
    page = _text(_page(chapter, "compilers"))
    for other in (careful, here["eager_no_grad"]):
        # every timer records seconds per call: the same work lands within a small factor
        assert 0.25 < other["median"] / fresh["eager"]["samples"]["median"] < 4
        assert agreement(fresh["eager"]["samples"], other) in page
    assert "进程：前者为单独的全新进程，后者为与前面的代码同一个进程" in page
    assert "计时方式：前者为 torch.utils.benchmark，后者为 measure_many 交替计时" in page
    paired = fresh["script"]["paired"]  # the table's verdict: eager and script side by side
    assert verdicts_agreement((here["scripted_no_grad"], here["eager_no_grad"]),
                              (paired["path"], paired["eager"])) in page


def test_provenance_stamp_and_downloadable_record(chapter):
    record = read_record(chapter)
    prov = record["pages"]["compilers.md"]["provenance"]
    page = _text(_page(chapter, "compilers"))
    device = {"cpu": "CPU", "cuda": "GPU"}[prov["device"]]  # in a reader's words
    assert f"PyTorch {prov['torch']}" in page and f"设备 {device}" in page
    published = json.loads((chapter / "site" / "d2l-record.json").read_text(encoding="utf-8"))
    assert published == record


def test_deprecation_is_stated_and_the_warning_shown(chapter):
    page = _text(_page(chapter, "compilers"))
    assert "TorchScript 已被弃用" in page
    assert "torch.compile" in page and "torch.export" in page
    assert "DeprecationWarning: `torch.jit.script` is deprecated" in page


def test_notebook_matches_record_and_is_published_beside_its_page(chapter):
    """Its code cells are the page's executed regions with their recorded outputs, after
    the setup cell (that it runs from the top: tests/test_notebook_anywhere.py)."""
    import nbformat

    record = read_record(chapter)
    published = chapter / "site" / "generated" / "compilers" / "compilers.ipynb"
    nb = nbformat.read(published, as_version=4)
    nbformat.validate(nb)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells[0].metadata.get("d2l_setup") and nb.cells[0] is code_cells[0]
    executed = [r for r in record["pages"]["compilers.md"]["regions"] if r["executed"]]
    assert [c.metadata["d2l_region"] for c in code_cells[1:]] == [r["id"] for r in executed]
    assert code_cells[1].outputs[0]["text"] == "10\n"  # recorded output, stored in the file
    html = _page(chapter, "generated/compilers")
    assert "compilers.ipynb" in html and "下载 notebook" in html
    assert "输出相同: True" in "".join(o.get("text", "") for o in code_cells[5].outputs)


def test_paths_section_is_generated_from_the_record(chapter):
    record = read_record(chapter)
    regions = {r["section"]: r["run"] for r in record["pages"]["compilers.md"]["regions"]
               if r["executed"]}
    paths = regions["compile_paths"]["values"]["paths"]
    page = _text(_page(chapter, "compilers"))
    for batch in ("1", "256"):
        for result in paths["batches"][batch].values():
            s = result["samples"]
            assert f"{s['median'] * 1e6:.1f}（{s['q1'] * 1e6:.1f}–{s['q3'] * 1e6:.1f}）" in page
        assert f"批量为 {batch} 时，" in page
    html = _page(chapter, "compilers")
    chart = html[html.index('<figure class="d2l-chart">'):]
    chart = chart[:chart.index("</figure>")]
    for batch, results in paths["batches"].items():  # every speed-up and compile time, drawn
        assert f">批量 {batch}</text>" in chart
        for name, result in results.items():
            # drawn alone, or in the cpu series beside another device's (a named GPU record);
            # the same figure as the table's and the printed output's
            speedup = f"{result['speedup']:.2f}×"
            assert f">{speedup}</text>" in chart or f">{speedup} · CPU</text>" in chart
            if name != "eager":  # the table's and the printed output's figure and range
                shown = ratio_range(result["speedup_low"], result["speedup_high"])
                assert f"{result['speedup']:.2f}×（{shown}）" in page
                assert f" {result['speedup']:.2f}" in page and f"({shown})" in page
            if name != "eager" and " · CPU</text>" not in chart:  # one device: times drawn too
                assert f">编译 {result['compile_seconds']:.2f} 秒</text>" in chart
            elif name != "eager":  # several devices: the chart compares speed-ups only
                assert f"{result['compile_seconds']:.2f}" in page
    assert "测量环境：设备 CPU" in page and "快速模式" in page  # tests measure in quick mode
    warnings = {w["message"] for w in regions["compile_paths"]["warnings"]}
    assert any("torch.jit.script` is deprecated" in m for m in warnings)


def test_dataflow_diagram_is_derived_from_fancy_func(chapter):
    html_text = html.unescape(_page(chapter, "compilers"))
    figure = html_text[html_text.index('<figure class="d2l-dataflow">'):]
    figure = figure[:figure.index("</figure>")]
    assert ("fancy_func 的数据流：e = add(a, b)；f = add(c, d)；g = add(e, f)；return g。"
            in figure)  # its accessible name, in the page's language
    labels = re.findall(r">([^<>]+)</text>", figure)
    assert sorted(labels) == sorted(["a", "b", "c", "d", "add", "add", "add", "e", "f", "g",
                                     "return g"])
    assert figure.count("<line ") == 10  # one arrow per data dependency


def test_headings_have_readable_anchors_and_pages_credit_the_book(chapter):
    for name in ("compilers", "generated/compilers"):
        page = _page(chapter, name)
        ids = re.findall(r'<h[1-4] id="([^"]*)"', page)
        assert len(ids) >= 10 and all(ids), ids  # no heading without an anchor
        assert not any(re.fullmatch(r"_\d*", i) for i in ids), ids  # no "#_8"
        assert "序列化" in ids and "小结" in ids
        assert len(ids) == len(set(ids))
    home = (chapter / "site" / "index.html").read_text(encoding="utf-8")
    footer = home[home.index('class="md-copyright"'):]
    assert "《动手学深度学习》" in footer and "12.1" in footer
    assert "https://zh.d2l.ai/chapter_computational-performance/hybridize.html" in footer
    assert "CC BY-NC-SA 4.0" in footer


def test_api_page_renders_sphinx_roles_as_links(chapter):
    """A docstring's ``:func:`x``` reaches the API page as a link to ``x``, never as text."""
    html = (chapter / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert not any(role in html for role in (":func:", ":class:", ":meth:", ":mod:"))
    assert ('href="#d2l_compiler.measure.measure_call_cuda"><code>measure_call_cuda</code></a>'
            in html)  # measure_call's docstring says :func:`measure_call_cuda`


def test_a_reader_sees_no_doubled_title_no_stray_spaces_and_no_link_to_the_page_itself(chapter):
    for name in ("compilers", "generated/compilers", "report"):
        page = _page(chapter, name)
        title = html.unescape(re.search(r"<title>(.*?)</title>", page).group(1))
        parts = title.split(" - ")
        assert len(parts) == 2 and parts[0] != parts[1], title
        footer = _text(page[page.index('class="md-copyright"'):page.index("</footer>")])
        assert not re.search(r"[（）：；，。、”] | [（）：；，。、“]", " ".join(footer.split())), footer
        stamps = re.findall(r'class="d2l-stamp"[^>]*>(.*?)</', page, re.S)
        assert all(_text(s).count("UTC") <= 1 for s in stamps)  # a span names its zone once
    notebook_page = _page(chapter, "generated/compilers")
    assert not re.search(r'href="(\./)?(compilers/?|\.)"', notebook_page)  # "view online": itself
    assert 'href="compilers.ipynb"' in notebook_page or "compilers.ipynb" in notebook_page


def test_a_region_shows_the_warnings_it_caused_not_a_library_s_own_imports(chapter):
    regions = {r["section"]: r["run"] for r in read_record(chapter)["pages"]["compilers.md"]["regions"]
               if r["executed"]}
    # torch.compile loads Inductor, which loads a module using a deprecated TorchScript
    # decorator: PyTorch's own business, not add_one's
    assert not any("script_method" in w["message"] for w in regions["call_overhead"]["warnings"])
    assert any("torch.jit.script` is deprecated" in w["message"] for w in regions["script"]["warnings"])
    overhead = regions["call_overhead"]["values"]
    assert overhead["aoti"]["median"] > 0 and "aoti_overhead_us" in overhead
