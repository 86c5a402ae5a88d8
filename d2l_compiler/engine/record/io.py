"""The build record: one JSON file, written atomically, read by the MkDocs plugin.

Each page entry carries a ``digest`` of its own content, so a record edited by hand (an
output changed, a value replaced) is refused by ``check`` and by the site build instead of
being published. The JSON is written with ``<``, ``>`` and ``&`` escaped (``\\u003c``...),
so the copy the site serves cannot be read as markup by anything that sniffs it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.record.digest import entry_digest, read_back  # noqa: F401 - the record's API
from d2l_compiler.engine.record.model import FORMAT, PageEntry, RecordError
from d2l_compiler.engine.record.whole import Record


_HTML_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def record_text(data: Any) -> str:
    """``data`` as the record file's JSON text: a lone surrogate (which UTF-8 cannot encode;
    a region may print one) written as its ``\\udXXX`` escape, ``<``, ``>``, ``&`` escaped."""
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", text).translate(_HTML_SAFE)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = record_text(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def tampered(entry: PageEntry) -> bool:
    """Whether a page entry's content no longer matches its digest."""
    return entry.digest != entry_digest(entry.to_json())


def write_record(path: Path, record: Record) -> Record:
    """Write ``record`` atomically (the one place a record is written); return it as it reads
    back, which is what is written (``0`` kept as a float is written ``0.0``), so writing what
    was read writes the same bytes."""
    written = Record.from_json(read_back(record.to_json()))
    write_json_atomic(path, written.to_json())
    return written


def load_record(path: Path, hint: str = "; delete it and rebuild") -> Record | None:
    """The record at ``path`` (the one place a record is read), or None if there is none or
    it is from another format; ``UsageError`` (one line, ending with ``hint``) if it is
    unreadable or malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: unreadable build record ({exc}){hint}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: malformed build record (a JSON {type(data).__name__}, not an "
                         f"object){hint}")
    if data.get("format") != FORMAT:
        return None  # another format: as if there were none
    try:
        return Record.from_json(data)
    except RecordError as exc:
        raise UsageError(f"{path}: malformed build record ({exc}){hint}") from None


def _git(root: Path, *args: str) -> str:
    """What ``git ARGS`` prints in ``root`` (``OSError``/``SubprocessError`` if it cannot)."""
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10,
                          check=True).stdout.strip()


def _changed(root: Path) -> bool:
    """Whether a tracked file differs from the commit checked out at ``root``."""
    return bool(_git(root, "status", "--porcelain", "--untracked-files=no"))


def git_commit(root: Path) -> str:
    """The commit checked out at ``root`` (with ``+dirty`` if files changed), or ``unknown``.
    ``D2L_SOURCE_COMMIT`` overrides it, marked ``(copy)``: a tree sent to another machine (a
    GPU's) may carry no git history, or a stale one under the files sent."""
    named = os.environ.get(SOURCE_COMMIT_ENV, "").strip()
    if named:
        return f"{named[:40]} (copy)"
    try:
        return _git(root, "rev-parse", "--short=12", "HEAD") + ("+dirty" if _changed(root) else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


SOURCE_COMMIT_ENV = "D2L_SOURCE_COMMIT"


def clean_head(root: Path) -> str | None:
    """The full commit checked out at ``root`` if no tracked file differs from it (what a
    ``git+URL@commit`` requirement would install), else None."""
    try:
        commit = _git(root, "rev-parse", "HEAD")
        return None if _changed(root) else commit
    except (OSError, subprocess.SubprocessError):
        return None


UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # how the record writes a time: ISO 8601, UTC, to the second


def utc_now() -> str:
    """The current UTC time, to the second, ISO 8601."""
    return datetime.now(timezone.utc).strftime(UTC_FORMAT)


def readable_time(iso: str) -> str:
    """``2026-11-30T14:04:01Z`` as readers write it, ``2026-11-30 14:04 UTC``; anything
    else (a record from elsewhere) unchanged."""
    try:
        moment = datetime.strptime(iso, UTC_FORMAT)
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def readable_span(first: str, last: str) -> str:
    """Two times as one span, the shared date and zone written once: ``2026-12-05
    09:28–13:00 UTC``, or ``2026-12-04 23:50 – 2026-12-05 00:10 UTC`` across midnight."""
    try:
        start, end = (datetime.strptime(t, UTC_FORMAT) for t in (first, last))
    except ValueError:
        return f"{readable_time(first)} – {readable_time(last)}"
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"
