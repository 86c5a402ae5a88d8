"""The live preview's status file: which pages failed in its last build, and why.

The serve loop (:mod:`d2l_compiler.engine.serve`) writes it; the MkDocs plugin reads it while
serving and shows each failure at the top of its page.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from d2l_compiler.engine.sources.project import Project

STATUS_FILE = "serve-status.json"
# set by the serve loop for the ``mkdocs serve`` it starts: its process id (the plugin then
# says an edited region "is running again"; under a plain ``mkdocs serve`` nothing reruns it)
SERVE_LOOP_ENV = "D2L_SERVE_LOOP"


def serve_loop_running() -> bool:
    """Whether this process was started by a serve loop that is still running."""
    try:
        os.kill(int(os.environ.get(SERVE_LOOP_ENV, "")), 0)
    except (ValueError, OSError):
        return False
    return True


def status_path(project: Project) -> Path:
    """Where the serve loop says which pages failed (read by the plugin while serving)."""
    return project.state_dir / STATUS_FILE


def read_status(project: Project) -> dict[str, str]:
    """Page -> the failure of its last build in the serve loop ({} if none, or unreadable)."""
    try:
        data = json.loads(status_path(project).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def write_status(project: Project, failures: dict[str, str]) -> None:
    """Say ``failures`` (page -> failure; ``"*"``: the whole build), atomically; an unchanged
    status is not written again (MkDocs would rebuild for nothing)."""
    if read_status(project) == failures and status_path(project).exists():
        return  # unchanged: do not make MkDocs rebuild for nothing
    project.state_dir.mkdir(parents=True, exist_ok=True)
    staging = status_path(project).with_suffix(".tmp")
    staging.write_text(json.dumps(failures, ensure_ascii=False), encoding="utf-8")
    os.replace(staging, status_path(project))
