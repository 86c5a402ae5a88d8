"""The digest that seals a page entry, and JSON as the record file gives it back: what the
model seals (:meth:`~.model.PageEntry.sealed`) and what reading checks (:mod:`.io`)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def read_back(data: Any) -> Any:
    """``data`` as JSON gives it back from the record file (a surrogate pair written as two
    lone halves comes back as one character, a tuple as a list, ...): with the model's
    ``from_json``, what a digest must cover. ASCII JSON reads back as :func:`record_text`
    does, ten times faster."""
    return json.loads(json.dumps(data))


def entry_digest(entry: dict[str, Any]) -> str:
    """SHA-256 of a page entry's JSON (everything but the digest itself)."""
    body = {k: v for k, v in entry.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode()).hexdigest()
