"""SVG charts of ``compare_paths`` results, drawn by the engine from the record (never by the plugin).

A chart's file name is a hash of its data (:func:`tables.chart_name`), so a warm build finds
it already drawn and never imports matplotlib.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from d2l_compiler.engine.record.model import Record
from d2l_compiler.paths import PATHS
from d2l_compiler.chapter.tables import CHART_DIR, chart_name

# ASCII labels: the SVG must not depend on which CJK fonts the build machine has
_SHORT = {"eager": "eager", "script": "jit.script", "frozen": "script+freeze",
          "trace": "jit.trace", "compile": "torch.compile", "compile_max": "compile max-autotune",
          "export_aoti": "export+AOTInductor"}


def _paths_values(record: Record) -> Iterator[Mapping[str, Any]]:
    for entry in record.pages.values():
        for region in entry.executed:
            for value in region.run.values.values():
                if isinstance(value, Mapping) and value.get("type") == "paths":
                    yield value


def draw(paths: Mapping[str, Any], target: Path) -> None:
    """Per batch size, one horizontal bar per path: median per-call time, IQR error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # recorded strings are drawn as text, never parsed as mathtext
    plt.rcParams.update({"svg.hashsalt": "d2l", "svg.fonttype": "path", "font.size": 9,
                         "text.parse_math": False})
    batches = list(paths["batches"].items())
    fig, axes = plt.subplots(1, len(batches), figsize=(4.2 * len(batches), 3.2), squeeze=False)
    for ax, (batch, results) in zip(axes[0], batches, strict=True):
        rank = {name: i for i, name in enumerate(PATHS)}
        names = sorted(results, key=lambda n: rank.get(n, len(rank)))[::-1]
        med = [results[n]["samples"]["median"] * 1e6 for n in names]
        low = [m - results[n]["samples"]["q1"] * 1e6 for m, n in zip(med, names, strict=True)]
        high = [results[n]["samples"]["q3"] * 1e6 - m for m, n in zip(med, names, strict=True)]
        colors = ["#7f7f7f" if n == "eager" else "#3f51b5" for n in names]
        ax.barh([_SHORT.get(n, n) for n in names], med, xerr=[low, high], color=colors,
                error_kw={"capsize": 3, "elinewidth": 1})
        ax.set_title(f"batch {batch} ({paths.get('device')}, {paths.get('threads')} threads)")
        ax.set_xlabel("microseconds per call (median, IQR)")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    fig.savefig(tmp, format="svg", metadata={"Date": None})
    plt.close(fig)
    tmp.replace(target)


def write_charts(docs_dir: Path, record: Record) -> list[Path]:
    """Draw every chart the record needs that is not drawn yet; delete charts it no longer needs."""
    folder = docs_dir / CHART_DIR
    wanted = {}
    for paths in _paths_values(record):
        wanted[chart_name(paths)] = paths
    for name, paths in wanted.items():
        if not (folder / name).exists():
            draw(paths, folder / name)
    for stale in folder.glob("paths-*.svg") if folder.is_dir() else ():
        if stale.name not in wanted:
            stale.unlink()
    return [folder / name for name in wanted]
