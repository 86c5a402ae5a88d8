"""compare_paths on the CPU: a path that fails is skipped with its reason (the comparison
goes on), float32 matmul precision is pinned and recorded with the tolerance it implies."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from d2l_compiler import compare_paths
from d2l_compiler.numerics import (FULL_FLOAT32, REDUCED, MatmulSettings, pin_matmul_precision,
                                   requested_precision, tolerance)
from d2l_compiler.paths import unavailable_paths


class Unscriptable(nn.Module):
    """Runs eagerly and traces, but ``torch.jit.script`` refuses ``**kwargs``."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(512, 2)

    def forward(self, x, **options):
        return self.linear(x)


def test_a_failing_path_is_skipped_with_its_reason_and_the_others_are_measured(monkeypatch):
    # the worker processes unpickle the model: they must be able to import this module
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    torch.manual_seed(0)
    with pytest.warns(RuntimeWarning, match="torch.jit.script skipped at batch 1"):
        report = compare_paths(Unscriptable(), batch_sizes=(1, 2),
                               paths=("eager", "script", "trace")).to_record()
    reason = report["skipped"]["script"]
    assert reason.startswith("批量 1 时失败：") and "argument" in reason.lower(), reason
    for batch in ("1", "2"):  # the same paths in every batch: the failed one in none
        assert sorted(report["batches"][batch]) == ["eager", "trace"]
    assert report["matmul"] == {"precision": "highest", "tf32": False, "forced_by": ""}
    assert report["tolerance"] == {"rtol": FULL_FLOAT32.rtol, "atol": FULL_FLOAT32.atol}
    assert report["timer"] == "torch.utils.benchmark" and report["compile_covers"]


def test_eager_failing_fails_the_comparison(monkeypatch):
    monkeypatch.setenv("D2L_PATH_TIMEOUT", "0.1")  # every worker runs out of time
    with pytest.raises(RuntimeError, match="measuring eager failed.*did not finish"):
        compare_paths(nn.Linear(512, 2), batch_sizes=(1,), paths=("eager",))


def test_precision_is_pinned_and_tolerance_follows_it(monkeypatch):
    monkeypatch.delenv("D2L_MATMUL_PRECISION", raising=False)
    before = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("high")  # as a reader's earlier cell might
        settings = pin_matmul_precision("cpu")
        assert settings == MatmulSettings("highest", False, "")
        assert torch.get_float32_matmul_precision() == "highest"
        assert tolerance("cpu", torch.float32, settings) == FULL_FLOAT32
        assert tolerance("cpu", torch.bfloat16, settings) == REDUCED
        assert tolerance("cpu", torch.float32, pin_matmul_precision("cpu", "medium")) == REDUCED
    finally:
        torch.set_float32_matmul_precision(before)


def test_tf32_on_a_gpu_loosens_the_tolerance_and_is_said():
    tf32 = MatmulSettings("high", True)
    forced = MatmulSettings("highest", True, "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE")
    assert tolerance("cuda", torch.float32, tf32) == REDUCED
    assert tolerance("cuda", torch.float32, forced) == REDUCED
    assert tolerance("cuda", torch.float32, MatmulSettings("highest", False)) == FULL_FLOAT32
    assert "启用 TF32" in tf32.describe() and "未启用" not in tf32.describe()
    assert "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE 强制开启" in forced.describe()


def test_a_tf32_override_without_a_tf32_device_changes_nothing(monkeypatch):
    monkeypatch.setenv("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE", "1")
    assert pin_matmul_precision("cpu") == MatmulSettings("highest", False, "")


def test_an_unknown_precision_is_refused(monkeypatch):
    monkeypatch.setenv("D2L_MATMUL_PRECISION", "fast")
    with pytest.raises(ValueError, match="D2L_MATMUL_PRECISION='fast' is not one of highest"):
        requested_precision()


def test_paths_that_cannot_run_here_are_named_before_anything_runs(monkeypatch):
    monkeypatch.setenv("CXX", "no-such-compiler")
    monkeypatch.setenv("PATH", "/nonexistent")  # no g++ or clang++ either
    reasons = unavailable_paths(torch.device("cpu"))
    for name in ("compile", "compile_max", "export_aoti"):
        assert "no C++ compiler (no-such-compiler)" in reasons[name]
    assert "script" not in reasons and "eager" not in reasons


def test_on_a_gpu_aotinductor_without_the_cuda_toolkit_is_skipped_before_it_runs(monkeypatch):
    import torch.utils._triton
    import torch.utils.cpp_extension

    monkeypatch.setattr(torch.utils._triton, "has_triton", lambda: True)
    monkeypatch.setattr(torch.utils.cpp_extension, "CUDA_HOME", None)
    reasons = unavailable_paths(torch.device("cuda"))
    assert "CUDA toolkit" in reasons["export_aoti"] and "CUDA_HOME" in reasons["export_aoti"]
    assert "compile" not in reasons and "compile_max" not in reasons
    assert reasons["onnx_ort"] == "ONNX Runtime is measured on the CPU only"
    monkeypatch.setattr(torch.utils._triton, "has_triton", lambda: False)
    reasons = unavailable_paths(torch.device("cuda"))
    assert all("Triton" in reasons[n] for n in ("compile", "compile_max", "export_aoti"))


class _FakeEvent:
    """A CUDA event on the CPU's clock (this machine has no GPU): what measure_call_cuda
    does with the events is under test, not the events."""

    def __init__(self, enable_timing: bool = False) -> None:
        assert enable_timing

    def record(self) -> None:
        import time

        self.at = time.perf_counter()

    def synchronize(self) -> None:
        pass

    def elapsed_time(self, end: "_FakeEvent") -> float:
        return (end.at - self.at) * 1e3  # milliseconds, as CUDA's


class _OnTheGpu:
    is_cuda = True


def test_gpu_timing_takes_enough_samples_from_blocks_of_calls(monkeypatch):
    import time

    from d2l_compiler.measure import CUDA_EVENTS, MIN_CUDA_SAMPLES, measure_call

    monkeypatch.setattr(torch.cuda, "Event", _FakeEvent)
    calls = []

    def work(x):  # about 20 µs, like a small model's launch-bound call
        calls.append(x)
        until = time.perf_counter() + 2e-5
        while time.perf_counter() < until:
            pass
    samples = measure_call(work, _OnTheGpu(), "fake gpu", min_run_time=0.1)
    assert len(samples.seconds) >= MIN_CUDA_SAMPLES  # blocked_autorange gave 2-20 here
    assert samples.number > 1  # a block is long enough for the events' resolution
    assert 1.5e-5 < samples.median < 1e-3
    assert dict(samples.conditions)["计时方式"] == CUDA_EVENTS
    assert len(calls) >= samples.number * len(samples.seconds)


def _wide_then_narrow(spreads: list[float]):
    """A stand-in for one timing whose interquartile range is, in turn, each of ``spreads``
    (a share of the median), and a list that counts the timings taken."""
    from d2l_compiler.timing import Samples

    taken: list[float] = []

    def once(fn, x, description, min_run_time):
        spread = spreads[min(len(taken), len(spreads) - 1)]
        taken.append(spread)
        return Samples(description, (1e-3 * (1 - spread / 2), 1e-3, 1e-3 * (1 + spread / 2)))
    return once, taken


@pytest.mark.parametrize("spreads, attempts, kept", [
    ([0.05], 1, 0.05),              # steady at once: measured once
    ([0.5, 0.05], 2, 0.05),         # disturbed, then steady: the steady one
    ([0.8, 0.6, 0.7], 3, 0.6),      # never steady: the narrowest of three, and it says so
])
def test_a_wide_measurement_is_taken_again_and_the_narrowest_kept(monkeypatch, spreads, attempts, kept):
    import d2l_compiler.measure as measure

    once, taken = _wide_then_narrow(spreads)
    monkeypatch.setattr(measure, "_measure_once", once)
    monkeypatch.delenv("D2L_BENCH_QUICK", raising=False)
    samples = measure.measure_call(lambda x: x, 1, "f")
    assert len(taken) == samples.attempts == attempts
    assert samples.relative_spread == pytest.approx(kept / 2)  # inclusive quartiles of 3
    assert samples.to_record()["attempts"] == attempts


def test_paired_rounds_whose_ratios_spread_wide_are_all_taken_again(monkeypatch):
    import itertools

    import d2l_compiler.measure as measure
    from d2l_compiler.timing import Samples

    # first set of rounds: the path's time jumps around (ratios 0.5-2); then steady at 1.25
    first = itertools.cycle([1e-3, 2e-3, 0.5e-3])
    calls = {"n": 0}

    def once(fn, x, description, min_run_time):
        calls["n"] += 1
        if fn == "eager":
            return Samples(description, (1e-3,))
        rounds_done = calls["n"] // 2
        seconds = next(first) if rounds_done < measure.PAIRED_ROUNDS else 0.8e-3
        return Samples(description, (seconds,))
    monkeypatch.setattr(measure, "_measure_once", once)
    monkeypatch.delenv("D2L_BENCH_QUICK", raising=False)
    eager, path = measure.paired_rounds("eager", "path", None, "p")
    assert eager.attempts == path.attempts == 2 and eager.session == path.session
    assert set(path.seconds) == {0.8e-3} and len(path.seconds) == measure.PAIRED_ROUNDS


def test_quick_is_an_argument_that_reaches_the_workers_without_touching_the_environment(
        monkeypatch):
    """``bench-chapter --quick`` asks compare_paths for short measurements: every worker
    measures briefly (its rounds are short), and this process's environment is left alone."""
    import os

    monkeypatch.delenv("D2L_BENCH_QUICK", raising=False)
    torch.manual_seed(0)
    report = compare_paths(nn.Linear(512, 2), batch_sizes=(1,), paths=("eager",),
                           quick=True).to_record()
    assert report["quick"] is True and "D2L_BENCH_QUICK" not in os.environ
    eager = report["batches"]["1"]["eager"]["samples"]
    # a quick measurement runs for about 0.05 s; a full one for at least 1 s
    assert sum(eager["seconds"]) * eager["number"] < 0.5, eager
