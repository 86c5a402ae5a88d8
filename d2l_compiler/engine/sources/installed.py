"""Installed distributions' versions, read fast (a leaf: the page process imports it)."""

from __future__ import annotations

import re
from importlib import metadata

_VERSION = re.compile(r"^Version:[ \t]*(.*?)[ \t]*$", re.MULTILINE)


def installed_version(name: str) -> str:
    """``importlib.metadata.version(name)``, reading only METADATA's ``Version:`` header
    (the standard call parses the whole file: most of a no-op build's time for a large one).
    ``PackageNotFoundError`` when not installed."""
    return version_of(metadata.distribution(name))


def version_of(dist: metadata.Distribution) -> str:
    """``dist.version``, without parsing the whole METADATA file."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    found = _VERSION.search(text.split("\n\n", 1)[0])
    return found.group(1) if found else dist.version
