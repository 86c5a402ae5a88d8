"""This chapter's extension of the engine: everything that knows the ``compare_paths`` record.

Registered through the ``d2l_compiler.extensions`` entry point (see ``pyproject.toml``):
the tokens ``paths_table`` / ``paths_files`` / ``paths_summary`` (VALUE BATCH),
``paths_chart`` / ``paths_provenance`` (VALUE); the chart is inline SVG drawn from the record.
Adding a token to the chapter touches this package only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from d2l_compiler.chapter import tables
from d2l_compiler.chapter.charts import paths_chart
from d2l_compiler.engine.render.tokens import Extensions, RenderError, TokenCall


def _paths(call: TokenCall, words: int, usage: str) -> Mapping[str, Any]:
    call.expect(words, usage)
    paths = call.page.lookup(call.words[1])
    if not isinstance(paths, Mapping) or paths.get("type") != "paths":
        raise RenderError(f"{call.words[1]!r} is not a compare_paths result")
    return paths


def _by_batch(render):
    def token(call: TokenCall) -> str:
        paths = _paths(call, 3, f"{call.words[0]} VALUE BATCH")
        try:
            return render(paths, call.words[2])
        except ValueError as exc:
            raise RenderError(str(exc)) from None
    return token


def _provenance(call: TokenCall) -> str:
    paths = _paths(call, 2, "paths_provenance VALUE")
    entry, record = call.page.entry, call.page.record
    return tables.paths_provenance(paths, entry.provenance if entry else {},
                                   entry.executed_at if entry else "?",
                                   record.provenance.git_commit if record else "unknown")


def _chart(call: TokenCall) -> str:
    paths = _paths(call, 2, "paths_chart VALUE")
    return f'<figure class="d2l-chart">{paths_chart(paths)}</figure>'


def _file_growth(call: TokenCall) -> str:
    return tables.paths_file_growth(_paths(call, 2, "paths_file_growth VALUE"))


def register(ext: Extensions) -> None:
    """Register the chapter's tokens."""
    ext.token("paths_table")(_by_batch(tables.paths_table))
    ext.token("paths_files")(_by_batch(tables.paths_files))
    ext.token("paths_summary")(_by_batch(tables.paths_summary))
    ext.token("paths_provenance")(_provenance)
    ext.token("paths_chart")(_chart)
    ext.token("paths_file_growth")(_file_growth)
