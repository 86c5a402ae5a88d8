"""The environment a page process runs in: part of what its results depend on, so the
freshness check compares a record against it, and every way of starting a page uses it."""

from __future__ import annotations

import os
from pathlib import Path


def page_env(root: Path, device: str, gpus: str | None = None) -> dict[str, str]:
    """The environment of a page process; ``gpus`` (e.g. ``"0,1"``) are the GPUs the
    scheduler gave it (``CUDA_VISIBLE_DEVICES``; None: whatever this process sees)."""
    env = {**os.environ, "D2L_DEVICE": device, "PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1",
           "MPLBACKEND": "Agg",  # figures are drawn off screen and shown on the page
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpus
    return env
