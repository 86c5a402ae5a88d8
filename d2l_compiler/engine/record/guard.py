"""What a region may not touch: the engine's own files, checked around the run of the pages.

Region code runs in page processes of its own, as the author, and can reach any file of the
project by its absolute path. A region that rewrote another page's store entry (and its
checksum), the record, or a file under ``docs/generated`` would otherwise have it published by
the next build as if the engine had written it. So a build:

1. takes a snapshot of the engine's files before any page runs: ``lstat`` only (device,
   inode, size, mtime, ctime; ctime cannot be set back by ``utime``), no hashing;
2. journals what this process itself writes or removes meanwhile (:func:`engine_wrote`,
   :func:`engine_removing`: the store's ``put`` and its discarding of corrupt entries; page
   processes never run in the build's own process, so a region cannot journal a write);
3. right after the pages ran (:func:`after_pages`), before anything is recorded or published,
   compares: a file that differs from both the snapshot and the journal was changed by
   something else. The build fails with one line naming it and the pages that ran; tampered
   store entries are removed (their pages run again, nothing forged is reused), and any other
   changed or added file is moved to ``<state_dir>/tampered/`` (nothing forged is published,
   nothing of the author's is lost).

The engine's files are: the store (wherever ``D2L_STORE_DIR`` puts it), the record (wherever
``record:`` puts it), ``docs/generated`` and everything else in the state directory, except
``logs/`` (the page processes' own output, written as the regions print and by worker
processes; diagnostics that nothing reads back into a record or a page), ``lock`` (reopened by
a build that waits for this one) and ``tampered/`` itself.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from d2l_compiler.engine.errors import BuildError
from d2l_compiler.engine.sources.project import GENERATED_DIR, Project

QUARANTINE = "tampered"  # under the state directory: what a region changed, moved out of use
UNGUARDED = ("logs", "lock", QUARANTINE)  # under the state directory (see the module docstring)


class Signature(NamedTuple):
    """What ``lstat`` says of a file: any write, replacement or ``utime`` changes one field."""

    device: int
    inode: int
    mode: int
    size: int
    mtime_ns: int
    ctime_ns: int


def signature(path: Path) -> Signature | None:
    """The file's signature now; None if nothing is there."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return Signature(st.st_dev, st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _normal(path: Path) -> Path:
    """One spelling per path (``..`` folded, absolute), so that walks and journal agree."""
    return Path(os.path.abspath(path))


@dataclass(eq=False)  # one guard is one build: compared by identity
class StateGuard:
    """The engine's files of one project before the pages ran, and the build's own writes."""

    project: Project
    roots: tuple[Path, ...]  # what is watched, recursively
    skipped: frozenset[Path]  # what is not (see UNGUARDED)
    before: dict[Path, Signature] = field(default_factory=dict)
    expected: dict[Path, Signature | None] = field(default_factory=dict)  # journal: None = removed
    checked: bool = False
    thread: int = field(default_factory=threading.get_ident)  # the build's own thread

    @classmethod
    def take(cls, project: Project) -> StateGuard:
        """The snapshot of ``project``'s engine files, taken now."""
        state = _normal(project.state_dir)
        roots = {_normal(p) for p in (project.state_dir, project.store_dir, project.record_path,
                                      project.docs_dir / GENERATED_DIR)}
        outermost = tuple(sorted(root for root in roots  # the store is in the state dir, mostly
                                 if not any(root != other and root.is_relative_to(other)
                                            for other in roots)))
        guard = cls(project, outermost, frozenset(state / name for name in UNGUARDED))
        guard.before = guard.scan()
        return guard

    def watches(self, path: Path) -> bool:
        """Whether ``path`` is one of the engine's files this guard checks."""
        return any(path.is_relative_to(root) for root in self.roots) and not any(
            path.is_relative_to(skipped) for skipped in self.skipped)

    def scan(self) -> dict[Path, Signature]:
        """The signature of every watched file now (directories are walked, not signed)."""
        found: dict[Path, Signature] = {}
        pending = list(self.roots)
        while pending:
            path = pending.pop()
            if path in self.skipped or path in found:
                continue
            sig = signature(path)
            if sig is None:
                continue
            if stat.S_ISDIR(sig.mode) or (path in self.roots and path.is_dir()):  # a linked store
                try:
                    pending += [Path(entry.path) for entry in os.scandir(path)]
                except OSError:  # removed while walked: whatever it held is seen as removed
                    pass
            else:
                found[path] = sig
        return found

    def tampered(self) -> list[Path]:
        """Watched files that are not what the snapshot and the journal say, sorted."""
        now = self.scan()
        journal = {p for p in self.expected if self.watches(p)}
        changed = []
        for path in sorted(set(self.before) | set(now) | journal):
            wanted = self.expected[path] if path in self.expected else self.before.get(path)
            if now.get(path) != wanted:
                changed.append(path)
        return changed

    def set_aside(self, paths: Sequence[Path]) -> str:
        """Take what was tampered with out of use; says what was done, for the error line."""
        store = _normal(self.project.store_dir)
        entries = {store / p.relative_to(store).parts[0] for p in paths
                   if p.is_relative_to(store) and p != store}
        for entry in entries:  # its page runs again rather than publishing a forgery
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        folder = _normal(self.project.state_dir) / QUARANTINE / time.strftime("%Y%m%dT%H%M%S")
        moved = 0
        for path in paths:
            if (path.is_relative_to(store) and path != store) or signature(path) is None:
                continue
            base = _normal(self.project.root)
            target = folder / (path.relative_to(base) if path.is_relative_to(base) else path.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            moved += 1
        done = []
        if entries:
            done.append(f"{len(entries)} store entr{'y' if len(entries) == 1 else 'ies'} removed")
        if moved:
            done.append(f"{moved} file{'s' * (moved != 1)} moved to {self._shown(folder)}")
        return "; ".join(done)

    def check(self, pages_ran: Sequence[str]) -> None:
        """``BuildError`` in one line if anything but the engine changed the engine's files
        since the snapshot (after taking what changed out of use)."""
        self.checked = True
        paths = self.tampered()
        if not paths:
            return
        done = self.set_aside(paths)
        more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
        ran = f"while {', '.join(pages_ran)} ran" if pages_ran else "during the build"
        raise BuildError(f"{self._shown(paths[0])}{more} was changed {ran}, not by the engine: "
                         "a region may not write the engine's state or generated files"
                         f"{'; ' + done if done else ''}; build failed")

    def _shown(self, path: Path) -> str:
        base = _normal(self.project.root)
        return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)


_armed: list[StateGuard] = []  # the guards of the builds running in this process
_journal_lock = threading.Lock()  # pages finish (and are stored) on the executor's threads


def engine_wrote(paths: Iterable[tuple[Path, Signature | None]]) -> None:
    """Journal files the engine just wrote, each with the signature it had when written
    (taken before a rename moves it into place, so that nothing can slip in between)."""
    with _journal_lock:
        for guard in _armed:
            for path, sig in paths:
                guard.expected[_normal(path)] = sig


def engine_removing(folder: Path) -> None:
    """Journal that the engine is about to remove ``folder`` (or the file) with all it holds."""
    with _journal_lock:
        if not _armed:
            return
        base = _normal(folder)
        held = [base] if signature(base) is not None and not base.is_dir() else []
        for parent, _, files in os.walk(base):
            held += [Path(parent) / name for name in files]
        for guard in _armed:
            for path in held:
                guard.expected[path] = None


@contextmanager
def guarding(project: Project) -> Iterator[StateGuard]:
    """Snapshot ``project``'s engine files and journal this process's writes until the
    pages ran. If :func:`after_pages` was not reached (the build stopped before or while
    its pages ran), the check runs on the way out: a forgery is taken out of use even then."""
    guard = StateGuard.take(project)
    with _journal_lock:
        _armed.append(guard)
    failed = True
    try:
        yield guard
        failed = False
    finally:
        _disarm(guard)
        if not guard.checked:
            try:
                guard.check(())
            except BuildError as exc:
                if not failed:
                    raise
                print(f"error: {exc}", file=sys.stderr)  # the build's own error goes on


def after_pages(pages_ran: Sequence[str]) -> None:
    """The pages ran: check the guard of the build running on this thread now, before
    anything is recorded (what the engine writes from here on needs no journal).
    ``BuildError`` on tampering; nothing to do outside :func:`guarding`."""
    with _journal_lock:
        guards = [guard for guard in _armed if guard.thread == threading.get_ident()]
    for guard in guards:
        _disarm(guard)
        guard.check(pages_ran)


def _disarm(guard: StateGuard) -> None:
    with _journal_lock:
        if guard in _armed:
            _armed.remove(guard)
