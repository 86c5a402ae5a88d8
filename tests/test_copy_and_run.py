"""The code a reader copies from the site runs as shown: pytest-codeblocks over the chapter
expanded exactly as the site expands it (pymdownx.snippets), and over README.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import markdown
import pytest

ROOT = Path(__file__).resolve().parents[1]


def expand(page: Path) -> str:
    """The page with every ``--8<--`` include replaced by the code the site shows."""
    md = markdown.Markdown(extensions=["pymdownx.snippets"], extension_configs={
        "pymdownx.snippets": {"base_path": [str(ROOT)], "check_paths": True}})
    lines = page.read_text(encoding="utf-8").split("\n")
    return "\n".join(md.preprocessors["snippet"].run(lines))


def test_expansion_matches_the_regions():
    text = expand(ROOT / "docs" / "compilers.md")
    assert "--8<--" not in text
    assert "def fancy_func(a, b, c, d):" in text and "paths = compare_paths(" in text


@pytest.mark.parametrize("page", ["compilers.md", "index.md"])
def test_every_python_block_on_the_page_runs(page, tmp_path):
    expanded = tmp_path / page
    expanded.write_text(expand(ROOT / "docs" / page), encoding="utf-8")
    blocks = expanded.read_text(encoding="utf-8").count("```python\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--codeblocks", str(expanded)], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "D2L_DEVICE": "cpu"}, timeout=1200)
    assert proc.returncode in (0, 5), proc.stdout[-3000:]  # 5: the page has no python block
    if blocks:
        assert f"{blocks} passed" in proc.stdout, proc.stdout[-3000:]
