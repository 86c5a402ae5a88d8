"""Nothing the tests or their sessions start outlives them: stopping ``nox`` or ``pytest`` with
SIGTERM (a cancelled CI job, ``kill``) ends the build they run, its page, and what the page's
code spawned, as Ctrl-C does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import running

ROOT = Path(__file__).resolve().parents[1]

# a test, run by an inner pytest with this suite's conftest, whose build never ends: its region
# starts a grandchild and sleeps; it writes "<page pid> <grandchild pid>" once both run
INNER_TEST = '''
def test_a_build_that_never_ends(site):
    site.write("docs/index.md", '```python\\n--8<-- "snippets/s.py:r"\\n```\\n')
    site.write("snippets/s.py", "# --8<-- [start:r]\\n"
               "import os, subprocess, time\\n"
               "child = subprocess.Popen(['sleep', '600'])\\n"
               "open({pids!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\\n"
               "time.sleep(600)\\n"
               "# --8<-- [end:r]\\n")
    site.build()
'''

INNER_NOXFILE = '''
import sys
import nox
sys.path.insert(0, {root!r})
import noxfile as book  # the book's noxfile: how its sessions treat SIGTERM

@nox.session(venv_backend="none")
def inner(session):
    book.run(session, sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p",
             "no:cacheprovider", "--rootdir", {here!r}, {test!r}, external=True,
             env={{"PYTHONPATH": {tests!r}}})
'''


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rpartition(")")[2].split()[1])


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads processes from /proc (Linux)")
@pytest.mark.parametrize("stopped", ["pytest", "nox"])
def test_sigterm_ends_the_build_its_page_and_what_the_page_spawned(tmp_path, stopped):
    pids = tmp_path / "pids"
    test = tmp_path / "test_inner.py"
    test.write_text(INNER_TEST.format(pids=str(pids)), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests"), "D2L_DEVICE": "cpu"}
    if stopped == "pytest":
        command = [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider",
                   "--rootdir", str(tmp_path), str(test)]
    else:
        import nox  # noqa: F401 - in the test extra: a missing one fails here, never skips
        (tmp_path / "noxfile.py").write_text(INNER_NOXFILE.format(
            root=str(ROOT), here=str(tmp_path), test=str(test), tests=str(ROOT / "tests")))
        command = [sys.executable, "-m", "nox", "-f", str(tmp_path / "noxfile.py"), "-s", "inner"]
    # a terminal's dispositions, whatever this runner inherited
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))
    spawned: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not (pids.exists() and len(pids.read_text().split()) == 2):
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the inner build never started its region"
            time.sleep(0.1)
        page, grandchild = map(int, pids.read_text().split())
        build = _parent(_parent(page))  # the page runs under its keeper, a child of the build
        spawned = [build, page, grandchild]
        assert all(map(running, spawned))
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode != 0, out  # stopped, not passed
        deadline = time.monotonic() + 10
        while any(map(running, spawned)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in spawned if running(pid)] == [], out
    finally:
        proc.kill()
        for pid in spawned:  # do not leave them behind if the test fails
            if running(pid):
                os.kill(pid, signal.SIGKILL)
