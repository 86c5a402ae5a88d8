"""Shared fixtures: a copy of the project built for real, and tiny fixture sites."""

from __future__ import annotations

import json
import os
import shutil
import socket
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# where the chapter's site is served in the tests that need it at its own address (the
# notebook's first cell installs the helpers from <site_url>packages/…); in the environment
# of every build the tests start, as D2L_BENCH_QUICK: a region that reads the whole
# environment must find it the same in the chapter's build and the builds after it
CHAPTER_SITE_PORT = _free_port()
os.environ["D2L_SITE_URL"] = f"http://127.0.0.1:{CHAPTER_SITE_PORT}/"


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
    result = run_cli("build", "--publish", cwd=copy)  # as the deploy workflow builds it
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
                  extensions: [chapter]
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


class FakeMachine:
    """What the device decision reads, faked: the NVIDIA driver file, the ``/dev/nvidia*``
    nodes, ``nvidia-smi`` on ``PATH`` and the installed torch's ``version.py``. By default
    none of the GPU signs is there and torch is a CPU build (``2.13.0+cpu``)."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        import importlib

        # the engine's facts, which the helpers' ``d2l_compiler.device`` reads too
        device = importlib.import_module("d2l_compiler.engine.sources.device")
        self.root, self.bin = root, root / "bin"
        self.bin.mkdir(parents=True)
        self.driver_file, self.node_file = root / "nvidia-version", root / "nvidiactl"
        self.torch_dir: Path | None = root / "site-packages" / "torch"
        monkeypatch.setenv(device.DRIVER_FILE_ENV, str(self.driver_file))
        monkeypatch.setattr(device, "DEVICE_NODES", (str(self.node_file),))
        monkeypatch.setenv("PATH", str(self.bin))
        monkeypatch.setattr(device, "_torch_package", lambda: self.torch_dir)
        self.torch("2.13.0+cpu", None)

    def driver(self, text: str = "NVRM version: 1") -> None:
        self.driver_file.write_text(text)

    def node(self) -> None:
        self.node_file.write_text("")

    def smi(self) -> None:
        smi = self.bin / "nvidia-smi"
        smi.write_text("#!/bin/sh\n")
        smi.chmod(0o755)

    def torch(self, version: str, cuda: str | None, hip: str | None = None) -> None:
        """Install a fake torch ``version.py`` as a real build writes it."""
        assert self.torch_dir is not None
        self.torch_dir.mkdir(parents=True, exist_ok=True)
        (self.torch_dir / "version.py").write_text(
            "from typing import Optional\n\n"
            f"__version__ = {version!r}\ndebug = False\ncuda: Optional[str] = {cuda!r}\n"
            f"git_version = 'abc'\nhip: Optional[str] = {hip!r}\n")

    def torch_of_unknown_kind(self) -> None:
        """A torch whose ``version.py`` does not say (a fake, an odd build): cannot tell."""
        self.torch("0.0-fake", None)
        assert self.torch_dir is not None
        (self.torch_dir / "version.py").write_text("__version__ = '0.0-fake'\n")

    def no_torch(self) -> None:
        self.torch_dir = None


@pytest.fixture
def machine(tmp_path, monkeypatch) -> FakeMachine:
    """A machine with no sign of a GPU and a CPU build of torch, for the device decision."""
    return FakeMachine(tmp_path / "machine", monkeypatch)


def seal(entry: dict) -> dict:
    """A page entry's JSON as a build writes it: read back, with its digest."""
    from d2l_compiler.engine.record.model import PageEntry

    return PageEntry.from_json({**entry, "digest": ""}, "page").sealed().to_json()


def page_inputs(data: dict | None = None):
    """A page's key inputs from their JSON shape (the machine facts filled in)."""
    import msgspec

    from d2l_compiler.engine.formats import RECORD_FORMAT
    from d2l_compiler.engine.sources.inputs import PageInputs

    return msgspec.convert({"format": RECORD_FORMAT, "python": "3.11", "device": "cpu",
                            **(data or {})}, PageInputs)


def provenance(data: dict | None = None):
    """A page's provenance from its JSON shape."""
    import msgspec

    from d2l_compiler.engine.record.model import Provenance

    return msgspec.convert(data or {}, Provenance)


def page_key(root: Path, regions: list, device: str, own_process: list[bool] | None = None,
             page: str = "") -> tuple[str, dict]:
    """The key of a page's execution and its inputs (what a GPU build records for a page)."""
    from d2l_compiler.engine.sources.key import page_keys

    import msgspec

    found = page_keys(root, regions, device, own_process, page=page)
    return found.key, json.loads(json.dumps(msgspec.to_builtins(found.inputs)))  # as recorded


def page_notebook(markdown: str, entry, record, code_of, root=None, page_dir=None,
                  page_file: str = "page", extensions=None, labels=None, setup=None,
                  links_from=None) -> dict:
    """One notebook of a page (the engine renders both variants at once)."""
    from d2l_compiler.engine.render.markdown import LABELS
    from d2l_compiler.engine.render.notebook import page_notebooks

    return page_notebooks(markdown, entry, record, code_of, root, page_dir, page_file,
                          extensions, labels or LABELS["en"], setup, [links_from])[0]
