"""Fail loudly, lose nothing: the fault suite, on tiny fixture sites with real subprocesses."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import FixtureSite, pages_ran, running


def _one_region(site: FixtureSite, body: str, name: str = "r") -> None:
    site.write("docs/index.md", f'# T\n\n```python\n--8<-- "snippets/s.py:{name}"\n```\n')
    site.write("snippets/s.py", f"# --8<-- [start:{name}]\n{body}\n# --8<-- [end:{name}]\n")


def _seconds(stderr: str) -> float:
    return float(re.search(r"([\d.]+) s elapsed", stderr).group(1))


def test_expected_exception_is_shown_and_passes(site):
    _one_region(site, "# raises: ZeroDivisionError\n1 / 0")
    result = site.build()
    assert result.code == 0, result.stderr
    html = site.html()
    assert "ZeroDivisionError: division by zero" in html
    assert 'File "snippets/s.py", line 3' in html


def test_expected_exception_that_does_not_happen_fails(site):
    _one_region(site, "# raises: ZeroDivisionError\n1 / 1")
    result = site.build()
    assert result.code == 1
    assert "did-not-raise" in result.stderr and "expected ZeroDivisionError" in result.stderr


def test_hang_ignoring_sigterm_with_grandchild_leaves_no_process(site, tmp_path):
    pids = tmp_path / "pids"
    _one_region(site, f"""import os, signal, subprocess, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen(["sleep", "600"])
open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
time.sleep(600)""")
    started = time.monotonic()
    result = site.build("--timeout", "1.5")
    assert time.monotonic() - started < 15
    assert result.code == 1 and "failed: timeout after 1.5 s" in result.stderr
    assert "signal SIGKILL" in result.stderr  # TERM was ignored, KILL ended it
    for pid in map(int, pids.read_text().split()):
        assert not running(pid), pid


@pytest.mark.parametrize(("body", "expected"), [
    ("import ctypes\nctypes.string_at(0)", "failed: crash\n  at snippets/s.py:2 · signal SIGSEGV"),
    ("import os\nos.kill(os.getpid(), 9)", "failed: crash\n  at snippets/s.py:2 · signal SIGKILL"),
    ("import os\nos._exit(3)", "failed: exit\n  at snippets/s.py:2 · exit status 3"),
])
def test_interpreter_crash_is_reported_with_signal_or_status(site, body, expected):
    _one_region(site, body)
    result = site.build()
    assert result.code == 1
    assert expected in result.stderr
    assert _seconds(result.stderr) < 10
    assert "peak memory" in result.stderr


def test_out_of_memory_under_limit(site):
    _one_region(site, "hog = bytearray(3 * 2**30)")
    result = site.build("--memory-limit", "1024")
    assert result.code == 1
    assert "failed: out-of-memory: MemoryError" in result.stderr
    assert "memory limit 1024 MiB" in result.stderr


def test_output_flood_is_capped(site):
    _one_region(site, "while True:\n    print('x' * 100)")
    result = site.build("--timeout", "60")
    assert result.code == 1 and "failed: output-limit" in result.stderr
    assert _seconds(result.stderr) < 30  # stopped by the cap, not the timeout
    assert len(result.stderr) < 20_000  # the terminal gets a tail, not the flood


@pytest.mark.parametrize(("body", "fault", "line"), [
    ("import sys\nsys.exit(0)", "failed: exit: SystemExit: 0", 3),
    ("raise KeyboardInterrupt", "failed: exception: KeyboardInterrupt", 2),
])
def test_exit_and_interrupt_inside_a_region_fail(site, body, fault, line):
    _one_region(site, body)
    result = site.build()
    assert result.code == 1 and fault in result.stderr
    assert f"at snippets/s.py:{line} ·" in result.stderr


def _normalised_site(site: FixtureSite) -> str:
    text = site.html()
    text = re.sub(r"运行了 [\d.]+ 秒", "运行了 N 秒", text)
    text = re.sub(r"Build Date UTC : .*", "", text)  # MkDocs' own build stamp
    return re.sub(r"执行于 [0-9:-]+ [0-9:]+ UTC", "执行于 T", text)


def _store_entry(site: FixtureSite) -> Path:
    (entry,) = [p for p in (site.root / ".d2l" / "store").iterdir()]
    return entry


def _edit_output(path: Path) -> None:  # valid JSON, a different output: only the checksum sees it
    data = json.loads(path.read_text())
    data["regions"][0]["stdout"] = "edited\n"
    path.write_text(json.dumps(data))


CORRUPTIONS = {
    "valid JSON, edited": _edit_output,
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "zeroed": lambda p: p.write_bytes(b"\0" * len(p.read_bytes())),
    "flipped": lambda p: p.write_bytes(bytes([p.read_bytes()[0] ^ 1]) + p.read_bytes()[1:]),
    "missing": lambda p: p.unlink(),
    "conflict": lambda p: p.write_text("<<<<<<< HEAD\n" + p.read_text() + "=======\n{}\n>>>>>>> x\n"),
}


def _corrupted(site: FixtureSite, how: str) -> tuple[str, Path]:
    """A built one-region site whose store entry was then corrupted ``how``: the site as it
    was built, and the entry."""
    _one_region(site, "print('stable output')\nvalue = 42")
    assert site.build().code == 0
    clean = _normalised_site(site)
    entry = _store_entry(site)
    CORRUPTIONS[how](entry / "entry.json")
    return clean, entry


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_corrupt_store_entry_is_rerun(site, how):
    clean, entry = _corrupted(site, how)
    (site.root / ".d2l" / "record.json").unlink()  # nor does the record have it
    result = site.build()
    assert result.code == 0, result.stderr
    assert f"discarding corrupt store entry {entry}" in result.stderr
    assert "pages: 1 run" in result.stdout
    assert _normalised_site(site) == clean


@pytest.mark.parametrize("how", ["truncated", "valid JSON, edited"])
def test_a_corrupt_store_entry_the_record_still_has_is_taken_from_the_record(site, how):
    clean, _ = _corrupted(site, how)
    result = site.build()
    assert result.code == 0, result.stderr
    assert "pages: 0 run, 1 cached" in result.stdout  # the record's sealed result, not a re-run
    assert _normalised_site(site) == clean
    assert site.build().stderr == ""  # and the store holds it again:
    (site.root / ".d2l" / "record.json").unlink()
    assert "pages: 0 run, 1 cached" in site.build().stdout


def _pages_site(site: FixtureSite, count: int) -> None:
    for i in range(count):
        site.write(f"docs/p{i}.md", f'# P{i}\n\n```python\n--8<-- "snippets/s{i}.py:r"\n```\n')
        site.write(f"snippets/s{i}.py", f"# --8<-- [start:r]\nimport time\ntime.sleep(0.2)\n"
                                        f"print({i})\n# --8<-- [end:r]\n")


def _processes_of(root: Path, engine: int) -> list[int]:
    """Live processes working in ``root`` (a build, its workers) or on a page of the engine
    ``engine`` (whose scratch directories are named after it)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, ValueError, IndexError):
            continue
        if state != "Z" and (cwd.startswith(str(root)) or f"d2l-page-{engine}-" in cmdline):
            found.append(int(entry.name))
    return found


def test_sigkilled_builds_lose_nothing(site):
    _pages_site(site, 4)
    rng = random.Random(1234)
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-m", "d2l_compiler", "build", "--no-site"],
                                cwd=site.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "D2L_DEVICE": "cpu"})
        time.sleep(rng.uniform(0.05, 1.5))
        proc.kill()
        out, _ = proc.communicate()
        finished = pages_ran(out)
        time.sleep(0.3)  # the page processes and workers notice the engine's death
        resumed = site.build("--no-site")
        # nothing of the killed build is left: no scratch directory, no process
        assert not list(Path(tempfile.gettempdir()).glob(f"d2l-page-{proc.pid}-*"))
        assert _processes_of(site.root, proc.pid) == []
        assert resumed.code == 0, resumed.stderr
        rerun = pages_ran(resumed.stdout)
        assert not rerun & finished  # what finished before the kill is not run again
        pages = site.record()["pages"]
        assert [pages[f"p{i}.md"]["regions"][0]["run"]["stdout"] for i in range(4)] == \
            [f"{i}\n" for i in range(4)]
        for i in range(4):  # invalidate everything for the next trial
            site.write(f"snippets/s{i}.py", (site.root / f"snippets/s{i}.py").read_text() + "\n")


def test_ctrl_c_kills_all_children(site, tmp_path):
    pids = tmp_path / "pids"
    _one_region(site, f"""import os, subprocess, time
child = subprocess.Popen(["sleep", "600"])
open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
time.sleep(600)""")
    # the test runner may have been started with SIGINT ignored (which the build would
    # inherit); give the build the disposition a terminal gives it
    proc = subprocess.Popen([sys.executable, "-m", "d2l_compiler", "build"], cwd=site.root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "D2L_DEVICE": "cpu"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 30
    while not pids.exists() or not pids.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err
    for pid in map(int, pids.read_text().split()):
        assert not running(pid), pid


def test_two_builds_at_once(site):
    _pages_site(site, 3)
    env = {**os.environ, "D2L_DEVICE": "cpu", "NO_MKDOCS_2_WARNING": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "d2l_compiler", "build"], cwd=site.root,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    outs = "".join(out for out, _ in results)
    assert outs.count("ran ") == 3  # the second build found the first one's results
    record = json.loads((site.root / ".d2l" / "record.json").read_text())
    assert sorted(record["pages"]) == ["p0.md", "p1.md", "p2.md"]


def test_non_timing_outputs_identical_across_builds(site):
    _one_region(site, "import random\nrandom.seed(0)\nprint(random.random(), {'b': 1, 'a': 2})")
    assert site.build().code == 0
    first = site.record()["pages"]["index.md"]["regions"][0]["run"]["stdout"]
    assert site.build("--force").code == 0
    assert site.record()["pages"]["index.md"]["regions"][0]["run"]["stdout"] == first


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_build_killed_outright_leaves_no_process_and_no_scratch(site, tmp_path, jobs):
    started = tmp_path / "started"
    started.mkdir()
    for i in range(3):
        site.write(f"docs/p{i}.md", f'# P{i}\n\n```python\n--8<-- "snippets/s{i}.py:r"\n```\n')
        # the page's code spawns a child in its group, and a daemon in a session of its own
        # whose parent (sh) exits at once: an orphan, which comes back to the nearest subreaper
        site.write(f"snippets/s{i}.py", f"# --8<-- [start:r]\nimport os, subprocess, time\n"
                                        f"child = subprocess.Popen(['sleep', '600'])\n"
                                        f"daemon = subprocess.run(['sh', '-c', 'setsid sleep 601 "
                                        f">/dev/null 2>&1 & echo $!'], capture_output=True, "
                                        f"text=True).stdout.strip()\n"
                                        f"open(os.path.join({str(started)!r}, str(os.getpid())), 'w')"
                                        f".write(f'{{child.pid}} {{daemon}}')\n"
                                        f"time.sleep(60)\n# --8<-- [end:r]\n")
    proc = subprocess.Popen([sys.executable, "-m", "d2l_compiler", "build", "--no-site", "-j", str(jobs)],
                            cwd=site.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "D2L_DEVICE": "cpu"})
    deadline = time.monotonic() + 60
    while len([f for f in started.iterdir() if f.read_text()]) < jobs:  # a page in each worker
        assert time.monotonic() < deadline
        time.sleep(0.05)
    spawned = [int(pid) for f in started.iterdir() for pid in f.read_text().split()]
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 15
    while (_processes_of(site.root, proc.pid) or any(map(running, spawned))) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in spawned if running(pid)]
    for pid in left:  # not left behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert _processes_of(site.root, proc.pid) == []  # workers and pages went with the engine
    assert left == []  # and what the pages' code spawned, in their group or out of it
    if jobs == 1:  # the engine's own scratch directory: nobody was left to remove it
        assert list(Path(tempfile.gettempdir()).glob(f"d2l-page-{proc.pid}-*"))
    for i in range(3):
        site.write(f"snippets/s{i}.py", f"# --8<-- [start:r]\nprint({i})\n# --8<-- [end:r]\n")
    assert site.build("--no-site").code == 0
    assert not list(Path(tempfile.gettempdir()).glob(f"d2l-page-{proc.pid}-*"))
