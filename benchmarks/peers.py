"""The builds ours is compared with: the same chapter text through plain mkdocs-material, through
mkdocs-jupyter and through MyST-NB with jupyter-cache, each set up in a folder of its own.

Each ``prepare_*`` writes a project beside ours and returns the command that builds it (and any
environment it needs); the caller times them in one run with ours, so that ratios compare like
with like. A peer whose packages are missing is left out, saying which (``nox -s bench`` installs
them all).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from d2l_compiler.engine.sources.project import Project

# A folder that shadows jieba: Material's search plugin then does not segment Chinese, as in an
# environment where jieba is not installed (importing it raises ImportError, as a missing one does).
_NO_JIEBA = "raise ImportError('jieba is hidden by the benchmark: a build without it')\n"


@dataclass(frozen=True)
class Peer:
    """A build to time: the command, its folder, and what the environment adds."""

    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""


def _hide_jieba(folder: Path) -> dict[str, str]:
    shadow = folder / "no-jieba" / "jieba"
    shadow.mkdir(parents=True, exist_ok=True)
    (shadow / "__init__.py").write_text(_NO_JIEBA, encoding="utf-8")
    return {"PYTHONPATH": str(shadow.parent)}


def _mkdocs(config: Path, site: str = "site") -> list[str]:
    return [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(config), "-d", site]


def _material_theme() -> dict:
    return {"name": "material", "language": "zh", "font": False}


def prepare_plain(project: Path, folder: Path) -> list[Peer]:
    """Our pages as written (includes resolved by pymdownx.snippets, our placeholders left as
    text), our Markdown extensions, mkdocs-material and its search in Chinese; no other plugin.
    Two builds: with jieba (what a Chinese Material site pays) and with jieba hidden."""
    ours = Project(project / "mkdocs.yml").config()  # MkDocs' own tags read as None
    docs = folder / "docs"
    shutil.copytree(project / "docs", docs, ignore=shutil.ignore_patterns("generated", "overrides"))
    pages = [page for page in ours["nav"] if "generated/" not in str(page)]
    config = {
        "site_name": ours["site_name"], "docs_dir": "docs", "nav": pages,
        "theme": _material_theme(), "extra_css": ours.get("extra_css", []),
        "markdown_extensions": _extensions(ours["markdown_extensions"], project),
        "plugins": [{"search": {"lang": "zh",
                                "jieba_dict_user": str(docs / "search" / "zh_terms.txt")}}],
    }
    (folder / "mkdocs.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    config["plugins"] = [{"search": {"lang": "zh"}}]  # a user dictionary needs jieba
    (folder / "no-jieba.yml").write_text(yaml.safe_dump(config, allow_unicode=True),
                                         encoding="utf-8")
    return [Peer("plain mkdocs-material", _mkdocs(folder / "mkdocs.yml"), folder),
            Peer("plain, jieba hidden", _mkdocs(folder / "no-jieba.yml", "site-no-jieba"), folder,
                 _hide_jieba(folder), "Material's search does not segment Chinese")]


def _extensions(listed: list, project: Path) -> list:
    """Our Markdown extensions with the snippets' base path made absolute (the plain project
    lives elsewhere) and the slug function given by name rather than as a YAML object."""
    extensions = []
    for entry in listed:
        if isinstance(entry, dict) and "pymdownx.snippets" in entry:
            snippets = {**entry["pymdownx.snippets"], "base_path": [str(project.resolve())]}
            entry = {"pymdownx.snippets": snippets}
        elif isinstance(entry, dict) and "toc" in entry:
            entry = {"toc": {"permalink": True}}
        extensions.append(entry)
    return extensions


def prepare_mkdocs_jupyter(notebook: Path, folder: Path) -> list[Peer]:
    """The chapter's notebook (with the outputs our build recorded) as the one page of a
    mkdocs-material site through mkdocs-jupyter, not executed, jieba hidden as in the setups its
    users run; its cache (0.26 and later) keeps the converted notebook between builds."""
    if importlib.util.find_spec("mkdocs_jupyter") is None:
        return [_missing("mkdocs-jupyter", "mkdocs-jupyter")]
    (folder / "docs").mkdir(parents=True)
    shutil.copy(notebook, folder / "docs" / "compilers.ipynb")
    config = {"site_name": "compilers", "theme": _material_theme(), "nav": ["compilers.ipynb"],
              "plugins": [{"search": {"lang": "zh"}}, {"mkdocs-jupyter": {"execute": False}}]}
    (folder / "mkdocs.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return [Peer("mkdocs-jupyter, notebook unchanged", _mkdocs(folder / "mkdocs.yml"), folder,
                 _hide_jieba(folder), "converted notebook from its cache; no jieba")]


_SPHINX_CONF = """\
project = "compilers"
extensions = ["myst_nb"]
language = "zh_CN"
nb_execution_mode = "cache"
nb_execution_cache_path = {cache!r}
nb_execution_raise_on_error = True
exclude_patterns = ["_build"]
"""


def prepare_myst_nb(notebook: Path, folder: Path) -> list[Peer]:
    """The chapter's notebook through Sphinx with MyST-NB in ``cache`` mode. The notebook is put
    into jupyter-cache as executed (its outputs are our build's), so that MyST-NB finds it there
    instead of executing it; one build fills Sphinx's environment, and the timed ones find
    nothing changed."""
    if importlib.util.find_spec("myst_nb") is None or importlib.util.find_spec("jupyter_cache") is None:
        return [_missing("MyST-NB + jupyter-cache", "myst-nb jupyter-cache sphinx")]
    from jupyter_cache import get_cache

    source, cache = folder / "src", folder / "jupyter-cache"
    source.mkdir(parents=True)
    shutil.copy(notebook, source / "index.ipynb")
    (source / "conf.py").write_text(_SPHINX_CONF.format(cache=str(cache)), encoding="utf-8")
    get_cache(str(cache)).cache_notebook_file(str(source / "index.ipynb"), check_validity=False)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(source), str(folder / "out")]
    subprocess.run(command, check=True, capture_output=True, cwd=folder)
    return [Peer("MyST-NB + jupyter-cache, nothing changed", command, folder,
                 note="Sphinx incremental build, notebook from jupyter-cache")]


def _missing(name: str, packages: str) -> Peer:
    return Peer(name, [], Path("."), note=f"not measured: pip install {packages}")
