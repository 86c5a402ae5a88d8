"""A book's notebooks, end to end on a fixture book (real builds, real mkdocs-jupyter): the
first cell installs what the page imports from sources a reader can reach, or the build
stops in one line; the download and Colab links appear only where they lead somewhere."""

from __future__ import annotations

import json
from pathlib import Path
import re
import textwrap

import pytest

MKDOCS = """\
site_name: fixture
{urls}
nav:
  - Page: page.md
  - Notebook: generated/page.ipynb
markdown_extensions:
  - admonition
  - pymdownx.superfences
  - pymdownx.snippets:
      base_path: [!relative $config_dir]
      check_paths: true
plugins:
  - d2l:
      labels: en
      notebook_setup: true
      notebook_packages: [pyyaml]
      colab_branch: notebooks
  - mkdocs-jupyter:
      include: ["generated/*.ipynb"]
      ignore: ["*.md", "*.py"]
      execute: false
      include_source: true
      ignore_h1_titles: true
"""

PAGE = """\
# Page

!!! note "Why"
    Because.

```python
--8<-- "snippets/a.py:use"
```
"""


def _book(site, urls: str, package: bool = True) -> None:
    site.write("mkdocs.yml", MKDOCS.format(urls=urls))
    site.write("docs/page.md", PAGE)
    site.write("snippets/a.py", """\
        # --8<-- [start:use]
        from bookhelpers import double
        import warnings
        warnings.warn("old API", DeprecationWarning)
        print(double(21))
        # --8<-- [end:use]
        """)
    site.write("bookhelpers/__init__.py", "def double(x):\n    return 2 * x\n")
    if package:
        site.write("pyproject.toml", textwrap.dedent("""\
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "bookhelpers"
            version = "1.0"
            [tool.setuptools]
            packages = ["bookhelpers"]
            """))


def _notebook(site) -> dict:
    return json.loads((site.root / "docs" / "generated" / "page.ipynb").read_text(encoding="utf-8"))


def test_the_first_cell_installs_the_project_from_the_site_and_links_lead_somewhere(site):
    _book(site, "site_url: https://book.example/sub/\nrepo_url: https://github.com/o/r")
    result = site.build()
    assert result.code == 0, result.stderr
    notebook = _notebook(site)
    first = "".join(notebook["cells"][0]["source"])
    wheel = "bookhelpers-1.0-py3-none-any.whl"
    assert first.splitlines()[1:] == [
        f"%pip install pyyaml=={_installed('pyyaml')} bookhelpers@https://book.example/sub/packages/{wheel}",
        f"%pip install --no-deps --force-reinstall bookhelpers@https://book.example/sub/packages/{wheel}"]
    assert (site.root / "site" / "packages" / wheel).is_file()  # the site ships it
    # built from a copy: no build/ or *.egg-info left in the author's tree
    assert not (site.root / "build").exists() and not list(site.root.glob("*.egg-info"))
    region = next(c for c in notebook["cells"] if c["metadata"].get("d2l_region"))
    assert [o["name"] for o in region["outputs"]] == ["stdout", "stderr"]
    assert "DeprecationWarning: old API" in "".join(region["outputs"][1]["text"])
    assert any("> **Why**" in "".join(c["source"]) for c in notebook["cells"])  # no "!!! note"
    colab = "https://colab.research.google.com/github/o/r/blob/notebooks/generated/page.ipynb"
    for page, download in (("page", "../generated/page/page.ipynb"), ("generated/page", "page.ipynb")):
        html = site.html(page)
        bar = html[html.index('class="d2l-notebook-links"'):]
        assert f'href="{download}" download' in bar and f'href="{colab}"' in bar
        assert (site.root / "site" / page / download).resolve().is_file()
    notebook_page = site.html("generated/page")
    assert ".jupyter-wrapper .jp-" not in notebook_page and "<script src=\"\"" not in notebook_page
    assert 'id="page"' in notebook_page and 'href="../../page/"' in notebook_page


def test_without_a_github_repository_there_is_no_colab_link(site):
    _book(site, "site_url: https://book.example/")
    assert site.build().code == 0
    for page in ("page", "generated/page"):
        html = site.html(page)
        assert "colab.research.google.com" not in html and 'download>' in html


def test_the_repository_is_the_source_when_the_site_has_no_address(site):
    _book(site, "repo_url: https://gitlab.com/o/r")
    assert site.build().code == 0
    first = "".join(_notebook(site)["cells"][0]["source"])
    # not a git checkout here: the default branch, unpinned
    assert first.endswith("--force-reinstall bookhelpers@git+https://gitlab.com/o/r")
    assert " bookhelpers@git+https://gitlab.com/o/r\n" in first
    assert "colab.research.google.com" not in site.html("page")  # not a GitHub repository


def test_a_wheel_without_a_module_the_pages_import_is_refused(site):
    _book(site, "site_url: https://book.example/")
    site.write("snippets/a.py", (site.root / "snippets" / "a.py").read_text().replace(
        "from bookhelpers import double", "from bookhelpers import double\nimport loose"))
    site.write("loose.py", "X = 1\n")  # a module at the root no package lists
    result = site.build()
    assert result.code != 0 and "import loose from the project" in result.stderr


@pytest.mark.parametrize(("urls", "package", "says"), [
    ("", True, "set site_url (the site then ships the project as a wheel) or repo_url"),
    ("site_url: https://book.example/", False, "has no pyproject.toml, so no reader can install them"),
])
def test_a_notebook_no_reader_could_set_up_stops_the_build_in_one_line(site, urls, package, says):
    _book(site, urls, package)
    result = site.build()
    assert result.code != 0 and says in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (site.root / "site").exists()  # nothing published


def test_notebook_packages_must_be_installed_to_be_pinned(site):
    _book(site, "site_url: https://book.example/")
    site.write("mkdocs.yml", (site.root / "mkdocs.yml").read_text().replace(
        "[pyyaml]", "[no-such-dist-d2l]"))
    result = site.build()
    assert result.code != 0 and "no-such-dist-d2l, which is not installed here" in result.stderr


def _installed(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def test_the_wheel_is_built_once_per_content(site):
    _book(site, "site_url: https://book.example/")
    assert site.build().code == 0
    wheels = site.root / ".d2l" / "wheels"
    first = sorted(wheels.glob("*/*.whl"))
    stamp = first[0].stat().st_mtime_ns
    assert site.build().code == 0
    assert sorted(wheels.glob("*/*.whl")) == first and first[0].stat().st_mtime_ns == stamp
    site.write("bookhelpers/__init__.py", "def double(x):\n    return x + x\n")
    assert site.build().code == 0
    second = sorted(wheels.glob("*/*.whl"))
    assert len(second) == 1 and second != first  # rebuilt, and only the current one kept
    assert re.search(r"bookhelpers@\S+\.whl", "".join(_notebook(site)["cells"][0]["source"]))


@pytest.mark.parametrize("directory_urls", [True, False])
@pytest.mark.parametrize("page", ["index", "part/p"])
def test_links_resolve_for_any_page_and_url_style(site, page, directory_urls):
    """Wherever the page lives and however the site writes addresses, the download link
    and the notebook page's link back reach a published file."""
    _book(site, "site_url: https://book.example/")
    config = (site.root / "mkdocs.yml").read_text()
    config = config.replace("  - Page: page.md\n  - Notebook: generated/page.ipynb\n",
                            f"  - Page: {page}.md\n  - Notebook: generated/{page}.ipynb\n")
    config = config.replace('include: ["generated/*.ipynb"]',
                            'include: ["generated/*.ipynb", "generated/*/*.ipynb"]')
    site.write("mkdocs.yml", config + f"use_directory_urls: {str(directory_urls).lower()}\n")
    (site.root / "docs" / "page.md").rename(site.root / "docs" / "moved.md")
    target = site.root / "docs" / f"{page}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    (site.root / "docs" / "moved.md").rename(target)
    result = site.build()
    assert result.code == 0, result.stderr
    out = site.root / "site"

    def html_of(path: str) -> Path:
        return out / (f"{path}/index.html" if directory_urls and not path.endswith("index")
                      else f"{path}.html")

    for shown in (page, f"generated/{page}"):
        file = html_of(shown)
        text = file.read_text(encoding="utf-8")
        bar = text[text.index('class="d2l-notebook-links"'):]
        download = re.search(r'href="([^"]+)" download', bar)[1]
        assert (file.parent / download).resolve().is_file(), (shown, download)
    notebook_page = html_of(f"generated/{page}")
    back = re.search(r'class="d2l-notebook-links"><p>[^<]*<a href="([^"]+)"',
                     notebook_page.read_text(encoding="utf-8"))[1]
    landed = (notebook_page.parent / back).resolve()
    assert (landed / "index.html" if landed.is_dir() else landed) == html_of(page).resolve()


@pytest.mark.parametrize(("keep", "expected"), [(None, "torch"), ("JAX", "jax")])
def test_content_tabs_become_one_framework_s_cells(site, keep, expected):
    """A page with framework tabs (pymdownx.tabbed) exports one framework to the notebook:
    its prose and code as cells of their own, dedented, no raw `=== "..."` lines; the
    other tabs' code is left out (its outputs stay on the site)."""
    import json

    site.write("snippets/s.py", "# --8<-- [start:torch]\nprint('from torch')\n# --8<-- [end:torch]\n"
                                "# --8<-- [start:jax]\nprint('from jax')\n# --8<-- [end:jax]\n"
                                "# --8<-- [start:after]\nprint('after')\n# --8<-- [end:after]\n")
    site.write("docs/index.md", '# Tabs\n\n=== "PyTorch"\n\n    Torch prose.\n\n'
                                '    ```python\n    --8<-- "snippets/s.py:torch"\n    ```\n\n'
                                '=== "JAX"\n\n    JAX prose.\n\n'
                                '    ```python\n    --8<-- "snippets/s.py:jax"\n    ```\n\n'
                                'After the tabs.\n\n```python\n--8<-- "snippets/s.py:after"\n```\n')
    config = site.root / "mkdocs.yml"
    text = config.read_text().replace("  - attr_list\n", "  - attr_list\n  - pymdownx.tabbed\n")
    if keep:
        text = text.replace("      labels: zh\n", f"      labels: zh\n      notebook_tab: {keep}\n")
    config.write_text(text)
    result = site.build()
    assert result.code == 0, result.stderr
    book = json.loads((site.root / "docs" / "generated" / "index.ipynb").read_text())
    sources = ["".join(c["source"]) for c in book["cells"]]
    code = [s for c, s in zip(book["cells"], sources, strict=True) if c["cell_type"] == "code"]
    assert code == [f"print('from {expected}')", "print('after')"]
    prose = "\n".join(s for c, s in zip(book["cells"], sources, strict=True)
                      if c["cell_type"] == "markdown")
    assert "===" not in prose and "After the tabs." in prose
    assert ("Torch prose." in prose) == (expected == "torch")
    assert ("JAX prose." in prose) == (expected == "jax")
    assert "    " not in prose.split("After")[0].replace("\n    \n", "")  # dedented
    html = site.html()
    assert "from torch" in html and "from jax" in html  # the site keeps every tab
