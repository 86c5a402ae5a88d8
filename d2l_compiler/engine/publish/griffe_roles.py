"""A Griffe extension for mkdocstrings: Sphinx cross-reference roles in docstrings
(``:func:`name```, ``:class:`~pkg.Name```, ``:py:meth:`...```) become the Markdown
cross-references mkdocstrings renders as links (``[`name`][pkg.module.name]``), instead of
reaching the API page as literal text.

A bare name is resolved in the docstring's own module (a method's role, in its class first);
a dotted one is taken as written. A target the API page does not document is left to
mkdocs-autorefs, which reports it, so ``mkdocs build --strict`` fails instead of publishing a
dead link. Enable it in ``mkdocs.yml``::

    plugins:
      - mkdocstrings:
          handlers:
            python:
              options:
                extensions: [d2l_compiler.engine.publish.griffe_roles]
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

ROLE = re.compile(r":(?:py:)?(?P<kind>func|class|meth|mod|attr|data|exc|obj):`(?P<tilde>~?)(?P<name>[\w.]+)`")


def rewrite_roles(text: str, module: str, parent: str | None = None) -> str:
    """``text`` with every Sphinx role replaced by a Markdown cross-reference; bare names
    resolve in ``parent`` (for methods) or ``module``."""
    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if "." in name:
            target = name
        elif match["kind"] in ("meth", "attr") and parent:
            target = f"{parent}.{name}"
        else:
            target = f"{module}.{name}"
        shown = name.rsplit(".", 1)[-1] if match["tilde"] else name
        return f"[`{shown}`][{target}]"
    return ROLE.sub(replace, text)


class SphinxRoles(Extension):
    """Rewrites the roles of every docstring Griffe loads."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring in place (mkdocstrings parses it afterwards)."""
        if obj.docstring is None or ":" not in obj.docstring.value:
            return
        parent = obj.parent.path if obj.parent is not None and obj.parent.is_class else None
        obj.docstring.value = rewrite_roles(obj.docstring.value, obj.module.path, parent)
