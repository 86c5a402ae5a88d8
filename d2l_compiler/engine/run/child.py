"""Runs inside the subprocess: executes one page's regions in one namespace, in order.

Reads a job (JSON) and appends one JSON line per event to the result file, flushing each,
so that whatever happened before a crash survives it. Stdout is captured per region;
warnings are recorded (always, even those Python hides by default, such as TorchScript's
DeprecationWarning); the JSON-ready values each region binds are kept for the pages to cite,
within limits (how many, how large), and the record says which were dropped.

Output written by a thread that was already running when a region started (started by an
earlier region) is kept apart as that region's ``stray`` output, never mixed into its own.
Every string leaves this process as valid text: lone surrogates become ``\\udcff`` escapes,
and events are ASCII JSON, so no character (U+2028 included) can split an event line.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import io
import re
import tokenize
from collections.abc import Callable
import json
import os
import platform
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path
from types import CodeType
from typing import Any

from d2l_compiler.engine.run.machine import cpu_name
from d2l_compiler.engine.run.loaded import forget_project_modules
from msgspec.structs import replace

from d2l_compiler.engine.record.model import (CapturedWarning, Display, Fault, Provenance,
                                              RegionError, RegionRun, Status)
from d2l_compiler.engine.run.displays import MAX_DISPLAYS, Displayed, open_figures, shown_by
from d2l_compiler.engine.run.protocol import JobRegion, PageProcessJob, Probe, read_job
from d2l_compiler.engine.record.observed import position_tag
from d2l_compiler.engine.run.observe import InputObserver, source_only
from d2l_compiler.engine.run.child_output import capture_process_output, region_started
from d2l_compiler.engine.run.project_guard import guard_project
from d2l_compiler.engine.run.statedigest import StateProbe, changes
from d2l_compiler.engine.run.warning_origin import region_warnings

_MAX_STR = 2000
_MAX_LIST = 1000
MAX_VALUES = 200  # values kept per region
MAX_VALUE_BYTES = 256 * 1024  # JSON size of one value
MAX_REGION_VALUE_BYTES = 1024 * 1024  # JSON size of all values of one region
_MAX_DROPPED_NAMES = 20


def clean(data: Any) -> Any:
    """``data`` with every string made encodable (lone surrogates -> backslash escapes)."""
    if isinstance(data, str):
        return data.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(data, dict):
        return {clean(k): clean(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [clean(v) for v in data]
    return data


def _jsonable(value: Any) -> Any:
    """A JSON-ready copy of a value worth citing, or None for everything else."""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MAX_STR else None
    if isinstance(value, list | tuple) and 0 < len(value) <= _MAX_LIST and all(
            isinstance(v, bool | int | float) for v in value):
        return list(value)
    to_record = getattr(type(value), "to_record", None)
    if callable(to_record):
        return value.to_record()
    return None


def _exposed(namespace: dict, before: dict[str, int] | None,
             binds: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The values of the names a region binds (bounded), and what was dropped and why;
    with ``before`` (a region that can bind any name), also of every name it rebound."""
    values: dict[str, Any] = {}
    dropped: dict[str, list[str]] = {}
    total = 0
    for name, value in namespace.items():
        rebound = before is not None and before.get(name) != id(value)
        if name.startswith("_") or not (name in binds or rebound):
            continue
        try:
            data = clean(_jsonable(value))
            if data is None:  # not a value worth citing (a module, a function, a tensor)
                continue
            size = len(json.dumps(data, allow_nan=True))  # NaN and inf as the record writes them
        except Exception as exc:  # noqa: BLE001 - a broken to_record() is the value's problem
            dropped.setdefault(f"to_record() failed: {type(exc).__name__}", []).append(name)
            continue
        reason = (f"more than {MAX_VALUES} values" if len(values) >= MAX_VALUES else
                  f"larger than {MAX_VALUE_BYTES} bytes" if size > MAX_VALUE_BYTES else
                  f"over {MAX_REGION_VALUE_BYTES} bytes in all" if total + size > MAX_REGION_VALUE_BYTES
                  else None)
        if reason:
            dropped.setdefault(reason, []).append(name)
            continue
        values[name] = data
        total += size
    summary = {reason: {"count": len(names), "names": names[:_MAX_DROPPED_NAMES]}
               for reason, names in dropped.items()}
    return values, summary


def _warning_list(caught: list[warnings.WarningMessage], root: str = "") -> list[CapturedWarning]:
    """The warnings, once each; where one was raised inside the project, relative to it (the
    record says the same wherever the checkout is)."""
    unique: dict[CapturedWarning, None] = {}
    prefix = os.path.join(root, "") if root else None
    for w in caught:
        where = str(w.filename)
        if prefix and where.startswith(prefix):
            where = where[len(prefix):]
        unique.setdefault(CapturedWarning(w.category.__name__, str(w.message),
                                          f"{where}:{w.lineno}"), None)
    return list(unique)


def _failing_line(exc: BaseException, filename: str) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == filename:
            line = lineno  # the innermost frame inside the region's own file
    return line


def provenance() -> Provenance:
    """Where the regions ran: read after they ran, so torch is described only if they used it."""
    device = os.environ.get("D2L_DEVICE", "cpu")
    torch = sys.modules.get("torch")
    described: dict[str, Any] = {}
    if torch is not None:  # as a region left it: what is not of the documented kind is left out
        threads = torch.get_num_threads()
        described = {"torch": str(torch.__version__),
                     "threads": threads if type(threads) is int else None}
        if device == "cuda" and torch.cuda.is_available():
            described["gpu"] = str(torch.cuda.get_device_name())
    return Provenance(python=platform.python_version(), platform=platform.platform(),
                      cpu=cpu_name(), cpu_count=os.cpu_count(), device=device, **described)


MAX_PROBED_CHARS = 200  # of what one probe says


def probed(probes: tuple[Probe, ...]) -> dict[str, str]:
    """What the book's extensions record of this run: each probe whose module the regions
    imported (or that needs none), called now. One that fails says so, where its fact would
    be, in one line (the stamp shows it)."""
    facts = {}
    for probe in probes:
        if probe.when and probe.when not in sys.modules:
            continue
        module, _, name = probe.function.partition(":")
        try:
            value = str(getattr(importlib.import_module(module), name)())
        except Exception as exc:  # an extension's fault: shown, never a failed page
            value = f"? ({probe.function} failed: {type(exc).__name__}: {exc})"
        facts[probe.label] = " ".join(value.split())[:MAX_PROBED_CHARS]
    return facts


class OutputLimitExceeded(BaseException):
    """Raised by the captured stdout when a region prints more than the cap (not catchable
    by a region's ``except Exception``)."""


class _RegionStdout(io.TextIOBase):
    """``sys.stdout`` while regions run: each write goes to the running region's buffer, or to
    its ``stray`` buffer when the writing thread was started before that region began."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self._lock = threading.Lock()
        self.begin()

    def begin(self) -> None:
        """A region starts: fresh buffers; threads alive now belong to earlier regions."""
        with self._lock:
            self.own, self.stray, self.size, self.cut = io.StringIO(), io.StringIO(), 0, False
            self.earlier_threads = {t.ident for t in threading.enumerate()
                                    if t is not threading.main_thread()}

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            buffer = self.stray if threading.get_ident() in self.earlier_threads else self.own
            room = self.limit - self.size
            if len(text) > room:  # room >= 0: size never passes the limit
                buffer.write(text[:room])
                self.size, self.cut = self.limit, True
                if threading.current_thread() is threading.main_thread():
                    raise OutputLimitExceeded(f"the region printed more than {self.limit} characters")
                return len(text)  # a thread past the cap is silenced; the region is not blamed
            self.size += len(text)
            return buffer.write(text)


def _fault(exc: BaseException) -> Fault:
    if isinstance(exc, OutputLimitExceeded):
        return Fault.OUTPUT_LIMIT
    if isinstance(exc, MemoryError):
        return Fault.OUT_OF_MEMORY
    if isinstance(exc, SystemExit):
        return Fault.EXIT
    return Fault.EXCEPTION


def _shown_traceback(exc: BaseException, filename: str, shown_as: str) -> str:
    """The traceback a reader should see: the region's own frames, with its relative path."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    lines = ["Traceback (most recent call last):"]
    for frame in frames:
        lines.append(f'  File "{shown_as}", line {frame.lineno}')
        if frame.line:
            lines.append(f"    {frame.line}")
    lines += [line.rstrip("\n") for line in traceback.format_exception_only(exc)]
    return "\n".join(lines) + "\n"


_ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
_MAX_TRACEBACK = 20000  # characters kept (the end: the frames that raised and the error)


@functools.lru_cache(maxsize=1024)
def _in_engine(filename: str) -> bool:
    return os.path.realpath(filename).startswith(_ENGINE_DIR + os.sep)


def _authors_traceback(exc: BaseException) -> str:
    """The traceback as Python prints it, less the engine's frames (the ``exec`` that ran the
    region, anything of the engine the region reached): the author's code and what it called,
    starting at the region's own line."""
    shown = traceback.TracebackException.from_exception(exc)
    pending, seen = [shown], set()
    while pending:  # the exception, its cause and context, an exception group's members
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.stack = traceback.StackSummary.from_list(
            [frame for frame in current.stack if not _in_engine(frame.filename)])
        pending += [current.__cause__, current.__context__, *(getattr(current, "exceptions", None) or ())]
    return "".join(shown.format())[-_MAX_TRACEBACK:]


def _run_region(region: JobRegion, namespace: dict, root: str, stdout: _RegionStdout,
                watch: _Watch | None = None, displayed: Displayed | None = None) -> RegionRun:
    filename = str(Path(root, region.path))
    before = {name: id(value) for name, value in namespace.items()}
    state_before = watch.before() if watch is not None else {}
    if watch is not None:
        watch.inputs.start()
    stdout.begin()
    expect = region.expect
    pictures: list[Display] = []
    error: RegionError | None = None
    raised = ""
    start = time.perf_counter()
    with region_warnings() as caught:
        try:
            body, last = _compiled(region, filename)
            exec(body, namespace)
            if last is not None:  # a trailing expression shows its value, as in a notebook
                value = eval(last, namespace)
                picture = shown_by(value)
                if picture is not None:
                    pictures.append(picture)
                else:
                    _show(value)
            if expect:
                error = RegionError(Fault.DID_NOT_RAISE, "DidNotRaise",
                                    f"expected {expect}, but the region completed")
        except BaseException as exc:  # noqa: BLE001 - SystemExit and Ctrl-C are failures too
            if expect and expect in {cls.__name__ for cls in type(exc).__mro__}:
                raised = _shown_traceback(exc, filename, region.path)
            else:
                error = RegionError(_fault(exc), type(exc).__name__, str(exc)[:_MAX_STR],
                                    _failing_line(exc, filename), _authors_traceback(exc))
        # what it passed to display(), before its trailing value, as a notebook shows them
        pictures[:0] = displayed.taken() if displayed is not None else []
        try:  # its figures: drawn here, so that what drawing warns is the region's too
            pictures += open_figures()
        except Exception as exc:  # noqa: BLE001 - a figure that cannot be drawn fails the region
            if error is None:
                error = RegionError(Fault.EXCEPTION, type(exc).__name__,
                                    f"drawing its figure failed: {exc}"[:_MAX_STR])
    duration = time.perf_counter() - start
    with stdout._lock:
        text, stray = stdout.own.getvalue(), stdout.stray.getvalue()
        truncated = stdout.cut
    if truncated:
        text += f"\n[output cut at {stdout.limit} characters]\n"  # an output-limit failure
    seen = {name: "" for name in watch.inputs.stop()} if watch is not None else {}
    shown = _warning_list(caught, root)
    if _shows_position(root, region.path, text + stray + raised, shown, error):
        seen[f"position:{region.path}"] = position_tag(region.first_line, root)
    # the names it binds by its text (and, when it can bind any name, those that changed):
    # never "those that differ from before", which depends on what ran before it
    binds = set(region.binds)
    values, dropped = _exposed(namespace, before if region.opaque else None, binds)
    state_changed = changes(state_before, watch.after()) if watch is not None else {}
    return RegionRun(region.index, region.id, Status.OK if error is None else Status.ERROR,
                     duration, text, stray, raised, tuple(shown), values, dropped,
                     error, seen, state_before, state_changed, tuple(pictures[:MAX_DISPLAYS + 1]))


def _compiled(region: JobRegion, filename: str) -> tuple[CodeType, CodeType | None]:
    """The region's code, and its trailing expression apart (None if it ends otherwise, or
    with ``;``, which hides the value as in a notebook). Padded with blank lines, so that
    tracebacks carry the snippet file's real line numbers."""
    tree = ast.parse("\n" * (region.first_line - 1) + region.code, filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not _ends_with_semicolon(region.code):
        last = compile(ast.Expression(tree.body.pop().value), filename, "eval")
    return compile(tree, filename, "exec"), last


def _ends_with_semicolon(code: str) -> bool:
    """Whether the code's last token (comments aside) is ``;``."""
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline)
              if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                tokenize.DEDENT, tokenize.ENDMARKER)]
    return bool(tokens) and tokens[-1].string == ";"


_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]+\b")


def _show(value: Any) -> None:
    """A trailing expression's value, as a notebook shows it (``None`` shows nothing); unlike
    ``sys.displayhook``, it binds no ``_``. A value whose text names a memory address
    (``<Line2D object at 0x7f…>``, what ``plt.plot`` or ``torch.manual_seed`` return) is not
    shown: it would differ on every run, and says nothing a reader needs."""
    if value is None:
        return
    text = repr(value)
    if not _ADDRESS.search(text):
        print(text)


def _shows_position(root: str, path: str, text: str, shown: list[CapturedWarning],
                    error: RegionError | None) -> bool:
    """Whether what the region shows names where its code is (its file and a line number, the
    checkout's path): then moving the region, or the checkout, changes its output."""
    return bool(error is not None or any(w.where.startswith(f"{path}:") for w in shown)
                or path in text or root in text)


class _Watch:
    """The page process's state and the inputs each region reaches (see statedigest, observe)."""

    def __init__(self, root: str, namespace: dict, excluded: tuple[Path, ...] = ()) -> None:
        self.probe = StateProbe(Path(root), namespace)
        self.inputs = InputObserver(Path(root), excluded)
        self._last: dict[str, str] | None = None
        self.seconds = 0.0  # spent digesting the state (between regions, never inside one)

    def before(self) -> dict[str, str]:
        """The state before a region: the state after the last one, read once."""
        return self._last if self._last is not None else self.after()

    def after(self) -> dict[str, str]:
        """The state now."""
        start = time.perf_counter()
        self._last = self.probe.digest()
        self.seconds += time.perf_counter() - start
        return self._last


def run(job: PageProcessJob, emit: Callable[[dict], None]) -> bool:
    """Run the job's regions in order in one namespace; False once one fails."""
    root = job.root
    sys.path.insert(0, root)  # `import snippets.x` works as it does from the project root
    source_only(Path(root))  # never a stale __pycache__ of the project's own modules
    namespace: dict[str, Any] = {"__name__": "__main__"}
    displayed = Displayed()
    builtins.display = displayed.display  # type: ignore[attr-defined] - as in a notebook
    stdout = _RegionStdout(job.output_limit)
    engine_dirs = tuple(Path(p) for p in job.engine_dirs)
    watch = _Watch(root, namespace, engine_dirs)
    guard_project(Path(root), lambda: watch.inputs.active, engine_dirs)
    capture_process_output(lambda: watch.inputs.active)
    saved, sys.stdout = sys.stdout, stdout
    try:
        for number, region in enumerate(job.regions, 1):
            region_started(number)
            result = _run_region(region, namespace, root, stdout, watch, displayed)
            emit({"event": "region", **result.to_json()})
            if result.status is not Status.OK:
                return False
    finally:
        region_started(0)  # what a process started by a region prints now goes to the log
        sys.stdout = saved
    emit({"event": "done", "provenance": replace(
        provenance(), state_digest_seconds=round(watch.seconds, 3),
        extensions=probed(job.probes)).to_json()})
    return True


STANDBY = "--standby"


def _stand_by(modules: list[str]) -> list[str]:
    """A warm process: import the heavy third-party ``modules`` now, then wait on stdin for
    the one job this process will run (a JSON line: job file, result file, working
    directory). Project modules are never imported here: they may be what an edit changed."""
    for module in modules:
        try:
            __import__(module)
        except Exception:  # noqa: BLE001 - the job will report it, naming its own line
            pass
    line = sys.stdin.readline()
    if not line:
        os._exit(0)  # the engine let it go unused
    order = json.loads(line)  # the engine has closed the pipe: stdin is at its end, as
    os.chdir(order["cwd"])    # a cold page process's /dev/null is
    return [order["job"], order["result"]]


def main() -> None:
    """``python -m d2l_compiler.engine.run.child JOB RESULT``, or ``... --standby MODULE...``."""
    args = sys.argv[1:]
    warm = args[:1] == [STANDBY]
    if warm:
        args = _stand_by(args[1:])
    job_file, result_file = args
    job = read_job(Path(job_file).read_bytes())
    if warm:  # loaded before the author's edit: the project's modules must come from its files
        forget_project_modules(Path(job.root))
    try:
        out = open(result_file, "a", encoding="ascii")  # noqa: SIM115 - closed by os._exit
    except OSError as exc:
        _cannot_write(exc)

    def emit(event: dict) -> None:
        try:
            out.write(json.dumps(clean(event), ensure_ascii=True, default=str) + "\n")
            out.flush()
        except OSError as exc:  # a full disk: say so in one line, not with a traceback
            _cannot_write(exc)
    ok = run(job, emit)
    out.close()
    sys.exit(0 if ok else 1)


EXIT_CANNOT_WRITE = 74  # EX_IOERR


def _cannot_write(exc: OSError) -> None:
    os.write(2, f"d2l: cannot write the result file: {exc.strerror or exc}\n".encode())
    os._exit(EXIT_CANNOT_WRITE)


if __name__ == "__main__":
    main()
