"""Errors the engine reports as one line (exit status in ``exit_code``)."""

from __future__ import annotations


class BuildError(Exception):
    """A failure to report without a traceback: bad input, or a region that failed."""

    exit_code = 1


class UsageError(BuildError):
    """The build was asked for something impossible (bad option, missing file, no device)."""

    exit_code = 2
