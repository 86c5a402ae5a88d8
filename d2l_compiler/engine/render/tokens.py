"""The extension point: ``{{ d2l:NAME ... }}`` tokens and files derived from the record.

A book (or a chapter) adds its own tokens and derived files with one function, named by a
Python entry point in the group ``d2l_compiler.extensions``::

    [project.entry-points."d2l_compiler.extensions"]
    mybook = "mybook.d2l:register"

    def register(ext: Extensions) -> None:
        @ext.token("my_table")
        def my_table(call: TokenCall) -> str: ...
        ext.derived.append(write_my_figures)

The engine itself registers the generic tokens (``stamp``, ``report``, ``dataflow``) the
same way, from :mod:`.builtin`. A token that is not registered
is read as a value reference ``SECTION.name[.field] | FORMAT``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from d2l_compiler.engine.run.protocol import Probe
from d2l_compiler.engine.errors import RenderError, UsageError, did_you_mean
from d2l_compiler.engine.render.crossref import BookIndex
from d2l_compiler.engine.record.model import PageEntry, RegionRun
from d2l_compiler.engine.record.whole import Record

@dataclass(frozen=True)
class PageContext:
    """What a token may read: the page's recorded regions, its entry, the whole record."""

    regions: Mapping[str, RegionRun | list[str]]  # section -> its run (ids if ambiguous)
    entry: PageEntry | None
    record: Record | None
    root: Path | None
    stamp: str
    language: str = "en"  # of the words a token generates: "en" or "zh"
    # the same page's results from other devices (a merged record): entry, section -> run
    others: tuple[tuple[PageEntry, Mapping[str, RegionRun | list[str]]], ...] = ()
    page_name: str = ""  # docs-relative (``a/b.md``): where references link from
    book: BookIndex | None = None  # the book's labels (figures, tables, sections)

    def lookup_devices(self, ref: str) -> list[tuple[PageEntry | None, Any]]:
        """``ref`` from this page's results, then from each other device's results that
        recorded it (the device is ``entry.inputs.device``), for tokens that compare
        devices side by side."""
        found = [(self.entry, self.lookup(ref))]
        for entry, regions in self.others:
            try:
                found.append((entry, replace(self, regions=regions, entry=entry,
                                             others=()).lookup(ref)))
            except RenderError:
                continue  # that device did not record it (a path it skipped, say)
        return found

    def lookup(self, ref: str) -> Any:
        """The recorded value ``SECTION.name[.field...]`` (a number picks a list's item:
        ``.0`` is the first); ``RenderError`` naming what is missing."""
        section, _, path = ref.partition(".")
        if section not in self.regions:
            raise RenderError(f"no region {section!r} on this page (token {ref!r})"
                              + did_you_mean(section, self.regions))
        found = self.regions[section]
        if isinstance(found, list) and len(set(found)) == 1:
            raise RenderError(f"token {ref!r} is ambiguous: the page runs {found[0]} "
                              f"{len(found)} times and each run binds its own values; cite a "
                              "region the page runs once")
        if isinstance(found, list):
            raise RenderError(f"token {ref!r} is ambiguous: the page runs more than one region "
                              f"named {section!r} ({', '.join(sorted(set(found)))}); rename one")
        value: Any = found.values
        parts = path.split(".") if path else []
        for number, part in enumerate(parts):
            if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]  # ``artifacts.0.size_bytes``: a list's item by position
                continue
            if not isinstance(value, Mapping) or part not in value:
                dropped = found.values_dropped
                if number == 0 and dropped:
                    count = sum(d.get("count", 0) for d in dropped.values())
                    raise RenderError(f"region {section!r} recorded no value {parts[0]!r}; {count} "
                                      f"values it bound were not kept ({'; '.join(dropped)}) "
                                      f"(token {ref!r})")
                known = value if isinstance(value, Mapping) else {}
                raise RenderError(f"region {section!r} recorded no value {path!r} (token {ref!r})"
                                  + did_you_mean(part, known))
            value = value[part]
        return value


@dataclass(frozen=True)
class TokenCall:
    """One token as written: its words, its whole body, and the page it is on."""

    words: list[str]
    body: str
    page: PageContext

    def expect(self, count: int, usage: str) -> None:
        """``RenderError`` with ``usage`` unless the token has ``count`` words."""
        if len(self.words) != count:
            raise RenderError(f"{self.words[0]!r} reads {{{{ d2l:{usage} }}}}")


TokenHandler = Callable[[TokenCall], str]
# writes files under the docs directory from the whole record; returns what it wrote
DerivedWriter = Callable[[Path, Record], list[Path]]


@dataclass
class Extensions:
    """The registered tokens, derived-file writers and provenance probes."""

    tokens: dict[str, TokenHandler] = field(default_factory=dict)
    derived: list[DerivedWriter] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)

    def probe(self, label: str, function: str, when: str = "") -> None:
        """Record ``function()`` (``"module:name"``, returning text) of each page's run under
        ``label``, if its regions imported ``when`` (see :class:`~..run.protocol.Probe`)."""
        module, colon, name = function.partition(":")
        if not (colon and module and name.isidentifier()):
            raise UsageError(f"a probe's function is 'module:name', not {function!r}")
        if any(p.label == label for p in self.probes):
            raise UsageError(f"two extensions register the probe {label!r}")
        self.probes.append(Probe(label=label, function=function, when=when))

    def token(self, name: str) -> Callable[[TokenHandler], TokenHandler]:
        """Decorator: register ``handler`` for ``{{ d2l:NAME ... }}``."""
        def register(handler: TokenHandler) -> TokenHandler:
            if name in self.tokens:
                raise UsageError(f"two extensions register the token {name!r}")
            self.tokens[name] = handler
            return handler
        return register
