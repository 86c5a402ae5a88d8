"""MkDocs hook: fill pages from the build record. Reads the record only; never runs code.

Registered in mkdocs.yml under ``hooks:``. It refuses to render a page whose recorded
results are missing, stale (the code or a module it imports changed since they ran) or
tampered with (the page entry no longer matches its digest), so a bare ``mkdocs build``
can never publish outdated or edited output.
"""

from __future__ import annotations

import os
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

from d2l_compiler.engine.sources import key
from d2l_compiler.engine.sources.discover import read_region
from d2l_compiler.engine.errors import BuildError
from d2l_compiler.engine.record.io import load_record, tampered
from d2l_compiler.engine.render.markdown import RenderError, render_page

D2L_RENDERER = True  # the engine refuses a config whose hooks do not include this module
_HINT = "run `python -m d2l_compiler build` (or `nox -s docs`)"
_state: dict = {}


def on_config(config, **_):
    root = Path(config.config_file_path).parent
    path = Path(os.environ.get("D2L_RECORD") or root / ".d2l" / "record.json")
    try:
        record = load_record(path)
    except BuildError as exc:
        raise PluginError(f"{exc}; {_HINT}") from None
    if record is None:
        raise PluginError(f"no build record at {path}: {_HINT}")
    _state.update(root=root, path=path, record=record)
    return config


def _check_fresh(page: str, entry: dict) -> None:
    root = _state["root"]
    if tampered(entry):
        raise RenderError("its record entry does not match its digest (edited by hand?)")
    executed = []
    for region in entry["regions"]:
        current = read_region(root, region["id"])
        if current.source_sha != region["source_sha"]:
            raise RenderError(f"{region['id']} changed since it ran")
        if region.get("executed"):
            executed.append(current)
    if executed:
        device = entry["inputs"]["device"]
        if key.page_key(root, executed, device)[0] != entry["key"]:
            raise RenderError("a module or package that its code imports changed since it ran")


def on_page_markdown(markdown, page, **_):
    name = page.file.src_uri
    entry = _state["record"]["pages"].get(name)
    page_file = f"{Path(page.file.abs_src_path).relative_to(_state['root']).as_posix()}" \
        if page.file.abs_src_path else f"docs/{name}"
    try:
        if entry is not None:
            _check_fresh(name, entry)
        return render_page(markdown, entry, _state["record"], _state["root"], page_file)
    except (RenderError, BuildError, OSError) as exc:
        message = str(exc) if str(exc).startswith(page_file) else f"{page_file}: {exc}"
        raise PluginError(f"{message}; {_HINT}") from None


def on_files(files, config, **_):
    # the raw record, downloadable from the site (and a valid link target for --strict)
    files.append(File.generated(config, "d2l-record.json", abs_src_path=str(_state["path"])))
    return files
