"""``python -m d2l_compiler new DIR``: the smallest book, ready to build and preview.

One page, one code file with two regions (the second reads what the first bound, and cites a
value in the prose), the ``mkdocs.yml`` the engine needs (``pymdownx.superfences``,
``pymdownx.snippets`` with ``check_paths``, the ``d2l`` plugin) and a ``.gitignore`` for
what the engine writes. Nothing is overwritten: the folder must be new or empty.
"""

from __future__ import annotations

import json
from pathlib import Path

from d2l_compiler.engine.errors import UsageError

FILES = {
    "mkdocs.yml": """\
site_name: {quoted}
docs_dir: docs
strict: true
markdown_extensions:
  # what the engine needs: code fences, and includes of named regions of the code files
  - pymdownx.superfences
  - pymdownx.snippets:
      base_path: [!relative $config_dir]
      check_paths: true
plugins:
  - search
  - d2l:
      executed: [snippets/]   # the regions of files under these folders run
""",
    "docs/index.md": """\
# {title}

Every code block on this page is a region of `snippets/first.py`: the build runs it and shows
what it printed.

```python
--8<-- "snippets/first.py:numbers"
```

A trailing expression shows its value, as in a notebook:

```python
--8<-- "snippets/first.py:total"
```

Prose cites what a region bound: the total is {{{{ d2l:total.total }}}}.
""",
    "snippets/first.py": """\
# --8<-- [start:numbers]
numbers = [3, 1, 4, 1, 5]
print("numbers:", numbers)
# --8<-- [end:numbers]

# --8<-- [start:total]
total = sum(numbers)
total
# --8<-- [end:total]
""",
    ".gitignore": """\
# what the engine writes: its state (record, store, logs), the site, the generated notebooks
.d2l/
site/
docs/generated/
""",
}


def new_book(folder: Path, title: str | None = None) -> list[Path]:
    """Write the smallest book into ``folder`` (created; it must be missing or empty) and
    return the files written; ``UsageError`` otherwise."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(f"{folder}: not an empty folder; `new` writes a book only where "
                         "nothing would be overwritten")
    name = title or folder.resolve().name.replace("-", " ").replace("_", " ").strip() or "My book"
    if any(c in name for c in "\n\r{}<>`"):
        raise UsageError(f"title {name!r}: use letters, digits, spaces and punctuation")
    written = []
    for relative, text in FILES.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(title=name, quoted=json.dumps(name)), encoding="utf-8")
        written.append(path)
    return written
