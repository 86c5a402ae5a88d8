"""Whether the published site is already what a host build would make: what the last build
read, watched while it ran, and checked again before the next one.

A build that runs no region still used to rebuild the whole site, because nothing told the
engine that the site's inputs were the same. Which files a host (MkDocs and its plugins,
theme and Markdown extensions) reads is not something the engine can list beforehand, so
it watches: while the host builds, a Python audit hook notes every file opened for reading
and every folder listed. After a successful build the engine writes down what they were
(project files by content; files outside the project, such as installed packages and the
theme, by inode, size, modification and change time, which an edit or a reinstall always
moves), together with:

* every folder below a project folder the build looked into, listed by name (a template
  added to an overrides folder, or a page added to the docs, is a file the build probed
  for or would have walked, without opening it: this is how it is noticed);
* the environment, less each terminal's own variables (MkDocs configs read it with ``!ENV``);
* the interpreter; and the published site's own files by size and modification time, so a
  site edited or deleted by hand is rebuilt.

A later build skips the host only while every one of these reads the same. What a process
the host starts reads cannot be seen from here, so a build that started one, or opened a
network connection, is never skipped, with one exception: read-only ``git`` queries (griffe
asks git for the repository's root, remote and commit; date plugins ask it for the log),
which are asked again, and must answer the same, before a build is skipped. A file read by
compiled code without Python's ``open`` is not seen either; ``build --force`` rebuilds the
site whatever the check says.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from d2l_compiler.engine.publish.search_segments import CACHE_FOLDER as SEGMENT_CACHE
from d2l_compiler.engine.publish.signature_formats import CACHE_FOLDER as SIGNATURE_CACHE
from d2l_compiler.engine.record.observed import current as observed_now
from d2l_compiler.engine.run.observe import project_path
from d2l_compiler.engine.sources.project import Project

FORMAT = 1
_MISSING = "missing"
# a host build that does any of these read something the audit hook cannot follow
_OPAQUE_EVENTS = frozenset({
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "pty.spawn", "socket.connect", "urllib.Request"})
_LISTING_EVENTS = frozenset({"os.listdir", "os.scandir"})
_MOVING_EVENTS = frozenset({"os.rename", "shutil.move", "os.remove", "os.rmdir", "os.truncate"})
# git subcommands that only read the repository: asked again when the site is checked
_GIT_QUERIES = frozenset({"rev-parse", "check-ignore", "describe", "log", "ls-files", "rev-list",
                          "show-ref", "symbolic-ref", "for-each-ref", "ls-tree", "cat-file"})
_GIT_LISTING = {"config": ("--get", "--get-all", "--get-regexp", "-l", "--list"),
                "tag": ("-l", "--list"), "remote": ("get-url",), "branch": ("--show-current",)}
TEMPLATE_CACHE = "jinja"  # the compiled templates, in the state folder
# in the state folder, what the site build reads but is not built from: these notes, and what
# it keeps between builds by content (the keys are the inputs); the store and the logs too
_NOT_INPUTS = ("site-inputs", TEMPLATE_CACHE, SEGMENT_CACHE, SIGNATURE_CACHE)
_NEVER_WALKED = frozenset({"__pycache__", ".git", ".hg", ".svn", "node_modules"})


@dataclass
class SiteInputs:
    """What one host build read, as digests, and what it published."""

    host: str
    site_dir: str
    python: str
    environment: str
    files: dict[str, str] = field(default_factory=dict)  # absolute path -> digest
    folders: dict[str, str] = field(default_factory=dict)  # absolute path -> listing digest
    queries: list[list[str]] = field(default_factory=list)  # [cwd, digest, *git argv]
    site: str = ""  # the published files' names, sizes and modification times
    unseen: str = ""  # why what the build read cannot be told (it is then never skipped)
    format: int = FORMAT


class _Watch:
    """The audit hook's notes while a host build runs (one at a time per process)."""

    def __init__(self, root: Path, skip: tuple[str, ...]) -> None:
        self.root, self.skip = root, skip
        self.read: dict[str, str] = {}  # path -> digest when first read
        self.written: set[str] = set()
        self.listed: set[str] = set()
        self.queries: dict[tuple[str, ...], str] = {}  # (cwd, *argv) -> answer digest
        self.opaque: str | None = None
        self.asking = False  # the hook's own git query is running


_ACTIVE: _Watch | None = None
_HOOKED = False
_LOCK = threading.Lock()


def _path_arg(value: object) -> str | None:
    if isinstance(value, (str, bytes, os.PathLike)):
        try:
            return os.path.abspath(os.fsdecode(value))
        except (TypeError, ValueError, OSError):
            return None
    return None


def _writes(mode: object, flags: object) -> bool:
    if isinstance(mode, str):
        return bool(set(mode) & set("wax+"))
    return isinstance(flags, int) and bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))


def _audit(event: str, args: tuple) -> None:
    watch = _ACTIVE
    if watch is None:
        return
    if event == "open":
        path = _path_arg(args[0])
        if path is None or path.startswith(watch.skip):
            return
        if _writes(args[1], args[2] if len(args) > 2 else None):
            watch.written.add(path)
        elif path not in watch.read and path not in watch.written:
            watch.read[path] = ""  # first: the digest's own open comes back here
            watch.read[path] = _file_digest(path, watch.root)  # as the host is about to read it
    elif event in _MOVING_EVENTS:  # a file written beside and moved in place, or removed
        path = _path_arg(args[1] if event in ("os.rename", "shutil.move") else args[0])
        if path is not None and not path.startswith(watch.skip):
            watch.written.add(path)
    elif event in _LISTING_EVENTS:
        path = _path_arg(args[0]) if args else None
        if path is not None and not path.startswith(watch.skip):
            watch.listed.add(path)
    elif event == "subprocess.Popen" and _git_query(args[1]):
        if not watch.asking:
            cwd = _path_arg(args[2]) if args[2] is not None else os.getcwd()
            watch.asking = True
            try:
                watch.queries[(cwd or "", *map(os.fsdecode, args[1]))] = _ask(args[1], cwd)
            finally:
                watch.asking = False
    elif (event in _OPAQUE_EVENTS or event.startswith("os.exec")) and not watch.asking:
        watch.opaque = watch.opaque or f"{event} {_command(args)}".strip()


def _command(args: tuple) -> str:
    argv = args[1] if len(args) > 1 and isinstance(args[1], (list, tuple)) else args[:1]
    return " ".join(os.fsdecode(a) if isinstance(a, (str, bytes)) else repr(a) for a in argv)[:200]


def _git_query(argv: object) -> bool:
    """Whether ``argv`` is a git command that only reads the repository."""
    if not isinstance(argv, (list, tuple)) or not argv:
        return False
    words = [os.fsdecode(a) for a in argv if isinstance(a, (str, bytes))]
    if len(words) != len(argv) or os.path.basename(words[0]) != "git":
        return False
    rest = words[1:]
    while rest and rest[0] in ("-C", "-c", "--git-dir", "--work-tree") and len(rest) > 1:
        rest = rest[2:]
    if not rest:
        return False
    command, options = rest[0], rest[1:]
    return command in _GIT_QUERIES or any(o in options for o in _GIT_LISTING.get(command, ()))


def _ask(argv: object, cwd: str | None) -> str:
    """The digest of a git query's answer (its output and exit status)."""
    try:
        done = subprocess.run(list(argv), cwd=cwd, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"failed:{type(exc).__name__}"
    answer = b"%d\0%s\0%s" % (done.returncode, done.stdout, done.stderr)
    return hashlib.blake2b(answer, digest_size=16).hexdigest()


@contextmanager
def watching(project: Project, site_dir: Path) -> Iterator[_Watch]:
    """Note what the code inside reads (files opened, folders listed), leaving out the site
    being written to ``site_dir`` (and its staging folder) and the engine's own bookkeeping."""
    global _ACTIVE, _HOOKED
    with _LOCK:
        if not _HOOKED:  # an audit hook cannot be removed: one for the process, idle when unused
            sys.addaudithook(_audit)
            _HOOKED = True
        watch = _Watch(project.root, _skipped(project, site_dir))
        _ACTIVE = watch
    try:
        yield watch
    finally:
        _ACTIVE = None


def _file_digest(path: str, root: Path) -> str:
    """A project file by content; anything else (installed packages, the theme, the
    interpreter's own files) by what an edit or a reinstall always changes."""
    try:
        if project_path(Path(path), root) is not None:
            with open(path, "rb") as handle:
                return "c" + hashlib.file_digest(handle, "blake2b").hexdigest()[:32]
        stat = os.stat(path)
    except IsADirectoryError:
        return "folder"
    except OSError:
        return _MISSING
    return f"s{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}"


def _walk_names(folder: str, skip: tuple[str, ...]) -> Iterator[str]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        yield _MISSING
        return
    for entry in entries:
        if (entry.path + os.sep).startswith(skip):
            continue
        yield entry.name
        if entry.is_dir(follow_symlinks=False) and entry.name not in _NEVER_WALKED:
            yield "/"
            yield from _walk_names(entry.path, skip)
            yield "\\"


def _folder_digest(folder: str, root: Path, skip: tuple[str, ...]) -> str:
    """Names below a project folder (recursively; the project root only its own names),
    or a folder outside the project by what adding or removing an entry changes."""
    inside = project_path(Path(folder), root)
    if inside is None:
        try:
            stat = os.stat(folder)
        except OSError:
            return _MISSING
        return f"s{stat.st_ino}:{stat.st_mtime_ns}:{stat.st_ctime_ns}"
    if inside == ".":
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return _MISSING
    else:
        names = list(_walk_names(folder, skip))
    return hashlib.blake2b("\0".join(names).encode(), digest_size=16).hexdigest()


def _site_digest(site_dir: Path) -> str:
    """The published files' relative names, sizes and modification times."""
    lines = []
    for folder, dirs, files in os.walk(site_dir):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                stat = os.stat(path)
            except OSError:
                return _MISSING
            lines.append(f"{os.path.relpath(path, site_dir)}\0{stat.st_size}\0{stat.st_mtime_ns}")
    if not lines:
        return _MISSING
    return hashlib.blake2b("\n".join(lines).encode(), digest_size=16).hexdigest()


def _record_path(project: Project, host: str, site_dir: Path) -> Path:
    name = hashlib.sha256(f"{host}\0{site_dir.resolve()}".encode()).hexdigest()[:16]
    return project.state_dir / "site-inputs" / f"{name}.json"


def _skipped(project: Project, site_dir: Path) -> tuple[str, ...]:
    """Paths never counted: the site (and its staging folders beside it), the engine's
    store and logs, and caches keyed by content (the record, which the renderer reads,
    stays an input)."""
    state = project.state_dir.resolve()
    return (str(site_dir.resolve().parent / ".site-"), str(site_dir.resolve()) + os.sep,
            *(str(state / name) + os.sep for name in _NOT_INPUTS), str(state / "lock"),
            str(project.store_dir.resolve()) + os.sep, str(project.logs_dir.resolve()) + os.sep)


def _unwalked(project: Project, site_dir: Path) -> tuple[str, ...]:
    """What a folder's listing leaves out: the skipped paths and the engine's state folder."""
    return (*_skipped(project, site_dir), str(project.state_dir.resolve()) + os.sep)


def _environment(project: Project) -> str:
    return observed_now("env:*", project.root)


def _python() -> str:
    return f"{sys.executable}\0{sys.version}"


def note_build(project: Project, host: str, site_dir: Path, watch: _Watch) -> None:
    """Write down what the host build just watched read (call after the site is published).
    A build whose reads cannot all be told (it started a process, rewrote a file it had
    read, or a file changed while it ran) is noted as such: the next build builds again."""
    root, skip = project.root, _unwalked(project, site_dir)
    notes = SiteInputs(host, str(site_dir.resolve()), _python(), _environment(project))
    notes.files = {path: _file_digest(path, root) for path in sorted(watch.read)
                   if path not in watch.written}
    rewritten = sorted(p for p in watch.read if p in watch.written and watch.read[p] != _MISSING)
    edited = [p for p, digest in notes.files.items() if watch.read[p] != digest]
    if watch.opaque is not None:
        notes.unseen = f"the last build started a process or a connection ({watch.opaque})"
    elif rewritten:
        notes.unseen = f"the last build rewrote {_shown(rewritten[0], root)}, which it had read"
    elif edited:
        notes.unseen = f"{_shown(edited[0], root)} changed while the last build read it"
    else:
        notes.folders = {path: _folder_digest(path, root, skip)
                         for path in sorted(_folders(watch, project))}
        notes.queries = [[cwd, digest, *argv]
                         for (cwd, *argv), digest in sorted(watch.queries.items())]
        notes.site = _site_digest(site_dir)
    target = _record_path(project, host, site_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(notes)), encoding="utf-8")
    os.replace(temporary, target)


def _folders(watch: _Watch, project: Project) -> set[str]:
    """Folders listed, plus the project folder of every project file read (new files beside
    a template or a page are what a build probes for without opening); not the engine's
    state folder, whose files the build reads are inputs but whose listing is bookkeeping."""
    state = str(project.state_dir.resolve())
    found = set(watch.listed)
    for path in watch.read:
        parent = os.path.dirname(path)
        if project_path(Path(parent), project.root) is not None:
            found.add(parent)
    return {f for f in found if f != state and not f.startswith(state + os.sep)}


def what_changed(project: Project, host: str, site_dir: Path) -> str | None:
    """None if the site at ``site_dir`` is what building it with ``host`` now would make
    (the last build's notes exist and everything they list reads the same); otherwise the
    first difference found, in words."""
    try:
        notes = SiteInputs(**json.loads(_record_path(project, host, site_dir).read_text(
            encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return "no notes of an earlier build of this site"
    if notes.format != FORMAT or notes.site_dir != str(site_dir.resolve()):
        return "no notes of an earlier build of this site"
    if notes.unseen:
        return notes.unseen
    if notes.python != _python():
        return "another Python"
    if notes.environment != _environment(project):
        return "the environment variables changed"
    root, skip = project.root, _unwalked(project, site_dir)
    for path, digest in notes.folders.items():
        if _folder_digest(path, root, skip) != digest:
            return f"{_shown(path, root)}/ has other files"
    for path, digest in notes.files.items():
        if _file_digest(path, root) != digest:
            return f"{_shown(path, root)} changed"
    for cwd, digest, *argv in notes.queries:
        if _ask(argv, cwd or None) != digest:
            return f"`{' '.join(argv)}` answers differently"
    if _site_digest(site_dir) != notes.site:
        return f"{_shown(str(site_dir.resolve()), root)} was changed by hand"
    return None


def _shown(path: str, root: Path) -> str:
    inside = project_path(Path(path), root)
    return path if inside is None else inside
