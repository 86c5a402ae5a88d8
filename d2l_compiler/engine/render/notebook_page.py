"""The site page of a generated notebook: the notebook's own cells as Markdown, so the page
is built like every other one (same theme, anchors, search rules and weight), and says where
to download the ``.ipynb``.

Outputs are fenced text blocks (nothing in them becomes markup); the page is left out of the
search index (front matter ``search: exclude``), since it repeats the page it was made from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from d2l_compiler.engine.record.model import Display
from d2l_compiler.engine.render.markdown import LABELS, Labels, display_html, fence_for, text_block

NOTEBOOK_META = "d2l_notebook"  # front matter: the notebook's path from the site root


def _title(cells: list[Mapping[str, Any]]) -> str | None:
    first = "".join(cells[0]["source"]) if cells and cells[0]["cell_type"] == "markdown" else ""
    line = first.partition("\n")[0]
    return line.removeprefix("# ").strip() if line.startswith("# ") else None


def notebook_markdown(notebook: Mapping[str, Any], page: str, notebook_path: str,
                      labels: Labels = LABELS["en"]) -> str:
    """Markdown for the notebook of ``page`` (a docs-relative path such as ``a/b.md``), whose
    ``.ipynb`` is at ``notebook_path`` (docs-relative) next to the Markdown written from this."""
    cells = list(notebook["cells"])
    name = notebook_path.rpartition("/")[2]
    depth = notebook_path.count("/")
    title = _title(cells) or page
    note = labels.notebook_note.format(title=title, page="../" * depth + page, name=name)
    lines = ["---", "search:", "  exclude: true", f"{NOTEBOOK_META}: {notebook_path}", "---", ""]
    for number, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            if number == 0 and _title(cells) is not None:
                heading, _, rest = source.partition("\n")
                lines += [heading, "", note, "", rest.strip("\n"), ""]
            else:
                lines += [source, ""]
            continue
        if number == 0:
            lines += [note, ""]
        fence = fence_for(source)
        lines += [f"{fence}python", source, fence]
        for output in cell.get("outputs", []):
            if output.get("output_type") == "display_data":  # as the page shows it
                mime = next((m for m in output["data"] if m.startswith("image/")), "text/html")
                data = output["data"].get(mime, "")
                lines += ["", display_html(Display(mime, "".join(data) if isinstance(data, list)
                                                   else data, "".join(output["data"]["text/plain"])))]
                continue
            title_of = labels.notebook_stdout if output.get("name") == "stdout" else labels.notebook_stderr
            lines += ["", *text_block("".join(output.get("text", [])), title_of)]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
