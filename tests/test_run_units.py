"""The run stage in-process: ``run_page`` with a real child process but no MkDocs, the child's
own functions, and the process leash. Fast guards for ``nox -s mutation``."""

from __future__ import annotations

import contextlib
import tempfile

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from d2l_compiler.engine.record.model import Fault, Provenance, RegionRun, Status
from d2l_compiler.engine.run.protocol import JobRegion, PageProcessJob, job_bytes, read_job
from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.run import child, lineage, procs, runner, supervise
from d2l_compiler.engine.sources import device
from d2l_compiler.engine.run.runner import Limits, describe_exit, log_name, run_page
from d2l_compiler.engine.sources.discover import Include, Region
from d2l_compiler.engine.sources.project import Project
from conftest import running


def _includes(*codes: str, executed: bool = True) -> list[Include]:
    """One include per code string, regions `r0`, `r1`, ... of snippets/a.py, page line 10+i."""
    line, found = 2, []
    for number, code in enumerate(codes):
        region = Region("snippets/a.py", f"r{number}", line, code, executed)
        found.append(Include("index.md", "docs/index.md", 10 + number, region, f"snippets/a.py:r{number}"))
        line += code.count("\n") + 3
    return found


QUICK = Limits(timeout=60)


def _run(tmp_path, *codes: str, limits: Limits = QUICK, **kwargs) -> runner.PageRun:
    return run_page(tmp_path, "index.md", _includes(*codes), device="cpu", limits=limits,
                    log_dir=tmp_path / "d2l" / "logs", **kwargs)  # parents made as needed


# --- run_page ---------------------------------------------------------------------------------

def test_a_page_runs_in_order_in_one_namespace(tmp_path):
    seen: list[RegionRun] = []
    run = _run(tmp_path, "x = 41\nprint('first')", "import time\ntime.sleep(0.5)\nx += 1\nprint('x is', x)",
               on_event=seen.append)
    assert run.ok and run.failure == ""
    assert [r.stdout for r in run.regions] == ["first\n", "x is 42\n"]
    assert [r.status for r in run.regions] == [Status.OK, Status.OK]
    assert dict(run.regions[1].values) == {"x": 42}
    assert run.provenance.device == "cpu" and run.provenance.python
    assert run.duration > 0 and run.peak_mb > 1
    assert run.log == str(tmp_path / "d2l" / "logs" / "index.md.log")
    assert seen and seen[0].index == 0 and seen[0].stdout == "first\n"  # streamed while running


def test_only_executed_regions_run(tmp_path):
    shown = _includes("print('shown only')", executed=False)
    run = run_page(tmp_path, "index.md", shown + _includes("print('ran')"), device="cpu",
                   limits=Limits(timeout=60), log_dir=tmp_path / "logs")
    assert run.ok and [r.stdout for r in run.regions] == ["ran\n"]


def test_a_raising_region_names_its_line_and_what_did_not_run(tmp_path):
    run = _run(tmp_path, "print('ok')", "a = 1\nb = 1 / 0", "print('never')")
    assert not run.ok
    assert [r.status for r in run.regions] == [Status.OK, Status.ERROR, Status.NOT_RUN]
    assert run.regions[1].error.fault is Fault.EXCEPTION
    headline, details, *rest = run.failure.splitlines()
    assert headline == ("docs/index.md:11: region 'r1' failed: exception: ZeroDivisionError: "
                        "division by zero")
    assert details.startswith("  at snippets/a.py:6 · exit status 1 · ")
    assert "  not run: r2" in rest and "  --- last lines ---" in rest
    log = (tmp_path / "d2l" / "logs" / "index.md.log").read_text()
    assert "--- engine report ---" in log and "ZeroDivisionError" in log.split("engine report")[1]


def test_exit_status_after_the_regions_finished_is_a_failure(tmp_path):
    run = _run(tmp_path, "x = 1", "import atexit, os\natexit.register(os._exit, 3)\nprint('done')")
    assert not run.ok and [r.status for r in run.regions] == [Status.OK, Status.OK]
    assert "failed: exit" in run.failure and "exit status 3" in run.failure
    assert "region 'r1' failed" in run.failure  # every region ran: the last one is named


LONG_MESSAGE = "raise ValueError('bottom\\n' + '\\n'.join(f'detail {i}' for i in range(30)))"


def test_a_failure_shows_the_last_twenty_lines_and_the_log_keeps_the_rest(tmp_path):
    run = run_page(tmp_path, "index.md", _includes("x = 1", LONG_MESSAGE), device="cpu",
                   limits=Limits(timeout=60, memory_mb=1024), log_dir=tmp_path / "logs")
    lines = run.failure.splitlines()
    assert "exception: ValueError: bottom" in lines[0]
    details = next(line for line in lines if line.startswith("  at snippets/a.py:"))
    assert "memory limit" not in details  # named only when memory ran out
    shown = lines[lines.index("  --- last lines ---") + 1:]
    assert shown == [f"  detail {i}" for i in range(10, 30)]
    log = (tmp_path / "logs" / "index.md.log").read_text().split("--- engine report ---")[1]
    assert log.count("Traceback (most recent call last)") == 1  # the whole traceback, once
    assert "detail 0" in log.split("--- last lines ---")[1]


def test_a_crash_shows_the_last_twenty_lines_it_wrote(tmp_path):
    run = _run(tmp_path, "import os\nfor i in range(30):\n    os.write(2, b'line %d\\n' % i)\n"
                         "os._exit(5)")
    lines = run.failure.splitlines()
    shown = lines[lines.index("  --- last lines ---") + 1:]
    assert shown == [f"  line {i}" for i in range(10, 30)]


def test_a_forged_region_index_cannot_crash_the_report(tmp_path):
    """The result file is written by the child, which runs the page's code: an event naming
    a region the page does not have is blamed on the first region that did not run."""
    executed = dict(enumerate(_includes("x = 1", "y = 2")))
    error = child.RegionError(Fault.EXCEPTION, "E", "forged")
    for index in (2, -1):
        events = [RegionRun(index, "a.py:forged", Status.ERROR, error=error)]
        sink = procs.OutputSink(tmp_path / "log", limit=100)
        run = runner._result("index.md", executed, events, supervise.Outcome(1, 0.0), QUICK,
                             1.0, tmp_path / "log", sink)
        sink.close()
        assert not run.ok and "region 'r0' failed" in run.failure, index


def test_sys_exit_inside_a_region_is_an_exit_fault(tmp_path):
    run = _run(tmp_path, "import sys\nsys.exit(0)")
    assert not run.ok and run.regions[0].error.fault is Fault.EXIT
    assert "failed: exit: SystemExit" in run.failure


def test_a_crash_is_reported_with_its_signal(tmp_path):
    run = _run(tmp_path, "print('before')", "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)",
               "print('after')")
    assert not run.ok
    assert "failed: crash" in run.failure and "signal SIGSEGV" in run.failure
    assert "docs/index.md:11: region 'r1'" in run.failure  # the region that was running
    assert "not run: r2" in run.failure and "not run: r1" not in run.failure


def test_an_overrunning_page_is_stopped_at_the_timeout(tmp_path):
    started = time.monotonic()
    run = _run(tmp_path, "import time\ntime.sleep(60)", limits=Limits(timeout=0.5))
    assert time.monotonic() - started < 10
    assert not run.ok and "failed: timeout after 0.5 s" in run.failure


def test_a_child_that_ignores_term_is_killed_after_the_grace_period(tmp_path):
    started = time.monotonic()
    run = _run(tmp_path, "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                         "print('ready', flush=True)\ntime.sleep(60)", limits=Limits(timeout=0.5))
    elapsed = time.monotonic() - started
    assert not run.ok and "timeout" in run.failure and "signal SIGKILL" in run.failure
    assert 2.0 <= elapsed < 10  # SIGKILL comes 2 s after SIGTERM (README)


def test_a_descriptor_flood_is_cut_at_the_cap(tmp_path):
    run = _run(tmp_path, "import os\nwhile True:\n    os.write(1, b'x' * 65536)",
               limits=Limits(timeout=60, output_bytes=200_000))
    assert not run.ok
    assert ("output-limit: the page's processes wrote more than 200000 bytes to stdout/stderr"
            in run.failure)
    assert (tmp_path / "d2l" / "logs" / "index.md.log").stat().st_size < procs.LOG_HEAD_BYTES + 200_000


def test_printing_past_the_character_cap_is_an_output_limit_fault(tmp_path):
    run = _run(tmp_path, "print('y' * 5000)", limits=Limits(timeout=60, output_chars=1000))
    assert not run.ok and run.regions[0].error.fault is Fault.OUTPUT_LIMIT
    assert run.regions[0].stdout.startswith("y" * 1000)
    assert "[output cut at 1000 characters]" in run.regions[0].stdout


def test_writing_into_the_result_file_is_a_corrupt_result(tmp_path):
    run = _run(tmp_path, "open('../result.jsonl', 'a').write('not an event\\n')")
    assert not run.ok and "corrupt-result" in run.failure


def test_memory_limit_gives_out_of_memory(tmp_path):
    run = _run(tmp_path, "block = bytearray(2 * 1024 ** 3)",
               limits=Limits(timeout=60, memory_mb=1024))
    assert not run.ok and run.regions[0].error.fault is Fault.OUT_OF_MEMORY
    assert "memory limit 1024 MiB" in run.failure


def test_the_memory_limit_is_in_mib(tmp_path):
    limits = Limits(timeout=60, memory_mb=1024)
    assert _run(tmp_path, "block = bytearray(600 * 2 ** 20)", limits=limits).ok
    over = _run(tmp_path, "block = bytearray(1300 * 2 ** 20)", limits=limits)
    assert not over.ok and over.regions[0].error.fault is Fault.OUT_OF_MEMORY


def test_declared_exceptions(tmp_path):
    ok = _run(tmp_path, "# raises: ZeroDivisionError\n1 / 0")
    assert ok.ok and "ZeroDivisionError" in ok.regions[0].raised
    assert 'File "snippets/a.py", line 3' in ok.regions[0].raised  # the page's path, real line
    other = _run(tmp_path, "# raises: ZeroDivisionError\nraise ValueError('no')")
    assert not other.ok and other.regions[0].error.fault is Fault.EXCEPTION
    base = _run(tmp_path, "# raises: ArithmeticError\n1 / 0")  # a base class matches too
    assert base.ok
    quiet = _run(tmp_path, "# raises: ZeroDivisionError\nx = 1")
    assert not quiet.ok and quiet.regions[0].error.fault is Fault.DID_NOT_RAISE


def test_nothing_a_page_started_outlives_it(tmp_path):
    pid_file = tmp_path.with_name(tmp_path.name + "-daemon.pid")  # outside the project, which
    daemon_script = tmp_path / "daemon.py"  # a page may not write; forks, leaves its session
    daemon_script.write_text("import os, sys, time\nif os.fork() == 0:\n    os.setsid()\n"
                             f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
                             "    time.sleep(60)\n")
    code = (f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, {str(daemon_script)!r}])"
            "\ntime.sleep(0.5)")
    before = procs.descendants()
    run = _run(tmp_path, code)
    assert run.ok
    assert procs.descendants() <= before
    assert not list(tmp_path.glob("d2l-page-*"))
    daemon = int(pid_file.read_text())  # still swept: the engine is its subreaper
    assert not Path(f"/proc/{daemon}").exists()


# --- small pure pieces ------------------------------------------------------------------------

def test_describe_exit():
    assert describe_exit(0) == "exit status 0"
    assert describe_exit(3) == "exit status 3"
    assert describe_exit(-signal.SIGSEGV) == "signal SIGSEGV"
    assert describe_exit(-99) == "signal 99"
    assert describe_exit(-1) == "signal SIGHUP"  # the smallest signal is a signal too


def _event_line(index: int) -> str:
    return json.dumps({"event": "region", **RegionRun(index, f"a.py:r{index}").to_json()}) + "\n"


def test_follow_reports_each_complete_event_once_every_tenth_tick(tmp_path):
    path, seen = tmp_path / "events", []
    follow = runner._Follow(path, lambda run: seen.append(run.id))
    for _ in range(10):
        follow()  # ticks 1-10: the child has written nothing yet
    half = _event_line(1)[:20]
    path.write_text(_event_line(0) + half)
    for _ in range(9):
        follow()  # ticks 11-19: not a tenth tick, nothing is read
    assert seen == []
    follow()  # tick 20: the complete line is reported, the half line waits
    assert seen == ["a.py:r0"]
    with open(path, "a") as events:
        events.write(_event_line(1)[20:] + json.dumps({"event": "done", "provenance": {}}) + "\n")
    for _ in range(10):
        follow()
    assert seen == ["a.py:r0", "a.py:r1"]  # the rest of the line is read; "done" is no region
    for _ in range(10):
        follow()
    assert seen == ["a.py:r0", "a.py:r1"]  # nothing is reported twice


def test_log_names_are_distinct_for_distinct_pages():
    assert log_name("a/b.md") == "a%2Fb.md.log"
    assert log_name("a__b.md") == "a__b.md.log"
    assert log_name("中.md") != log_name("_.md")


def test_events_parse_and_anything_else_is_corrupt():
    region = json.dumps({"event": "region", **RegionRun(0, "a.py:r", stdout="hi\n").to_json()})
    done = json.dumps({"event": "done", "provenance": {"python": "3"}})
    events = runner._parse_events(f"{region}\n\n{done}\n".encode())
    assert isinstance(events[0], RegionRun) and events[0].stdout == "hi\n"
    assert events[1] == runner._Done(Provenance(python="3")) and len(events) == 2
    cut = runner._parse_events(f"{region}\n{region}\n{done[:10]}".encode())  # a cut-off last line
    assert len(cut) == 2 and all(isinstance(event, RegionRun) for event in cut)
    for junk in (b"junk\n", b'{"event": "done", "provenance": 1}\n', b'{"event": "other"}\n',
                 b"[1, 2]\n", b'{"event": "region"}\n'):
        assert runner._parse_events(junk) == [runner._CORRUPT], junk


def test_classify_prefers_the_engine_s_own_observations():
    error = RegionRun(0, "a", Status.ERROR, error=child.RegionError(Fault.EXCEPTION, "E", "m"))

    def outcome(code: int = -signal.SIGTERM, **flags: bool) -> supervise.Outcome:
        return supervise.Outcome(code, 0.0, **flags)
    assert runner._classify(error, outcome(timed_out=True), False) is Fault.TIMEOUT
    assert runner._classify(error, outcome(flooded=True), False) is Fault.OUTPUT_LIMIT
    assert runner._classify(error, outcome(code=1), False) is Fault.EXCEPTION
    assert runner._classify(None, outcome(code=-11), False) is Fault.CRASH
    assert runner._classify(None, outcome(code=0), True) is Fault.CORRUPT_RESULT
    assert runner._classify(None, outcome(code=3), False) is Fault.EXIT
    assert runner._classify(None, outcome(code=-11), True) is Fault.CRASH
    assert runner._classify(None, outcome(code=-1), False) is Fault.CRASH  # SIGHUP


def test_the_job_lists_executed_regions_with_their_expectations(tmp_path):
    includes = _includes("# raises: KeyError\n{}['x']", "y = 2")
    job = runner._job(tmp_path, {3: includes[0], 7: includes[1]},
                      Limits(timeout=5, memory_mb=64, output_chars=77))
    assert job.root == str(tmp_path) and job.output_limit == 77 and job.memory_mb == 64
    assert [r.index for r in job.regions] == [3, 7]  # their places in the page
    assert job.regions[0].expect == "KeyError" and job.regions[1].expect is None
    assert job.regions[1].first_line == includes[1].region.first_line
    assert read_job(job_bytes(job)) == job  # what the page process reads is what was written


# --- the child ---------------------------------------------------------------------------------

def _child_run(*codes: str, limit: int = 1_000_000) -> tuple[bool, list[dict]]:
    events: list[dict] = []
    job = {"root": "/nonexistent", "output_limit": limit, "regions": [
        {"index": i, "id": f"a.py:r{i}", "path": "a.py", "first_line": 1, "code": code}
        for i, code in enumerate(codes)]}
    # in an empty folder, as the engine runs a page: the state between regions digests the
    # working directory, which here would be the checkout with its virtual environments
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        ok = child.run(_typed(job), events.append)
    return ok, events


def _typed(job: dict) -> PageProcessJob:
    """A page-process job from its JSON shape (as the job file gives it)."""
    return read_job(json.dumps(job).encode())


def test_child_emits_one_event_per_region_then_done():
    ok, events = _child_run("v = 1", "w = v + 1")
    assert ok and [e["event"] for e in events] == ["region", "region", "done"]
    assert events[1]["values"] == {"w": 2}  # only what this region bound
    assert events[2]["provenance"]["device"]


def test_child_stops_at_the_first_failure():
    ok, events = _child_run("raise KeyError('k')", "print('never')")
    assert not ok and [e["event"] for e in events] == ["region"]
    assert events[0]["error"]["type"] == "KeyError" and events[0]["error"]["line"] == 1


def test_values_kept_are_bounded_and_drops_are_named():
    many = "\n".join(f"v{i} = {i}" for i in range(child.MAX_VALUES + 5))
    ok, events = _child_run(many)
    assert ok and len(events[0]["values"]) == child.MAX_VALUES
    dropped = events[0]["values_dropped"][f"more than {child.MAX_VALUES} values"]
    assert dropped["count"] == 5
    big = f"s = ['x' * 1999] * 10\nbig = list(range({child._MAX_LIST}))\nhuge = 'y' * 3000"
    ok, events = _child_run(big)
    assert "big" in events[0]["values"] and "huge" not in events[0]["values"]
    assert "s" not in events[0]["values"]  # lists of strings are not citable values


def test_jsonable_and_clean():
    assert child._jsonable(True) is True and child._jsonable(2.5) == 2.5
    assert child._jsonable("a" * child._MAX_STR) == "a" * child._MAX_STR
    assert child._jsonable("a" * (child._MAX_STR + 1)) is None
    assert child._jsonable((1, 2.0, False)) == [1, 2.0, False]
    assert child._jsonable([]) is None and child._jsonable([1, "x"]) is None
    assert child._jsonable(list(range(child._MAX_LIST + 1))) is None
    assert child._jsonable(object()) is None

    class Recorded:
        def to_record(self):
            return {"k": 1}
    assert child._jsonable(Recorded()) == {"k": 1}
    assert child.clean({"\udcff": ["\udcfe", ("x",)]}) == {"\\udcff": ["\\udcfe", ["x"]]}
    assert child.clean(3) == 3


def test_a_value_whose_to_record_fails_is_dropped_with_the_reason():
    ok, events = _child_run("class P:\n    def to_record(self, needed):\n        return {}\np = P()")
    assert ok and "p" not in events[0]["values"]
    assert events[0]["values_dropped"] == {"to_record() failed: TypeError": {"count": 1, "names": ["p"]}}


def test_output_of_an_earlier_thread_is_stray():
    ok, events = _child_run(
        "import threading, time\ngo = threading.Event()\n"
        "def talk():\n    go.wait(5)\n    print('from the thread')\n"
        "t = threading.Thread(target=talk)\nt.start()",
        "print('own')\ngo.set()\nt.join()")
    assert ok and events[1]["stdout"] == "own\n" and events[1]["stray"] == "from the thread\n"


def test_warnings_are_recorded_once_each_even_hidden_ones():
    ok, events = _child_run("import warnings\nfor _ in range(3):\n"
                            "    warnings.warn('old', DeprecationWarning)\nwarnings.warn('<b>')")
    assert ok
    assert [(w["category"], w["message"]) for w in events[0]["warnings"]] == [
        ("DeprecationWarning", "old"), ("UserWarning", "<b>")]


def test_failing_line_is_the_innermost_frame_in_the_region_file():
    ok, events = _child_run("def f():\n    return 1 / 0\n\nf()")
    assert events[0]["error"]["line"] == 2


# --- the leash ----------------------------------------------------------------------------------

def test_output_sink_keeps_a_bounded_head_and_tail(tmp_path):
    sink = procs.OutputSink(tmp_path / "log", limit=10)
    sink.write(b"0123456789")
    assert not sink.over_limit
    sink.write(b"x")
    assert sink.over_limit and sink.total == 11
    big = procs.OutputSink(tmp_path / "big", limit=10 ** 9)
    for _ in range(40):
        big.write(b"y" * 65536)
    big.write(b"THE END")
    assert big.tail().endswith("THE END") and len(big.tail()) == procs.TAIL_BYTES
    big.close()
    data = (tmp_path / "big").read_bytes()
    assert data.startswith(b"y" * procs.LOG_HEAD_BYTES)
    assert b"bytes not kept; the last 64 KiB follow" in data and data.endswith(b"THE END")
    assert len(data) < procs.LOG_HEAD_BYTES + procs.TAIL_BYTES + 200


def test_drain_reads_until_eof(tmp_path):
    read_end, write_end = os.pipe()
    os.write(write_end, b"abc")
    sink = procs.OutputSink(tmp_path / "log", limit=100)
    assert sink.drain(read_end, 0.05) is True and sink.total == 3
    os.close(write_end)
    assert sink.drain(read_end, 0.05) is False
    os.close(read_end)
    sink.close()
    assert (tmp_path / "log").read_bytes() == b"abc"


def test_descendants_and_sweep():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert proc.pid in procs.descendants()
        assert proc.pid in procs.descendants(os.getpid())
        assert procs.sweep(keep=procs.descendants() - {proc.pid}) == [proc.pid]
        assert proc.pid not in procs.descendants()
    finally:
        proc.kill()


def test_shielded_ignores_signals_and_restores_them():
    def handler(signum, frame):
        raise AssertionError("not while shielded")
    saved = signal.signal(signal.SIGTERM, handler)
    try:
        with procs.shielded():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, saved)


def test_shielded_off_the_main_thread_changes_nothing():
    seen = []

    def look():
        with procs.shielded():
            seen.append(signal.getsignal(signal.SIGINT))
    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    assert seen == [signal.getsignal(signal.SIGINT)]


def test_become_subreaper_on_linux():
    import ctypes

    lineage.become_subreaper()
    flag = ctypes.c_int(0)
    ctypes.CDLL(None).prctl(37, ctypes.byref(flag))  # PR_GET_CHILD_SUBREAPER
    assert flag.value == 1


# --- the device --------------------------------------------------------------------------------

def test_device_resolution(machine, tmp_path, monkeypatch):
    from d2l_compiler.engine.errors import UsageError
    from d2l_compiler.engine.sources import device

    probes: list[str] = []
    monkeypatch.setattr(device, "_probe", lambda: probes.append("probe") or "cuda")
    monkeypatch.setenv("D2L_DEVICE", " CPU ")
    assert device.resolve_device(tmp_path / "state") == "cpu"
    machine.torch_of_unknown_kind()
    monkeypatch.setenv("D2L_DEVICE", "")
    assert device.resolve_device(tmp_path / "state") == "cpu" and probes == []  # no GPU sign
    monkeypatch.setenv("D2L_DEVICE", "cuda")
    monkeypatch.setattr(device, "_probe", lambda: "cpu")
    with pytest.raises(UsageError, match="no CUDA device is available to torch 0.0-fake"):
        device.resolve_device(tmp_path / "state")  # asked for, probed even without a sign
    assert not (tmp_path / "state" / "device.json").exists()  # no GPU sign: nothing cached
    monkeypatch.setattr(device, "_probe", lambda: probes.append("probe") or "cuda")
    machine.driver("NVRM version: 1")
    monkeypatch.setenv("D2L_DEVICE", "auto")
    assert device.resolve_device(tmp_path / "state") == "cuda" and probes == ["probe"]
    cache = tmp_path / "state" / "device.json"
    assert json.loads(cache.read_text())["device"] == "cuda"
    assert device.resolve_device(tmp_path / "state") == "cuda" and probes == ["probe"]  # cached
    machine.driver("NVRM version: 2")  # a new driver: ask again
    assert device.resolve_device(tmp_path / "state") == "cuda" and probes == ["probe", "probe"]
    machine.torch("2.13.0+cu128", "12.8")  # another torch: ask again
    assert device.resolve_device(tmp_path / "state") == "cuda" and len(probes) == 3
    cache.write_text("[")  # a corrupt cache costs one probe, no failure
    assert device.resolve_device(tmp_path / "state") == "cuda" and len(probes) == 4
    monkeypatch.setenv("D2L_DEVICE", "tpu")
    with pytest.raises(UsageError, match="D2L_DEVICE='tpu' is not one of"):
        device.resolve_device(tmp_path / "state")


def test_cache_comparison_and_probe_answers(tmp_path, monkeypatch):
    from d2l_compiler.engine.sources import device

    cache = tmp_path / "device.json"
    assert device.cached_differs(cache, {"a": 1}, "cpu")
    cache.write_text(json.dumps({"facts": {"a": 1}, "device": "cpu"}))
    assert not device.cached_differs(cache, {"a": 1}, "cpu")
    assert device.cached_differs(cache, {"a": 2}, "cpu")
    assert device.cached_differs(cache, {"a": 1}, "cuda")
    monkeypatch.setattr(device, "_PROBE", "print('cuda')")
    assert device._probe() == "cuda"
    monkeypatch.setattr(device, "_PROBE", "print('cpu')")
    assert device._probe() == "cpu"
    assert device._torch_version() != ""


# the engine names no book's way of installing torch (the chapter's helpers name D2L_TORCH_SPEC)
ENGINE_HINT = "install a CUDA build of torch (https://pytorch.org/get-started/locally/)"


@pytest.fixture
def probes(monkeypatch) -> list[str]:
    """Every probe the engine runs is recorded here; it answers ``cuda``."""
    asked: list[str] = []
    monkeypatch.setattr(device, "_probe", lambda: asked.append("probe") or "cuda")
    monkeypatch.setattr(device, "_said", set())  # each test sees its notes afresh
    return asked


@pytest.mark.parametrize("sign", ["driver", "node", "smi"])
def test_auto_probes_on_any_sign_of_a_gpu_not_only_the_driver_file(machine, probes, tmp_path,
                                                                   monkeypatch, sign):
    """gVisor and WSL2 have no /proc/driver/nvidia: a device node or nvidia-smi counts too."""
    monkeypatch.setenv("D2L_DEVICE", "auto")
    machine.torch_of_unknown_kind()
    getattr(machine, sign)()
    assert device.resolve_device(tmp_path / "state") == "cuda" and probes == ["probe"]
    assert device.resolve_device(tmp_path / "state") == "cuda" and probes == ["probe"]  # cached


@pytest.mark.parametrize(("cuda", "hip"), [("12.8", None), (None, "6.3.42131")])
def test_auto_probes_a_gpu_build_of_torch_even_with_no_sign_on_the_machine(machine, probes,
                                                                          tmp_path, monkeypatch,
                                                                          cuda, hip):
    monkeypatch.setenv("D2L_DEVICE", "auto")
    machine.torch("2.13.0+cu128" if cuda else "2.13.0+rocm6.3", cuda, hip)
    assert device.resolve_device(tmp_path / "state") == "cuda" and probes == ["probe"]


def test_auto_without_any_sign_never_probes(machine, probes, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("D2L_DEVICE", "auto")
    assert device.resolve_device(tmp_path / "state") == "cpu"  # a CPU build
    machine.torch_of_unknown_kind()
    assert device.resolve_device(tmp_path / "state") == "cpu"
    machine.no_torch()
    assert device.resolve_device(tmp_path / "state") == "cpu"
    assert probes == [] and not (tmp_path / "state").exists() and capsys.readouterr().err == ""


# the device: a failed probe

@pytest.mark.parametrize(("code", "reason"), [
    ("import sys; sys.stderr.write('Traceback ...\\nRuntimeError: CUDA driver init failed\\n'); "
     "sys.exit(1)", "exit status 1: RuntimeError: CUDA driver init failed"),
    ("print('cuda?')", "unexpected output 'cuda?'"),
    ("import time; time.sleep(30)", "no answer within 1 s"),
    (None, "cannot start"),
])
def test_a_failed_probe_is_never_cached_and_says_why(machine, tmp_path, monkeypatch, capsys,
                                                     code, reason):
    monkeypatch.setattr(device, "_said", set())
    machine.driver()
    machine.torch("2.13.0+cu128", "12.8")
    monkeypatch.setattr(device, "PROBE_TIMEOUT", 1.0)
    if code is None:
        monkeypatch.setattr(device.sys, "executable", str(tmp_path / "no-python"))
    else:
        monkeypatch.setattr(device, "_PROBE", code)
    monkeypatch.setenv("D2L_DEVICE", "auto")
    assert device.resolve_device(tmp_path / "state") == "cpu"
    assert not (tmp_path / "state" / "device.json").exists()  # the next build asks again
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and reason in err and "building on the CPU" in err
    monkeypatch.setenv("D2L_DEVICE", "cuda")
    with pytest.raises(UsageError, match="D2L_DEVICE=cuda but the device probe failed") as exc:
        device.resolve_device(tmp_path / "state")
    assert reason in str(exc.value) and "\n" not in str(exc.value)


# the device: a CPU build of torch on a GPU machine

def test_auto_with_a_driver_but_a_cpu_build_builds_on_the_cpu_and_says_so(machine, probes,
                                                                         tmp_path, monkeypatch,
                                                                         capsys):
    monkeypatch.setenv("D2L_DEVICE", "auto")
    machine.driver()
    assert device.resolve_device(tmp_path / "state") == "cpu" and probes == []
    assert capsys.readouterr().err == (
        "note: an NVIDIA driver is loaded but torch 2.13.0+cpu is a CPU build: building on the "
        f"CPU (for the GPU, {ENGINE_HINT})\n")
    assert device.resolve_device(tmp_path / "state") == "cpu"
    assert capsys.readouterr().err == ""  # once per process (freshness asks again)


def test_auto_with_a_driver_and_a_gpu_build_that_sees_no_gpu_says_so(machine, tmp_path,
                                                                     monkeypatch, capsys):
    monkeypatch.setattr(device, "_said", set())
    monkeypatch.setattr(device, "_probe", lambda: "cpu")
    monkeypatch.setenv("D2L_DEVICE", "auto")
    machine.node()
    machine.torch("2.13.0+cu128", "12.8")
    assert device.resolve_device(tmp_path / "state") == "cpu"
    assert capsys.readouterr().err == (f"note: {machine.node_file} exists but torch 2.13.0+cu128 "
                                       "(a GPU build) sees no usable GPU: building on the CPU\n")


def test_cuda_with_a_cpu_build_names_the_wheel_and_how_to_get_a_cuda_build(machine, probes,
                                                                           tmp_path, monkeypatch):
    monkeypatch.setenv("D2L_DEVICE", "cuda")
    machine.driver()
    with pytest.raises(UsageError) as exc:
        device.resolve_device(tmp_path / "state")
    assert str(exc.value) == f"D2L_DEVICE=cuda but torch 2.13.0+cpu (a CPU build): {ENGINE_HINT}"
    machine.no_torch()
    with pytest.raises(UsageError, match="^D2L_DEVICE=cuda but torch is not installed$"):
        device.resolve_device(tmp_path / "state")
    assert probes == []


# --- --memory-limit on a GPU build ---------------------------------------------------------------

def test_memory_limit_is_refused_on_a_cuda_build_only():
    with pytest.raises(UsageError, match=r"^--memory-limit limits address space \(RLIMIT_AS\), "
                                         "under which CUDA cannot initialise: .*cgroup.*"
                                         "`memory=` mark"):
        device.check_memory_limit("cuda", 1024)
    device.check_memory_limit("cuda", None)
    device.check_memory_limit("cpu", 1024)


# --- progress ---------------------------------------------------------------------------------------

def test_plain_progress_lines():
    import io as text_io

    from d2l_compiler.engine.progress import PlainProgress, make_progress

    stream = text_io.StringIO()
    progress = PlainProgress(stream)
    progress.cached("a.md")
    progress.started("b.md", 3)
    progress.region("b.md", RegionRun(0, "x:r"))
    progress.finished("b.md", True, 1.26)
    progress.finished("c.md", False, 0.04)
    progress.close()
    assert stream.getvalue().splitlines() == [
        "cached  a.md", "running b.md (3 regions) ...", "ran     b.md in 1.3 s", "FAILED  c.md in 0.0 s"]
    assert type(make_progress()) is PlainProgress  # not a terminal here


# --- the documented limits (README: what a build will not do) -----------------------------------

def test_documented_output_limits(tmp_path):
    exact = _run(tmp_path, "import sys\nsys.stdout.write('a' * 1_000_000);")
    assert exact.ok and len(exact.regions[0].stdout) == 1_000_000  # a region may print 1,000,000
    over = _run(tmp_path, "import sys\nsys.stdout.write('a' * 1_000_001);")
    assert not over.ok and over.regions[0].error.fault is Fault.OUTPUT_LIMIT
    flood = "import os\nfor _ in range({n}):\n    os.write(1, b'z' * 1024)"
    at_cap = _run(tmp_path, flood.format(n=32 * 1024))  # 32 MiB to the descriptors: allowed
    assert at_cap.ok
    log = (tmp_path / "d2l" / "logs" / "index.md.log").read_bytes()
    assert log.startswith(b"z" * 1024 * 1024) and b"bytes not kept; the last 64 KiB follow" in log
    kept = log.split(b"follow ...]\n", 1)[1]
    assert len(kept) == 64 * 1024 and len(log) < 1024 * 1024 + 64 * 1024 + 200
    past = _run(tmp_path, flood.format(n=32 * 1024) + "\nos.write(1, b'!')")
    assert not past.ok and "wrote more than 33554432 bytes" in past.failure


def test_documented_value_limits():
    ok, events = _child_run("\n".join(f"v{i} = {i}" for i in range(201)))
    assert len(events[0]["values"]) == 200  # values kept per region
    big = "'x' * 1990"
    ok, events = _child_run(f"fits = [{big}] * 0 or {big}\nlong = list(range(1000))\n"
                            "too_long = list(range(1001))")
    assert {"fits", "long"} <= set(events[0]["values"]) and "too_long" not in events[0]["values"]
    per_value = 256 * 1024
    ok, events = _child_run(f"small = [0.5] * 1000\nhuge = [{'1' * 300}] * 1000")
    assert "small" in events[0]["values"]
    assert events[0]["values_dropped"] == {
        f"larger than {per_value} bytes": {"count": 1, "names": ["huge"]}}
    names = "\n".join(f"w{i} = [{'1' * 200}] * 1000" for i in range(6))  # ~201 kB each
    ok, events = _child_run(names)
    kept = events[0]["values"]
    assert len(kept) == 5 and sum(len(json.dumps(v)) for v in kept.values()) <= 1024 * 1024
    assert events[0]["values_dropped"]["over 1048576 bytes in all"]["names"] == ["w5"]


def test_rich_progress_leaves_its_bars_on_the_terminal(monkeypatch):
    import io as text_io

    import rich.console
    import rich.progress

    from d2l_compiler.engine.progress import RichProgress

    screen = text_io.StringIO()
    console = rich.console.Console(file=screen, force_terminal=True, width=100,
                                   color_system="standard")  # highlighting would colour
    monkeypatch.setattr(rich.progress, "get_console", lambda: console)
    progress = RichProgress()
    progress.started("a.md", 2)
    progress.region("a.md", RegionRun(0, "snippets/a.py:first"))
    progress.region("a.md", RegionRun(1, "snippets/a.py:second"))
    (task,) = progress._bar.tasks
    assert (task.description, task.completed, task.total) == ("a.md · second", 2, 2)
    progress.finished("a.md", True, 1.0)
    progress.say("[bold]not markup[/bold]")
    progress.close()
    shown = screen.getvalue()
    assert "a.md ✓" in shown.rsplit("\x1b[2K", 1)[-1]  # still there after the live display stopped
    assert "2/2 regions" in shown and "[bold]not markup[/bold]" in shown
    assert "ran     a.md in 1.0 s" in shown


def test_rich_progress_only_on_an_interactive_terminal_outside_ci(monkeypatch):
    from d2l_compiler.engine import progress as progress_module

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("CI", raising=False)
    made = []
    monkeypatch.setattr(progress_module, "RichProgress", lambda: made.append("rich") or "rich")
    assert progress_module.make_progress() == "rich"
    monkeypatch.setenv("CI", "true")
    assert type(progress_module.make_progress()) is progress_module.PlainProgress

    def no_rich():
        raise ImportError("rich")
    monkeypatch.delenv("CI")
    monkeypatch.setattr(progress_module, "RichProgress", no_rich)
    assert type(progress_module.make_progress()) is progress_module.PlainProgress


def test_documented_limits_of_a_failure_and_of_citable_values():
    ok, events = _child_run("raise ValueError('m' * 3000 + 'tail')")
    error = events[0]["error"]
    assert error["message"] == "m" * 2000  # the message shown is cut at 2,000 characters
    ok, events = _child_run("raise KeyError('k' * 30000 + 'end')")
    assert len(events[0]["error"]["traceback"]) == 20_000  # the last 20,000 characters
    assert events[0]["error"]["traceback"].endswith("kkkend'\n")
    ok, events = _child_run("s = 'x' * 2000\nt = 'x' * 2001\nn = list(range(1000))\nm = list(range(1001))")
    assert set(events[0]["values"]) == {"s", "n"}
    ok, events = _child_run("\n".join(f"v{i} = {i}" for i in range(230)))
    dropped = events[0]["values_dropped"]["more than 200 values"]
    assert dropped["count"] == 30 and dropped["names"] == [f"v{i}" for i in range(200, 220)]


def test_limits_and_page_runs_have_their_documented_defaults():
    from dataclasses import FrozenInstanceError

    assert Limits() == Limits(timeout=900.0, memory_mb=None, output_chars=1_000_000,
                              output_bytes=32 * 1024 * 1024)  # README: --timeout default 900
    with pytest.raises(FrozenInstanceError):
        Limits().timeout = 1.0  # type: ignore[misc]
    run = runner.PageRun("p.md", True, [])
    assert (run.provenance, run.duration, run.peak_mb, run.failure, run.log) == (
        Provenance(), 0.0, 0.0, "", "")


def test_reaping_a_process_that_is_not_ours_reports_it_killed():
    stranger = subprocess.Popen([sys.executable, "-c", "pass"])
    stranger.wait()  # reaped already: wait4 raises ChildProcessError
    assert supervise.reap(stranger.pid, block=False) == (-signal.SIGKILL, 0.0)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert supervise.reap(sleeper.pid, block=False) == (None, 0.0)  # still running
    finally:
        sleeper.kill()
    code, peak = supervise.reap(sleeper.pid, block=True)
    assert code == -signal.SIGKILL and peak > 1


def test_a_process_that_ignores_term_is_killed_after_the_documented_grace(monkeypatch):
    """README: a page that overruns gets TERM, then KILL 2 s later. A fake clock makes the
    grace period observable without a timed assertion."""
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
         "print('ready', flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE, start_new_session=True)
    assert stubborn.stdout.readline() == b"ready\n"
    now = [100.0]

    class FakeTime:
        @staticmethod
        def monotonic() -> float:
            return now[0]

        @staticmethod
        def sleep(seconds: float) -> None:
            now[0] += seconds
    sent: list[tuple[int, float]] = []
    real_signal_group = supervise.signal_group

    def record(pgid: int, sig: int) -> None:
        sent.append((sig, now[0] - 100.0))
        real_signal_group(pgid, sig)
    monkeypatch.setattr(supervise, "time", FakeTime)
    monkeypatch.setattr(supervise, "signal_group", record)
    try:
        code, _ = supervise.stop(stubborn)
    finally:
        stubborn.kill()
        stubborn.stdout.close()
    assert code == -signal.SIGKILL
    assert [sig for sig, _ in sent] == [signal.SIGTERM, signal.SIGKILL]
    assert sent[0][1] == 0.0 and 2.0 <= sent[1][1] < 2.0 + 2 * supervise.POLL_SECONDS


def test_the_log_head_and_the_tail_end_exactly_at_their_sizes(tmp_path, monkeypatch):
    monkeypatch.setattr(procs, "LOG_HEAD_BYTES", 8)
    monkeypatch.setattr(procs, "TAIL_BYTES", 5)
    sink = procs.OutputSink(tmp_path / "log", limit=10 ** 6)
    sink.write(b"1234567")  # one byte of the head left
    sink.write(b"ab")
    assert sink.tail() == "567ab"  # exactly the last 5 bytes, across writes
    sink.write(b"c")  # the head is full: nothing more goes to its part of the log
    assert sink.tail() == "67abc"
    sink.write(b"0123456789")  # longer than the tail by itself
    assert sink.tail() == "56789"
    sink.close()
    log = (tmp_path / "log").read_bytes()
    assert log == b"1234567a\n[... 12 bytes not kept; the last 0.00488281 KiB follow ...]\n56789"


def test_drain_keeps_reading_until_its_deadline(tmp_path):
    read_end, write_end = os.pipe()
    sink = procs.OutputSink(tmp_path / "log", limit=100)

    def late_writer() -> None:
        os.write(write_end, b"a")
        time.sleep(0.2)
        os.write(write_end, b"b")
    writer = threading.Thread(target=late_writer)
    writer.start()
    try:
        assert sink.drain(read_end, 1.0) is True  # returns at the deadline, the pipe still open
    finally:
        writer.join()
    assert sink.total == 2  # the second write came while drain still waited
    os.close(write_end)
    os.close(read_end)


# --- the child: the values it keeps, its output cap, its own failures -------------------------

def test_a_one_element_list_and_nan_are_values_worth_citing():
    assert child._jsonable([3]) == [3]
    ok, events = _child_run("import math\none = [7]\nnan = math.nan\ninf = math.inf")
    values = events[0]["values"]
    assert ok and values["one"] == [7] and math.isnan(values["nan"]) and values["inf"] == math.inf
    assert events[0]["values_dropped"] == {}


def test_the_value_limits_are_inclusive_and_later_values_still_count(monkeypatch):
    monkeypatch.setattr(child, "MAX_VALUE_BYTES", 5)
    monkeypatch.setattr(child, "MAX_REGION_VALUE_BYTES", 20)
    namespace = {"a": 12345, "b": 123456, "c": 12345, "nothing": object(), "d": 12345,
                 "e": 12345, "f": 1}
    values, dropped = child._exposed(namespace, {}, set())
    assert values == {"a": 12345, "c": 12345, "d": 12345, "e": 12345}  # 5 bytes each: 20 in all
    assert dropped == {"larger than 5 bytes": {"count": 1, "names": ["b"]},
                       "over 20 bytes in all": {"count": 1, "names": ["f"]}}


def test_a_broken_value_does_not_hide_the_values_after_it():
    class Broken:
        def to_record(self):
            raise RuntimeError("no")
    values, dropped = child._exposed({"broken": Broken(), "after": 2}, {}, set())
    assert values == {"after": 2}
    assert dropped == {"to_record() failed: RuntimeError": {"count": 1, "names": ["broken"]}}


def test_output_stops_exactly_at_the_cap():
    stdout = child._RegionStdout(5)
    stdout.write("12345")  # exactly the cap: fine
    with pytest.raises(child.OutputLimitExceeded):
        stdout.write("678")
    assert stdout.own.getvalue() == "12345" and stdout.cut
    ok, events = _child_run("print('x' * 999_999)")  # with the newline: the default cap exactly
    assert ok and len(events[0]["stdout"]) == 1_000_000


def test_the_default_output_cap_is_a_million_characters():
    events: list[dict] = []
    job = {"root": ".", "regions": [{"index": 0, "id": "r", "path": "r.py", "first_line": 1,
                                     "code": "print('y' * 1_000_000)"}]}
    assert child.run(_typed(job), events.append) is False  # no output_limit in the job: the default
    assert events[0]["error"]["fault"] == "output-limit"
    assert events[0]["stdout"].startswith("y" * 1_000_000 + "\n[")


def test_a_region_s_duration_is_its_own_wall_time():
    start = time.perf_counter()
    ok, events = _child_run("import time\ntime.sleep(0.05)")
    elapsed = time.perf_counter() - start
    assert ok and 0.05 <= events[0]["duration"] <= elapsed


def test_the_project_root_comes_first_on_the_import_path(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    events: list[dict] = []
    job = {"root": str(tmp_path), "regions": [{"index": 0, "id": "r", "path": "r.py",
                                              "first_line": 1, "code": "x = 1"}]}
    assert child.run(_typed(job), events.append)
    assert sys.path[0] == str(tmp_path)  # before the folder regions write their files to


def test_an_expected_exception_shows_the_region_s_own_source_lines(tmp_path):
    (tmp_path / "r.py").write_text("# raises: ZeroDivisionError\nratio = 1 / 0\n")
    region = JobRegion(index=0, id="r.py:r", path="r.py", first_line=1,
                       code="# raises: ZeroDivisionError\nratio = 1 / 0\n",
                       expect="ZeroDivisionError")
    run = child._run_region(region, {}, str(tmp_path), child._RegionStdout(100))
    assert run.status is Status.OK and run.raised == (
        'Traceback (most recent call last):\n  File "r.py", line 2\n    ratio = 1 / 0\n'
        "ZeroDivisionError: division by zero\n")


@pytest.mark.parametrize(("result_file", "message"), [
    ("/nonexistent-d2l-dir/result.jsonl", "No such file or directory"),
    ("/dev/full", "No space left on device")])
def test_a_child_that_cannot_write_its_result_says_so_in_one_line(tmp_path, result_file, message):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"root": str(tmp_path), "regions": [
        {"index": 0, "id": "r", "path": "r.py", "first_line": 1, "code": "print('x')"}]}))
    proc = subprocess.run([sys.executable, "-m", "d2l_compiler.engine.run.child", str(job),
                           result_file], capture_output=True, text=True, timeout=60)
    assert proc.returncode == child.EXIT_CANNOT_WRITE == 74  # EX_IOERR, as the runner reports
    assert proc.stderr == f"d2l: cannot write the result file: {message}\n" and proc.stdout == ""


def test_device_cache_is_written_into_new_or_existing_folders_and_never_fails_a_build(
        machine, tmp_path, monkeypatch):
    from d2l_compiler.engine.sources import device

    machine.driver()
    machine.torch("2.13.0+cu128", "12.8")
    monkeypatch.setenv("D2L_DEVICE", "auto")
    monkeypatch.setattr(device, "_probe", lambda: "cpu")
    nested = tmp_path / "a" / "b" / "state"
    assert device.resolve_device(nested, note=lambda _: None) == "cpu"  # a driver, no usable GPU
    assert json.loads((nested / "device.json").read_text())["device"] == "cpu"  # parents made
    existing = tmp_path / "existing"
    existing.mkdir()
    assert device.resolve_device(existing) == "cpu" and (existing / "device.json").exists()
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    assert device.resolve_device(not_a_folder) == "cpu"  # cannot cache: probes next time, no error


def test_torch_version_when_torch_is_absent(monkeypatch):
    from d2l_compiler.engine.sources import device

    def missing(name: str) -> str:
        raise device.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(device.metadata, "version", missing)
    assert device._torch_version() == "not-installed"


def test_a_region_s_stdout_says_it_is_writable():
    """Libraries ask before they print (``sys.stdout.writable()``): the captured stdout says yes."""
    ok, events = _child_run("import sys\nprint(sys.stdout.writable())")
    assert ok and events[0]["stdout"] == "True\n"


def test_drain_with_no_time_left_only_looks(tmp_path):
    read_end, write_end = os.pipe()
    sink = procs.OutputSink(tmp_path / "log", limit=100)
    assert sink.drain(read_end, 0.0) is True and sink.total == 0  # nothing waiting, no wait
    assert sink.drain(read_end, -1.0) is True and sink.total == 0  # a deadline already past
    os.write(write_end, b"x")
    assert sink.drain(read_end, 0.0) is True and sink.total == 1
    os.close(write_end)
    os.close(read_end)


def test_a_log_of_exactly_the_head_s_size_is_kept_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(procs, "LOG_HEAD_BYTES", 8)
    sink = procs.OutputSink(tmp_path / "log", limit=100)
    sink.write(b"12345678")
    sink.close()
    assert (tmp_path / "log").read_bytes() == b"12345678"  # nothing cut, so no note


def test_descendants_of_a_process_that_is_gone_are_none_and_a_zombie_is_listed():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert procs.descendants(gone.pid) == set()  # psutil: no such process, nothing to sweep
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while procs.psutil.Process(zombie.pid).status() != procs.psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert zombie.pid in procs.descendants()  # exited, not yet reaped: still ours to reap
    zombie.wait()


def test_sweep_reports_what_it_reaped_and_skips_what_is_already_gone(monkeypatch):
    stray = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = Path(f"/proc/{stray.pid}/stat")
    deadline = time.monotonic() + 30
    while stat.read_text().rpartition(")")[2].split()[0] != "Z":  # exited, not yet reaped
        assert time.monotonic() < deadline
        time.sleep(0.01)
    keep = procs.descendants() - {stray.pid}
    assert procs.sweep(keep) == [stray.pid]  # reaped by the sweep, and named
    listed = iter([{999_999_999}, set()])  # listed, but gone before it could be killed
    monkeypatch.setattr(procs, "descendants", lambda: next(listed))
    assert procs.sweep(set()) == []


def test_reap_reports_the_peak_memory_in_mebibytes():
    """Checked in a fresh process, whose only child is the one reaped, so that the kernel's
    figure for its children (RUSAGE_CHILDREN) is that child's own peak."""
    check = ("import resource, subprocess, sys\n"
             "from d2l_compiler.engine.run import supervise\n"
             "big = subprocess.Popen([sys.executable, '-c', 'x = bytearray(300 * 2**20)'])\n"
             "code, peak = supervise.reap(big.pid, block=True)\n"
             "kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
             "print(code, peak == kib / 1024, peak > 300)")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["0", "True", "True"], out.stderr


FLOOD_ON_TERM = """\
import os, signal, sys, time
LIMIT = int(sys.argv[1])

def keep_talking(*_):
    os.write(1, b"t" * (LIMIT - 1))  # the total is now exactly twice the cap
    while True:
        time.sleep(0.2)
        os.write(1, b"!")  # one byte at a time, slowly, until killed

signal.signal(signal.SIGTERM, keep_talking)
os.write(1, b"f" * (LIMIT + 1))  # just over the cap: the engine stops the page
time.sleep(60)
"""


def test_a_term_handler_that_floods_is_killed_once_it_doubles_the_cap(tmp_path, monkeypatch):
    """Output written during the grace period is read, and the page is killed as soon as it
    has written more than twice the cap, not at the end of the grace period."""
    monkeypatch.setattr(supervise, "GRACE_SECONDS", 30.0)  # a late stop would read on and on
    limit = 100_000
    proc = subprocess.Popen([sys.executable, "-c", FLOOD_ON_TERM, str(limit)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    sink = procs.OutputSink(tmp_path / "log", limit=limit)
    try:
        outcome = supervise.supervise(proc, time.monotonic() + 60, sink, lambda: None)
    finally:
        proc.kill()
        proc.stdout.close()
        sink.close()
    assert outcome.flooded and outcome.code == -signal.SIGKILL
    assert sink.total == 2 * limit + 1  # not one byte fewer, not one more


def test_output_still_in_the_pipe_when_the_page_exits_reaches_the_log(tmp_path, monkeypatch):
    """Whatever the page wrote that supervision had not read yet (written just before it
    exited) is read after the exit: here supervision reads nothing at all, deterministically."""
    class Deaf:
        def __init__(self, sink: procs.OutputSink) -> None:
            self.sink = sink

        @property
        def over_limit(self) -> bool:
            return self.sink.over_limit

        def drain(self, fd: int, seconds: float) -> bool:
            time.sleep(seconds)
            return True
    real = runner.supervise
    monkeypatch.setattr(runner, "supervise", lambda proc, deadline, sink, tick:
                        real(proc, deadline, Deaf(sink), tick))
    run = _run(tmp_path, "import os\nos.write(1, b'written last\\n')")
    assert run.ok
    assert "written last" in (tmp_path / "d2l" / "logs" / "index.md.log").read_text()


class _Interrupted(Exception):
    """Raised from the progress callback: the engine stops mid-page (as on Ctrl-C)."""


def test_an_interrupted_page_is_asked_to_stop_before_it_is_killed(tmp_path):
    """On an interruption the page gets SIGTERM and its grace period (a handler may save its
    work), not a bare SIGKILL; and nothing of it is left running."""
    mark = tmp_path.with_name(tmp_path.name + "-terminated")  # outside the project: a
    on_term = (f"import pathlib, signal, os\n"
               f"def bye(*_):\n    pathlib.Path({str(mark)!r}).write_text('TERM')\n    os._exit(0)\n"
               f"signal.signal(signal.SIGTERM, bye)\nprint('ready')")

    def interrupt(run: RegionRun) -> None:
        raise _Interrupted(run.id)
    before = procs.descendants()  # the test session's own (a web server, say) stay
    with pytest.raises(_Interrupted):
        _run(tmp_path, on_term, "import time\ntime.sleep(30)", on_event=interrupt)
    assert mark.read_text() == "TERM"  # region may not write into the project (project_guard)
    assert procs.descendants() <= before


def test_a_page_that_cannot_start_raises_its_own_error(tmp_path):
    """A failure before the page's process exists (its log cannot be opened) surfaces as
    itself, not as an error of the clean-up that follows it."""
    (tmp_path / "d2l" / "logs" / "index.md.log").mkdir(parents=True)
    before = procs.descendants()
    with pytest.raises(IsADirectoryError):
        _run(tmp_path, "print('never')")
    assert procs.descendants() <= before


def test_a_page_that_deletes_the_engine_s_work_directory_fails_cleanly(tmp_path):
    """The page's code can reach the engine's scratch directory (its working directory's
    parent); removing it loses the page's results, which is a failure, not an engine crash."""
    run = _run(tmp_path, "import os, shutil\nshutil.rmtree(os.path.dirname(os.getcwd()))")
    assert not run.ok and "region 'r0' failed" in run.failure


def test_a_page_leaves_no_descriptor_open_in_the_engine(tmp_path):
    import gc
    import warnings

    before = set(os.listdir("/proc/self/fd"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _run(tmp_path, "print('hello')").ok
        gc.collect()  # a pipe left open would be closed here, with a ResourceWarning
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert set(os.listdir("/proc/self/fd")) <= before  # the pipe and the log are closed


# --- the live preview's warm page process -------------------------------------------------------

def test_a_warm_process_runs_one_page_then_a_fresh_one_waits(tmp_path):
    from d2l_compiler.engine.run.warm import WarmPool

    warm = WarmPool(("colorsys", "no_such_module_anywhere", "not a name"))
    warm.prepare(tmp_path, "cpu", None)
    probe = ("import builtins, os, sys\n"
             "print('colorsys' in sys.modules, hasattr(builtins, 'leaked'), os.getcwd().endswith('cwd'))\n"
             "print(sys.stdin.read() == '')")
    try:
        first = _run(tmp_path, probe, warm=warm)
        assert first.ok, first.failure
        # imported ahead (a cold process has not imported colorsys), in the page's own
        # working directory, stdin at end of file like a cold page process
        assert first.regions[0].stdout == "True False True\nTrue\n"
        crashed = _run(tmp_path, "import builtins, os, signal\nbuiltins.leaked = 1\n"
                                 "os.kill(os.getpid(), signal.SIGSEGV)", warm=warm)
        assert not crashed.ok and "failed: crash" in crashed.failure
        again = _run(tmp_path, probe, warm=warm)  # a new warm process: nothing leaked
        assert again.ok and again.regions[0].stdout == "True False True\nTrue\n"
        cold = _run(tmp_path, probe)
        assert cold.regions[0].stdout == "False False True\nTrue\n"
        # another device or memory limit: the waiting process is not used, a cold one is
        other = _run(tmp_path, probe, warm=warm, limits=Limits(timeout=60, memory_mb=4096))
        assert other.ok and other.regions[0].stdout.startswith("False")
    finally:
        warm.close()
    assert warm._proc is None


def test_a_trailing_expression_shows_its_value_as_in_a_notebook():
    """A region ending in a bare expression prints its value's repr (a notebook's output);
    ``None`` shows nothing, ``;`` hides it, a print is not doubled, and a failing trailing
    expression fails at its own line."""
    ok, events = _child_run("z = [1, 2]\nz", "z;  # hidden", "print('once')", "None",
                            "{'a': 'x'}['a']\n# a comment after it")
    assert ok and [e["stdout"] for e in events[:-1]] == ["[1, 2]\n", "", "once\n", "", "'x'\n"]
    assert events[0]["values"] == {"z": [1, 2]}  # what it binds is recorded as before
    ok, events = _child_run("x = 1\n\nx / 0")
    assert not ok and events[0]["error"]["type"] == "ZeroDivisionError"
    assert events[0]["error"]["line"] == 3


def test_what_a_started_process_prints_reaches_the_region_s_output_in_order():
    """A process started without capturing its output prints onto the page, in the order it
    happened; output the region captures itself stays the region's."""
    ok, events = _child_run(
        "import subprocess, sys\nprint('before')\n"
        "subprocess.run([sys.executable, '-c', 'print(\"from the child\")'])\n"
        "subprocess.run('echo from the shell', shell=True)\n"
        "kept = subprocess.run([sys.executable, '-c', 'print(1)'], capture_output=True, text=True)\n"
        "print('after', kept.stdout.strip(), kept.returncode)")
    assert ok, events
    assert events[0]["stdout"] == "before\nfrom the child\nfrom the shell\nafter 1 0\n"


def test_a_process_left_running_prints_to_the_log_after_its_region_not_into_the_next():
    """A server a region leaves running keeps printing: after its region that goes to the
    page's log, never into a later region's output (it would differ on every run)."""
    ok, events = _child_run(
        "import subprocess, sys\nserver = subprocess.Popen([sys.executable, '-c', "
        "'import time\\nfor i in range(3):\\n    print(\"tick\", i, flush=True)\\n"
        "    time.sleep(0.3)'])\nprint('started')",
        "import time\ntime.sleep(1.2)\nprint('later')")
    assert ok, events
    assert events[1]["stdout"] == "later\n" and "tick" not in events[1]["stray"]


def test_waiting_twice_for_a_process_waits_once_for_its_output():
    start = time.perf_counter()
    ok, events = _child_run(
        "import subprocess, sys\n"
        "with subprocess.Popen([sys.executable, '-c', 'print(1)']) as p:\n    p.wait()\n"
        "print('done')")
    assert ok and events[0]["stdout"] == "1\ndone\n" and time.perf_counter() - start < 4


def test_the_project_snapshot_watches_the_project_s_files_only(tmp_path, monkeypatch):
    """What editors, Python and the engine write beside the project's files is not a region's
    write; in the preview only files that appear or vanish count (an author saves files)."""
    from d2l_compiler.engine.run.project_guard import changed_files, project_snapshot

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("x")
    (tmp_path / ".d2l").mkdir()
    before = project_snapshot(tmp_path)
    for name in ("docs/.a.md.swp", "docs/a.md~", "docs/#a.md#", ".d2l/record.json",
                 "docs/__pycache__/m.pyc", "site/index.html", "venv/pyvenv.cfg", "venv/x.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("y")
    assert changed_files(before, project_snapshot(tmp_path)) == []
    (tmp_path / "docs" / "a.md").write_text("edited")
    (tmp_path / "docs" / "new.md").write_text("n")
    after = project_snapshot(tmp_path)
    assert changed_files(before, after) == ["docs/a.md", "docs/new.md"]
    assert changed_files(before, after, edits=False) == ["docs/new.md"]
    # the engine's folders: never the project itself (a Ray worker's logs are in its root)
    assert runner._engine_dirs(tmp_path, tmp_path / "logs", ()) == ((tmp_path / "logs").resolve(),)
    # a project's own: its state, logs and store, wherever D2L_STORE_DIR said when it was opened
    (tmp_path / "mkdocs.yml").write_text("site_name: t\n")
    monkeypatch.setenv("D2L_STORE_DIR", "shared-store")
    project = Project(tmp_path / "mkdocs.yml")
    monkeypatch.delenv("D2L_STORE_DIR")
    assert project.engine_dirs() == tuple((tmp_path / d).resolve() for d in (
        ".d2l", ".d2l/logs", "shared-store"))
    assert Project(tmp_path / "mkdocs.yml").engine_dirs()[-1] == (tmp_path / ".d2l/store").resolve()
    assert (tmp_path / "shared-store").resolve() in runner._engine_dirs(
        tmp_path, None, project.engine_dirs())


# --- the page's keeper -------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "expected"), [
    ("import sys; sys.exit(3)", 3),
    ("import os; os.kill(os.getpid(), 9)", -9),
    ("import os; os.kill(os.getpid(), 15)", -15),
    ("bytearray(200 * 2**20)", 0),
])
def test_the_keeper_ends_as_its_page_ended_and_passes_on_its_peak_memory(code, expected):
    proc = subprocess.Popen(lineage.kept([sys.executable, "-c", code]))
    status, peak = supervise.reap(proc.pid, block=True)
    assert status == expected
    if "bytearray" in code:  # wait4 of the keeper counts the page it waited for
        assert peak > 150


def test_a_keeper_whose_engine_dies_ends_what_its_page_started(tmp_path):
    """The engine, SIGKILLed, leaves a page whose code started a child in its group and a
    daemon in a session of its own: the keeper ends all three."""
    pids = tmp_path / "pids"
    # the daemon's parent (sh) exits at once: an orphan, it comes back to the keeper, a subreaper
    page = (f"import os, subprocess, time\nchild = subprocess.Popen(['sleep', '600'])\n"
            f"daemon = subprocess.run(['sh', '-c', 'setsid sleep 601 >/dev/null 2>&1 & echo $!'], "
            f"capture_output=True, text=True).stdout.strip()\n"
            f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}} {{daemon}}')\n"
            f"time.sleep(600)\n")
    engine = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\nfrom d2l_compiler.engine.run.lineage import kept\n"
        f"subprocess.Popen(kept([sys.executable, '-c', {page!r}]), start_new_session=True)\n"
        "time.sleep(600)\n")])
    deadline = time.monotonic() + 30
    while not (pids.exists() and len(pids.read_text().split()) == 3):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = [int(pid) for pid in pids.read_text().split()]
    engine.kill()
    engine.wait()

    deadline = time.monotonic() + 15
    while any(map(running, started)) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in started if running(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []


def test_a_page_killed_after_ignoring_term_keeps_its_peak_memory():
    """stop() KILLs the page before its keeper, so the keeper reaps it and passes its peak on."""
    code = ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "b = bytearray(300 * 2**20)\nb[::4096] = b'x' * len(b[::4096])\n"
            "print('filled', flush=True)\ntime.sleep(60)")
    proc = subprocess.Popen(lineage.kept([sys.executable, "-c", code]), start_new_session=True,
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"filled\n"
        status, peak = supervise.stop(proc)
    finally:
        proc.stdout.close()
    assert status == -9 and peak > 250


def test_a_sigusr1_the_page_sends_its_group_is_not_the_engines_death():
    code = ("import os, signal, time\nsignal.signal(signal.SIGUSR1, lambda *a: None)\n"
            "os.killpg(0, signal.SIGUSR1)\ntime.sleep(0.3)\nprint('page done')")
    done = subprocess.run(lineage.kept([sys.executable, "-c", code]), start_new_session=True,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "page done\n")


def test_the_keeper_hands_its_page_a_fresh_signal_mask_and_the_default_term():
    """An engine with signals blocked or TERM ignored (a host process, a thread) starts a page
    with neither."""
    code = ("import signal\nprint(sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])), "
            "signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)")

    def host() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    done = subprocess.run(lineage.kept([sys.executable, "-c", code]), start_new_session=True,
                          capture_output=True, text=True, timeout=60, preexec_fn=host)
    assert done.stdout == "[] True\n"


def test_the_engine_s_own_code_is_never_a_region_s_input():
    """TorchScript reads the source files on the call stack, the engine's page process among
    them: in the engine's own repository that file lies inside the project, but editing it must
    not re-run the chapter (the helpers a region imports still count)."""
    from d2l_compiler.engine.run.observe import project_path

    root = Path(__file__).resolve().parents[1]
    assert project_path(root / "d2l_compiler" / "engine" / "run" / "child.py", root) is None
    assert project_path(root / "d2l_compiler" / "timing.py", root) == "d2l_compiler/timing.py"
    assert project_path(root / "snippets" / "modern.py", root) == "snippets/modern.py"
