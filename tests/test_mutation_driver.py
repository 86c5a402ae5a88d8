"""``nox -s mutation`` stopped part-way (SIGTERM, as a cancelled session is stopped, or
Ctrl-C): every process it started ends with it, pytest's page processes and daemons included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from conftest import ROOT

# the driver with its mutant runner replaced by one that starts a tree of processes (a
# worker, a test run under it, a daemon in a session of its own) and waits, as a long run does
_DRIVER = """
import subprocess, sys, time
from mutation import execute
import mutation.__main__ as driver

def run(modules, jobs, on_result, equivalent=None):
    tree = subprocess.Popen([sys.executable, "-c",
        "import subprocess, sys, time\\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'], start_new_session=True)\\n"
        "time.sleep(300)"])
    print("started", flush=True)
    time.sleep(300)

execute.run = run
sys.exit(driver.main(["escape.py"]))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_mutation_run_leaves_no_process_behind(sig):
    driver = subprocess.Popen([sys.executable, "-c", _DRIVER], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert driver.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 30
        while len(psutil.Process(driver.pid).children(recursive=True)) < 3:
            assert time.monotonic() < deadline, "the process tree never started"
            time.sleep(0.05)
        started = {p.pid for p in psutil.Process(driver.pid).children(recursive=True)}
        driver.send_signal(sig)
        code = driver.wait(60)
        assert code in (143, 130) or code == -sig, driver.stderr.read()
        time.sleep(0.2)
        alive = [pid for pid in started if psutil.pid_exists(pid)
                 and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        assert alive == [], f"left running: {alive}"
    finally:
        for child in psutil.Process().children(recursive=True):
            child.kill()
        driver.kill()
