"""This chapter's extension of the engine: everything that knows the ``compare_paths`` record.

Registered through the ``d2l_compiler.extensions`` entry point (see ``pyproject.toml``):
the tokens ``paths_table`` / ``paths_files`` / ``paths_summary`` / ``paths_file_kinds`` /
``paths_compile_times`` (VALUE BATCH), ``paths_chart`` / ``paths_provenance`` /
``paths_file_growth`` / ``paths_batch_scaling`` / ``paths_process_spread`` /
``paths_device`` / ``paths_outputs_from`` / ``paths_warm_up`` (VALUE); the chart is inline
SVG drawn from the record. ``repeated_figures`` (no words) finds and checks every quantity
the page measured more than once (:mod:`.repeated`).
When the record holds the page's results from several devices (a CPU build merged with a GPU
build), the tables get a column group, the chart a series, and the sentences one per device:
a statement about speed holds for the device that measured it, so each names its device.
The sentences that compare timings (``compare``, ``claim``, ``agreement``) are in
:mod:`.claim_tokens`. Adding a token to the chapter touches this package only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from d2l_compiler.chapter import claim_tokens, tables
from d2l_compiler.chapter.repeated import repeated_token
from d2l_compiler.chapter.charts import paths_chart_devices
from d2l_compiler.engine.render.tokens import Extensions, RenderError, TokenCall


def _paths(call: TokenCall, words: int, usage: str) -> Mapping[str, Any]:
    call.expect(words, usage)
    paths = call.page.lookup(call.words[1])
    if not isinstance(paths, Mapping) or paths.get("type") != "paths":
        raise RenderError(f"{call.words[1]!r} is not a compare_paths result")
    return paths


def _per_device(call: TokenCall, words: int, usage: str) -> list[tuple[Any, Mapping[str, Any]]]:
    """(entry, paths) from this page's results and every other device's (a merged record)."""
    _paths(call, words, usage)  # the main results: checked as always
    return [(entry, paths) for entry, paths in call.page.lookup_devices(call.words[1])
            if isinstance(paths, Mapping) and paths.get("type") == "paths"]


def _labelled(call: TokenCall, words: int, usage: str) -> list[tuple[str, Mapping[str, Any]]]:
    return [(tables.device_label(paths, entry.provenance.cpu if entry else ""), paths)
            for entry, paths in _per_device(call, words, usage)]


def _every_device_by_batch(render: Callable[[list[tuple[str, Mapping[str, Any]]], str], str]
                           ) -> Callable[[TokenCall], str]:
    """A ``NAME VALUE BATCH`` token rendering every device's results at one batch size."""
    def token(call: TokenCall) -> str:
        measured = _labelled(call, 3, f"{call.words[0]} VALUE BATCH")
        try:
            return render(measured, call.words[2])
        except ValueError as exc:
            raise RenderError(str(exc)) from None
    return token


def _every_device(render: Callable[[list[tuple[str, Mapping[str, Any]]]], str]
                  ) -> Callable[[TokenCall], str]:
    """A ``NAME VALUE`` token rendering every device's results."""
    def token(call: TokenCall) -> str:
        measured = _labelled(call, 2, f"{call.words[0]} VALUE")
        try:
            return render(measured)
        except ValueError as exc:
            raise RenderError(str(exc)) from None
    return token


def _device(call: TokenCall) -> str:
    # the device of the page's own results: the one every plain value token reads
    measured = _labelled(call, 2, "paths_device VALUE")
    return measured[0][0]


def _outputs_from(call: TokenCall) -> str:
    # the page's outputs are the main results' device's; other devices only in the tables,
    # the chart and the sentences that name them
    labels = [label for label, _ in _labelled(call, 2, "paths_outputs_from VALUE")]
    return tables.outputs_from(labels[0], labels[1:])


def _summary(call: TokenCall) -> str:
    measured = _labelled(call, 3, "paths_summary VALUE BATCH")
    try:
        if len(measured) == 1:
            return tables.paths_summary(measured[0][1], call.words[2])
        return tables.tidy("".join(f"在 {label} 上，{tables.paths_summary(paths, call.words[2])}"
                                   for label, paths in measured))
    except ValueError as exc:
        raise RenderError(str(exc)) from None


def _warnings(call: TokenCall, entry: Any) -> tuple[str, ...]:
    """The warnings the region holding ``call``'s value raised in ``entry``'s run (the
    page's own results, or another device's)."""
    regions = call.page.regions
    for other, found in call.page.others:
        if other is entry:
            regions = found
    run = regions.get(call.words[1].partition(".")[0])
    return tuple(w.message for w in getattr(run, "warnings", ()))


def _warm_up(call: TokenCall) -> str:
    return tables.paths_warm_up([
        (tables.device_label(paths, entry.provenance.cpu if entry else ""), paths,
         tables.warm_up_failed(_warnings(call, entry)))
        for entry, paths in _per_device(call, 2, "paths_warm_up VALUE")])


def _provenance(call: TokenCall) -> str:
    record = call.page.record
    build_commit = record.provenance.git_commit if record else "unknown"
    # the commit the numbers were measured at (a result kept from an earlier build keeps its
    # own; results recorded before commits were kept per run fall back to the build's)
    lines = []
    for entry, paths in _per_device(call, 2, "paths_provenance VALUE"):
        commit = entry.provenance.git_commit if entry else build_commit
        # set where the page's regions ran at several commits
        first = (entry.provenance.first_git_commit or "") if entry else ""
        lines.append(tables.paths_provenance(paths, entry.provenance.cpu if entry else "",
                                             entry.executed_at if entry else "?", commit,
                                             first_commit=first, warnings=_warnings(call, entry)))
    return "<br>".join(lines)


def _chart(call: TokenCall) -> str:
    # the device's kind only: the chart is narrow, and the table names the hardware
    measured = [(tables.device_name(paths), paths)
                for _, paths in _per_device(call, 2, "paths_chart VALUE")]
    return f'<figure class="d2l-chart">{paths_chart_devices(measured)}</figure>'


def register(ext: Extensions) -> None:
    """Register the chapter's tokens."""
    claim_tokens.register(ext)
    # what decides float32 matrix products (TF32 on a GPU or not): every timing depends on it
    ext.probe("float32 矩阵乘法精度", "d2l_compiler.chapter.probes:matmul_precision", when="torch")
    ext.token("repeated_figures")(repeated_token)
    ext.token("paths_table")(_every_device_by_batch(tables.paths_table_devices))
    ext.token("paths_files")(_every_device_by_batch(tables.paths_files_devices))
    ext.token("paths_file_kinds")(_every_device_by_batch(tables.paths_file_kinds))
    ext.token("paths_compile_times")(_every_device_by_batch(tables.paths_compile_times))
    ext.token("paths_summary")(_summary)
    ext.token("paths_provenance")(_provenance)
    ext.token("paths_chart")(_chart)
    ext.token("paths_file_growth")(_every_device(tables.paths_file_growth_devices))
    ext.token("paths_batch_scaling")(_every_device(tables.paths_batch_scaling))
    ext.token("paths_process_spread")(_every_device(tables.paths_process_spread))
    ext.token("paths_device")(_device)
    ext.token("paths_outputs_from")(_outputs_from)
    ext.token("paths_warm_up")(_warm_up)
