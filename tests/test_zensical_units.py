"""Zensical as a second host, in seconds (no chapter build): the variant config the engine
hands Zensical, a small book built there end to end, and what fails in one line. The chapter
built there is measured in ``test_zensical.py``."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from conftest import ROOT, FixtureSite
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


def _read(text: str) -> dict:
    import yaml

    from d2l_compiler.engine.sources.project import TolerantLoader

    return yaml.load(text, Loader=TolerantLoader)


def test_the_variant_config_resolves_tags_and_adds_the_extension(tmp_path):
    project = _project(tmp_path, "site_name: t\nsite_dir: elsewhere\nmarkdown_extensions:\n"
                       "  - pymdownx.snippets:\n      base_path: [!relative $docs_dir]\n")
    text = variant_config(project, project.state_dir / "out")
    data = _read(text)
    assert data["site_dir"] == ".d2l/out"
    assert f'base_path: ["{(tmp_path / "docs").resolve()}"]' in text
    assert list(data["markdown_extensions"][0]) == ["d2l_compiler.engine.render.extension"]
    assert data["markdown_extensions"][1] == {
        "pymdownx.snippets": {"base_path": [str((tmp_path / "docs").resolve())]}}
    bare = _project(tmp_path, "site_name: t\n")
    assert list(_read(variant_config(bare, bare.state_dir / "out"))["markdown_extensions"][0]) == [
        "d2l_compiler.engine.render.extension"]


@pytest.mark.parametrize("config", [
    "markdown_extensions:\n- toc\n- attr_list\n",  # a list at column 0
    "markdown_extensions:\n    - toc\n    - attr_list\n",  # four spaces
    "markdown_extensions:  # the extensions\n  - toc\n  - attr_list\n",
    "---\nmarkdown_extensions:\n  - toc\n  - attr_list\n",  # a document marker first
    "markdown_extensions:\n  toc: {}\n  attr_list: {}\n",  # the mapping form
    "'site_dir': public\nmarkdown_extensions:\n  - toc\n  - attr_list\n",  # quoted key
    "site_dir : public\nmarkdown_extensions:\n  - toc\n  - attr_list\n",
    "# base_path: !relative\nmarkdown_extensions:\n  - toc\n  - attr_list\n",  # a comment
    "site_name: 'uses !relative $config_dir'\nmarkdown_extensions:\n  - toc\n  - attr_list\n",
])
def test_every_form_of_a_config_gets_the_staging_site_and_the_extension_first(tmp_path, config):
    project = _project(tmp_path, config)
    data = _read(variant_config(project, project.state_dir / "out"))
    assert data["site_dir"] == ".d2l/out"
    extensions = data["markdown_extensions"]
    names = [next(iter(e)) if isinstance(e, dict) else e for e in extensions]
    assert names[0] == "d2l_compiler.engine.render.extension"
    assert [n for n in names[1:]] == ["toc", "attr_list"]
    if "site_name" in config:  # text that merely mentions a tag is left as written
        assert data["site_name"] == "uses !relative $config_dir"


def test_a_site_dir_the_book_names_is_never_where_zensical_writes(tmp_path):
    """The book says ``'site_dir': public`` (quoted) and keeps notes there: Zensical, which
    empties its site folder, must build into the engine's staging folder instead."""
    book = FixtureSite(tmp_path / "book")
    config = book.root / "mkdocs.yml"
    config.write_text("'site_dir': public\n" + config.read_text())
    notes = book.write("public/notes.txt", "mine\n")
    book.write("docs/index.md", "# T\n")
    result = book.build("--host", "zensical", "--site-dir", "built")
    assert result.code == 0, result.stderr
    assert notes.read_text() == "mine\n" and (book.root / "built" / "index.html").is_file()


def test_leftovers_of_a_killed_build_are_swept_by_the_next(tmp_path):
    book = FixtureSite(tmp_path / "book")
    book.write("docs/index.md", "# T\n")
    left = [book.write(".d2l-zensical-abc.yml", "site_name: x\n"),
            book.write(".d2l/.zensical-abc/index.html", "old")]
    result = book.build("--host", "zensical")
    assert result.code == 0, result.stderr
    assert not any(path.exists() for path in left)
    assert not (book.root / ".d2l" / ".zensical-abc").exists()


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
        build_module.site_builder("zensical", find_project(ROOT / "mkdocs.yml"))


def test_a_page_saved_with_windows_line_endings_shows_its_outputs_and_no_mark(tmp_path):
    book = FixtureSite(tmp_path / "book")
    book.write("snippets/a.py", "# --8<-- [start:r]\nprint('crlf-output')\n# --8<-- [end:r]\n")
    page = '# T\n\n<!-- d2l: own-process -->\n```python\n--8<-- "snippets/a.py:r"\n```\n'
    (book.root / "docs" / "index.md").write_bytes(page.replace("\n", "\r\n").encode())
    result = book.build("--host", "zensical")
    assert result.code == 0, result.stderr
    html = book.html()
    assert "crlf-output" in html and "d2l-stamp" in html and "d2l:" not in html


def test_two_pages_including_the_same_regions_each_show_their_own_run(tmp_path):
    book = FixtureSite(tmp_path / "book")
    book.write("snippets/a.py", "# --8<-- [start:r]\nimport random\nprint(random.random())\n"
                                "# --8<-- [end:r]\n")
    book.write("docs/index.md", '# One\n\n```python\n--8<-- "snippets/a.py:r"\n```\n')
    book.write("docs/copy.md", '# Two\n\n```python\n--8<-- "snippets/a.py:r"\n```\n')
    result = book.build("--host", "zensical")
    assert result.code == 0, result.stderr
    printed = {page: entry["regions"][0]["run"]["stdout"].strip()
               for page, entry in book.record()["pages"].items()}
    assert printed["index.md"] != printed["copy.md"]
    assert printed["index.md"] in book.html() and printed["copy.md"] not in book.html()
    assert printed["copy.md"] in book.html("copy")


def test_what_strict_refuses_is_named_by_page_and_line(tmp_path):
    book = FixtureSite(tmp_path / "book")
    book.write("docs/index.md", "# T\n\n[broken](missing.md)\n")
    result = book.build("--host", "zensical")
    assert result.code == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "docs/index.md:3:10: page does not exist"
    assert not (book.root / "site").exists()


def test_an_error_of_the_engine_inside_zensical_is_its_one_line(tmp_path):
    book = FixtureSite(tmp_path / "book")
    book.write("docs/index.md", "# T\n\n{{ d2l:no_such_token }}\n")
    result = book.build("--host", "zensical")
    assert result.code == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("docs/index.md:3: ") and "no_such_token" in last, result.stderr


@pytest.mark.parametrize("host", ["mkdocs", "zensical"])
def test_the_published_site_folder_is_readable_like_one_made_by_hand(tmp_path, host):
    book = FixtureSite(tmp_path / "book")
    book.write("docs/index.md", "# T\n")
    assert book.build("--host", host).code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert (book.root / "site").stat().st_mode & 0o777 == 0o777 & ~umask
