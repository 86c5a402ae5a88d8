"""Facts about the machine a page process runs on, read cheaply (never by importing torch).

They live in the engine, not in the chapter's helpers, because the page process reads them:
it may import nothing of the project before the region that needs it runs (a warm process
that held an old copy of a helper would record its old output under the new key).
"""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name (for provenance lines), read without importing torch."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
