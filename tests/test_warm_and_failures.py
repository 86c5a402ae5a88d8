"""Issue 22, classes 17 and 18.

17: the live preview's warm page process holds nothing of the project before its job, so an
edit to a helper between warm-up and the job shows the new output. ``import d2l_compiler`` is
lazy (PEP 562) yet keeps its names, and the content key still follows every helper.

18: a failure is reported once, with the author's frames only, and the processes that would
re-run the failed region first are not started: one line names their regions.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import d2l_compiler
from d2l_compiler.engine.build import BuildOptions, build
from d2l_compiler.engine.errors import BuildError
from d2l_compiler.engine.progress import PlainProgress
from d2l_compiler.engine.run.runner import Limits, run_page
from d2l_compiler.engine.run.warm import CHILD, WarmPool
from d2l_compiler.engine.sources.page_env import page_env
from d2l_compiler.engine.sources.discover import Include, Region
from d2l_compiler.engine.sources.key import project_modules
from d2l_compiler.engine.sources.project import Project
from test_region_cache import _write as _write_book  # one page including each region

REPO = Path(d2l_compiler.__file__).resolve().parents[1]
HELPERS = ("claims", "device", "measure", "models", "paths", "timing")
QUICK = Limits(timeout=60)


def _python(code: str) -> str:
    """What ``code`` prints in a fresh interpreter at the repository's root."""
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, text=True,
                          capture_output=True, env=page_env(REPO, "cpu")).stdout


def _includes(*codes: str) -> list[Include]:
    return [Include("p.md", "docs/p.md", 10 + n, Region(f"snippets/r{n}.py", f"r{n}", 1, code),
                    f"snippets/r{n}.py:r{n}") for n, code in enumerate(codes)]


# --- class 17: the package is lazy, and still what it was ----------------------------------------

def test_importing_the_package_or_the_page_process_loads_no_helper():
    loaded = _python("import sys, d2l_compiler, d2l_compiler.engine.run.child\n"
                     "print(sorted(m for m in sys.modules if m.startswith('d2l_compiler')))")
    names = ast.literal_eval(loaded)
    assert "d2l_compiler.engine.run.child" in names
    assert [m for m in names if not m.startswith("d2l_compiler.engine")] == ["d2l_compiler"]


def test_the_package_exports_the_same_names_as_before():
    shown = _python(
        "import importlib, d2l_compiler\n"
        "importlib.import_module('d2l_compiler.device')  # the submodule first, as a helper may\n"
        "from d2l_compiler import device, compare_paths, PATHS\n"
        "import d2l_compiler.models as models\n"
        "print(callable(device), device.__module__, compare_paths.__name__, models.__name__,\n"
        "      all(hasattr(d2l_compiler, n) for n in d2l_compiler.__all__),\n"
        "      set(d2l_compiler.__all__) <= set(dir(d2l_compiler)))")
    assert shown.split() == ["True", "d2l_compiler.device", "compare_paths", "d2l_compiler.models",
                             "True", "True"]
    with pytest.raises(AttributeError, match="no_such_helper"):
        d2l_compiler.no_such_helper  # noqa: B018


def test_the_lazy_table_and_the_static_imports_agree():
    """The ``TYPE_CHECKING`` imports are what the content key follows; the table is what runs."""
    tree = ast.parse((REPO / "d2l_compiler" / "__init__.py").read_text(encoding="utf-8"))
    static = {node.module: tuple(alias.name for alias in node.names)
              for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1}
    assert static == d2l_compiler._EXPORTS
    assert sorted(d2l_compiler.__all__) == sorted(name for names in static.values() for name in names)
    assert set(HELPERS) <= set(static)


@pytest.mark.parametrize("code", ["import d2l_compiler", "from d2l_compiler import device",
                                  "import d2l_compiler as d2l\nprint(d2l.compare)"])
def test_a_region_that_imports_the_package_is_keyed_by_every_helper(code):
    files, _ = project_modules(REPO, [Region("snippets/x.py", "x", 1, code)])
    assert {f"d2l_compiler/{name}.py" for name in HELPERS} <= set(files)


def _imports_while_standing_by(root: Path, modules: tuple[str, ...] = ()) -> set[str]:
    """The modules the real warm process imports before its job (``-X importtime``)."""
    env = {**page_env(root, "cpu"), "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.Popen([sys.executable, "-m", CHILD, "--standby", *modules], cwd=root,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # it imports, then waits on stdin; an empty line lets it go
    _, stderr = proc.communicate("", timeout=60)
    assert proc.returncode == 0, stderr
    return {line.rpartition("|")[2].strip() for line in stderr.splitlines()
            if line.startswith("import time:")}


def test_the_real_standby_process_imports_no_helper_before_its_job():
    imported = _imports_while_standing_by(REPO, ("colorsys",))
    assert {"colorsys", "d2l_compiler", "d2l_compiler.engine.record.model"} <= imported
    assert not {f"d2l_compiler.{name}" for name in HELPERS} & imported
    assert {m for m in imported if m.startswith("d2l_compiler.")
            and not m.startswith("d2l_compiler.engine")} == set()


def test_a_warm_job_at_the_repository_root_holds_no_helper_it_did_not_import(tmp_path):
    warm = WarmPool(())
    warm.prepare(REPO, "cpu", None)
    probe = ("import sys\nprint(sorted(m for m in sys.modules if m.startswith('d2l_compiler.')\n"
             "             and not m.startswith('d2l_compiler.engine')))\n"
             "from d2l_compiler import device\nprint(device.__name__)")
    try:
        run = run_page(REPO, "p.md", _includes(probe), device="cpu", limits=QUICK,
                       log_dir=tmp_path / "logs", warm=warm)
    finally:
        warm.close()
    assert run.ok, run.failure
    assert run.regions[0].stdout == "[]\ndevice\n"


def test_a_helper_edited_after_warm_up_shows_its_new_output(tmp_path):
    """The warm process imported a project module ahead (here, because it was named among the
    modules to import); the author then edits it: the job sees the edit."""
    marker = tmp_path / "imported"
    helper = tmp_path / "helpers.py"
    helper.write_text(f"open({str(marker)!r}, 'w').close()\nVALUE = 1\n")
    warm = WarmPool(("helpers",))
    warm.prepare(tmp_path, "cpu", None)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():  # the edit must come after the warm process imported it
            assert time.monotonic() < deadline, "the warm process never imported helpers"
            time.sleep(0.05)
        helper.write_text("VALUE = 'edited'\n")
        run = run_page(tmp_path, "p.md", _includes("import helpers\nprint(helpers.VALUE)"),
                       device="cpu", limits=QUICK, log_dir=tmp_path / "logs", warm=warm)
        assert run.ok, run.failure
        assert run.regions[0].stdout == "edited\n"
    finally:
        warm.close()


# --- class 18: a failure is reported once -------------------------------------------------------

def _failed_build(root: Path) -> str:
    with pytest.raises(BuildError) as failed:
        build(Project(root / "mkdocs.yml"), BuildOptions(limits=QUICK), None,
              PlainProgress(io.StringIO()))
    return str(failed.value)


DEPENDENTS = [(f"b{n}", f"print(x + {n})") for n in range(1, 6)]


@pytest.mark.parametrize(("setup", "said"), [
    ("x = 1\ndef fail():\n    raise ValueError('boom')\nfail()", "exception: ValueError: boom"),
    ("import os\nx = 1\nos._exit(3)", "exit status 3"),  # no event names it: the one running
])
def test_a_failure_that_dooms_its_dependents_is_reported_once(tmp_path, setup, said):
    _write_book(tmp_path, [("setup", setup), *DEPENDENTS], own=frozenset(name for name, _ in DEPENDENTS))
    message = _failed_build(tmp_path)
    assert message.count("region 'setup' failed") == 1 and said in message, message
    assert len(list((tmp_path / ".d2l" / "logs").iterdir())) == 1  # no doomed process started
    [skipped] = [line for line in message.splitlines() if "b1" in line]
    assert skipped.endswith("b1, b2, b3, b4, b5") and "'setup'" in skipped
    assert len(message.splitlines()) < 30, message


def test_the_traceback_shows_the_authors_frames_only(tmp_path):
    setup = ("x = 1\ndef fail():\n    try:\n        1 / 0\n    except ZeroDivisionError as exc:\n"
             "        raise ValueError('boom') from exc\nfail()")
    _write_book(tmp_path, [("setup", setup), *DEPENDENTS[:1]], own=frozenset({"b1"}))
    message = _failed_build(tmp_path)
    assert message.count("ValueError: boom") == 2  # the headline, and the traceback's last line
    frames = re.findall(r'File "([^"]+)", line \d+', message)
    assert frames and frames[0].endswith("snippets/s.py"), message
    assert all(frame.endswith("snippets/s.py") for frame in frames), frames
    assert "d2l_compiler" not in message.replace(str(tmp_path), "")
    [log] = (tmp_path / ".d2l" / "logs").iterdir()
    logged = log.read_text()
    assert "ZeroDivisionError" in logged and "d2l_compiler" not in logged
    assert all(frame.endswith("snippets/s.py") for frame in re.findall(r'File "([^"]+)"', logged))


def test_a_region_that_does_not_compile_shows_where_without_an_engine_frame(tmp_path):
    run = run_page(tmp_path, "p.md", _includes("x = (1,\n"), device="cpu", limits=QUICK,
                   log_dir=tmp_path / "logs")
    assert not run.ok
    shown = run.regions[0].error.traceback
    assert "SyntaxError" in shown and "engine" not in shown and "snippets/r0.py" in shown
