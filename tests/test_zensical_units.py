"""Zensical as a second host, in seconds (no chapter build): the variant config the engine
hands Zensical, a small book built there end to end, and what fails in one line. The chapter
built there is measured in ``test_zensical.py``."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from conftest import FixtureSite
from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.publish.zensical_host import variant_config
from d2l_compiler.engine.render.markdown import render_page
from d2l_compiler.engine.sources.project import find_project

if importlib.util.find_spec("zensical") is None:
    if os.environ.get("CI"):
        raise RuntimeError("Zensical is not installed: CI must check the Zensical build "
                           "(it is in the docs extra)")
    pytest.skip("Zensical is not installed (pip install zensical)", allow_module_level=True)


def test_a_mark_is_dropped_above_a_fence_and_kept_as_code_inside_one():
    page = ("# T\n\n<!-- d2l: own-process -->\n```python\n--8<-- \"s.py:r\"\n```\n\n"
            "````markdown\n<!-- d2l: own-process -->\n```python\n````\n")
    rendered = render_page(page, None, page_file="docs/t.md", outputs=False)
    assert rendered.count("<!-- d2l: own-process -->") == 1  # the one shown as code
    assert rendered.index("<!-- d2l") > rendered.index("````markdown")


def test_a_record_that_changes_under_the_same_page_is_rendered_again(tmp_path):
    """Zensical caches pages; the variant config names the record's digest, so new outputs
    of an unchanged page and snippet are shown, never the cached old ones."""
    book = FixtureSite(tmp_path / "book")
    data = book.write("data.txt", "first-value\n")
    book.write("snippets/a.py", f"""\
        # --8<-- [start:r]
        print(open({str(data)!r}).read())
        # --8<-- [end:r]
        """)
    book.write("docs/index.md", '# T\n\n```python\n--8<-- "snippets/a.py:r"\n```\n')
    first = book.build("--host", "zensical")
    assert first.code == 0, first.stderr
    assert "first-value" in book.html()
    data.write_text("second-value\n", encoding="utf-8")
    again = book.build("--host", "zensical")
    assert again.code == 0, again.stderr
    assert "second-value" in book.html() and "first-value" not in book.html()
    assert (book.root / "site" / "d2l-record.json").is_file()


def test_a_config_zensical_cannot_read_fails_in_one_line_leaving_nothing(tmp_path):
    book = FixtureSite(tmp_path / "book")
    book.write("docs/index.md", "# T\n")
    config = book.root / "mkdocs.yml"
    config.write_text(config.read_text().replace("[!relative $config_dir]", "!relative"))
    result = book.build("--host", "zensical")
    assert result.code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "!relative" in result.stderr and "Traceback" not in result.stderr
    assert not (book.root / "site").exists()
    assert list(book.root.glob(".d2l-zensical-*")) == []


def _project(tmp_path: Path, config: str):
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")
    return find_project(str(tmp_path / "mkdocs.yml"))


def test_the_variant_config_resolves_tags_and_adds_the_extension(tmp_path):
    project = _project(tmp_path, "site_name: t\nsite_dir: elsewhere\nmarkdown_extensions:\n"
                       "  - pymdownx.snippets:\n      base_path: [!relative $docs_dir]\n")
    text = variant_config(project, project.state_dir / "out")
    assert text.startswith('site_dir: ".d2l/out"\n') and "elsewhere" not in text
    assert f'base_path: ["{(tmp_path / "docs").resolve()}"]' in text
    extensions = text.split("markdown_extensions:\n", 1)[1]
    assert extensions.startswith("  - d2l_compiler.engine.render.extension:")
    bare = _project(tmp_path, "site_name: t\n")
    assert "markdown_extensions:\n  - d2l_compiler.engine.render.extension" in variant_config(
        bare, bare.state_dir / "out")


def test_the_variant_config_follows_the_record(tmp_path):
    project = _project(tmp_path, "site_name: t\n")
    project.state_dir.mkdir()
    project.record_path.write_text("{}", encoding="utf-8")
    before = variant_config(project, project.state_dir / "out")
    project.record_path.write_text('{"pages": {}}', encoding="utf-8")
    assert variant_config(project, project.state_dir / "out") != before


@pytest.mark.parametrize("config", [
    "site_name: t\nmarkdown_extensions: [toc]\n",
    "site_name: t\nmarkdown_extensions:\n  - pymdownx.snippets:\n      base_path: [!relative]\n",
])
def test_a_config_the_variant_cannot_express_is_a_usage_error(tmp_path, config):
    project = _project(tmp_path, config)
    with pytest.raises(UsageError):
        variant_config(project, project.state_dir / "out")


def test_without_zensical_the_host_is_a_usage_error(monkeypatch):
    from d2l_compiler.engine import build as build_module

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "zensical" else real(name, *a))
    with pytest.raises(UsageError, match="pip install zensical"):
        build_module.site_builder("zensical")
