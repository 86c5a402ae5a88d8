"""``python -m d2l_compiler bench-chapter``: the chapter's measurement on the reader's machine,
side by side with the numbers a published build recorded."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


class PublishedError(ValueError):
    """The published record could not be read or holds no path measurements."""


@dataclass(frozen=True)
class Published:
    """One ``compare_paths`` result from a published record, and what it was measured on."""

    paths: Mapping[str, Any]
    device: str  # "cpu", "cuda" or "?"
    cpu: str
    gpu: str
    note: str | None = None  # set when it is from another device than the reader's


def _candidates(record: Mapping[str, Any]) -> Iterator[Published]:
    """Every paths result in the record: the build's own device's, then the other devices'
    (a merged record keeps those under ``other_devices``: {page: [entries]})."""
    entries = list(record.get("pages", {}).values())
    for others in (record.get("other_devices") or {}).values():
        entries += others
    for entry in entries:
        provenance = entry.get("provenance") or {}
        recorded_on = (entry.get("inputs") or {}).get("device") or provenance.get("device")
        for region in entry.get("regions", []):
            run = region.get("run") or region  # format 4 nests a region's run; 3 did not
            for value in (run.get("values") or {}).values():
                if isinstance(value, Mapping) and value.get("type") == "paths":
                    yield Published(value, str(value.get("device") or recorded_on or "?"),
                                    str(provenance.get("cpu", "?")),
                                    str(value.get("gpu") or provenance.get("gpu") or "?"))


def load_published(source: str, device: str) -> Published:
    """The record's (file path or URL) ``compare_paths`` result measured on ``device``; if it
    has none, another device's, with a note that the two are not comparable."""
    try:
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=20) as response:  # noqa: S310 - user's URL
                record = json.loads(response.read().decode("utf-8"))
        else:
            record = json.loads(Path(source).read_text(encoding="utf-8"))
        found = list(_candidates(record))
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise PublishedError(f"cannot read published record {source}: {exc}") from None
    if not found:
        raise PublishedError(f"{source} holds no compare_paths measurement")
    same = [p for p in found if p.device == device]
    if same:
        return same[0]
    theirs = found[0]
    hardware = theirs.gpu if theirs.device == "cuda" else theirs.cpu
    return replace(theirs, note=f"published numbers are from {theirs.device} ({hardware}); "
                                f"yours from {device}: not comparable")


def _describe(paths: Mapping[str, Any], cpu: str) -> str:
    hardware = paths.get("gpu") if paths.get("device") == "cuda" else cpu
    return (f"{paths.get('device')} ({hardware}), torch {paths.get('torch')}, "
            f"{paths.get('threads')} threads{', quick' if paths.get('quick') else ''}")


def side_by_side(mine: Mapping[str, Any], my_cpu: str, published: Mapping[str, Any] | None,
                 their_cpu: str = "?", note: str | None = None) -> str:
    """A plain-text table: per batch and path, my median (IQR) and the published one
    (``note``: a line on why the two are not comparable, printed under their headers)."""
    lines = [f"yours:     {_describe(mine, my_cpu)}"]
    if published is not None:
        lines.append(f"published: {_describe(published, their_cpu)}")
    if note:
        lines.append(f"note: {note}")
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
    """Measure here (after reading the published record, so a bad source fails at once),
    beside the published result measured on the same kind of device as this machine's."""
    from .device import cpu_name, device_kind

    kind = device_kind()
    theirs = load_published(published, kind) if published else None
    import torch

    from .measure import compare_paths
    from .models import get_net

    torch.manual_seed(0)
    mine = compare_paths(get_net().to(torch.device(kind)), batch_sizes=batch_sizes,
                         paths=paths, quick=quick or None).to_record()
    if theirs is None:
        return side_by_side(mine, cpu_name(), None)
    return side_by_side(mine, cpu_name(), theirs.paths, theirs.cpu, theirs.note)
