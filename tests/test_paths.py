"""Every compile path computes what eager computes; every saved file reloads and matches."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import read_record, run_cli
from d2l_compiler import PATHS, compare_paths, get_net
from d2l_compiler.chapter import tables
from d2l_compiler.measure import PAIRED_ROUNDS


@pytest.fixture(scope="module")
def report(chapter):
    """The compare_paths result the real chapter build recorded (every path, batch 1 and 256)."""
    regions = read_record(chapter)["pages"]["compilers.md"]["regions"]
    return next(r for r in regions if r["section"] == "compile_paths")["run"]["values"]["paths"]


def test_every_path_matches_eager_at_every_batch(report):
    assert sorted(report["batches"], key=int) == ["1", "256"]
    for batch in report["batches"].values():
        assert sorted([*batch, *report["skipped"]]) == sorted(PATHS)  # each measured or skipped
        assert all(report["skipped"].values())  # a skipped path says why
        for name, result in batch.items():
            assert result["outputs_equal"] is True, name
            assert result["max_abs_diff"] < 1e-4, name
            assert result["samples"]["median"] > 0 and len(result["samples"]["seconds"]) >= 1


def test_every_saved_artifact_reloads_equal(report):
    kinds = {name: [a["kind"] for a in r["artifacts"]] for name, r in report["batches"]["1"].items()}
    assert kinds == {"eager": ["state_dict"], "script": ["torchscript"], "frozen": ["torchscript"],
                     "trace": ["torchscript"], "compile": [], "compile_max": [],
                     "export_aoti": ["export", "aoti_package"], "onnx_ort": ["onnx"]}
    for result in report["batches"]["1"].values():
        for artifact in result["artifacts"]:
            assert artifact["reload_equal"] is True and artifact["size_bytes"] > 100_000


def test_report_is_json_and_consistent(report):
    json.dumps(report)
    eager = report["batches"]["1"]["eager"]
    assert eager["speedup"] == pytest.approx(1.0)
    for name, result in report["batches"]["1"].items():
        assert result["speedup_low"] <= result["speedup"] <= result["speedup_high"]
        # every path but eager is also timed beside eager, in its own process
        assert len(result["paired_speedups"]) == (0 if name == "eager" else PAIRED_ROUNDS)
        if name != "eager":  # one timing: the path's per-call time is the paired rounds'
            assert result["samples"] == result["paired"]["path"]
    assert report["threads"] == torch.get_num_threads() and report["quick"] is True
    assert report["isolated"] is True  # every path measured in its own process


def test_generated_table_and_summary_follow_the_record(report):
    table = tables.paths_table(report, "1")
    assert table.count("<tr>") == len(PATHS) + 1  # the header, one row per path
    assert table.count('<td data-label="相对 eager 的加速比"') == len(PATHS)
    summary = tables.paths_summary(report, "1")
    for name, result in report["batches"]["1"].items():
        if name != "eager":
            assert result["label"] in summary
    with pytest.raises(ValueError, match="no measurements for batch size '7'"):
        tables.paths_table(report, "7")


def test_bench_chapter_side_by_side(tmp_path, report):
    published = tmp_path / "record.json"
    published.write_text(json.dumps({"pages": {"x.md": {"provenance": {"cpu": "Published CPU"},
                         "regions": [{"values": {"paths": report}}]}}}))
    result = run_cli("bench-chapter", "--quick", "--published", str(published),
                     "--batch-sizes", "1", "--paths", "script", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "published: cpu (Published CPU)" in result.stdout
    lines = [line for line in result.stdout.splitlines() if line.startswith(("eager", "script"))]
    assert len(lines) == 2 and all(line.count("x") >= 2 for line in lines)  # two speed-ups a row


@pytest.mark.parametrize(("args", "message"), [
    (["--published", "/nonexistent/record.json"], "cannot read published record"),
    (["--paths", "warp"], "unknown path(s) warp"),
    (["--batch-sizes", "0"], "--batch-sizes must be positive"),
])
def test_bench_chapter_bad_input_is_one_line(tmp_path, args, message):
    result = run_cli("bench-chapter", "--quick", *args, cwd=tmp_path)
    assert result.code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_compare_paths_refuses_unknown_paths():
    with pytest.raises(ValueError, match="must include 'eager'"):
        compare_paths(get_net(), paths=("script",))
    with pytest.raises(ValueError, match="must include 'eager'"):
        compare_paths(get_net(), paths=("eager", "warp"))
