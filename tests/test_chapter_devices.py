"""The chapter's tokens on a record that holds the page measured on two devices (a CPU build
merged with a GPU build), rendered through the registered token functions from hand-made
records: no torch, no build.

On the GPU, ONNX Runtime is not measured and AOTInductor may be skipped (no CUDA toolkit), so
each token must show every device's own results, say what a device did not measure and why,
and never describe a path no device measured.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from d2l_compiler.chapter import tables
from conftest import seal
from d2l_compiler.engine.record.model import FORMAT, PageEntry, RegionRun
from d2l_compiler.engine.render.installed import load_extensions
from d2l_compiler.engine.render.tokens import PageContext, TokenCall
from d2l_compiler.paths import LABELS, SETTINGS

GPU = "NVIDIA Fixture GPU (test double)"
CPU = "Fixture CPU (test double)"
ONNX_CPU_ONLY = "ONNX Runtime is measured on the CPU only"
NO_TOOLKIT = "AOTInductor on the GPU needs the CUDA toolkit"
ROW_BYTES = 2048  # one row of the example input: 512 float32 numbers
COVERS = "转换（导出、编译、保存）加上第一次调用"
FILES = {"eager": [("state_dict", 700_000)], "script": [("torchscript", 710_000)],
         "frozen": [("torchscript", 705_000)], "trace": [("torchscript", 712_000)],
         "compile": [], "compile_max": [],
         "export_aoti": [("export", 720_000), ("aoti_package", 900_000)],
         "onnx_ort": [("onnx", 690_000)]}


def _samples(median: float, count: int | None, number: int | None) -> dict[str, Any]:
    samples = {"description": "fixture", "median": median, "q1": median * 0.98,
               "q3": median * 1.02}
    if count is not None:  # records from before counts were kept have none
        samples |= {"count": count, "number": number}
    return samples


def _row(name: str, batch: int, median: float, compile_seconds: float, *, count: int | None,
         number: int | None, eager_beside: float | None) -> dict[str, Any]:
    artifacts = [{"kind": kind, "file": f"mlp_{name}", "reload_equal": True,
                  # torch.export.save keeps the example input: the .pt2 grows with the batch
                  "size_bytes": size + (batch - 1) * ROW_BYTES * (kind == "export")}
                 for kind, size in FILES[name]]
    row = {"label": LABELS[name], "setting": SETTINGS[name], "compile_seconds": compile_seconds,
           "samples": _samples(median, count, number), "speedup": 1.2, "speedup_low": 1.1,
           "speedup_high": 1.3, "vs_eager": "within noise" if name == "eager" else "faster",
           "outputs_equal": True, "max_abs_diff": 0.0, "artifacts": artifacts}
    if eager_beside is not None:
        row["paired"] = {"eager": _samples(eager_beside, count, number),
                         "path": _samples(median, count, number)}
    return row


def cpu_paths(*, new_fields: bool = True) -> dict[str, Any]:
    """Every path measured on the CPU; eager 60 µs at batch 1, 600 µs at 256 (the work
    grows with the batch). ``new_fields=False``: a record from before the timer, matmul
    precision, tolerance, sample counts and paired rounds were kept."""
    compile_seconds = {"eager": 0.0, "script": 0.2, "frozen": 0.3, "trace": 0.1, "compile": 9.0,
                       "compile_max": 30.0, "export_aoti": 20.0, "onnx_ort": 1.5}
    batches = {}
    for batch, eager in ((1, 60e-6), (256, 600e-6)):
        batches[str(batch)] = {
            name: _row(name, batch, eager * (1 if name == "eager" else 0.8), seconds,
                       count=50 if new_fields else None, number=100 if new_fields else None,
                       eager_beside=eager * 1.08 if new_fields and name != "eager" else None)
            for name, seconds in compile_seconds.items()}
    paths = {"type": "paths", "device": "cpu", "torch": "2.9.0", "threads": 4, "quick": False,
             "isolated": True, "skipped": {}, "toolchain_warm_up_seconds": 3.0,
             "input_row_bytes": ROW_BYTES, "batches": batches}
    if new_fields:
        paths |= {"timer": "torch.utils.benchmark", "compile_covers": COVERS,
                  "matmul": {"precision": "highest", "tf32": False, "forced_by": ""},
                  "tolerance": {"rtol": 1e-4, "atol": 1e-5}}
    return paths


def cuda_twin(cpu: dict[str, Any]) -> dict[str, Any]:
    """``cpu`` as the GPU would record it: ONNX Runtime and AOTInductor skipped there, eager
    30 µs at batch 1 and 40 µs at 256 (kernel launches, not the work, take the time)."""
    paths = copy.deepcopy(cpu)
    paths.update(device="cuda", gpu=GPU, cuda="12.8", threads=8, timer="CUDA 事件",
                 skipped={"onnx_ort": ONNX_CPU_ONLY, "export_aoti": NO_TOOLKIT})
    for batch, eager in (("1", 30e-6), ("256", 40e-6)):
        results = paths["batches"][batch]
        for name in paths["skipped"]:
            del results[name]
        for name, row in results.items():
            row["samples"] = _samples(eager * (1 if name == "eager" else 0.9), 200, 8)
            if "paired" in row:
                row["paired"]["eager"] = _samples(eager * 1.02, 200, 8)
    return paths


def _entry(device: str, paths: dict[str, Any], warnings: tuple[str, ...] = (),
           provenance: dict[str, Any] | None = None) -> PageEntry:
    region = {"id": "snippets/modern.py:compile_paths", "section": "compile_paths",
              "path": "snippets/modern.py", "line": 1, "md_line": 1,
              "target": "snippets/modern.py:compile_paths", "source_sha": "0" * 64,
              "executed": True, "run": {
                  "index": 0, "id": "snippets/modern.py:compile_paths", "status": "ok",
                  "duration": 1.0, "values": {"paths": paths},
                  "warnings": [{"category": "RuntimeWarning", "message": m} for m in warnings]}}
    data = {"key": ("c" if device == "cuda" else "a") * 64, "peak_mb": 0.0,
            "inputs": {"device": device, "format": FORMAT, "python": "3.11"},
            "provenance": {"device": device, "cpu": CPU, "git_commit": f"{device}-commit",
                           **(provenance or {})},
            "executed_at": "2026-11-25T00:00:00Z", "duration": 1.0, "regions": [region]}
    return PageEntry.from_json(seal(data), "page")


def page(*measured: dict[str, Any], warnings: dict[str, tuple[str, ...]] | None = None,
         provenance: dict[str, dict[str, Any]] | None = None) -> PageContext:
    """The page's context: the first results are the page's own (the preferred device's),
    the rest another device's each, as a merged record holds them; ``warnings`` and
    ``provenance`` by device: what its compare_paths region warned, its run's provenance."""
    entries = [_entry(paths["device"], paths, (warnings or {}).get(paths["device"], ()),
                      (provenance or {}).get(paths["device"])) for paths in measured]

    def sections(entry: PageEntry) -> dict[str, RegionRun]:
        return {"compile_paths": entry.regions[0].run}
    return PageContext(sections(entries[0]), entries[0], None, None, "stamp", "zh",
                       tuple((entry, sections(entry)) for entry in entries[1:]))


def render(context: PageContext, body: str) -> str:
    """``{{ d2l:BODY }}`` through the token the chapter registered."""
    words = body.split()
    return load_extensions(("chapter",)).tokens[words[0]](TokenCall(words, body, context))


def rows(table: str) -> dict[str, dict[str, str]]:
    """A table's rows by their first two cells (path, format): data-label -> cell text."""
    found = {}
    for row in re.findall(r"<tr>(<td.*?)</tr>", table):
        cells = dict(re.findall(r'<td data-label="([^"]+)"[^>]*>(.*?)</td>', row))
        found[re.sub(r"<[^>]+>", "", cells["路径"]), re.sub(r"<[^>]+>", "", cells["格式"])] = cells
    return found


CPU_LABEL, CUDA_LABEL = f"CPU（{CPU}）", f"GPU（{GPU}）"


@pytest.fixture(params=["cpu", "cuda"])
def merged(request) -> PageContext:
    """Both devices, either one preferred (``merge --prefer cpu`` / ``--prefer cuda``)."""
    cpu = cpu_paths()
    both = (cpu, cuda_twin(cpu))
    return page(*(both if request.param == "cpu" else both[::-1]))


def test_the_files_table_keeps_a_path_one_device_skipped(merged):
    table = rows(render(merged, "paths_files compile_paths.paths 1"))
    onnx = table[LABELS["onnx_ort"], "ONNX（.onnx）"]
    assert onnx[f"{CPU_LABEL}：大小（字节）"] == "690000"
    assert onnx[f"{CPU_LABEL}：重新加载后输出一致"] == "是"
    assert onnx[f"{CUDA_LABEL}：大小（字节）"] == "—"
    assert onnx[f"{CUDA_LABEL}：重新加载后输出一致"] == f"未测量（{ONNX_CPU_ONLY}）"
    aoti = table[LABELS["export_aoti"], "AOTInductor 包（.pt2）"]
    assert aoti[f"{CUDA_LABEL}：重新加载后输出一致"] == f"未测量（{NO_TOOLKIT}）"
    eager = table[LABELS["eager"], "state_dict（torch.save）"]
    assert eager[f"{CPU_LABEL}：大小（字节）"] == eager[f"{CUDA_LABEL}：大小（字节）"] == "700000"
    assert len(table) == 7  # one row per (path, file) any device saved: 8 files, no compile's


def test_the_files_prose_describes_only_files_some_device_saved(merged):
    both = render(merged, "paths_file_kinds compile_paths.paths 1")
    assert "ONNX 文件" in both and "AOTInductor 的包" in both
    gpu_only = page(cuda_twin(cpu_paths()))
    alone = render(gpu_only, "paths_file_kinds compile_paths.paths 1")
    assert "ONNX" not in alone and "AOTInductor" not in alone and "TorchScript" in alone
    # and the files table there has no row for them, nor anything saying "not measured"
    assert "ONNX" not in render(gpu_only, "paths_files compile_paths.paths 1")


def test_the_file_growth_is_said_for_the_device_that_saw_it(merged):
    growth = render(merged, "paths_file_growth compile_paths.paths")
    assert growth.startswith(f"在 {CPU_LABEL}上，批量从 1 增加到 256 时，")
    assert f"大了 {255 * ROW_BYTES} 字节" in growth and "cuda" not in growth
    cpu = cpu_paths()
    twice = page(cpu, {**copy.deepcopy(cpu), "device": "cuda", "gpu": GPU})
    said_once = render(twice, "paths_file_growth compile_paths.paths")
    assert said_once == tables.paths_file_growth(cpu) and "在 " not in said_once


def test_the_file_growth_gives_the_gap_to_the_example_input_in_bytes():
    """A gap of 64 bytes is said as 64 bytes, not as "under 5 %"; none as equal."""
    exact = tables.paths_file_growth(cpu_paths())
    assert f"（{255 * ROW_BYTES} 字节）正好相等" in exact and "%" not in exact
    paths = cpu_paths()
    export = next(a for a in paths["batches"]["256"]["export_aoti"]["artifacts"]
                  if a["kind"] == "export")
    export["size_bytes"] += 64
    assert f"（{255 * ROW_BYTES} 字节）只差 64 字节" in tables.paths_file_growth(paths)


def test_each_provenance_line_names_its_own_timer_precision_and_tolerance(merged):
    lines = render(merged, "paths_provenance compile_paths.paths").split("<br>")
    assert len(lines) == 2
    cpu_line = next(line for line in lines if "设备 CPU" in line)
    cuda_line = next(line for line in lines if "设备 GPU" in line)
    assert f"设备 CPU（{CPU}）" in cpu_line and "提交 <code>cpu-commit</code>" in cpu_line
    assert "计时方式：torch.utils.benchmark" in cpu_line and "CUDA 事件" not in cpu_line
    assert "float32 矩阵乘法：highest（未启用 TF32）" in cpu_line
    assert "与 eager 比对输出的容差：rtol=1e-4，atol=1e-5" in cpu_line
    assert f"编译时间包括{COVERS}" in cpu_line and "未测量" not in cpu_line
    assert f"设备 GPU（{GPU}，CUDA 12.8）" in cuda_line and CPU not in cuda_line
    # a GPU run's threads are its CPU's: the line says so there, and only there
    assert "，8 个 CPU 线程，" in cuda_line and "，4 个线程，" in cpu_line
    assert "含未提交的改动" not in cpu_line and "工具链预热未完成" not in cuda_line
    assert "计时方式：CUDA 事件" in cuda_line and "torch.utils.benchmark" not in cuda_line
    assert "float32 矩阵乘法：highest（未启用 TF32）" in cuda_line
    assert f"未测量：torch.export + AOTInductor（{NO_TOOLKIT}），ONNX + ONNX Runtime（" in cuda_line


@pytest.mark.parametrize("matmul, said", [
    ({"precision": "high", "tf32": True, "forced_by": ""}, "float32 矩阵乘法：high（启用 TF32）"),
    ({"precision": "highest", "tf32": True, "forced_by": "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE"},
     "float32 矩阵乘法：TF32（由 TORCH_ALLOW_TF32_CUBLAS_OVERRIDE 强制开启）")])
def test_a_tf32_record_says_so_with_its_looser_tolerance(matmul, said):
    paths = {**cuda_twin(cpu_paths()), "matmul": matmul, "tolerance": {"rtol": 1e-2, "atol": 1e-3}}
    line = render(page(paths), "paths_provenance compile_paths.paths")
    assert said in line and "与 eager 比对输出的容差：rtol=1e-2，atol=1e-3" in line
    assert "未启用" not in line


def test_the_paths_table_says_how_many_samples_each_median_rests_on(merged):
    table = render(merged, "paths_table compile_paths.paths 1")
    script = next(row for row in re.findall(r"<tr>(<td.*?)</tr>", table)
                  if f">{LABELS['script']}<" in row)
    cells = dict(re.findall(r'<td data-label="([^"]+)"[^>]*>(.*?)</td>', script))
    # and, in the same note, eager's time beside it in its process: the row's own arithmetic
    assert cells[f"{CPU_LABEL}：每次调用：中位数（四分位区间），微秒"].endswith(
        "<small>50 轮，同一进程里的 eager 为 64.8</small>")
    assert re.search(r"<small>200 轮，同一进程里的 eager 为 [\d.]+</small>$",
                     cells[f"{CUDA_LABEL}：每次调用：中位数（四分位区间），微秒"])


def test_batch_scaling_is_estimated_per_device(merged):
    said = render(merged, "paths_batch_scaling compile_paths.paths")
    cpu = said[said.index(f"在 {CPU_LABEL}上"):]
    cpu = cpu[:cpu.index("。") + 1]
    cuda = said[said.index(f"在 {CUDA_LABEL}上"):]
    cuda = cuda[:cuda.index("。") + 1]
    # the line through (1, 60 µs) and (256, 600 µs): 57.9 µs fixed, 2.1 µs per row
    assert "从批量 1 的 60.0 微秒变为批量 256 的 600.0 微秒" in cpu
    assert "批量 1 时约占 96%（开销占主导）" in cpu and "批量 256 时约占 10%（计算占主导）" in cpu
    # (1, 30 µs) and (256, 40 µs): the fixed part still dominates at batch 256; at batch 1 it
    # is 99.9 %, which "约占 100%" would round the computation away from
    assert "批量 1 时几乎占了全部，" in cuda and "批量 256 时约占 75%（开销占主导）" in cuda
    assert "100%" not in cuda


def test_compile_times_are_compared_only_where_measured(merged):
    said = render(merged, "paths_compile_times compile_paths.paths 1")
    cpu = said[said.index(f"在 {CPU_LABEL}上"):]
    cuda = said[said.index(f"在 {CUDA_LABEL}上"):]
    cpu, cuda = (text[:text.index("。") + 1] for text in (cpu, cuda))
    assert "一次性编译时间比 torch.jit.script（0.20 秒）长的有 " in cpu
    assert "torch.compile 9.00 秒" in cpu and "torch.export + AOTInductor 20.00 秒" in cpu
    assert "ONNX + ONNX Runtime 1.50 秒" in cpu  # every path, not only those that generate code
    assert "torch.compile 9.00 秒" in cuda and "AOTInductor" not in cuda


def test_the_process_spread_is_read_per_device(merged):
    said = render(merged, "paths_process_spread compile_paths.paths")
    assert said.startswith("这次测量里，eager 在各条路径的进程里") and said.endswith("。")
    assert f"在 {CPU_LABEL}上最多相差 8.0%（批量 1，" in said
    assert f"在 {CUDA_LABEL}上最多相差 2.0%（批量 1，" in said


def test_the_summary_names_each_device_in_a_plain_sentence(merged):
    said = render(merged, "paths_summary compile_paths.paths 1")
    assert said.startswith("在 ") and f"在 {CUDA_LABEL}上，批量为 1 时，比 eager 快的有" in said
    assert f"在 {CPU_LABEL}上，批量为 1 时，" in said and "上：" not in said


SENTENCES = ("paths_summary compile_paths.paths 1", "paths_summary compile_paths.paths 256",
             "paths_batch_scaling compile_paths.paths", "paths_process_spread compile_paths.paths",
             "paths_compile_times compile_paths.paths 1", "paths_file_growth compile_paths.paths",
             "paths_outputs_from compile_paths.paths", "paths_provenance compile_paths.paths",
             "paths_warm_up compile_paths.paths")


def test_generated_sentences_put_no_ascii_space_beside_full_width_punctuation(merged):
    for body in SENTENCES:
        said = render(merged, body)
        assert said and not re.search(r" [（）：；，。、]|[（）：；，。、] ", said), (body, said)
        assert not re.search(r"([；，。、：])\1|[；，][。；]", said), (body, said)


def test_the_page_says_whose_outputs_its_code_blocks_show(merged):
    said = render(merged, "paths_outputs_from compile_paths.paths")
    main, other = (CPU_LABEL, CUDA_LABEL) if "CPU" in render(
        merged, "paths_device compile_paths.paths") else (CUDA_LABEL, CPU_LABEL)
    assert said == (f"本页代码块下方的输出和正文里引用的数字，凡是没有注明设备的，都来自 {main}；"
                    f"另一台设备 {other}的测量结果只出现在后面按设备分别列出的表格、图和句子里。")
    alone = render(page(cpu_paths()), "paths_outputs_from compile_paths.paths")
    assert alone == f"本页代码块下方的输出和正文里引用的数字都来自 {CPU_LABEL}。"
    cpu = cpu_paths()
    three = page(cpu, cuda_twin(cpu), {**cuda_twin(cpu), "gpu": "Second GPU"})
    assert f"其他设备 {CUDA_LABEL}、GPU（Second GPU）的测量结果" in render(
        three, "paths_outputs_from compile_paths.paths")


def test_the_provenance_explains_a_commit_range_and_uncommitted_changes():
    cpu = cpu_paths()
    context = page(cpu, cuda_twin(cpu), provenance={
        "cpu": {"first_git_commit": "aaa111", "git_commit": "bbb222+dirty"},
        "cuda": {"git_commit": "ccc333+dirty"}})
    cpu_line, cuda_line = render(context, "paths_provenance compile_paths.paths").split("<br>")
    assert ("提交 <code>aaa111</code> 至 <code>bbb222+dirty</code>（本页各段代码运行时的提交不止"
            "一个，这里是最早和最晚的；后者含未提交的改动）；") in cpu_line
    assert "提交 <code>ccc333+dirty</code>（含未提交的改动）；" in cuda_line
    assert " – " not in cpu_line
    same = page(cpu, provenance={"cpu": {"first_git_commit": "aaa111", "git_commit": "aaa111"}})
    line = render(same, "paths_provenance compile_paths.paths")
    assert "提交 <code>aaa111</code>；" in line and "不止一个" not in line


def test_a_failed_toolchain_warm_up_is_said_for_its_device_only(merged):
    from d2l_compiler.measure import COMPILE_COVERS, COMPILE_COVERS_CPU  # no torch here

    # measure.py warns this way; the record keeps the seconds only, never whether it worked
    source = (Path(__file__).resolve().parents[1] / "d2l_compiler" / "measure.py").read_text(
        encoding="utf-8")
    assert f'"{tables.WARM_UP_FAILED}: ' in source
    assert tables.NOT_TOOLCHAIN in COMPILE_COVERS and "；" in COMPILE_COVERS
    assert tables.NOT_TOOLCHAIN in COMPILE_COVERS_CPU and "CUDA" not in COMPILE_COVERS_CPU
    cpu, cuda = cpu_paths(), cuda_twin(cpu_paths())
    for paths in (cpu, cuda):
        paths["compile_covers"] = COMPILE_COVERS
    failed = f"{tables.WARM_UP_FAILED}: did not finish within 75 s"
    for order in ((cpu, cuda), (cuda, cpu)):  # the failing device the page's own or not
        context = page(*order, warnings={"cuda": ("something else", failed)})
        lines = render(context, "paths_provenance compile_paths.paths").split("<br>")
        cpu_line = next(line for line in lines if "设备 CPU" in line)
        cuda_line = next(line for line in lines if "设备 GPU" in line)
        assert "也不含编译工具链第一次从磁盘加载" in cpu_line and "工具链预热" not in cpu_line
        assert "也不含编译工具链第一次从磁盘加载" not in cuda_line
        assert ("；工具链预热未完成，最先计时的编译路径可能包含工具链加载的时间；"
                in cuda_line)
        assert "CUDA 与 cuBLAS 的初始化" in cuda_line  # the rest of what it covers stays
        # within it, the record's own "；" becomes a comma: it would end the part early
        assert "加上第一次调用，不含进程启动" in cpu_line and "加上第一次调用；" not in cpu_line
        # and the prose says, per device, how long the warm-up took or that it did not finish
        said = render(context, "paths_warm_up compile_paths.paths")
        assert said.startswith("本次构建中，这一步在 ") and said.endswith("。")
        assert f"在 {CPU_LABEL}上用了 3.0 秒" in said
        assert (f"在 {CUDA_LABEL}上没有完成（用了 3.0 秒），那里最先计时的编译路径，"
                "编译时间可能包含工具链加载的时间") in said
    fine = render(page(cpu, cuda), "paths_warm_up compile_paths.paths")
    assert fine == f"本次构建中，这一步在 {CPU_LABEL}上用了 3.0 秒；在 {CUDA_LABEL}上用了 3.0 秒。"
    assert "没有完成" not in fine and "工具链预热" not in render(
        page(cpu, cuda), "paths_provenance compile_paths.paths")
    del cpu["toolchain_warm_up_seconds"], cuda["toolchain_warm_up_seconds"]
    assert render(page(cpu, cuda), "paths_warm_up compile_paths.paths") == ""  # not recorded


def test_an_old_record_without_the_new_fields_still_renders():
    old = cpu_paths(new_fields=False)
    context = page(old)
    line = render(context, "paths_provenance compile_paths.paths")
    assert line.startswith(f"测量环境：设备 CPU（{CPU}），PyTorch 2.9.0，4 个线程")
    assert not any(word in line for word in ("计时方式", "矩阵乘法", "容差", "编译时间包括"))
    assert "个样本" not in render(context, "paths_table compile_paths.paths 1")
    assert render(context, "paths_process_spread compile_paths.paths") == ""  # nothing paired
    for body in ("paths_files compile_paths.paths 1", "paths_file_kinds compile_paths.paths 1",
                 "paths_summary compile_paths.paths 256", "paths_chart compile_paths.paths",
                 "paths_compile_times compile_paths.paths 1", "paths_device compile_paths.paths",
                 "paths_batch_scaling compile_paths.paths", "paths_file_growth compile_paths.paths"):
        assert render(context, body)


CHAPTER = Path(__file__).resolve().parents[1] / "docs" / "compilers.md"


def test_every_chapter_token_on_the_page_renders_for_either_device_preferred(merged):
    page_text = CHAPTER.read_text(encoding="utf-8")
    bodies = re.findall(r"\{\{ d2l:(paths_\w+ [^}]*?)\s*\}\}", page_text)
    assert len(bodies) >= 10
    for body in bodies:
        assert render(merged, body.strip()) is not None


def test_value_tokens_on_the_page_cite_only_paths_every_device_measures():
    # plain value, claim and agreement tokens read the preferred device's results only; a
    # path another device may skip (ONNX Runtime, AOTInductor on a GPU) would break the page
    cited = set(re.findall(r"compile_paths\.paths\.batches\.\w+\.(\w+)",
                           CHAPTER.read_text(encoding="utf-8")))
    assert cited and cited <= {"eager", "script"}


def test_text_from_the_record_stays_text_in_every_new_part():
    evil = "<img src=x onerror=alert(1)>*[x](y)*"
    cpu = cpu_paths()
    cuda = cuda_twin(cpu)
    cuda |= {"cuda": evil, "timer": evil, "compile_covers": evil,
             "matmul": {"precision": evil, "tf32": True, "forced_by": evil},
             "tolerance": {"rtol": evil, "atol": 1e-3}, "skipped": {evil: evil, "onnx_ort": evil}}
    for results in cuda["batches"].values():
        results["eager"]["label"] = evil
        results["script"]["artifacts"][0]["kind"] = evil
    context = page(cuda, cpu)
    for body in ("paths_provenance compile_paths.paths", "paths_files compile_paths.paths 1",
                 "paths_file_kinds compile_paths.paths 1", "paths_file_growth compile_paths.paths",
                 "paths_process_spread compile_paths.paths", "paths_table compile_paths.paths 1",
                 "paths_compile_times compile_paths.paths 1", "paths_batch_scaling compile_paths.paths"):
        shown = render(context, body)
        assert "<img" not in shown and "](" not in shown, body
    assert "&#60;img src=x onerror=alert(1)&#62;" in render(context, "paths_provenance compile_paths.paths")
