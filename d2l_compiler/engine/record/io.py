"""The build record: one JSON file, written atomically, read by the MkDocs hook.

Each page entry carries a ``digest`` of its own content, so a record edited by hand (an
output changed, a value replaced) is refused by ``check`` and by the site build instead of
being published. The JSON is written with ``<``, ``>`` and ``&`` escaped (``\\u003c``...),
so the copy the site serves cannot be read as markup by anything that sniffs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.sources.key import RECORD_FORMAT


_HTML_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})
_PAGE_FIELDS = {"key": str, "inputs": dict, "regions": list, "provenance": dict,
                "executed_at": str, "duration": (int, float), "digest": str}


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).translate(_HTML_SAFE)
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


def entry_digest(entry: dict[str, Any]) -> str:
    """SHA-256 of a page entry's content (everything but the digest itself)."""
    body = {k: v for k, v in entry.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


def seal(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` with its digest."""
    return {**entry, "digest": entry_digest(entry)}


def tampered(entry: dict[str, Any]) -> bool:
    """Whether a page entry's content no longer matches its digest."""
    return entry.get("digest") != entry_digest(entry)


def _malformed(path: Path, what: str) -> UsageError:
    return UsageError(f"{path}: malformed build record ({what}); delete it and rebuild")


def _validate(path: Path, record: Any) -> dict[str, Any] | None:
    if not isinstance(record, dict):
        raise _malformed(path, f"a JSON {type(record).__name__}, not an object")
    if record.get("format") != RECORD_FORMAT:
        return None  # another format: as if there were none
    if not isinstance(record.get("provenance"), dict) or not isinstance(record.get("pages"), dict):
        raise _malformed(path, "no 'provenance' or 'pages' object")
    for page, entry in record["pages"].items():
        if not isinstance(entry, dict):
            raise _malformed(path, f"page {page!r} is not an object")
        for name, kind in _PAGE_FIELDS.items():
            if not isinstance(entry.get(name), kind):
                raise _malformed(path, f"page {page!r} has no valid {name!r}")
        if not all(isinstance(r, dict) and isinstance(r.get("id"), str) for r in entry["regions"]):
            raise _malformed(path, f"page {page!r} has a region without an id")
    return record


def load_record(path: Path) -> dict[str, Any] | None:
    """The record at ``path``, or None if there is none or it is from another format."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: unreadable build record ({exc}); delete it and rebuild") from None
    return _validate(path, record)


def git_commit(root: Path) -> str:
    """The commit checked out at ``root`` (with ``+dirty`` if files changed), or ``unknown``."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
