"""Answers of a pure function kept between builds, by content, in one JSON file.

The site build asks some libraries the same questions on every build (Material's search asks
jieba to segment each unchanged sentence; mkdocstrings asks Black to format each unchanged
signature). The answer depends only on the question and on a setup the caller names in the
file's name (library versions, dictionaries, options), so it can be kept. A file holds what
the last build asked, no more: it stays the size of the site.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from d2l_compiler.engine.record.io import write_json_atomic


class KeptAnswers:
    """Question (a string) -> answer (anything JSON holds), read from ``path`` when first
    asked; :meth:`save` writes what this build asked for, if that differs from the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._kept: dict[str, Any] | None = None
        self._used: dict[str, Any] = {}

    def get(self, question: str) -> Any | None:
        """The kept answer to ``question``, else None (then :meth:`put` the one worked out)."""
        found = self._used.get(question)
        if found is None:
            found = self._file().get(question)
            if found is not None:
                self._used[question] = found
        return found

    def put(self, question: str, answer: Any) -> None:
        """Keep ``answer`` for the next build."""
        self._used[question] = answer

    def _file(self) -> dict[str, Any]:
        if self._kept is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._kept = data if isinstance(data, dict) else {}
            except (OSError, ValueError):  # none yet, or cut short: worked out again
                self._kept = {}
        return self._kept

    def save(self) -> None:
        """Write what this build asked for (as the record is written: beside, then moved in;
        a lone surrogate in a page's text escaped), and start the next build's list afresh."""
        if self._used and self._used != self._file():
            write_json_atomic(self.path, self._used)
            self._kept = self._used
        self._used = {}
