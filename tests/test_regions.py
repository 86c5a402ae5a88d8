"""Every region in snippets/ runs on its own and prints what the chapter says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from d2l_compiler.engine.sources.discover import SECTION_MARKER, read_region

ROOT = Path(__file__).resolve().parents[1]


def _all_regions() -> list[str]:
    ids = []
    for file in sorted((ROOT / "snippets").glob("*.py")):
        for line in file.read_text(encoding="utf-8").splitlines():
            marker = SECTION_MARKER.match(line)
            if marker and marker["type"] == "start" and not marker["escape"]:
                ids.append(f"snippets/{file.name}:{marker['name']}")
    return ids


def _run(region_id: str, tmp_path: Path, monkeypatch) -> tuple[str, dict]:
    """Execute one region alone, in a fresh namespace, as a reader pasting it would."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("D2L_DEVICE", "cpu")
    region = read_region(ROOT, region_id)
    namespace: dict = {"__name__": "__main__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(region.code, region.id, "exec"), namespace)
    return out.getvalue(), namespace


def _fancy_func(out, ns):
    assert out == "10\n"
    assert ns["fancy_func"](1, 2, 3, 4) == 10


def _symbolic(out, ns):
    assert out.rstrip().endswith("print(fancy_func(1, 2, 3, 4))\n10")
    assert "def fancy_func(a, b, c, d):" in ns["prog"]


def _constant_folding(out, ns):
    # the folded constant is loaded directly; no addition survives compilation
    assert re.search(r"LOAD_CONST\s+\d+\s+\(10\)", out)
    assert "BINARY_OP" not in out and "BINARY_ADD" not in out


def _net(out, ns):
    assert tuple(ns["net"](ns["x"]).shape) == (1, 2)
    assert out.startswith("tensor([[")


def _script(out, ns):
    assert ns["outputs_equal"] is True
    assert out.rstrip().endswith("输出相同: True")


def _benchmark(out, ns):
    lines = out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["无torchscript", "有torchscript"]
    assert all(re.fullmatch(r".+: \d+\.\d{4} 秒", line) for line in lines)
    assert ns["eager_once"].seconds > 0 and ns["scripted_once"].seconds > 0


def _benchmark_repeated(out, ns):
    for samples in (ns["eager"], ns["scripted"], ns["eager_no_grad"], ns["scripted_no_grad"]):
        assert len(samples.seconds) == 15 and samples.number == 1000 and samples.warmup == 1
        assert min(samples.seconds) <= samples.median <= max(samples.seconds)
    assert out.count("中位数") == 4 and out.count("关闭自动求导") == 2


def _call_overhead(out, ns):
    assert ns["plain"].median > 0 and ns["compiled"].median > 0
    assert ns["overhead_us"] == pytest.approx((ns["compiled"].median - ns["plain"].median) * 1e6)
    assert "torch.compile 之后" in out
    # AOTInductor's fixed cost beside it, measured where a C++ compiler is at hand
    assert ns["why_not"] is not None or (
        ns["aoti"].median > 0 and "AOTInductor 包" in out
        and ns["aoti_overhead_us"] == pytest.approx((ns["aoti"].median - ns["plain"].median) * 1e6))


def _profile_call(out, ns):
    # every kind of call profiled, each event a share of one call: eager's matmul is addmm
    for name in ("eager", "compile"):
        assert ns["profiles"][name] and f"{ns['LABELS'][name]}：每次调用的 CPU 时间共" in out
    assert ns["eager_matmul_us"] > 0 and 0 < ns["eager_matmul_share"] < 1
    assert 0 < ns["guard_us"] <= ns["runtime_us"]  # the guard check is one of the runtime's
    assert ns["matmul_verdict"] and ns["aoti_note"]
    assert "CompiledFxGraph" in out and "## Call" not in out  # the graph's hash is left out


def _save(out, ns):
    saved = ns["saved"]
    assert saved.size_bytes > 100_000  # three dense layers' float32 parameters
    assert saved.reload_equal is True
    assert Path(saved.path).stat().st_size == saved.size_bytes
    assert str(saved.size_bytes) in out


def _seed_vs_careful(out, ns):
    assert ns["once"].seconds > 0 and ns["careful"].median > 0
    assert ns["ratio_to_careful"] == pytest.approx(ns["once_per_call"] / ns["careful"].median)
    assert "Benchmark 折合每次调用" in out and "torch.utils.benchmark 中位数" in out


def _compile_paths(out, ns):
    record = ns["paths"].to_record()
    assert sorted(record["batches"]) == ["1", "256"]
    assert all(r["outputs_equal"] for b in record["batches"].values() for r in b.values())
    assert out.count("批量 ") == 2 and "export_aoti" in out


CHECKS = {
    "snippets/modern.py:seed_vs_careful": _seed_vs_careful,
    "snippets/modern.py:compile_paths": _compile_paths,
    "snippets/modern.py:call_overhead": _call_overhead,
    "snippets/modern.py:profile_call": _profile_call,
    "snippets/imperative.py:fancy_func": _fancy_func,
    "snippets/symbolic.py:symbolic": _symbolic,
    "snippets/symbolic.py:constant_folding": _constant_folding,
    "snippets/hybrid.py:net": _net,
    "snippets/hybrid.py:script": _script,
    "snippets/hybrid.py:benchmark": _benchmark,
    "snippets/hybrid.py:benchmark_repeated": _benchmark_repeated,
    "snippets/serialization.py:save": _save,
}


def test_every_region_has_a_check():
    assert sorted(_all_regions()) == sorted(CHECKS)


@pytest.mark.parametrize("region_id", sorted(CHECKS))
def test_region_runs_alone(region_id, tmp_path, monkeypatch):
    out, namespace = _run(region_id, tmp_path, monkeypatch)
    CHECKS[region_id](out, namespace)


@pytest.mark.parametrize("region_id", ["snippets/hybrid.py:net", "snippets/serialization.py:save"])
def test_region_is_deterministic(region_id, tmp_path, monkeypatch):
    """Regions seed their randomness: two runs print the same thing."""
    first, _ = _run(region_id, tmp_path, monkeypatch)
    second, _ = _run(region_id, tmp_path, monkeypatch)
    assert first == second


def _shown_regions() -> list[str]:
    """Every region a page shows (run or not), as its include names it."""
    ids = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        ids += re.findall(r'--8<-- "([^"]+:[^"]+)"', page.read_text(encoding="utf-8"))
    return sorted(set(ids))


@pytest.mark.parametrize("region_id", _shown_regions())
def test_code_readers_copy_speaks_their_language(region_id):
    """The chapter is Chinese: every comment and docstring in the code a page shows is too."""
    import ast
    import tokenize

    code = read_region(ROOT, region_id).code
    words = [token.string for token in tokenize.generate_tokens(io.StringIO(code).readline)
             if token.type == tokenize.COMMENT and not token.string.startswith("# raises:")]
    for node in ast.walk(ast.parse(code)):  # docstrings, not program text held in strings
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Module) and ast.get_docstring(node):
            words.append(ast.get_docstring(node))
    english = [w for w in words if not re.search(r"[\u4e00-\u9fff]", w)]
    assert english == [], english
