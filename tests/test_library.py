"""The helpers readers import: timing, device selection, model, save helper, cheap import."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import d2l_compiler
from d2l_compiler import (Benchmark, DeviceUnavailable, Samples, Timer, device, device_kind,
                          get_net, human_size, measure_many, save_module)


def test_import_does_not_import_torch():
    code = "import sys, d2l_compiler, d2l_compiler.engine.build; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_names_resolve():
    import importlib

    homes = {"PATHS": "paths", "Benchmark": "timing", "DeviceUnavailable": "device",
             "PathsReport": "measure", "Samples": "timing", "SavedModel": "models", "Timer": "timing",
             "compare": "claims", "compare_paths": "measure", "device": "device",
             "device_kind": "device", "get_net": "models", "human_size": "models",
             "make_path": "paths", "measure_call": "measure", "measure_many": "timing",
             "save_module": "models", "unavailable_paths": "paths", "verdict": "claims"}
    assert sorted(d2l_compiler.__all__) == sorted(homes)
    for name, module in homes.items():  # each name is the object its module defines
        assert getattr(d2l_compiler, name) is getattr(importlib.import_module(f"d2l_compiler.{module}"),
                                                      name), name


def test_benchmark_prints_and_stores_seconds(capsys):
    with Benchmark("sum") as bench:
        sum(range(10_000))
    printed = capsys.readouterr().out
    assert bench.seconds is not None and bench.seconds > 0
    assert printed == f"sum: {bench.seconds:.4f} 秒\n"
    assert bench.to_record()["seconds"] == bench.seconds


def test_timer_accumulates():
    timer = Timer()
    first = timer.stop()
    timer.start()
    second = timer.stop()
    assert timer.times == [first, second]
    assert timer.sum() == pytest.approx(first + second)
    assert timer.avg() == pytest.approx((first + second) / 2)


def test_samples_quartiles():
    samples = Samples("x", (5.0, 1.0, 3.0, 2.0, 4.0))
    assert samples.quantiles == (2.0, 3.0, 4.0)
    assert samples.median == 3.0 and samples.iqr == 2.0
    record = samples.to_record()
    assert (record["min"], record["max"], record["median"]) == (1.0, 5.0, 3.0)
    assert record["seconds"] == [5.0, 1.0, 3.0, 2.0, 4.0] and record["count"] == 5
    with pytest.raises(ValueError):
        Samples("empty", ())


def test_a_record_keeps_a_bounded_spread_of_many_samples():
    """A fast call timed for a second yields thousands of samples; the record keeps 200 of
    them spread over the sorted values, and summarises all of them."""
    import json

    many = Samples("fast", tuple(float(i) for i in range(10_000, 0, -1)))
    record = many.to_record()
    assert record["count"] == 10_000 and len(record["seconds"]) == 200
    assert record["seconds"][0] == 1.0 and record["seconds"][-1] == 10_000.0
    assert record["seconds"] == sorted(record["seconds"])
    assert record["median"] == many.median and record["q1"] == many.quantiles[0]
    assert len(json.dumps(record)) < 8_000


def test_measure_many_interleaves_and_counts():
    calls: list[str] = []
    result = measure_many({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                          number=2, repeats=3, warmup=1)
    assert calls == ["a", "a", "b", "b"] * 4  # warm-up round included, rounds alternate
    assert [len(result[k].seconds) for k in "ab"] == [3, 3]
    with pytest.raises(ValueError):
        measure_many({"a": lambda: None}, repeats=0)


def test_measure_many_records_seconds_per_call(monkeypatch):
    import itertools

    from d2l_compiler import timing

    clock = itertools.count(step=4.0)  # every reading 4 s later: a repetition takes 4 s
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    result = measure_many({"a": lambda: None}, number=8, repeats=3, warmup=0)["a"]
    assert result.seconds == (0.5, 0.5, 0.5) and result.number == 8  # 4 s / 8 calls
    assert "每次调用的中位数 0.5000 秒" in str(result)


@pytest.mark.parametrize(("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"),
                                           (667186, "651.5 KiB"), (5 * 2**20, "5.0 MiB")])
def test_human_size(size, text):
    assert human_size(size) == text


def test_the_helpers_docstring_examples_run_as_written():
    """The examples the API page shows (doctest form) are what the helpers return."""
    import doctest

    from d2l_compiler import models, timing
    for module in (models, timing):
        failed, tried = doctest.testmod(module, report=False)
        assert failed == 0, module.__name__
    assert doctest.testmod(models).attempted >= 2


def test_device_cpu(monkeypatch):
    monkeypatch.setenv("D2L_DEVICE", "cpu")
    assert device_kind() == "cpu" and device() == torch.device("cpu")


def test_device_rejects_unknown_value(monkeypatch):
    monkeypatch.setenv("D2L_DEVICE", "tpu")
    with pytest.raises(DeviceUnavailable, match="not one of"):
        device_kind()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_device_cuda_without_gpu_is_an_error(monkeypatch):
    monkeypatch.setenv("D2L_DEVICE", "cuda")
    with pytest.raises(DeviceUnavailable, match="a CPU build|finds no usable CUDA device"):
        device_kind()
    monkeypatch.setenv("D2L_DEVICE", "auto")
    assert device_kind() == "cpu"


def test_get_net_shape():
    torch.manual_seed(0)
    net = get_net()
    assert [p.shape[0] for p in net.parameters() if p.dim() == 2] == [256, 128, 2]
    assert net(torch.randn(3, 512)).shape == (3, 2)


def test_save_module_reloads_equal(tmp_path):
    torch.manual_seed(0)
    scripted = torch.jit.script(get_net())
    saved = save_module(scripted, tmp_path / "mlp.pt", torch.randn(1, 512))
    assert saved.reload_equal is True
    assert saved.size_bytes == (tmp_path / "mlp.pt").stat().st_size > 0
    assert saved.to_record()["size_human"] == human_size(saved.size_bytes)


def test_docstring_examples_run_and_no_sphinx_roles_leak_into_the_api_page():
    """The examples readers see on the API page are executed; cross-references use the
    Markdown form mkdocstrings renders (``[name][path]``), not Sphinx roles shown as text."""
    import doctest
    import importlib
    import inspect
    import re

    from d2l_compiler.engine.publish.griffe_roles import rewrite_roles

    for module in ("timing", "measure", "device", "models", "paths", "claims"):
        loaded = importlib.import_module(f"d2l_compiler.{module}")
        failures, _ = doctest.testmod(loaded, optionflags=doctest.ELLIPSIS)
        assert failures == 0, module
        for name, member in inspect.getmembers(loaded):
            doc = inspect.getdoc(member) or ""
            if getattr(member, "__module__", None) == loaded.__name__:
                # a Sphinx role is rendered as a link by the docs' Griffe extension: it must
                # name something that exists (the site test checks the rendered page)
                for target in re.findall(r"\]\[([\w.]+)\]", rewrite_roles(doc, loaded.__name__)):
                    owner, _, attribute = target.rpartition(".")
                    assert hasattr(importlib.import_module(owner), attribute), (name, target)
    import d2l_compiler.models as models
    assert ">>> human_size(1536)" in models.human_size.__doc__
