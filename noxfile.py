"""Sessions: ``nox -s docs`` (run every region, build the site), ``nox -s tests``, ``nox -s serve``,
``nox -s ray`` (the Ray executor on a local cluster), ``nox -s bench``.

PyTorch comes from ``D2L_TORCH_SPEC`` (default ``torch==2.13.0``, a CPU build). A GPU user
installs a CUDA build instead, e.g.
``D2L_TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" nox -s docs``.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True  # reinstalling torch each run costs a minute
nox.options.sessions = ["tests"]

TORCH_SPEC = os.environ.get("D2L_TORCH_SPEC", "torch==2.13.0")
QUIET_MKDOCS = {"NO_MKDOCS_2_WARNING": "1"}

# How long a stopped command may take to clean up (the engine's grace period and sweep, pytest's
# fixture teardown) before nox kills it outright, which would orphan what it started.
CLEANUP_SECONDS = 60


def _stop_like_ctrl_c(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# nox ends its command on Ctrl-C, but on SIGTERM (a cancelled CI job, `kill`) it dies alone and
# the command (pytest, a build) runs on, orphaned: stop on SIGTERM as on Ctrl-C instead.
if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)


def run(session: nox.Session, *args: str, **kwargs: object) -> None:
    """``session.run`` that, when the session is stopped, TERMs the command and waits up to
    ``CLEANUP_SECONDS`` for it to clean up (nox's default: 0.2 s, then SIGKILL)."""
    session.run(*args, terminate_timeout=CLEANUP_SECONDS, **kwargs)


def _install(session: nox.Session, extras: str) -> None:
    """Install torch and the project (editable) unless this environment already has exactly
    that: pip takes seconds even when there is nothing to do, more than a no-op build."""
    wanted = hashlib.sha256("\0".join([TORCH_SPEC, extras, Path("pyproject.toml").read_text(
        encoding="utf-8")]).encode()).hexdigest()
    stamp = Path(session.virtualenv.location) / ".d2l-installed"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted:
        return
    session.install(*shlex.split(TORCH_SPEC), "numpy")
    session.install("-e", f".[{extras}]")
    stamp.write_text(wanted, encoding="utf-8")


@nox.session
def docs(session: nox.Session) -> None:
    """Run every region the pages include (CPU, or GPU if present), then ``mkdocs build --strict``."""
    _install(session, "docs")
    run(session, "python", "-m", "d2l_compiler", "build", *session.posargs, env=QUIET_MKDOCS)


AXE_VERSION = "4.14.1"  # axe-core, the accessibility auditor the browser tests run (npm)
AXE_DIR = ".cache/axe"


def _install_axe(session: nox.Session) -> None:
    """axe-core from npm, once; without npm (or offline) the audit test skips, saying so."""
    if os.path.exists(f"{AXE_DIR}/node_modules/axe-core/axe.min.js") or not shutil.which("npm"):
        return
    session.run("npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", AXE_DIR,
                f"axe-core@{AXE_VERSION}", external=True, success_codes=range(256))


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, including the code blocks of README.md (pytest-codeblocks)."""
    _install(session, "docs,test")
    _install_axe(session)
    run(session, "pytest", *(session.posargs or ["tests", "--codeblocks", "README.md"]),
                env=QUIET_MKDOCS)


@nox.session
def ray(session: nox.Session) -> None:
    """The Ray executor against a real local Ray cluster (Ray is an optional extra)."""
    _install(session, "docs,test,ray")
    run(session, "pytest", "tests/test_ray.py", *session.posargs,
                env={**QUIET_MKDOCS, "D2L_REQUIRE_RAY": "1"})


@nox.session
def stale(session: nox.Session) -> None:
    """The never-stale differential test at length: 200 generated pages with random edit
    sequences, each incremental build compared with a build from scratch (CI runs 15)."""
    _install(session, "docs,test")
    run(session, "pytest", "tests/test_never_stale.py", "-k", "any_edits", *session.posargs,
                env={**QUIET_MKDOCS, "D2L_DIFF_EXAMPLES": "200"})


@nox.session
def serve(session: nox.Session) -> None:
    """Live preview on http://127.0.0.1:8000: an edit re-runs only the regions it affects
    and the page reloads (``nox -s serve -- --dev-addr HOST:PORT`` to serve elsewhere)."""
    _install(session, "docs")
    run(session, "python", "-m", "d2l_compiler", "serve", *session.posargs, env=QUIET_MKDOCS)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: print tables, write JSON reports under .d2l/bench/ (targets live here, not in tests)."""
    _install(session, "docs")
    # the peers the build-speed benchmark times beside ours (their own projects, same environment)
    session.install("mkdocs-jupyter>=0.26", "myst-nb", "jupyter-cache", "sphinx")
    run(session, "python", "-m", "benchmarks.build_speed", *session.posargs, env=QUIET_MKDOCS)
    run(session, "python", "-m", "benchmarks.edit_loop", env=QUIET_MKDOCS)
    session.install("ray>=2.40")  # the book-scale benchmark compares the Ray executor too
    run(session, "python", "-m", "benchmarks.book_scale", env=QUIET_MKDOCS)
    run(session, "python", "-m", "benchmarks.timing_agreement", *session.posargs)
    run(session, "python", "-m", "benchmarks.faults", *session.posargs)
    run(session, "python", "-m", "benchmarks.kept_libraries")


@nox.session(venv_backend="none")
def zensical(session: nox.Session) -> None:
    """Build the book with Zensical (MkDocs' successor) into .d2l/zensical/site, never site/,
    and report what renders there (``-- --readme`` rewrites the README's table from it).
    Runs in the docs session's environment, so both hosts read one record."""
    run(session, sys.executable, "-m", "nox", "-s", "docs", "--", "--no-site", external=True)
    python = str(Path(".nox", "docs", "bin", "python"))
    if "--readme" in session.posargs:  # the search is measured in Chromium
        run(session, python, "-m", "pip", "install", "--quiet", "playwright", external=True)
    run(session, python, "-m", "benchmarks.zensical", *session.posargs, external=True,
                env=QUIET_MKDOCS)


@nox.session
def mutation(session: nox.Session) -> None:
    """Mutation testing of the engine: plant small bugs (cosmic-ray), run the fast tests that
    execute each one, print the score and every survivor with file:line (``mutation/``).
    Re-runs only what changed; ``nox -s mutation -- escape.py`` runs one module."""
    _install(session, "docs,test")
    session.install("cosmic-ray>=8.7", "coverage>=7.10")
    run(session, "python", "-m", "mutation", "--min-score", "90", *session.posargs, env=QUIET_MKDOCS)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the package, snippets, tests and benchmarks (rules in pyproject.toml)."""
    session.install("ruff")
    run(session, "ruff", "check", "d2l_compiler", "snippets", "tests", "benchmarks", "mutation",
                "noxfile.py")
