"""Shared fixtures: a copy of the project built for real, and tiny fixture sites."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Short smoke measurements everywhere in the tests (the docs build measures for real);
# set before any subprocess starts so that every build and region inherits it.
os.environ.setdefault("D2L_BENCH_QUICK", "1")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: float = 600) -> Result:
    """``python -m d2l_compiler ...`` in a real subprocess."""
    full_env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "D2L_DEVICE": "cpu", **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "d2l_compiler", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def pages_ran(stdout: str) -> set[str]:
    """Pages a build reports it ran (its `ran     PAGE in N s` progress lines)."""
    return {line.split()[1] for line in stdout.splitlines() if line.startswith("ran ")}


def read_record(root: Path) -> dict:
    return json.loads((root / ".d2l" / "record.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def chapter(tmp_path_factory) -> Path:
    """A copy of this project, built from scratch (regions run, strict MkDocs build).

    ``D2L_TEST_CHAPTER=DIR`` uses a project already built there instead (for iterating on
    the site tests; CI always builds from scratch)."""
    reuse = os.environ.get("D2L_TEST_CHAPTER")
    if reuse:
        return Path(reuse).resolve()
    copy = tmp_path_factory.mktemp("chapter") / "project"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(
        ".git", ".nox", "site", ".d2l", "generated", "__pycache__", "*.egg-info", ".cache", ".pytest_cache"))
    result = run_cli("build", cwd=copy)
    assert result.code == 0, result.stderr
    return copy


class FixtureSite:
    """A tiny MkDocs site on disk using the real plugin; write pages and snippets, then build."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "docs").mkdir(parents=True)
        (root / "snippets").mkdir()
        (root / "mkdocs.yml").write_text(textwrap.dedent("""\
            site_name: fixture
            markdown_extensions:
              - pymdownx.superfences
              - attr_list
              - pymdownx.snippets:
                  base_path: [!relative $config_dir]
                  check_paths: true
            plugins:
              - d2l:
                  labels: zh
            """), encoding="utf-8")

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def build(self, *args: str, env: dict | None = None) -> Result:
        return run_cli("build", *args, cwd=self.root, env=env)

    def run(self, *args: str, env: dict | None = None) -> Result:
        return run_cli(*args, cwd=self.root, env=env)

    def record(self) -> dict:
        return read_record(self.root)

    def html(self, page: str = "index") -> str:
        name = "index.html" if page == "index" else f"{page}/index.html"
        return (self.root / "site" / name).read_text(encoding="utf-8")


@pytest.fixture
def site(tmp_path) -> FixtureSite:
    return FixtureSite(tmp_path / "site-src")


@pytest.fixture(autouse=True)
def _coverage_context(request):
    """For ``nox -s mutation``'s coverage run only (``D2L_COVERAGE_CONTEXT`` set): label what a
    test executes, in this process and in every subprocess it starts, with its node id, so
    that each mutant runs only the tests that execute its line."""
    if "D2L_COVERAGE_CONTEXT" not in os.environ:
        yield
        return
    import coverage

    os.environ["D2L_COVERAGE_CONTEXT"] = request.node.nodeid
    current = coverage.Coverage.current()
    if current is not None:
        current.switch_context(request.node.nodeid)
    yield
    os.environ["D2L_COVERAGE_CONTEXT"] = "-"
    if current is not None:
        current.switch_context("-")
