"""A notebook's first cell: ``%pip install`` of what its code needs, pinned to the versions the
build ran with, from sources a reader can reach (a package index, the site's own wheel of
the project, or its repository), so the downloaded notebook runs from the top anywhere,
Colab included.

The third-party distributions come from the page's key (what its regions and the project
modules they import name in ``import`` statements); the book adds what libraries load on
their own (``notebook_packages``); the project's own package is installed from
``NotebookSetup.project`` when the page imports any project module.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from d2l_compiler.engine.record.model import PageEntry


def _public_version(version: str) -> str:
    """``2.13.0+cpu`` -> ``2.13.0``: a local build label names no release an index serves
    (the reader's pip then takes the build for their own machine)."""
    return version.split("+", 1)[0]


@dataclass(frozen=True)
class NotebookSetup:
    """What every notebook of the book installs beside the packages its code imports."""

    extra: Mapping[str, str] = field(default_factory=dict)  # distribution -> built-with version
    project: str | None = None  # a pip requirement for the project's own package

    def requirements(self, entry: PageEntry) -> list[str]:
        """The page's pins: ``name==version`` for each distribution, then the project."""
        pins: dict[str, str] = {}
        packages: Mapping[str, Any] = entry.inputs.packages
        for versions in packages.values():
            for pin in versions if isinstance(versions, list) else ():
                name, sep, version = str(pin).partition("==")
                if sep and version:
                    pins.setdefault(name, _public_version(version))
        for name, version in self.extra.items():
            pins.setdefault(name, _public_version(version))
        found = [f"{name}=={pins[name]}" for name in sorted(pins, key=str.lower)]
        if self.project is not None and entry.inputs.files:
            found.append(self.project)
        return found


def setup_source(requirements: list[str], comment: str) -> str:
    """The cell's code: a comment, then ``%pip install`` (IPython's, so it installs into the
    running kernel's environment, locally and on Colab alike). A requirement by address
    (``name@URL``: the project) is installed again on its own line: its version does not
    change with its content, so pip would otherwise keep a copy installed earlier."""
    lines = [f"# {comment}", f"%pip install {' '.join(shlex.quote(r) for r in requirements)}"]
    lines += [f"%pip install --no-deps --force-reinstall {shlex.quote(r)}"
              for r in requirements if "@" in r]
    return "\n".join(lines) + "\n"
