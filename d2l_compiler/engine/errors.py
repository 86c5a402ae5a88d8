"""Errors the engine reports as one line (exit status in ``exit_code``)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'net'?"`` when a known name is close to ``name`` (a typo), else ""."""
    close = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class BuildError(Exception):
    """A failure to report without a traceback: bad input, or a region that failed."""

    exit_code = 1


class UsageError(BuildError):
    """The build was asked for something impossible (bad option, missing file, no device)."""

    exit_code = 2


class NoRecord(UsageError):
    """There is no build record (of this format) where one is needed: ``path``."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"no build record at {path}: {reason}")
        self.path = path


class PagesFailed(BuildError):
    """Pages failed to run (or the sources changed under them): ``failures`` maps each page
    (``"*"``: the build as a whole) to what went wrong there. Nothing was recorded."""

    def __init__(self, failures: dict[str, str], summary: str) -> None:
        super().__init__("\n".join(failures.values()) + f"\nbuild failed ({summary}): "
                         "the record and the site were left unchanged")
        self.failures = failures


class RenderError(ValueError):
    """The page cannot be rendered honestly from the record (missing, stale, unknown token).

    Where it is known, ``page_file`` and ``line`` (1-based; None: the whole page) say where;
    the message then starts with them, and callers read the fields, never the text."""

    def __init__(self, reason: str, page_file: str | None = None, line: int | None = None) -> None:
        where = f"{page_file}:{line}: " if page_file and line else f"{page_file}: " if page_file else ""
        super().__init__(f"{where}{reason}")
        self.reason, self.page_file, self.line = reason, page_file, line

    def at(self, page_file: str, line: int | None = None) -> RenderError:
        """This error placed in ``page_file`` (at ``line``), unless it already has a place."""
        return self if self.page_file else RenderError(self.reason, page_file, line)
