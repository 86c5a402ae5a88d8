"""The book's own package as a wheel the site publishes, so a notebook's first cell can
install the modules its code imports from the project (a reader has no checkout).

Built with ``pip wheel --no-deps --no-build-isolation`` from a copy of what a wheel is made
of (the packaging files, the README and licence files, the packages), in a temporary
folder: a backend building in place would leave ``build/`` and ``*.egg-info`` in the
author's tree. Once per content: the wheel is kept under ``<state_dir>/wheels/<digest>``,
where the digest covers those files. Only the current wheel is kept.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from d2l_compiler.engine.errors import BuildError, UsageError
from d2l_compiler.engine.sources.project import Project

WHEELS = "wheels"  # under the state directory
SITE_FOLDER = "packages"  # where the site publishes it
_PACKAGING = ("pyproject.toml", "setup.py", "setup.cfg")
_BESIDE = ("README*", "LICENSE*", "LICENCE*", "COPYING*", "NOTICE*", "MANIFEST.in")
_SKIPPED = {"__pycache__", ".pytest_cache"}


def _package_files(root: Path, packages: list[str]) -> list[Path]:
    files = []
    for top in sorted(set(packages)):
        folder = root / top
        found = folder.rglob("*") if folder.is_dir() else [root / f"{top}.py"]
        files += [f for f in found if f.is_file() and not _SKIPPED & set(f.parts)
                  and f.suffix not in (".pyc", ".pyo")]
    return sorted(files)


def _wheel_sources(root: Path, packages: list[str]) -> list[Path]:
    beside = sorted({path for pattern in _BESIDE for path in root.glob(pattern) if path.is_file()})
    return [root / name for name in _PACKAGING if (root / name).is_file()] + beside + \
        _package_files(root, packages)


def _digest(root: Path, packages: list[str]) -> str:
    hasher = hashlib.sha256()
    for path in _wheel_sources(root, packages):
        if path.is_file():
            hasher.update(path.relative_to(root).as_posix().encode() + b"\0")
            hasher.update(hashlib.sha256(path.read_bytes()).digest())
    return hasher.hexdigest()[:16]


def project_wheel(project: Project, packages: list[str]) -> Path:
    """The wheel of the project whose top-level ``packages`` (names) the pages import, built
    if its content changed; ``UsageError`` if the project is not an installable package."""
    root = project.root
    if not any((root / name).is_file() for name in _PACKAGING):
        raise UsageError(f"the notebooks import the project's own modules ({', '.join(packages)}), "
                         f"but {root.name}/ has no pyproject.toml, so no reader can install them: "
                         "make the project a package, or set notebook_setup: false")
    folder = project.state_dir / WHEELS
    target = folder / _digest(root, packages)
    built = sorted(target.glob("*.whl")) if target.is_dir() else []
    if built:
        return built[0]
    shutil.rmtree(folder, ignore_errors=True)  # only the current wheel is kept
    target.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="wheel-", dir=project.state_dir) as scratch:
        for path in _wheel_sources(root, packages):
            copy = Path(scratch) / path.relative_to(root)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
             "--wheel-dir", str(target), scratch], capture_output=True, text=True, check=False,
            cwd=scratch)
    built = sorted(target.glob("*.whl"))
    if result.returncode != 0 or not built:
        shutil.rmtree(target, ignore_errors=True)
        last = (result.stderr.strip().splitlines() or ["no wheel written"])[-1]
        raise BuildError(f"could not build the project's wheel for the notebooks: {last}")
    with zipfile.ZipFile(built[0]) as wheel:
        inside = {PurePosixPath(name).parts[0].removesuffix(".py") for name in wheel.namelist()}
    missing = sorted(set(packages) - inside)
    if missing:  # the project's packaging leaves out what the pages import
        shutil.rmtree(target, ignore_errors=True)
        raise UsageError(f"the notebooks import {', '.join(missing)} from the project, but the "
                         f"project's wheel ({built[0].name}) does not hold it: add it to the "
                         "packages pyproject.toml lists")
    return built[0]


def published_wheel(project: Project) -> Path | None:
    """The wheel the last build made (published under ``packages/``), if any."""
    folder = project.state_dir / WHEELS
    built = sorted(folder.glob("*/*.whl")) if folder.is_dir() else []
    return built[0] if built else None
