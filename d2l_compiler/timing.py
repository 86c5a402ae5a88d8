"""Wall-clock timing: the book's ``Timer`` and ``Benchmark``, plus repeated measurement.

Nothing here imports torch. When torch is already imported and CUDA has been initialised,
the clock is read only after ``torch.cuda.synchronize()``: GPU kernels run asynchronously,
so without it a timer measures how fast work was *queued*, not how fast it ran.
"""

from __future__ import annotations

import hashlib
import re
import statistics
import sys
import time
import types
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any


def synchronize() -> None:
    """Wait for pending CUDA work, if torch is loaded and CUDA is in use; otherwise do nothing."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


class Timer:
    """记录运行时间：创建时即开始计时（``start``），``stop`` 返回从开始到现在经过的秒数。"""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.start()

    def start(self) -> None:
        """开始（或重新开始）计时。"""
        synchronize()
        self._tik = time.perf_counter()

    def stop(self) -> float:
        """停止计时，记下这段时长，并返回它的秒数。"""
        synchronize()
        self.times.append(time.perf_counter() - self._tik)
        return self.times[-1]

    def sum(self) -> float:
        """已记录的所有时长之和，单位为秒。"""
        return sum(self.times)

    def avg(self) -> float:
        """已记录时长的平均值，单位为秒。"""
        return self.sum() / len(self.times)


def time_unit(seconds: float, language: str) -> tuple[float, str, int]:
    """Scale, unit name and decimals that leave digits to read for ``seconds`` (``zh`` or ``en``)."""
    units = ("s", "ms", "µs") if language == "en" else ("秒", "毫秒", "微秒")
    if seconds >= 1e-2:
        return 1.0, units[0], 4
    if seconds >= 1e-4:
        return 1e3, units[1], 3
    # three significant digits below 10 µs too, so that a ratio of two shown figures is the
    # ratio the sentence beside them states (2.96 and 17.6, not 3.0 and 17.6)
    return 1e6, units[2], 1 if seconds >= 1e-5 else 2


def duration(seconds: float, language: str = "zh") -> str:
    """``0.0835 秒``, ``2.345 毫秒`` or ``36.2 微秒``: a unit that leaves digits to read."""
    scale, unit, decimals = time_unit(seconds, language)
    return f"{seconds * scale:.{decimals}f} {unit}"


# --8<-- [start:benchmark]
class Benchmark:
    """给 ``with`` 语句块计时，并打印 ``<描述>: <秒数> 秒``。"""

    def __init__(self, description: str = "Done") -> None:
        self.description = description
        self.seconds: float | None = None  # 保存下来供后面使用，而不只是打印

    def __enter__(self) -> "Benchmark":  # 加引号：这段代码单独复制出去也能运行
        self.timer = Timer()  # Timer 读时钟之前会先同步 CUDA
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = self.timer.stop()
        print(f"{self.description}: {self.seconds:.4f} 秒")
# --8<-- [end:benchmark]

    def to_record(self) -> dict[str, Any]:
        """把这次测量整理成可直接转为 JSON 的数据（供构建引擎读取）。"""
        return {"type": "benchmark", "description": self.description, "seconds": self.seconds}


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """First quartile, median and third quartile (inclusive method; one value is all three)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


@dataclass(frozen=True)
class Samples:
    """同一项工作的多次重复计时。

    每个样本都是 ``number`` 次调用平均下来*每次调用*的秒数，因此不同计时器测得的样本可以直接比较。"""

    description: str
    seconds: tuple[float, ...]
    number: int = 1  # calls averaged into each sample
    warmup: int = 0  # untimed repetitions run first
    # how it was measured, as (what, how) pairs: timer, process, autograd, threads
    conditions: tuple[tuple[str, str], ...] = ()
    # Samples timed alternately in one session (``measure_many``) share this name: their
    # i-th samples were taken side by side, so they are compared round by round.
    session: str = ""
    # how many times the whole measurement was taken before its spread was narrow enough to
    # publish (``measure_call`` repeats a measurement whose quartiles lie far apart)
    attempts: int = 1
    # what was timed, apart from how (see ``work_of``): two timings with the same ``work`` are
    # figures of one quantity, which the chapter checks wherever it shows it twice; "" = unnamed
    work: str = ""
    # the interpreter that took the samples: one process's timings of the same work under
    # the same conditions must agree, while another process may run the same code slower
    process_id: str = field(default_factory=lambda: PROCESS_ID)
    quantiles: tuple[float, float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.seconds:
            raise ValueError("Samples needs at least one timing")
        object.__setattr__(self, "quantiles", quartiles(self.seconds))

    @property
    def median(self) -> float:
        """每次调用秒数的中位数。"""
        return self.quantiles[1]

    @property
    def iqr(self) -> float:
        """四分位距（q3 - q1），本书用它报告数据的离散程度。"""
        return self.quantiles[2] - self.quantiles[0]

    @property
    def relative_spread(self) -> float:
        """四分位距占中位数的比例：0.1 表示四分位区间宽约中位数的一成。"""
        return self.iqr / self.median if self.median > 0 else 0.0

    def __str__(self) -> str:
        q1, med, q3 = self.quantiles
        scale, unit, decimals = time_unit(med, "zh")
        return (f"{self.description}: 每次调用的中位数 {med * scale:.{decimals}f} {unit}，四分位区间 "
                f"{q1 * scale:.{decimals}f}–{q3 * scale:.{decimals}f} {unit}"
                f"（{len(self.seconds)} 轮，每轮 {self.number} 次调用）")

    def to_record(self) -> dict[str, Any]:
        """把样本连同其统计摘要整理成可直接转为 JSON 的数据。"""
        q1, med, q3 = self.quantiles
        return {"type": "samples", "description": self.description,
                "seconds": _spread_sample(self.seconds, RECORDED_SAMPLES),
                "count": len(self.seconds), "number": self.number, "warmup": self.warmup,
                "median": med, "q1": q1, "q3": q3, "iqr": q3 - q1, "min": min(self.seconds),
                "max": max(self.seconds), "conditions": dict(self.conditions),
                "session": self.session, "attempts": self.attempts, "work": self.work,
                "process_id": self.process_id}

    def measured_in(self, process: str) -> "Samples":
        """返回同样的样本，并注明它们是在哪个进程里测得的。

        进程记在测量条件中（见 [`conditions`][d2l_compiler.timing.conditions]）。"""
        named = tuple((k, process if k == PROCESS else v) for k, v in self.conditions)
        if PROCESS not in dict(named):
            named += ((PROCESS, process),)
        return replace(self, conditions=named)


# This interpreter's name in the samples it takes (``Samples.process_id``).
PROCESS_ID = uuid.uuid4().hex[:12]


def work_of(fn: Any, x: Any = None, kind: str = "", model: Any = None) -> str:
    """说明计时测的是*什么*（与怎样测无关），例如
    ``eager · 模型指纹 3f2a9c1b · 输入 1×512 float32 cpu``；认不准时返回 ``""``，这次计时就不参与对照。

    模型指纹取自模型的类、结构（TorchScript 模型取它的计算图）、参数，以及它读取
    ``training`` 时的训练/推理模式；普通函数取它的字节码。种类默认由 ``fn`` 推断：
    ``eager``、``torch.jit.script``、``torch.jit.trace`` 或函数名。lambda、闭包、
    ``functools.partial``、装饰过的函数、``torch.compile`` 的结果（编译选项无从得知）以及张量以外的
    输入都认不准。调用者知道的可以自己说：``kind`` 给出种类，``model`` 给出指纹所依据的模型
    （例如冻结的 TorchScript 模型不再带参数，就用转换前的模型）。两次计时的 ``work`` 相同，
    测的就是同一个量。"""
    inputs = _input(x)
    if kind:
        fingerprint = _fingerprint(fn if model is None else model)
    else:
        kind, fingerprint = _kind(fn), _fingerprint(fn)
    if not (inputs and kind and fingerprint):
        return ""
    return f"{kind} · 模型指纹 {fingerprint} · 输入 {inputs}"


def _input(x: Any) -> str:
    """A tensor's shape, dtype and device (and layout when not contiguous); "" otherwise."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(x, torch.Tensor):
        return ""
    shape = "×".join(map(str, x.shape)) or "标量"
    layout = "" if x.is_contiguous() else " 非连续"
    return f"{shape} {str(x.dtype).removeprefix('torch.')} {x.device.type}{layout}"


def _kind(fn: Any) -> str:
    """What kind of callable ``fn`` is, or "" where its work cannot be told from it."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(fn, torch.nn.Module):
        if isinstance(fn, torch.jit.ScriptModule):
            return "torch.jit.trace" if "Traced" in type(fn).__name__ else "torch.jit.script"
        compiled = (type(fn).__name__ == "OptimizedModule"
                    or getattr(fn, "_compiled_call_impl", None) is not None)
        return "" if compiled else "eager"  # compiled: its options are not known here
    if not isinstance(fn, types.FunctionType) or fn.__name__ == "<lambda>" or fn.__closure__:
        return ""  # a closure's work depends on what it captured
    if hasattr(fn, "__wrapped__") or hasattr(fn, "_torchdynamo_orig_callable"):
        return ""  # a decorator or torch.compile copies the name of what it wraps
    return fn.__qualname__


def _fingerprint(model: Any) -> str:
    """8 hex digits of a SHA-256 over what decides a model's work: its class and structure
    (a TorchScript module's graph), its training flag where its code reads it, and its
    parameters; a plain function's code. "" where there is nothing to go by."""
    torch = sys.modules.get("torch")
    digest = hashlib.sha256()
    if torch is not None and isinstance(model, torch.nn.Module):
        try:
            if isinstance(model, torch.jit.ScriptModule):
                # the graph without TorchScript's per-process class counters (__torch_mangle_7)
                structure = re.sub(r"\.___torch_mangle_\d+", "", str(model.inlined_graph))
                reads_training = "training" in structure
            else:
                structure = f"{type(model).__module__}.{type(model).__qualname__}\n{model!r}"
                reads_training = any("training" in getattr(getattr(type(m), "forward", None),
                                                           "__code__", types.SimpleNamespace(
                                                               co_names=())).co_names
                                     for m in model.modules())
            parameters = list(model.parameters())
            if isinstance(model, torch.jit.ScriptModule) and not parameters:
                return ""  # frozen: its weights are constants the graph does not print
            digest.update(structure.encode())
            if reads_training:
                digest.update(f"training={model.training}".encode())
            for p in parameters:
                digest.update(str(tuple(p.shape)).encode())
                digest.update(p.detach().cpu().contiguous().view(-1).view(torch.uint8)
                              .numpy().tobytes())
        except (RuntimeError, TypeError, ValueError, AttributeError):
            return ""  # an uninitialised (lazy) parameter, say: the work is not known yet
        return digest.hexdigest()[:8]
    if isinstance(model, types.FunctionType):
        code = model.__code__
        digest.update(f"{model.__module__}.{model.__qualname__}".encode())
        digest.update(code.co_code + repr(code.co_consts).encode())
        return digest.hexdigest()[:8]
    return ""


# The names of the conditions a timing records (they are shown on the page as they are).
TIMER, PROCESS, AUTOGRAD, THREADS = "计时方式", "进程", "自动求导", "线程数"
SAME_PROCESS = "与前面的代码同一个进程"
FRESH_PROCESS = "单独的全新进程"
MEASURE_MANY = "measure_many 交替计时"


def conditions(timer: str, process: str = SAME_PROCESS) -> tuple[tuple[str, str], ...]:
    """返回此刻计时会受哪些条件影响（工作本身除外）。

    这些条件是计时方式 ``timer``、所在进程 ``process``，以及（torch 已加载时）
    是否开启自动求导和 torch 的线程数。同一项工作的两次计时，只有这些条件也相同，
    结果才会一致。"""
    found = [(TIMER, timer), (PROCESS, process)]
    torch = sys.modules.get("torch")
    if torch is not None:
        found += [(AUTOGRAD, "开启" if torch.is_grad_enabled() else "关闭"),
                  (THREADS, str(torch.get_num_threads()))]
    return tuple(found)


# Samples kept in a record: a fast call timed for a second can yield thousands, and a record
# value must stay small (the engine caps each one). The summary always uses all of them.
RECORDED_SAMPLES = 200


def _spread_sample(seconds: tuple[float, ...], limit: int) -> list[float]:
    """All of ``seconds`` if there are at most ``limit``; else ``limit`` of them evenly spread
    over the sorted values (the minimum and maximum included), so their distribution shows."""
    if len(seconds) <= limit:
        return list(seconds)
    ordered = sorted(seconds)
    return [ordered[round(i * (len(ordered) - 1) / (limit - 1))] for i in range(limit)]


def measure_many(work: Mapping[str, Callable[[], object] | tuple[Callable[[Any], object], Any]],
                 *, number: int = 1000, repeats: int = 7, warmup: int = 1) -> dict[str, Samples]:
    """给每个可调用对象计时 ``repeats`` 轮，每轮调用 ``number`` 次。

    每轮得到一个样本，即这一轮里平均每次调用的秒数。各轮交替进行（A、B、A、B……）：
    共享的机器一时变慢，所有候选都会同样受影响，而不会只拖累恰好在那段时间运行的那一个。
    这些结果共用同一个 ``session``，因此 [`verdict`][d2l_compiler.claims.verdict]
    会逐轮比较它们。

    每一项可以是无参数的可调用对象，也可以是 ``(fn, x)``：后者每次调用 ``fn(x)``，
    并由 [`work_of`][d2l_compiler.timing.work_of] 记下测的是什么，
    这样同一个量在别处再测一次时，可以拿来对照。
    """
    if number < 1 or repeats < 1 or warmup < 0:
        raise ValueError("number and repeats must be >= 1, warmup >= 0")
    measured_under = conditions(MEASURE_MANY)
    calls = {name: _call(item) for name, item in work.items()}
    works = {name: work_of(*item) if isinstance(item, tuple) else "" for name, item in work.items()}
    timings: dict[str, list[float]] = {name: [] for name in work}
    for round_ in range(warmup + repeats):
        for name, fn in calls.items():
            timer = Timer()
            for _ in range(number):
                fn()
            elapsed = timer.stop()
            if round_ >= warmup:
                timings[name].append(elapsed / number)
    session = new_session()
    return {name: Samples(name, tuple(ts), number, warmup, measured_under, session,
                          work=works[name])
            for name, ts in timings.items()}


def _call(item: Callable[[], object] | tuple[Callable[[Any], object], Any]) -> Callable[[], object]:
    if not isinstance(item, tuple):
        return item
    fn, x = item
    return lambda: fn(x)


def new_session() -> str:
    """A fresh name for one set of samples timed side by side (see ``Samples.session``)."""
    return uuid.uuid4().hex[:12]
