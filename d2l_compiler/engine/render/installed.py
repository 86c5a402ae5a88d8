"""The tokens a build renders with: the engine's own (:mod:`.builtin`) plus the extensions the
book names (``extensions:``), found under the entry-point group ``d2l_compiler.extensions``
(see :mod:`.tokens`). An extension installed but not named is not loaded: a book never
renders with another book's tokens."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib import metadata

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.render import builtin
from d2l_compiler.engine.render.tokens import Extensions

GROUP = "d2l_compiler.extensions"


@lru_cache(maxsize=8)
def load_extensions(names: tuple[str, ...] | None = None) -> Extensions:
    """The built-in tokens plus the installed extensions (all, or only those ``names``)."""
    ext = Extensions()
    builtin.register(ext)
    found = {ep.name: ep for ep in metadata.entry_points(group=GROUP)}
    unknown = sorted(set(names or ()) - set(found))
    if unknown:
        raise UsageError(f"unknown d2l extension(s) {', '.join(unknown)}; installed: "
                         f"{', '.join(sorted(found)) or 'none'}")
    for name in sorted(found) if names is None else names:
        found[name].load()(ext)
    return ext


def extensions_for(names: Iterable[str]) -> Extensions:
    """:func:`load_extensions` for the book's ``extensions:`` (the names it uses)."""
    return load_extensions(tuple(names))
