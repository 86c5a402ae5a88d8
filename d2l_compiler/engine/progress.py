"""Progress while pages run: a live rich display on a terminal, one plain line per step elsewhere."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from d2l_compiler.engine.record.model import RegionRun


class PlainProgress:
    """One flushed line per page event: readable in CI logs, survives a killed build."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def say(self, message: str) -> None:
        """Print one line."""
        print(message, file=self.stream, flush=True)

    def cached(self, page: str) -> None:
        """A page's results came from the store."""
        self.say(f"cached  {page}")

    def started(self, page: str, regions: int) -> None:
        """A page starts running."""
        self.say(f"running {page} ({regions} regions) ...")

    def region(self, page: str, run: RegionRun) -> None:
        """A region finished (plain output stays one line per page)."""

    def finished(self, page: str, ok: bool, seconds: float) -> None:
        """A page finished (``ok`` or failed) after ``seconds``."""
        self.say(f"{'ran    ' if ok else 'FAILED '} {page} in {seconds:.1f} s")

    def close(self) -> None:
        """Nothing to tear down."""


class RichProgress(PlainProgress):
    """A progress bar per running page, advancing as each region finishes."""

    def __init__(self) -> None:
        super().__init__()
        from rich.progress import (  # noqa: PLC0415 - only for a terminal: a plain build skips rich
            BarColumn, Progress, TextColumn, TimeElapsedColumn)

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                             TextColumn("{task.completed}/{task.total} regions"),
                             TimeElapsedColumn(), transient=False)
        self._bar.start()
        self._tasks: dict[str, Any] = {}

    def say(self, message: str) -> None:
        """Print one line."""
        self._bar.console.print(message, markup=False, highlight=False)

    def started(self, page: str, regions: int) -> None:
        """A page starts running."""
        self._tasks[page] = self._bar.add_task(page, total=regions)

    def region(self, page: str, run: RegionRun) -> None:
        """A region finished: advance the page's bar and name the region."""
        self._bar.update(self._tasks[page], advance=1,
                         description=f"{page} · {run.id.rpartition(':')[2]}")

    def finished(self, page: str, ok: bool, seconds: float) -> None:
        """A page finished (``ok`` or failed) after ``seconds``."""
        task = self._tasks[page]
        done = {"completed": self._bar.tasks[task].total} if ok else {}  # regions of a page run
        self._bar.update(task, description=f"{page} {'✓' if ok else '✗'}", **done)  # elsewhere
        super().finished(page, ok, seconds)

    def close(self) -> None:
        """Stop the live display."""
        self._bar.stop()


def make_progress() -> PlainProgress:
    """Rich on an interactive terminal (unless CI is set), plain lines otherwise."""
    if sys.stdout.isatty() and not os.environ.get("CI"):
        try:
            return RichProgress()
        except ImportError:
            pass
    return PlainProgress()
