"""``python -m d2l_compiler bench-chapter``: the chapter's measurement on the reader's machine,
side by side with the numbers a published build recorded."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class PublishedError(ValueError):
    """The published record could not be read or holds no path measurements."""


def load_published(source: str) -> tuple[Mapping[str, Any], str]:
    """The first ``compare_paths`` result in a build record (file path or URL), and its CPU."""
    try:
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=20) as response:  # noqa: S310 - user's URL
                record = json.loads(response.read().decode("utf-8"))
        else:
            record = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PublishedError(f"cannot read published record {source}: {exc}") from None
    for entry in record.get("pages", {}).values():
        for region in entry.get("regions", []):
            for value in (region.get("values") or {}).values():
                if isinstance(value, Mapping) and value.get("type") == "paths":
                    return value, entry.get("provenance", {}).get("cpu", "?")
    raise PublishedError(f"{source} holds no compare_paths measurement")


def _describe(paths: Mapping[str, Any], cpu: str) -> str:
    hardware = paths.get("gpu") if paths.get("device") == "cuda" else cpu
    return (f"{paths.get('device')} ({hardware}), torch {paths.get('torch')}, "
            f"{paths.get('threads')} threads{', quick' if paths.get('quick') else ''}")


def side_by_side(mine: Mapping[str, Any], my_cpu: str, published: Mapping[str, Any] | None,
                 their_cpu: str = "?") -> str:
    """A plain-text table: per batch and path, my median (IQR) and the published one."""
    lines = [f"yours:     {_describe(mine, my_cpu)}"]
    if published is not None:
        lines.append(f"published: {_describe(published, their_cpu)}")
    for batch, results in mine["batches"].items():
        theirs = (published or {}).get("batches", {}).get(batch, {})
        lines += ["", f"batch {batch}: microseconds per call, median (q1-q3); speed-up vs eager",
                  f"{'path':<14}{'yours':>26}{'published':>26}"]
        for name, r in results.items():
            cells = []
            for data in (r, theirs.get(name)):
                if data is None:
                    cells.append("—")
                    continue
                s = data["samples"]
                cells.append(f"{s['median'] * 1e6:.1f} ({s['q1'] * 1e6:.1f}-{s['q3'] * 1e6:.1f}) "
                             f"{data['speedup']:.2f}x")
            lines.append(f"{name:<14}{cells[0]:>26}{cells[1]:>26}")
    return "\n".join(lines)


def run(published: str | None, quick: bool, batch_sizes: list[int], paths: list[str]) -> str:
    """Measure here (after reading the published record, so a bad source fails at once)."""
    theirs, their_cpu = load_published(published) if published else (None, "?")
    if quick:
        os.environ["D2L_BENCH_QUICK"] = "1"
    import torch

    from .device import cpu_name, device
    from .measure import compare_paths
    from .models import get_net

    torch.manual_seed(0)
    mine = compare_paths(get_net().to(device()), batch_sizes=batch_sizes, paths=paths).to_record()
    return side_by_side(mine, cpu_name(), theirs, their_cpu)
