"""Careful timing with ``torch.utils.benchmark``: warm-up, many samples, median and IQR,
and the comparison of every compile path at several batch sizes.

``D2L_BENCH_QUICK=1`` shortens every measurement (for tests); the numbers are then only
smoke, and the report says so.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from .claims import ratio_range, verdict
from .models import human_size
from .numerics import FULL_FLOAT32, MatmulSettings, Tolerance, pin_matmul_precision, tolerance
from .paths import (LABELS, PATHS, SETTINGS, Artifact, check_artifacts, make_path,
                    unavailable_paths)
from .timing import (FRESH_PROCESS, Samples, conditions, new_session, quartiles, synchronize,
                     work_of)


QUICK_ENV = "D2L_BENCH_QUICK"


def quick_mode(quick: bool | None = None) -> bool:
    """Whether to take short smoke measurements: ``quick`` if given, else whether
    ``D2L_BENCH_QUICK`` asks for them (as the tests' builds do)."""
    if quick is not None:
        return quick
    return os.environ.get(QUICK_ENV, "") not in ("", "0")


def _worker_env(quick: bool) -> dict[str, str]:
    """The environment of a path's worker process: this one's, with the measurement mode."""
    return {**os.environ, QUICK_ENV: "1" if quick else "0"}


# A measurement whose interquartile range is wider than this share of its median was
# disturbed (another process, a clock change) and is taken again, up to STEADY_ATTEMPTS times
# in all; the narrowest is kept and says how many attempts it took.
STEADY_SPREAD = 0.15
STEADY_ATTEMPTS = 3
T = TypeVar("T")


def measure_call(fn: Callable[[Any], Any], x: Any, description: str,
                 min_run_time: float | None = None, *, work: str = "") -> Samples:
    """测量 ``fn(x)`` 每次调用的秒数。

    在 CPU 上，结果来自 ``torch.utils.benchmark`` 的 ``blocked_autorange``：它会先预热，
    再选定每块的调用次数，让一个样本长到足以可靠计时，并使用与程序其余部分相同的线程数。
    在 GPU 上（``x`` 是 CUDA 张量），则在一块块调用的前后记录 CUDA
    事件来计时（见 :func:`measure_call_cuda`）：``blocked_autorange`` 每次读时钟都要同步，
    于是会把块越调越大，最后只剩寥寥几个样本。

    四分位区间宽于中位数的 ``STEADY_SPREAD``（15%）时，说明测量受到了干扰，
    于是整个重测，最多共测 ``STEADY_ATTEMPTS`` 次，保留区间最窄的一次；
    结果的 ``attempts`` 记下一共测了几次；``work`` 记下测的是什么（默认由
    [`work_of`][d2l_compiler.timing.work_of] 从 ``fn`` 和 ``x`` 得出）。
    """
    if min_run_time is None:
        min_run_time = 0.05 if quick_mode() else 1.0
    best, attempts = _steadiest(lambda: _measure_once(fn, x, description, min_run_time),
                                lambda taken: taken.relative_spread)
    return replace(best, attempts=attempts, work=work or work_of(fn, x))


def _steadiest(take: Callable[[], T], spread: Callable[[T], float]) -> tuple[T, int]:
    """Call ``take`` until what it returns has a ``spread`` of at most ``STEADY_SPREAD``, at
    most ``STEADY_ATTEMPTS`` times (once in quick mode): the narrowest result, and how many
    attempts it took."""
    best = take()
    attempts = 1
    while attempts < STEADY_ATTEMPTS and spread(best) > STEADY_SPREAD and not quick_mode():
        attempts += 1
        taken = take()
        if spread(taken) < spread(best):
            best = taken
    return best, attempts


def _measure_once(fn: Callable[[Any], Any], x: Any, description: str,
                  min_run_time: float) -> Samples:
    import torch
    from torch.utils import benchmark

    if getattr(x, "is_cuda", False):
        return measure_call_cuda(fn, x, description, min_run_time)
    timer = benchmark.Timer("fn(x)", globals={"fn": fn, "x": x},
                            num_threads=torch.get_num_threads(), description=description)
    with torch.no_grad():
        result = timer.blocked_autorange(min_run_time=min_run_time)
        measured_under = conditions("torch.utils.benchmark")
    return Samples(description, tuple(result.times), result.number_per_run, warmup=1,
                   conditions=measured_under)


CUDA_EVENTS = "CUDA 事件"
MIN_CUDA_SAMPLES = 30  # enough for quartiles and the paired verdict even in a short run
TARGET_CUDA_SAMPLES = 100


def measure_call_cuda(fn: Callable[[Any], Any], x: Any, description: str,
                      min_run_time: float) -> Samples:
    """在 GPU 上测量 ``fn(x)`` 每次调用的秒数。

    在一块调用的前后各记录一个 CUDA 事件，两者的间隔由 GPU 自己的时钟给出，所以块内不做任何同步。
    每块都足够长（至少 0.2 毫秒，也至少是 ``min_run_time`` / 100），使事件的计时分辨率可以忽略不计；
    块会一直重复，直到既过了 ``min_run_time``，又至少取得了 ``MIN_CUDA_SAMPLES`` 个样本。"""
    import torch

    def block(calls: int) -> float:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn(x)
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3  # milliseconds -> seconds

    target = max(2e-4, min_run_time / TARGET_CUDA_SAMPLES)
    with torch.no_grad():
        block(1)  # warm-up: lazy kernel loading, allocator, autotuned choices
        number = 1
        while (took := block(number)) < target and number < 1 << 20:
            number = max(number * 2, int(number * target / max(took, 1e-9) * 1.2))
        samples: list[float] = []
        deadline = time.perf_counter() + min_run_time
        while len(samples) < MIN_CUDA_SAMPLES or time.perf_counter() < deadline:
            samples.append(block(number) / number)
        measured_under = conditions(CUDA_EVENTS)
    return Samples(description, tuple(samples), number, warmup=1, conditions=measured_under)


@dataclass(frozen=True)
class PathResult:
    """One path at one batch size."""

    name: str
    compile_seconds: float  # conversion plus the first call (what a user waits for)
    samples: Samples
    outputs_equal: bool
    max_abs_diff: float
    artifacts: tuple[Artifact, ...]
    # eager and the path timed alternately in the path's own process (one session), if at all
    paired: tuple[Samples, Samples] | None = None

    @property
    def paired_speedups(self) -> tuple[float, ...]:
        """Eager's per-call time over the path's, round by round (empty without pairing)."""
        if self.paired is None:
            return ()
        eager, path = self.paired
        return tuple(e / p for e, p in zip(eager.seconds, path.seconds, strict=True))

    def to_record(self, eager: Samples) -> dict[str, Any]:
        """JSON-ready data; the speed-up is read off the paired rounds when there are any."""
        paired = {}
        if self.paired is not None:
            paired = {"paired": {"eager": self.paired[0].to_record(),
                                 "path": self.paired[1].to_record()}}
        if self.paired_speedups:
            low, speedup, high = quartiles(self.paired_speedups)
            compared = "faster" if low > 1 else "slower" if high < 1 else "within noise"
        else:  # eager itself, or a result from before pairing
            q1, med, q3 = self.samples.quantiles
            e1, emed, e3 = eager.quantiles
            speedup, low, high = emed / med, e1 / q3, e3 / q1
            compared = verdict(self.samples.to_record(), eager.to_record())
        return {"label": LABELS[self.name], "setting": SETTINGS[self.name],
                "compile_seconds": self.compile_seconds,
                "samples": self.samples.to_record(), "speedup": speedup,
                "speedup_low": low, "speedup_high": high, "vs_eager": compared,
                "paired_speedups": list(self.paired_speedups), **paired,
                "outputs_equal": self.outputs_equal, "max_abs_diff": self.max_abs_diff,
                "artifacts": [a.to_record() for a in self.artifacts]}


PAIRED_ROUNDS = 11  # eager and the path, alternately, in the path's own process


def paired_rounds(eager: Callable[[Any], Any], path: Callable[[Any], Any], x: Any,
                  label: str, rounds: int = PAIRED_ROUNDS,
                  works: tuple[str, str] = ("", "")) -> tuple[Samples, Samples]:
    """Eager's and the path's per-call time, ``rounds`` times, each pair timed back to back
    in one process (one sample per round: that round's median): whatever slows the process
    (memory layout, clock speed, a busy machine) slows both sides of a pair alike, so their
    ratios vary far less from build to build than a ratio of times taken in two processes.
    The path's samples are its only timing: its per-call time and its speed-up are read off
    the same rounds. Rounds whose ratios spread wider than ``STEADY_SPREAD`` are all taken
    again, up to ``STEADY_ATTEMPTS`` times (the narrowest kept, with its ``attempts``).
    ``works`` names what each side times (``Samples.work``)."""
    seconds = 0.02 if quick_mode() else 0.2

    def take() -> tuple[Samples, Samples]:
        times: tuple[list[float], list[float]] = ([], [])
        for _ in range(rounds):
            for fn, kept in ((eager, times[0]), (path, times[1])):
                last = _measure_once(fn, x, label, seconds)
                kept.append(last.median)
        session = new_session()
        return tuple(Samples(name, tuple(kept), last.number, 1, last.conditions, session,
                             work=work)
                     for name, kept, work in ((f"与 {label} 交替计时的 eager", times[0], works[0]),
                                              (f"与 eager 交替计时的 {label}", times[1], works[1])))

    def ratio_spread(taken: tuple[Samples, Samples]) -> float:
        low, ratio, high = quartiles([e / p for e, p in zip(taken[0].seconds, taken[1].seconds,
                                                            strict=True)])
        return (high - low) / ratio

    best, attempts = _steadiest(take, ratio_spread)
    return tuple(replace(s, attempts=attempts) for s in best)


@dataclass
class PathsReport:
    """每个批量大小下每条路径的结果，以及这些数字是怎样测得的。"""

    results: dict[int, dict[str, PathResult]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """可直接转为 JSON 的数据（供构建引擎、页面上的表格和图表读取）。"""
        batches = {}
        for batch, paths in self.results.items():
            eager = paths["eager"].samples
            batches[str(batch)] = {name: r.to_record(eager) for name, r in paths.items()}
        return {"type": "paths", **self.provenance, "batches": batches}

    def __str__(self) -> str:
        """每个批量一张纯文本表，数字取自 :meth:`to_record`，与页面上的表格和图是同一次测量。

        表头只用 ASCII 字符：等宽字体里汉字的宽度因字体而异，混排会让各列对不齐。"""
        record = self.to_record()
        lines = []
        for batch, results in record["batches"].items():
            lines += [f"批量 {batch}，{self.provenance['threads']} 个线程。各列：路径；编译秒数；"
                      "每次调用的微秒数（中位数，四分位区间）；",
                      "同一进程里与它交替计时的 eager 的微秒数；加速比（两者逐轮相除，"
                      "中位数与四分位区间）；保存的文件。",
                      f"{'path':<12} {'compile_s':>9} {'us':>8} {'(IQR)':<15} {'eager_us':>8} "
                      f"{'speedup':>7} {'(IQR)':<15} files"]
            for name, r in results.items():
                s = r["samples"]
                beside = (r.get("paired") or {}).get("eager")
                paired = name != "eager" and beside is not None
                spread = f"({s['q1'] * 1e6:.1f}–{s['q3'] * 1e6:.1f})"
                compile_s = "—" if name == "eager" else f"{r['compile_seconds']:.2f}"
                eager_us = f"{beside['median'] * 1e6:.1f}" if paired else "—"
                speedup = f"{r['speedup']:.2f}" if paired else "—"
                speedup_range = f"({ratio_range(r['speedup_low'], r['speedup_high'])})" if paired else ""
                files = ", ".join(f"{a['kind']} {human_size(a['size_bytes'])}"
                                  for a in r["artifacts"])
                # a space between every two columns, so a wider range never runs into the next
                lines.append(f"{name:<12} {compile_s:>9} {s['median'] * 1e6:>8.1f} {spread:<15} "
                             f"{eager_us:>8} {speedup:>7} {speedup_range:<15} {files or '—'}")
            lines.append("")
        return "\n".join(lines).rstrip()


@contextlib.contextmanager
def _cold_compiler(enabled: bool):
    """Disable TorchInductor's on-disk caches, so compile times are those of a first run."""
    import torch

    if not enabled:
        yield
        return
    with torch._inductor.config.patch(force_disable_caches=True):
        yield


# What a path's compile time covers: the clock starts after the process has loaded the model
# onto its device and called it once in eager mode (CUDA context, cuBLAS handles, the eager
# kernels loaded), and after the toolchain warm-up; it stops when the first call of the
# converted model has returned and the device is idle.
COMPILE_COVERS = ("转换（导出、编译、保存）加上第一次调用；不含进程启动、CUDA 与 cuBLAS 的初始化"
                  "（计时前已用 eager 模型在同一进程里调用过一次），也不含编译工具链第一次从磁盘加载")
# on a CPU there is no CUDA or cuBLAS to set up: the sentence names what there is
COMPILE_COVERS_CPU = ("转换（导出、编译、保存）加上第一次调用；不含进程启动（计时前已用 eager "
                      "模型在同一进程里调用过一次），也不含编译工具链第一次从磁盘加载")


def _environment(device: Any, matmul: MatmulSettings, tol: Tolerance,
                 quick: bool) -> dict[str, Any]:
    import torch

    info = {"device": device.type, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "quick": quick, "isolated": True, "matmul": matmul.to_record(),
            "tolerance": {"rtol": tol.rtol, "atol": tol.atol},
            "timer": CUDA_EVENTS if device.type == "cuda" else "torch.utils.benchmark",
            "compile_covers": COMPILE_COVERS if device.type == "cuda" else COMPILE_COVERS_CPU}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def measure_path(name: str, net: Any, x: Any, reference: Any, workdir: str,
                 tol: Tolerance = FULL_FLOAT32) -> PathResult:
    """Build one path, check its outputs and files against ``reference`` (within ``tol``),
    then time it."""
    import torch

    with torch.no_grad():
        net(x)  # one-time device setup (cuBLAS, lazy kernels) is not the path's compile time
        with _cold_compiler(not quick_mode()):
            synchronize()
            start = time.perf_counter()
            runnable, files = make_path(name, net, x, workdir)
            output = runnable(x)
            synchronize()
            compile_seconds = time.perf_counter() - start
        _stop_compile_workers()
        diff = (output - reference).abs().max().item()
        if not torch.allclose(output, reference, **tol.as_kwargs()):
            raise AssertionError(f"{name} at batch {x.shape[0]}: outputs differ from eager "
                                 f"(max abs diff {diff:.3g}, rtol {tol.rtol:g}, atol "
                                 f"{tol.atol:g}); refusing to time it")
        artifacts = tuple(check_artifacts(files, x, reference, tol, net))
    if name == "eager":
        return PathResult(name, 0.0, measure_call(net, x, LABELS[name]), True, diff, artifacts)
    # one timing per path: its per-call time and its speed-up come from the same rounds
    # what each side times: a scripted or traced module is named by its own graph and weights
    # (as the page names one it makes itself); the others by the model they were made from,
    # with the path's name (a frozen or compiled object does not show its weights or options)
    made_from = runnable if name in ("script", "trace") else net
    paired = paired_rounds(net, runnable, x, LABELS[name],
                           works=(work_of(net, x), work_of(runnable, x, LABELS[name],
                                                           model=made_from)))
    return PathResult(name, compile_seconds, paired[1], True, diff, artifacts, paired)


def _stop_compile_workers() -> None:
    """Shut down TorchInductor's pool of compile subprocesses, if one was started: it stays
    alive after compiling and takes CPU time from everything the process does next (on two
    cores, eager's time per call doubles beside it), which is not the compiled model's cost."""
    async_compile = sys.modules.get("torch._inductor.async_compile")
    shutdown = getattr(async_compile, "shutdown_compile_workers", None)
    if shutdown is not None:
        shutdown()


class PathFailed(RuntimeError):
    """A path could not be built, checked or timed in its worker process; ``reason`` is the
    one line that says why (the worker's exception, or its time limit)."""

    def __init__(self, name: str, reason: str, detail: str = "") -> None:
        super().__init__(f"measuring {name} failed in its worker process: {reason}\n{detail}".rstrip())
        self.reason = reason


PATH_TIMEOUT_ENV = "D2L_PATH_TIMEOUT"


def path_timeout() -> float:
    """Seconds one (batch size, path) worker may run (``D2L_PATH_TIMEOUT``, default 600)."""
    try:
        return max(0.1, float(os.environ.get(PATH_TIMEOUT_ENV, "600")))
    except ValueError:
        return 600.0


def _last_error_line(stderr: str) -> str:
    """The exception line of a worker's traceback (the last line that is not blank)."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "exited without a message")[:300]


def _run_isolated(name: str, job_dir: Path, quick: bool) -> PathResult:
    """``measure_path`` in a fresh interpreter: nothing an earlier path (or an earlier cell of
    the reader's program) did to TorchScript's or Inductor's process state can leak in.
    ``PathFailed`` if the worker fails or runs past :func:`path_timeout`."""
    out = job_dir / f"{name}.json"
    limit = path_timeout()
    try:
        proc = subprocess.run([sys.executable, "-m", "d2l_compiler.measure", str(job_dir), name],
                              capture_output=True, text=True, timeout=limit, env=_worker_env(quick))
    except subprocess.TimeoutExpired:
        raise PathFailed(name, f"did not finish within {limit:g} s ({PATH_TIMEOUT_ENV})") from None
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        said = job_dir / f"{name}.error"
        reason = said.read_text(encoding="utf-8") if said.exists() else _last_error_line(proc.stderr)
        said.unlink(missing_ok=True)
        raise PathFailed(name, reason, tail)
    data = json.loads(out.read_text(encoding="utf-8"))
    for category, message, filename, lineno in data["warnings"]:
        # re-raised here, where callers can see them, naming the line that really raised them
        warnings.warn_explicit(message, getattr(builtins, category, UserWarning), filename, lineno)
    samples, *paired = (_samples_from_worker(d) for d in (data["samples"], *data["paired"]))
    artifacts = tuple(Artifact(**a) for a in data["artifacts"])
    return PathResult(name, data["compile_seconds"], samples, True, data["max_abs_diff"], artifacts,
                      tuple(paired) if paired else None)


def _samples_to_worker(samples: Samples) -> dict[str, Any]:
    return {"description": samples.description, "seconds": list(samples.seconds),
            "number": samples.number, "conditions": samples.conditions, "session": samples.session,
            "attempts": samples.attempts, "work": samples.work, "process_id": samples.process_id}


def _samples_from_worker(data: dict[str, Any]) -> Samples:
    return Samples(data["description"], tuple(data["seconds"]), data["number"], warmup=1,
                   conditions=tuple(map(tuple, data["conditions"])),
                   session=data["session"], attempts=data["attempts"], work=data["work"],
                   process_id=data["process_id"]).measured_in(FRESH_PROCESS)


# Warnings caused by this module's own measurement settings, not by the reader's code: the
# Inductor cache is disabled on purpose (force_disable_caches, for cold compile times), and
# full float32 matmuls are pinned on purpose (Inductor suggests TF32 on such GPUs).
OWN_SETTING_WARNINGS = ("dynamo_pgo force disabled by torch.compiler.config.force_disable_caches",
                        "TensorFloat32 tensor cores for float32 matrix multiplication available")


WARM_UP = "--warm-up"


def _warm_toolchain(job_dir: Path, paths: Sequence[str], quick: bool) -> float:
    """Seconds spent compiling a tiny unrelated model on the measured device, once, in its
    own process, before any path is timed: the first compilation on a machine also loads
    the C++ compiler, headers, Inductor's modules and (on a GPU) Triton and ptxas from disk,
    a one-off cost the first timed path would otherwise be charged for alone. A step that
    fails here is only warned about: the path it warms will fail, and say why, by itself."""
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "d2l_compiler.measure", str(job_dir), WARM_UP,
                               ",".join(paths)], capture_output=True, text=True,
                              timeout=path_timeout(), env=_worker_env(quick))
        failed = proc.returncode != 0
        why = _last_error_line(proc.stderr)
    except subprocess.TimeoutExpired:
        failed, why = True, f"did not finish within {path_timeout():g} s"
    if failed:
        warnings.warn(f"warming up the compiler toolchain failed: {why}", RuntimeWarning,
                      stacklevel=2)
    return time.perf_counter() - start


def _warm_up_worker(job_dir: str, paths: str) -> None:
    import torch

    net = torch.load(Path(job_dir) / "net.pt", weights_only=False)
    device = next(net.parameters()).device
    pin_matmul_precision(device.type)
    tiny = torch.nn.Linear(4, 4).to(device).eval()
    x = torch.randn(2, 4, device=device)
    wanted = set(paths.split(","))
    with torch.no_grad(), _cold_compiler(True), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nothing of the reader's runs here
        tiny(x)
        if wanted & {"compile", "compile_max"}:
            torch.compile(tiny, options={"freezing": True}, dynamic=False)(x)
        if "export_aoti" in wanted:
            torch._inductor.aoti_compile_and_package(torch.export.export(tiny, (x,)),
                                                     package_path=str(Path(job_dir) / "warm-up.pt2"))
        synchronize()


def _worker(job_dir: str, name: str, extra: str = "") -> None:
    import torch

    if name == WARM_UP:
        _warm_up_worker(job_dir, extra)
        return
    folder = Path(job_dir)
    net = torch.load(folder / "net.pt", weights_only=False)
    x, reference = torch.load(folder / "inputs.pt")
    settings = pin_matmul_precision(x.device.type)
    tol = tolerance(x.device.type, x.dtype, settings)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = measure_path(name, net, x, reference, job_dir, tol)
        except Exception as exc:
            # the one line a reader needs, for the parent: a traceback's last line is not
            # always the exception's (TorchScript's messages span several lines)
            first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
            (folder / f"{name}.error").write_text(f"{type(exc).__name__}: {first}"[:300],
                                                  encoding="utf-8")
            raise
    unique = sorted({(w.category.__name__, str(w.message), w.filename, w.lineno) for w in caught
                     if not str(w.message).startswith(OWN_SETTING_WARNINGS)})
    (folder / f"{name}.json").write_text(json.dumps({
        "compile_seconds": result.compile_seconds,
        "samples": _samples_to_worker(result.samples),
        "paired": [_samples_to_worker(s) for s in result.paired or ()],
        "max_abs_diff": result.max_abs_diff, "warnings": unique,
        "artifacts": [{"kind": a.kind, "file": a.file, "size_bytes": a.size_bytes,
                       "reload_equal": a.reload_equal} for a in result.artifacts]}),
        encoding="utf-8")


def compare_paths(net: Any, batch_sizes: Sequence[int] = (1, 256),
                  paths: Sequence[str] = PATHS, seed: int = 0,
                  quick: bool | None = None) -> PathsReport:
    """在每个批量大小下构建 ``net`` 的每条路径，逐一核对并计时。

    在本机跑不了的路径会被略过，并连同原因记在报告的 ``skipped`` 里。
    原因或是事先就已查明（见 [`unavailable_paths`][d2l_compiler.paths.unavailable_paths]），
    或是构建、核对或计时时出了错（记下错误信息那一行，同时作为警告发出）。
    eager 本身失败，整个比较也就失败了：没有了可以比较的基准。

    float32 矩阵乘法的精度是固定的（``D2L_MATMUL_PRECISION``，默认 ``highest``，
    即不用 TF32），并与由它决定的输出容差一起记录下来。
    每个（批量大小，路径）组合都在一个全新的 Python 进程里运行，所以编译时间是冷启动的时间，
    哪条路径也不会继承别的路径留下的状态。在这个进程里，计时之前先用 ``torch.allclose``
    把输出与 eager 比较，再把路径保存的文件重新加载并同样比较，每次调用的时间则由
    [`measure_call`][d2l_compiler.measure.measure_call] 测量。
    ``quick=True`` 只做简短的冒烟测量（默认看环境变量 ``D2L_BENCH_QUICK``），数字不可当真。
    """
    import torch

    quick = quick_mode(quick)
    unknown = sorted(set(paths) - set(PATHS))
    if unknown or "eager" not in paths:
        raise ValueError(f"paths must include 'eager' and come from {', '.join(PATHS)}")
    device = next(net.parameters()).device
    net = net.eval()
    matmul = pin_matmul_precision(device.type)
    tol = tolerance(device.type, next(net.parameters()).dtype, matmul)
    skipped = unavailable_paths(device, tuple(paths))
    report = PathsReport(provenance={**_environment(device, matmul, tol, quick), "skipped": skipped,
                                     "paired_rounds": PAIRED_ROUNDS,
                                     "steady_spread": STEADY_SPREAD,
                                     "steady_attempts": STEADY_ATTEMPTS})
    generator = torch.Generator().manual_seed(seed)
    runnable = [name for name in PATHS if name in paths and name not in skipped]
    with tempfile.TemporaryDirectory(prefix="d2l-paths-") as workdir:
        torch.save(net, Path(workdir) / "net.pt")
        report.provenance["toolchain_warm_up_seconds"] = _warm_toolchain(Path(workdir), runnable, quick)
        for batch in batch_sizes:
            x = torch.randn(batch, 512, generator=generator).to(device)
            report.provenance["input_row_bytes"] = x[0].nelement() * x.element_size()
            with torch.no_grad():
                torch.save((x, net(x)), Path(workdir) / "inputs.pt")
            results: dict[str, PathResult] = {}
            for name in runnable:
                if name in skipped:  # failed at an earlier batch size: it would fail again
                    continue
                try:
                    results[name] = _run_isolated(name, Path(workdir), quick)
                except PathFailed as failure:
                    if name == "eager":
                        raise
                    skipped[name] = f"批量 {batch} 时失败：{failure.reason}"
                    warnings.warn(f"{LABELS[name]} skipped at batch {batch}: {failure.reason}",
                                  RuntimeWarning, stacklevel=2)
            report.results[batch] = results
    # a path that failed at a later batch size is left out of every batch, so that each
    # table compares the same paths
    for results in report.results.values():
        for name in skipped:
            results.pop(name, None)
    return report


if __name__ == "__main__":
    _worker(*sys.argv[1:4])
