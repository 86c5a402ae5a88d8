"""What renders when a book is built with Zensical instead of MkDocs 1.x (``nox -s zensical``).

Zensical reads ``mkdocs.yml`` but runs no MkDocs plugins or hooks; Python-Markdown extensions
pass through. So the book is recorded by our engine first, then built by Zensical from a
copy of its config that adds the engine's Markdown extension
(:mod:`d2l_compiler.engine.render.extension`). The report says, page by page, whether the
executed outputs and ``{{ d2l:... }}`` tokens rendered, and whether search, the notebook page
and the stamp are there. Usage: ``python -m benchmarks.zensical [BOOK_DIR]``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from benchmarks.common import ROOT, write_report

VARIANT = "zensical.yml"


def variant_config(book: Path) -> Path:
    """``mkdocs.yml`` with MkDocs-only YAML tags dropped and the d2l extension added."""
    text = (book / "mkdocs.yml").read_text(encoding="utf-8")
    text = text.replace("[!relative $config_dir]", '["."]')
    extension = "  - d2l_compiler.engine.render.extension:\n      config_file: mkdocs.yml\n"
    text = re.sub(r"^markdown_extensions:\n", "markdown_extensions:\n" + extension, text, flags=re.M)
    target = book / VARIANT
    target.write_text(text, encoding="utf-8")
    return target


def page_report(book: Path, site: Path, record: dict) -> dict[str, dict]:
    pages = {}
    for name, entry in sorted(record["pages"].items()):
        html_file = site / Path(name).with_suffix("") / "index.html"
        if name.endswith("index.md"):
            html_file = site / Path(name).parent / "index.html"
        html = html_file.read_text(encoding="utf-8") if html_file.exists() else ""
        executed = [r for r in entry["regions"] if r.get("executed") and r.get("stdout")]
        pages[name] = {"built": bool(html),
                       "outputs_shown": sum(r["stdout"].strip().split("\n")[0][:40].replace(
                           "<", "&lt;").replace(">", "&gt;") in html for r in executed),
                       "outputs_expected": len(executed),
                       "tokens_left": html.count("d2l:"),
                       "stamp": "d2l-stamp" in html}
    return pages


def main() -> int:
    book = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    subprocess.run([sys.executable, "-m", "d2l_compiler", "build", "--no-site"], cwd=book,
                   check=True)
    config = variant_config(book)
    try:
        proc = subprocess.run(["zensical", "build", "-f", VARIANT], cwd=book, capture_output=True,
                              text=True)
    finally:
        config.unlink()
    print(proc.stdout[-2000:], proc.stderr[-2000:])
    site = book / "site"
    record = json.loads((book / ".d2l" / "record.json").read_text(encoding="utf-8"))
    report = {"book": str(book), "zensical_exit": proc.returncode,
              "search_index": (site / "search.json").exists()
              or (site / "search" / "search_index.json").exists(),
              "notebook_files": sorted(str(p.relative_to(site)) for p in site.rglob("*.ipynb")),
              # mkdocs-jupyter is a plugin: under Zensical the notebook has no HTML page
              "notebook_pages": sorted(str(p.relative_to(site)) for p in site.rglob("*.ipynb")
                                       if (site / p.relative_to(site).with_suffix("")
                                           / "index.html").exists()),
              "pages": page_report(book, site, record) if proc.returncode == 0 else {}}
    print(f"zensical exit {proc.returncode}; search index: {report['search_index']}; "
          f"notebook files: {report['notebook_files'] or 'none'}; "
          f"notebook pages: {report['notebook_pages'] or 'none'}")
    for name, row in report["pages"].items():
        print(f"  {name:<24} built {row['built']!s:<5} outputs {row['outputs_shown']}/"
              f"{row['outputs_expected']}  tokens left {row['tokens_left']}  stamp {row['stamp']}")
    print(f"report: {write_report('zensical', report)}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
