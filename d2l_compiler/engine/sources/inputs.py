"""The inputs of a content key, as typed data: one definition gives the key's canonical JSON
(what its SHA-256 covers), the record's validated reading and its published JSON Schema.

:class:`PageInputs` are a page's (the union of its regions' sources, and their order);
:class:`RegionInputs` one executed region's (its own code, what it depends on). Both share
the machine facts of :class:`KeyInputs`. Produced by :mod:`.key`; kept in the record.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

import msgspec

# a content key: hex SHA-256
Digest = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
# a region as the key sees it: its id (path:section) and the SHA-256 of its code
RegionCode = tuple[str, str]


class KeyInputs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What every key covers: the record format, the interpreter, the device kind, the
    environment variables the C library reads, and the project modules, third-party packages
    and data files the regions use."""

    format: int
    python: str
    device: str
    env: dict[str, str] = {}
    files: dict[str, str] = {}  # project module (path) -> SHA-256 of its text
    packages: dict[str, list[str]] = {}  # top-level module -> "distribution==version"s
    data: dict[str, str] = {}  # data file a region declares (``# reads:``) -> SHA-256

    def digest(self) -> str:
        """The key: SHA-256 of these inputs as compact JSON with sorted keys (anyone can
        recompute it from the record: ``json.dumps(inputs, sort_keys=True,
        separators=(",", ":"))``)."""
        return inputs_digest(msgspec.to_builtins(self))


class PageInputs(KeyInputs, frozen=True, kw_only=True):
    """A page's key inputs: the machine, the union of its regions' sources, and the regions
    it runs in order (order and repetition change what each region sees)."""

    regions: list[RegionCode] = []
    # per executed region, in page order: its id and its own content key
    region_keys: list[tuple[str, Digest]] = []


class RegionInputs(KeyInputs, frozen=True, kw_only=True):
    """One executed region's key inputs: its own code, the sources it uses, whether it runs
    in a process of its own, and the keys of the regions it depends on (so an edit re-keys
    exactly its descendants). The page is an input: a region shared by two pages may see
    other state on each."""

    page: str = ""
    region: RegionCode = ("", "")
    own_process: bool = False
    after: list[Digest] = []


def inputs_digest(inputs: Any) -> str:
    """SHA-256 of JSON-ready inputs as compact JSON with sorted keys."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
