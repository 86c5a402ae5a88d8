"""A book configured so that its code would not run, or its includes would show as text, fails
its build with one line that names the fix, instead of publishing a page of ``--8<--`` lines or
running nothing and saying nothing (issue 24, item 1). Real CLI and MkDocs builds."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _page(site, folder: str = "snippets") -> None:
    site.write(f"{folder}/a.py", "# --8<-- [start:r]\nprint('ran-' + 'here')\n# --8<-- [end:r]\n")
    site.write("docs/index.md", f'# p\n\n```python\n--8<-- "{folder}/a.py:r"\n```\n')


def _options(site, text: str) -> None:
    config = site.root / "mkdocs.yml"
    config.write_text(config.read_text().replace("      labels: zh\n", f"      labels: zh\n{text}"))


def _one_line_failure(result) -> str:
    assert result.code != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("missing", ["pymdownx.snippets", "pymdownx.superfences"])
def test_a_missing_markdown_extension_fails_the_build_and_bare_mkdocs(site, missing):
    _page(site)
    assert site.build().code == 0  # a record: bare MkDocs then gets as far as the page
    (site.root / "site").rename(site.root / "published")
    config = site.root / "mkdocs.yml"
    text = config.read_text()
    config.write_text("\n".join(line for line in text.split("\n")
                                if missing not in line and "base_path" not in line
                                and "check_paths" not in line))
    message = _one_line_failure(site.build())
    assert missing in message and "markdown_extensions" in message
    assert not (site.root / "site").exists()
    bare = subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q"], cwd=site.root,
                          capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert bare.returncode != 0 and missing in bare.stderr


@pytest.mark.parametrize(("executed", "said"), [
    ("[cod/]", "'cod/', which is not a folder"),
    ("[../outside]", "not a folder inside the project"),
    ("[/abs]", "not a folder inside the project"),
    ("[docs/]", "no page includes a region from it"),
])
def test_an_executed_entry_that_runs_nothing_is_an_error(site, executed, said):
    _page(site)
    _options(site, f"      executed: {executed}\n")
    message = _one_line_failure(site.build())
    assert said in message and "mkdocs.yml" in message


def test_code_outside_the_default_folder_names_the_setting_to_write(site):
    _page(site, "code")
    message = _one_line_failure(site.build())
    assert "pages include code from code/" in message and "'executed: [code/]'" in message


@pytest.mark.parametrize("executed", ["[./code]", "[code]", "[code/]", "['code//']"])
def test_the_forms_of_one_folder_all_run_its_code(site, executed):
    _page(site, "code")
    _options(site, f"      executed: {executed}\n")
    result = site.build()
    assert result.code == 0, result.stderr
    assert "ran-here" in site.html()


def test_an_empty_executed_list_shows_the_code_and_runs_nothing(site):
    _page(site)
    _options(site, "      executed: []\n")
    result = site.build()
    assert result.code == 0, result.stderr
    assert "ran-" in site.html() and "ran-here" not in site.html()  # the code, not its output


def test_an_installed_extension_renders_only_in_a_book_that_names_it(site):
    """The chapter's extension is installed with the engine, but a book that does not name it
    in ``extensions:`` gets none of its tokens (nor its code run at build time)."""
    site.write("snippets/a.py", "# --8<-- [start:r]\nclass Samples:\n"
                                "    def __init__(self, median):\n        self.median = median\n"
                                "    def to_record(self):\n        m = self.median\n"
                                "        return {'description': 'x', 'median': m, 'q1': m * 0.9, "
                                "'q3': m * 1.1}\n"
                                "fast, slow = Samples(1.0), Samples(2.0)\n# --8<-- [end:r]\n")
    site.write("docs/index.md", '# p\n\n```python\n--8<-- "snippets/a.py:r"\n```\n\n'
                                "{{ d2l:compare r.fast r.slow }}\n")
    assert site.build().code == 0  # the fixture book names it
    assert "更快" in site.html() or "faster" in site.html()
    config = site.root / "mkdocs.yml"
    config.write_text(config.read_text().replace("      extensions: [chapter]\n", ""))
    failed = site.build()
    assert failed.code != 0 and "docs/index.md:" in failed.stderr and "compare" in failed.stderr
    from d2l_compiler.engine.render.installed import extensions_for

    assert "compare" not in extensions_for(()).tokens
    assert "compare" in extensions_for(("chapter",)).tokens


@pytest.mark.parametrize(("folder", "warned"), [("code", True), ("json", True), ("lessons", False)])
def test_a_code_folder_named_like_a_standard_module_is_warned_about(site, folder, warned):
    """``code/`` shadows the standard library's ``code`` module for every region: the build
    says so (and still builds)."""
    _page(site, folder)
    _options(site, f"      executed: [{folder}/]\n")
    result = site.build()
    assert result.code == 0, result.stderr
    said = result.stdout + result.stderr
    assert (f"warning: {folder}/ is named like Python's standard module '{folder}'" in said) == warned


@pytest.mark.parametrize(("include", "prose", "said"), [
    ("snippets/a.py:reslut", "", "no complete region 'reslut'"),
    ("snippets/a.py:result", "{{ d2l:reslut.answer }}", "no region 'reslut' on this page"),
    ("snippets/a.py:result", "{{ d2l:result.answr }}", "recorded no value 'answr'"),
])
def test_a_misspelt_region_or_value_name_gets_a_suggestion(site, include, prose, said):
    site.write("snippets/a.py", "# --8<-- [start:result]\nanswer = 42\n# --8<-- [end:result]\n"
                                "# --8<-- [start:other]\nx = 1\n# --8<-- [end:other]\n")
    site.write("docs/index.md", f'# p\n\n```python\n--8<-- "{include}"\n```\n\n{prose}\n')
    line = _one_line_failure(site.build())
    assert said in line and "docs/index.md:" in line
    assert ("did you mean 'result'?" in line) or ("did you mean 'answer'?" in line)
