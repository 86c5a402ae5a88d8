"""Shared fixtures: a copy of the project built for real, and tiny fixture sites."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from d2l_compiler.engine.run.lineage import become_subreaper
from d2l_compiler.engine.run.procs import sweep

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
    """``python -m d2l_compiler ...`` in a real subprocess; stopped (the tests interrupted, or
    past ``timeout``), it is TERMed so that it cleans up, as a user's Ctrl-C or CI would."""
    full_env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "D2L_DEVICE": "cpu", **(env or {})}
    with subprocess.Popen([sys.executable, "-m", "d2l_compiler", *args], cwd=cwd, env=full_env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except BaseException:
            proc.terminate()
            try:
                proc.communicate(timeout=60)
            finally:
                proc.kill()
            raise
    return Result(proc.returncode, stdout, stderr)


def pages_ran(stdout: str) -> set[str]:
    """Pages a build reports it ran (its `ran     PAGE in N s` progress lines)."""
    return {line.split()[1] for line in stdout.splitlines() if line.startswith("ran ")}


_stopping = False


def _stop_once(signum: int, frame: object) -> None:
    """SIGTERM (a cancelled CI job; nox passing its own on) or Ctrl-C: unwind as Ctrl-C does, so
    fixtures tear down and what the tests started ends; a second signal meanwhile is ignored."""
    global _stopping
    if not _stopping:
        _stopping = True
        raise KeyboardInterrupt


def pytest_configure(config: pytest.Config) -> None:
    """Whatever a test starts (a build, its pages, what their code spawns) is ours to end: an
    orphan comes back to this process (a subreaper), and SIGTERM unwinds instead of killing it."""
    become_subreaper()
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _stop_once)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _stop_once)


@pytest.hookimpl(trylast=True)  # after the session's fixtures (browsers, servers) are torn down
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """End every process the tests left running, and say which: none should outlive its test."""
    left = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{child.pid} {' '.join(child.cmdline())[:120]}")
        except psutil.Error:
            pass
    sweep(set(), seconds=10)
    if left and not _stopping:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"ended {len(left)} process(es) the tests left running: "
                                + "; ".join(left), yellow=True)


def running(pid: int) -> bool:
    """Whether process ``pid`` is alive (a zombie has already exited), read from ``/proc``."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


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
