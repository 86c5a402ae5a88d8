"""How fast does the engine notice a dead or stuck region? Crash detection time and timeout
overshoot, measured on tiny fixture sites. Run with ``nox -s bench``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import ROOT, print_summaries, summary, write_report

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
    print(f"report: {write_report('faults', {'repeats': repeats, 'cases': rows})}")


if __name__ == "__main__":
    main()
