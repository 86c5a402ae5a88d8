"""How fast does the engine notice a dead or stuck region? Crash detection time and timeout
overshoot, measured on tiny fixture sites; and what a descriptor-level output flood costs
the engine (its own peak memory, the log it keeps, the time to stop it). Run with
``nox -s bench``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import print_summaries, summary, write_report

CASES = {
    "segfault": "import ctypes\nctypes.string_at(0)",
    "SIGKILL": "import os\nos.kill(os.getpid(), 9)",
    "os._exit(3)": "import os\nos._exit(3)",
    "exception": "1 / 0",
    "timeout (1 s)": "import time\ntime.sleep(600)",
    "timeout, SIGTERM ignored (1 s)": "import signal, time\n"
                                      "signal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)",
}


def _site(root: Path, body: str) -> None:
    (root / "docs").mkdir(parents=True)
    (root / "snippets").mkdir()
    (root / "mkdocs.yml").write_text(
        "site_name: f\nplugins:\n  - d2l\n")
    (root / "docs" / "index.md").write_text('```python\n--8<-- "snippets/s.py:r"\n```\n')
    (root / "snippets" / "s.py").write_text(f"# --8<-- [start:r]\n{body}\n# --8<-- [end:r]\n")


def measure(body: str, timeout: float | None) -> float:
    """Seconds the engine reports for the failing page (start until the fault was classified)."""
    with tempfile.TemporaryDirectory() as tmp:
        _site(Path(tmp), body)
        args = [sys.executable, "-m", "d2l_compiler", "build", "--no-site"]
        if timeout:
            args += ["--timeout", str(timeout)]
        proc = subprocess.run(args, cwd=tmp, capture_output=True, text=True,
                              env={**os.environ, "D2L_DEVICE": "cpu"})
        return float(re.search(r"([\d.]+) s elapsed", proc.stderr).group(1))


FLOODS = {
    "1 GiB to fd 1 in 1 MiB writes": "import os\nchunk = b'x' * 2**20\n"
                                     "for _ in range(1024):\n    os.write(1, chunk)",
    "one 400 MB line to fd 2": "import os\nos.write(2, b'y' * 400_000_000)",
    "a grandchild floods (yes)": "import subprocess\nsubprocess.run(['yes'])",
}


def _peak_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


def flood(body: str) -> dict:
    """The engine's own peak RSS (MiB, VmHWM polled until exit), the log it kept (MiB), and
    the seconds until it had stopped the page."""
    with tempfile.TemporaryDirectory() as tmp:
        _site(Path(tmp), body)
        proc = subprocess.Popen([sys.executable, "-m", "d2l_compiler", "build", "--no-site",
                                 "--timeout", "300"], cwd=tmp, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "D2L_DEVICE": "cpu"})
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _peak_kib(proc.pid))
            time.sleep(0.01)
        _, err = proc.communicate()
        logs = list((Path(tmp) / ".d2l" / "logs").glob("*.log"))
        return {"engine_peak_mib": peak / 1024, "log_mib": sum(f.stat().st_size for f in logs) / 2**20,
                "seconds": float(re.search(r"([\d.]+) s elapsed", err).group(1)),
                "fault": "output-limit" if "failed: output-limit" in err else err[:200]}


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    rows = {}
    for name, body in CASES.items():
        timeout = 1.0 if name.startswith("timeout") else None
        samples = [measure(body, timeout) for _ in range(repeats)]
        rows[name] = summary([s - (timeout or 0) for s in samples])
    print(f"fault detection, {repeats} repetitions: seconds from page start until the engine "
          f"had classified the failure (timeouts: beyond the 1 s limit)")
    print_summaries(rows)
    floods = {name: flood(body) for name, body in FLOODS.items()}
    print("\ndescriptor-level floods (cap: 32 MiB per page): engine peak RSS, log kept, "
          "time until the page was stopped")
    for name, row in floods.items():
        print(f"  {name:<34} {row['engine_peak_mib']:7.1f} MiB {row['log_mib']:7.2f} MiB "
              f"{row['seconds']:7.2f} s  {row['fault']}")
    report = {"repeats": repeats, "cases": rows, "floods": floods}
    print(f"report: {write_report('faults', report)}")


if __name__ == "__main__":
    main()
