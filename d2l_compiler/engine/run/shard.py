"""Splitting a book's pages between CI machines: ``build --shard K/N``.

Every shard computes the same assignment from the same inputs (the pages, what each needs, and
the durations in the last record), so no coordination is needed: the longest page goes to the
least loaded shard (ties: the lower number), new pages count with the median known duration.

With ``--gpu-shards`` naming some but not all shards, a page that wants a GPU runs twice: on one
GPU shard and on one CPU shard (each balanced among its kind), so the merged record holds its
results on both devices side by side; the other pages run on one CPU shard only. When every
shard has a GPU, or none has, each page runs on exactly one shard. Each shard writes a record
of its own pages; ``merge`` puts the shards' records together (one page's cpu and cuda results
become one entry with ``other_devices``).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.record.whole import Record
from d2l_compiler.engine.sources.discover import Include
from d2l_compiler.engine.sources.project import Project
from d2l_compiler.engine.sources.resources import page_resources

DEFAULT_ESTIMATE = 60.0  # seconds for a page when no record knows any page's duration


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``; ``gpu_shards`` are those with a GPU."""

    index: int
    count: int
    gpu_shards: frozenset[int] = frozenset()

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str, gpu_shards: str | None = None) -> Shard:
    """``"2/4"`` (and ``"4"`` or ``"3,4"`` for the GPU shards) as a :class:`Shard`;
    ``UsageError`` in one line otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise UsageError(f"--shard {text!r}: expected K/N with 1 <= K <= N (e.g. 2/4)")
    count = int(match[2])
    gpus: set[int] = set()
    for part in filter(None, (gpu_shards or "").replace(" ", "").split(",")):
        if not part.isdigit() or not 1 <= int(part) <= count:
            # the GPU shards are among the N: every job (CPU or GPU) must pass the same N
            raise UsageError(f"--gpu-shards {gpu_shards!r}: expected shard numbers between 1 "
                             f"and {count} (N of --shard {text.strip()}, which counts the GPU "
                             "shards too), separated by commas")
        gpus.add(int(part))
    return Shard(int(match[1]), count, frozenset(gpus))


def page_estimates(previous: Record | None) -> Callable[[str], float]:
    """Each page's expected duration: the last record's, else the median of the known ones."""
    known = {page: entry.duration for page, entry in (previous.pages if previous else {}).items()}
    default = statistics.median(known.values()) if known else DEFAULT_ESTIMATE
    return lambda page: known.get(page, default)


def assign(pages: Mapping[str, tuple[float, bool]], shard_count: int,
           gpu_shards: frozenset[int] = frozenset()) -> dict[int, list[str]]:
    """Shard number (1-based) -> its pages, from each page's (estimate, wants a GPU).

    A page that wants a GPU goes to one GPU shard and one CPU shard when there are both kinds;
    every other page (and every page when all shards or none have a GPU) to exactly one shard.
    The result depends only on the arguments' contents, not on their order."""
    everyone = list(range(1, shard_count + 1))
    with_gpu = [s for s in everyone if s in gpu_shards]
    without = [s for s in everyone if s not in gpu_shards]
    load = {s: 0.0 for s in everyone}
    shares: dict[int, list[str]] = {s: [] for s in everyone}
    for page in sorted(pages, key=lambda p: (-pages[p][0], p)):
        estimate, gpu = pages[page]
        if not (with_gpu and without):
            groups = [everyone]  # one kind of shard only: each page once, anywhere
        else:  # a GPU page runs on both kinds, so its CPU results stand beside its GPU ones
            groups = [with_gpu, without] if gpu else [without]
        for group in groups:
            target = min(group, key=lambda s: (load[s], s))
            load[target] += estimate
            shares[target].append(page)
    return shares


def shard_pages(project: Project, pages: Mapping[str, list[Include]], previous: Record | None,
                shard: Shard) -> list[str]:
    """The pages (with executed code) shard ``shard`` runs, in page order."""
    estimate = page_estimates(previous)
    executed = {page: (estimate(page), page_resources(project.root, includes).gpus > 0)
                for page, includes in pages.items()
                if any(inc.region.executed for inc in includes)}
    mine = set(assign(executed, shard.count, shard.gpu_shards)[shard.index])
    return [page for page in pages if page in mine]


def shard_record_path(project: Project, shard: Shard) -> Path:
    """Where shard K of N writes its record: ``<state_dir>/shards/K-of-N.json``."""
    return project.state_dir / "shards" / f"{shard.index}-of-{shard.count}.json"
