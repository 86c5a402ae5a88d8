"""How fast does the engine notice a dead or stuck region? Crash detection time and timeout
overshoot, measured on tiny fixture sites. Run with ``nox -s bench``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, summary, write_report

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
        "site_name: f\nhooks:\n  - " + str(ROOT / "d2l_compiler" / "mkdocs_hook.py") + "\n")
    (root / "docs" / "index.md").write_text('```python\n--8<-- "snippets/s.py:r"\n```\n')
    (root / "snippets" / "s.py").write_text(f"# --8<-- [start:r]\n{body}\n# --8<-- [end:r]\n")


def measure(body: str, timeout: float | None) -> tuple[float, float]:
    """(wall seconds of the failing build, seconds the engine reports for the page)."""
    with tempfile.TemporaryDirectory() as tmp:
        _site(Path(tmp), body)
        args = [sys.executable, "-m", "d2l_compiler", "build", "--no-site"]
        if timeout:
            args += ["--timeout", str(timeout)]
        start = time.perf_counter()
        proc = subprocess.run(args, cwd=tmp, capture_output=True, text=True,
                              env={**os.environ, "D2L_DEVICE": "cpu"})
        wall = time.perf_counter() - start
        elapsed = float(re.search(r"([\d.]+) s elapsed", proc.stderr).group(1))
        return wall, elapsed


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    rows = {}
    for name, body in CASES.items():
        timeout = 1.0 if name.startswith("timeout") else None
        samples = [measure(body, timeout)[1] for _ in range(repeats)]
        rows[name] = summary([s - (timeout or 0) for s in samples])
    print(f"fault detection, {repeats} repetitions: seconds from page start until the engine "
          f"had classified the failure (timeouts: beyond the 1 s limit)")
    print(f"{'case':<34}{'median':>8}{'q1':>8}{'q3':>8}")
    for name, data in rows.items():
        print(f"{name:<34}{data['median']:>8.3f}{data['q1']:>8.3f}{data['q3']:>8.3f}")
    print(f"report: {write_report('faults', {'repeats': repeats, 'cases': rows})}")


if __name__ == "__main__":
    main()
