"""Content-addressed store of page results: one directory per key, verified on every read.

Layout: ``<store>/<key>/entry.json`` (the page's recorded results) and ``meta.json``
(record format and the SHA-256 of ``entry.json``). An entry is written into a temporary
directory and renamed into place, so a reader sees a whole entry or none. A corrupt entry
(truncated, edited, half-merged) fails its checksum and is discarded with a warning.

The checksum catches accidents, not a region that rewrites an entry and its checksum: every
write and removal is journaled for :mod:`.guard`, which tells the engine's changes to the store
from anyone else's while pages run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from d2l_compiler.engine.record.guard import engine_removing, engine_wrote, signature
from d2l_compiler.engine.record.model import FORMAT as RECORD_FORMAT
from d2l_compiler.engine.record.model import RecordError, StoredPage


class Store:
    """Page results keyed by :func:`d2l_compiler.engine.sources.key.page_keys`."""

    def __init__(self, path: Path, warn: Callable[[str], None]) -> None:
        self.path = path
        self.warn = warn

    def get(self, key: str) -> StoredPage | None:
        """The entry stored under ``key``, or None (missing, or corrupt and now discarded)."""
        folder = self.path / key
        if not folder.exists():
            return None
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            if isinstance(meta, dict) and isinstance(meta.get("format"), int) and \
                    meta["format"] != RECORD_FORMAT:  # an older engine's entry: not corrupt
                engine_removing(folder)
                shutil.rmtree(folder, ignore_errors=True)
                return None
            payload = (folder / "entry.json").read_bytes()
            if meta.get("format") != RECORD_FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, expected {RECORD_FORMAT}")
            if hashlib.sha256(payload).hexdigest() != meta.get("sha256"):
                raise ValueError("checksum mismatch")
            return StoredPage.from_json(json.loads(payload))
        except (OSError, ValueError, AttributeError, RecordError) as exc:
            self.warn(f"warning: discarding corrupt store entry {folder} ({exc})")
            engine_removing(folder)
            shutil.rmtree(folder, ignore_errors=True)
            return None

    def put(self, key: str, entry: StoredPage) -> None:
        """Store ``entry`` under ``key`` atomically (an existing entry is replaced whole)."""
        self.path.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(entry.to_json(), ensure_ascii=False, sort_keys=True).encode("utf-8")
        staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=self.path))
        try:
            names = ("entry.json", "meta.json")
            for name, data in zip(names, (payload, json.dumps(
                    {"format": RECORD_FORMAT, "sha256": hashlib.sha256(payload).hexdigest()}
                    ).encode()), strict=True):
                with open(staging / name, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
            written = [signature(staging / name) for name in names]  # a rename keeps them
            target = self.path / key
            if target.exists():
                engine_removing(target)
                shutil.rmtree(target)
            os.rename(staging, target)
            engine_wrote([(target / name, sig) for name, sig in zip(names, written, strict=True)])
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def keep_only(self, keys: Iterable[str], spare: int = 0) -> list[str]:
        """Delete every entry whose key is not in ``keys``, except the ``spare`` most recently
        written of them (so undoing an edit finds its old results), and every stray
        temporary directory. The store stays bounded: ``len(keys) + spare`` entries at most."""
        wanted = set(keys)
        unused = []
        removed = []
        for folder in self.path.iterdir() if self.path.is_dir() else ():
            if folder.name in wanted:
                continue
            if folder.name.startswith(".") or not (folder / "meta.json").is_file():
                engine_removing(folder)
                shutil.rmtree(folder, ignore_errors=True)  # a half-written entry
                removed.append(folder.name)
                continue
            unused.append(folder)
        unused.sort(key=lambda f: (f / "meta.json").stat().st_mtime_ns, reverse=True)
        for folder in unused[spare:]:
            engine_removing(folder)
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
        return removed
