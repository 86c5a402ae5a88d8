"""A record made on a GPU machine (a fixture: this machine has none) can be checked and
published here without running anything, and renders the GPU's provenance."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import msgspec

from d2l_compiler.engine.sources import key
from d2l_compiler.chapter import tables
from d2l_compiler.engine.sources.discover import read_region
from conftest import seal, page_key

GPU = "NVIDIA Fixture GPU (test double)"


def _as_if_built_on_a_gpu(site) -> None:
    path = site.root / ".d2l" / "record.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    entry = record["pages"]["index.md"]
    regions = [read_region(site.root, r["id"]) for r in entry["regions"] if r["executed"]]
    entry["key"], entry["inputs"] = page_key(site.root, regions, "cuda", page="index.md")
    entry["provenance"].update(device="cuda", gpu=GPU, torch="2.13.0+cu128", threads=8)
    record["provenance"]["device"] = "cuda"
    record["pages"]["index.md"] = seal(entry)  # a GPU build seals its entries like any build
    path.write_text(json.dumps(record), encoding="utf-8")


def test_gpu_record_checks_and_publishes_without_a_gpu(site):
    site.write("docs/index.md", '# GPU\n\n```python\n--8<-- "snippets/s.py:r"\n```\n')
    site.write("snippets/s.py", "# --8<-- [start:r]\nprint('ran on the GPU machine')\n"
                                "# --8<-- [end:r]\n")
    assert site.build("--no-site").code == 0
    _as_if_built_on_a_gpu(site)
    checked = site.run("check")
    assert checked.code == 0 and "fresh  index.md" in checked.stdout
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q"],
                          cwd=site.root, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr
    html = (site.root / "site" / "index.html").read_text(encoding="utf-8")
    assert f"设备 GPU（{GPU}）" in html and "PyTorch 2.13.0+cu128，8 个线程" in html
    # building here uses this machine's (CPU) key: its stored CPU result, never the GPU one
    assert site.build("--no-site").code == 0
    assert json.loads((site.root / ".d2l" / "record.json").read_text())[
        "pages"]["index.md"]["provenance"]["device"] == "cpu"


def test_paths_provenance_names_the_gpu():
    paths = {"type": "paths", "device": "cuda", "gpu": GPU, "torch": "2.13.0+cu128",
             "threads": 8, "quick": False, "batches": {}}
    entry = {"provenance": {"cpu": "some CPU"}, "executed_at": "2026-11-25T00:00:00Z"}
    line = tables.paths_provenance(paths, entry["provenance"]["cpu"], entry["executed_at"], "abc123")
    assert f"设备 GPU（{GPU}）" in line and "提交 <code>abc123</code>" in line and "some CPU" not in line


ONNX_CPU_ONLY = "ONNX Runtime is measured on the CPU only"


def _gpu_twin(project_root, cpu_record: dict) -> dict:
    """The chapter's record as a GPU machine would write it (a fixture: same code, its own
    key for device cuda, the paths measured ten times faster on a named GPU, timed by CUDA
    events, and ONNX Runtime skipped there as ``compare_paths`` skips it on a GPU)."""
    from pathlib import Path

    from d2l_compiler.engine.sources.discover import page_includes
    from d2l_compiler.engine.sources.project import Project

    record = json.loads(json.dumps(cpu_record))
    project = Project(project_root / "mkdocs.yml")
    for name, entry in record["pages"].items():
        includes = page_includes(project, Path(name))
        local = key.include_keys(project.root, includes, "cuda").inputs.packages
        # the GPU machine's own torch build: this machine can vouch for the sources only
        keys = key.include_keys(project.root, includes, "cuda",
                                {**local, "torch": ["torch==2.13.0+cu128"]})
        entry["key"], entry["inputs"] = keys.key, msgspec.to_builtins(keys.inputs)
        entry["provenance"].update(device="cuda", gpu=GPU, torch="2.13.0+cu128", threads=8)
        for region in entry["regions"]:
            paths = ((region["run"] or {}).get("values") or {}).get("paths")
            if isinstance(paths, dict) and paths.get("type") == "paths":
                paths.update(device="cuda", gpu=GPU, torch="2.13.0+cu128", cuda="12.8",
                             timer="CUDA 事件")
                paths["skipped"] = {**(paths.get("skipped") or {}), "onnx_ort": ONNX_CPU_ONLY}
                for results in paths["batches"].values():
                    results.pop("onnx_ort", None)
                    for result in results.values():
                        for field in ("median", "q1", "q3", "min", "max"):
                            result["samples"][field] /= 10
        record["pages"][name] = seal(entry)
    record["provenance"]["device"] = "cuda"
    record.pop("other_devices", None)
    return record


def _cpu_paths(record: dict) -> dict:
    """The ``compare_paths`` result in the chapter's record."""
    for region in record["pages"]["compilers.md"]["regions"]:
        paths = ((region["run"] or {}).get("values") or {}).get("paths")
        if isinstance(paths, dict) and paths.get("type") == "paths":
            return paths
    raise AssertionError("no compare_paths result in the record")


def test_a_cpu_and_a_gpu_record_merged_show_side_by_side(chapter, tmp_path):
    import shutil

    from conftest import run_cli

    copy = tmp_path / "book"
    shutil.copytree(chapter, copy, ignore=shutil.ignore_patterns("site", ".nox", ".git"))
    # this book without the committed H200 record: the twin stands for the GPU here
    config = copy / "mkdocs.yml"
    config.write_text("".join(line for line in config.read_text(encoding="utf-8").splitlines(True)
                              if not line.strip().startswith("records:")), encoding="utf-8")
    cpu = json.loads((copy / ".d2l" / "record.json").read_text(encoding="utf-8"))
    cpu.pop("other_devices", None)
    gpu_file = tmp_path / "gpu-record.json"
    gpu_file.write_text(json.dumps(_gpu_twin(copy, cpu)), encoding="utf-8")
    cpu_file = tmp_path / "cpu-record.json"
    cpu_file.write_text(json.dumps(cpu), encoding="utf-8")
    merged = run_cli("merge", str(cpu_file), str(gpu_file), "--prefer", "cpu", cwd=copy)
    assert merged.code == 0, merged.stderr
    assert "devices cpu+cuda" in merged.stdout
    html = (copy / "site" / "compilers" / "index.html").read_text(encoding="utf-8")
    table = html[html.index("<table"):html.index("</table>")]
    assert f"GPU（{GPU}）" in table and "CPU（" in table and 'colspan="4"' in table
    assert table.count('scope="colgroup"') == 3  # the paths' names, then one group per device
    assert table.count(">编译（秒）</th>") == 2  # each group's columns, named once
    assert f'data-label="GPU（{GPU}）：编译（秒）"' in table  # a phone's card names the device
    chart = html[html.index('<figure class="d2l-chart">'):]
    chart = chart[:chart.index("</figure>")]
    assert "· CPU</text>" in chart and "· GPU</text>" in chart
    assert "同一份代码也在另一种设备上运行过：设备 GPU" in html  # the stamp names both
    assert f"在 GPU（{GPU}）上，批量为 1 时" in html and "在 CPU（" in html
    assert html.count("测量环境：设备") >= 2  # a provenance line per device
    assert "计时方式：CUDA 事件" in html and f"设备 GPU（{GPU}，CUDA 12.8）" in html
    tables = [t.split("</table>")[0] for t in html.split("<table")[1:]]
    files = next(t for t in tables if "重新加载后输出一致" in t)
    if "onnx_ort" in next(iter(_cpu_paths(cpu)["batches"].values())):  # measured on this CPU
        # the GPU skipped ONNX Runtime: its row stays, the GPU's cells say why it is empty
        assert "ONNX（<code>.onnx</code>）" in files and f"未测量（{ONNX_CPU_ONLY}）" in files
        assert "ONNX 文件是" in html  # and the prose still describes the file the CPU saved
    # a CPU build afterwards runs nothing and keeps the GPU's results beside its own
    rebuilt = run_cli("build", "--no-site", cwd=copy)
    assert rebuilt.code == 0 and "regions: 0 run" in rebuilt.stdout, rebuilt.stderr
    kept = json.loads((copy / ".d2l" / "record.json").read_text(encoding="utf-8"))
    assert [e["inputs"]["device"] for e in kept["other_devices"]["compilers.md"]] == ["cuda"]
    assert run_cli("check", cwd=copy).code == 0
