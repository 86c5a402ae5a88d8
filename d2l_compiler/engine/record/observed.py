"""The inputs a region reached while it ran (see :mod:`d2l_compiler.engine.run.observe`), as
digests of what they are now: a recorded result is reused only while every one of them
still reads the same.

Kinds: ``env:NAME`` (the variable's value; ``env:*`` all of them: the region listed the
environment or started a process inheriting it), ``path:PATH`` (whether it exists),
``folder:PATH`` (the names it holds), ``file:PATH``
and ``module:PATH`` (a project file's content), ``outside:PATH`` (a module file outside the
project and outside any installed distribution, e.g. on ``PYTHONPATH``: its content),
``dist:NAME`` (an installed distribution a loaded module belongs to: its version and the
size and modification time of every file it installed, so editing an installed package
without changing its version counts too). Standard-library modules are covered by the
Python version, which every key holds.
"""

from __future__ import annotations

import csv
import hashlib
import os
import sys
import sysconfig
from collections.abc import Mapping
from functools import lru_cache
from importlib import metadata
from pathlib import Path, PurePosixPath

from d2l_compiler.engine.sources.installed import version_of

MISSING = "missing"
# what differs between two terminals, sessions or test runs of the same author and never
# shapes what a lesson's code prints: left out of ``env:*`` (a variable a region reads by
# name is an input whatever it is called)
# the shell's bookkeeping, different in every terminal: read by libraries, never by a lesson
# (not an input even when read by name)
SHELL_ONLY = frozenset({"_", "OLDPWD", "SHLVL", "PWD"})
_SESSION_ONLY = SHELL_ONLY | frozenset({
    "TERM", "COLORTERM", "DISPLAY", "WINDOWID", "TMUX", "STY",
    "LS_COLORS", "PS1", "PS2", "PS4", "PROMPT_COMMAND", "MAIL", "DESKTOP_SESSION",
    "SESSION_MANAGER", "COLUMNS", "LINES", "NO_MKDOCS_2_WARNING"})
_SESSION_PREFIXES = ("PYTEST_", "TERM_", "SSH_", "XDG_", "TMUX_", "VTE_", "HIST", "LESS",
                     "DBUS_", "GNOME_", "KDE_", "NOX_", "GITHUB_", "RUNNER_", "VSCODE_",
                     # a coverage run's bookkeeping (coverage.py, the mutation driver's labels)
                     "COVERAGE_", "COV_CORE_", "D2L_COVERAGE_")


def _session_only(name: str) -> bool:
    return name in _SESSION_ONLY or name.startswith(_SESSION_PREFIXES)


def _without_checkout(environ: Mapping[str, str], root: Path) -> Mapping[str, str]:
    """``environ`` with the checkout's own path (which the engine puts on ``PYTHONPATH``)
    written as ``<project>``: moving the project changes no environment input."""
    here = str(root)
    if here not in environ.get("PYTHONPATH", ""):
        return environ
    parts = ["<project>" if part == here else part
             for part in environ["PYTHONPATH"].split(os.pathsep)]
    return {**environ, "PYTHONPATH": os.pathsep.join(parts)}


def position_tag(first_line: int, root: Path | str) -> str:
    """Where a region is, as its output may show it: its first line and the checkout (by a
    digest of its path, so the published record does not carry the author's folders)."""
    return f"{first_line}@{hashlib.sha256(str(root).encode()).hexdigest()[:12]}"


def _sha(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return MISSING


@lru_cache(maxsize=1)
def _site_dirs() -> tuple[Path, ...]:
    found = {Path(p).resolve() for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    for name in ("purelib", "platlib"):
        found.add(Path(sysconfig.get_paths()[name]).resolve())
    return tuple(sorted(found, key=lambda p: -len(str(p))))


@lru_cache(maxsize=1)
def _stdlib_dirs() -> tuple[Path, ...]:
    return tuple({Path(sysconfig.get_paths()[name]).resolve() for name in ("stdlib", "platstdlib")})


@lru_cache(maxsize=1)
def _distributions() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


def classify(path: Path) -> str | None:
    """The input a module file outside the project stands for: ``dist:NAME``,
    ``outside:PATH``, or None for the standard library."""
    for site in _site_dirs():
        if site in path.parents:
            top = path.relative_to(site).parts[0]
            top = top.split(".")[0] if not (site / top).is_dir() else top
            dists = sorted(set(_distributions().get(top, [])))
            return f"dist:{dists[0]}" if dists else f"outside:{path}"
    if any(folder in path.parents for folder in _stdlib_dirs()):
        return None
    return f"outside:{path}"


@lru_cache(maxsize=256)
def _distribution_digest(name: str) -> str:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return MISSING
    return f"{version_of(dist)}:{distribution_digest(dist)}"


def distribution_digest(dist: metadata.Distribution) -> str:
    """What an installed distribution's files are: the installer's RECORD (each file's name,
    hash and size as installed), and the size and times of any file changed since (its
    inode-change time is after RECORD's, or its size is not the recorded one). The same wheel
    installed in two environments gives the same digest (a new virtual environment does not
    re-run the book); an installed file edited in place gives another. Without a RECORD (an
    egg-info install), the size and modification time of every file."""
    text = dist.read_text("RECORD")
    base = str(dist.locate_file(""))
    entries = _record_entries(text) if text is not None else None  # (file, "hash,size")
    record = next((f for f, _ in entries or () if f.endswith(".dist-info/RECORD")), None)
    if entries is None or record is None:
        listed = [str(f) for f in dist.files or () if "__pycache__" not in f.parts]
        return _stat_digest(base, listed)
    try:
        recorded_at = os.stat(os.path.join(base, record)).st_ctime_ns
    except OSError:
        return _stat_digest(base, [f for f, _ in entries])
    out = hashlib.blake2b(digest_size=8)
    for file, recorded in entries:
        if file.startswith("../"):  # a script in the environment's bin/: its first line names
            continue  # the environment's interpreter; the package's own files are what runs
        out.update(f"{file}\0{recorded}\0".encode())
        try:
            stat = os.stat(os.path.join(base, file))
        except OSError:
            out.update(b"-\0")
            continue
        size = recorded.rpartition(",")[2]
        if stat.st_ctime_ns > recorded_at or (size and size != str(stat.st_size)):
            out.update(f"{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ctime_ns}\0".encode())
    return out.hexdigest()


def _stat_digest(base: str, files: list[str]) -> str:
    out = hashlib.blake2b(digest_size=8)
    for file in sorted(files):
        try:
            stat = os.stat(os.path.join(base, file))
            out.update(f"{file}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
        except OSError:
            out.update(f"{file}\0-\0".encode())
    return out.hexdigest()


def _record_entries(text: str) -> list[tuple[str, str]]:
    """(name as importlib names it, recorded hash and size) of each file RECORD lists but
    bytecode. Strings, not paths: a large package lists tens of thousands."""
    entries = []
    for line in text.splitlines():
        fields = line.split(",") if '"' not in line else next(csv.reader([line]), [""])
        file, recorded = fields[0], ",".join(fields[1:3])
        if not file:
            continue
        if "//" in file or "/./" in file or file.startswith("./") or file.endswith("/"):
            file = str(PurePosixPath(file))  # as importlib names it
        if "__pycache__" in file.split("/"):
            continue
        entries.append((file, recorded))
    return entries


def current(name: str, root: Path, environ: Mapping[str, str] | None = None) -> str:
    """What the input ``name`` reads now (a digest; ``missing`` for a file that is gone)."""
    kind, _, what = name.partition(":")
    environ = os.environ if environ is None else environ
    if kind == "env":
        environ = _without_checkout(environ, root)
        if what == "*":  # listed, copied, or inherited by a process: all but the shell's own
            kept = sorted((k, v) for k, v in environ.items() if not _session_only(k))
            return hashlib.sha256(repr(kept).encode()).hexdigest()[:16]
        value = environ.get(what)
        return "unset" if value is None else hashlib.sha256(value.encode()).hexdigest()[:16]
    if kind in ("file", "module"):
        return _sha(root / what)
    if kind == "path":  # its existence, kind and size were looked at (os.stat)
        path = root / what
        if path.is_dir():
            return "folder"
        try:
            return f"file:{path.stat().st_size}"
        except OSError:
            return MISSING
    if kind == "folder":  # it was listed
        try:
            names = sorted(os.listdir(root / what))
        except OSError:
            return MISSING
        if what == ".":  # the working directory a region lists: the root's entries it links
            names = [name for name in names if not name.startswith(".")]
        return hashlib.sha256("\0".join(names).encode()).hexdigest()[:16]
    if kind == "outside":
        return _sha(Path(what))
    if kind == "dist":
        return _distribution_digest(what)
    return MISSING


def resolve(seen: Mapping[str, str], root: Path, environ: Mapping[str, str] | None = None
            ) -> dict[str, str]:
    """The page process's report of what a region reached (name -> "" or, for what only the
    process could tell, its value) -> inputs with their digests now."""
    found: dict[str, str] = {}
    for name, value in seen.items():
        if value:
            found[name] = value
            continue
        if name.startswith("outside:"):
            name = classify(Path(name.partition(":")[2]))
            if name is None:
                continue
        found[name] = current(name, root, environ)
    return dict(sorted(found.items()))


def changed_inputs(seen: Mapping[str, str], root: Path, environ: Mapping[str, str],
             position: str, environment: bool) -> list[str]:
    """The recorded inputs (``seen``) that read differently now; ``position`` is where the
    region is now (see :func:`position_tag`), ``environment=False`` leaves the environment
    variables out."""
    found = []
    for name, digest in seen.items():
        if name.startswith("env:") and not environment:
            continue
        now = position if name.startswith("position:") else current(name, root, environ)
        if now != digest:
            found.append(name)
    return found


def in_words(name: str) -> str:
    """Why the input ``name`` makes a result stale, in words."""
    kind, _, what = name.partition(":")
    if kind == "position":
        return "its output shows where it is, and it moved"
    words = {"env": "environment variable", "file": "file", "module": "module",
             "outside": "module", "dist": "installed package", "path": "path",
             "folder": "folder"}.get(kind, kind)
    what = "(the whole environment)" if name == "env:*" else what
    return f"{words} {what} changed since it was read"


def clear_caches() -> None:
    """Forget cached distribution digests (a long-lived process: the preview)."""
    _distribution_digest.cache_clear()
