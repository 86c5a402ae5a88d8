"""``python -m d2l_compiler.gpu_record``: the environment is checked and written down before
anything long runs, and a machine that cannot build says so in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _gpu_record(tmp_path, *args: str, device: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "d2l_compiler.gpu_record", "--out",
                           str(tmp_path / "out"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "D2L_DEVICE": device})


def test_check_only_writes_the_environment(tmp_path):
    proc = _gpu_record(tmp_path, "--check-only", device="cpu")
    assert proc.returncode == 0, proc.stderr
    env = json.loads((tmp_path / "out" / "environment.json").read_text(encoding="utf-8"))
    import torch

    assert env["torch"] == torch.__version__ and env["device"] == "cpu"
    assert env["matmul_precision"] == "highest" and env["missing"] == []
    for fact in ("torch_cuda", "cuda_home", "nvcc", "triton", "onnxruntime", "cxx"):
        assert fact in env and f"{fact:>16}: " in proc.stdout


def test_cuda_asked_of_a_machine_without_one_is_one_line(tmp_path):
    proc = _gpu_record(tmp_path, device="cuda")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "cannot build here: D2L_DEVICE=cuda but torch" in proc.stderr
    assert not list((tmp_path / "out").glob("record-*.json"))


def test_bad_arguments_are_one_line_before_anything_runs(tmp_path):
    (tmp_path / "a-file").write_text("x")
    cases = [(["--shard", "3/2"], "--shard '3/2'"),
             (["--gpu-shards", "2"], "--gpu-shards needs --shard"),
             (["--out", str(tmp_path / "a-file")], "exists and is not a folder"),
             (["--out", str(ROOT / "docs" / "run")], "inside the docs folder")]
    for args, message in cases:
        proc = subprocess.run([sys.executable, "-m", "d2l_compiler.gpu_record", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "D2L_DEVICE": "cpu"})
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
        assert "environment:" not in proc.stdout  # refused before the probe
    assert not (ROOT / "docs" / "run").exists()
