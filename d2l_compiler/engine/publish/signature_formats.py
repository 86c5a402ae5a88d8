"""The API page's signatures formatted once: mkdocstrings-python asks Black (else Ruff) to lay
out each long signature on every build; the layout depends only on the signature text, the
line length and the formatter, so it is kept between builds by content (:mod:`.kept_answers`),
and Black is not even imported when every signature was formatted before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from types import ModuleType

from d2l_compiler.engine.publish.kept_answers import KeptAnswers
from d2l_compiler.engine.sources.installed import installed_version

CACHE_FOLDER = "signature-formats"  # inside the engine's state folder

Formatter = Callable[[str, int], str]


def _formatter_setup() -> str:
    """What the layout depends on besides the text: the handler (which formatter it picks and
    how it calls it) and the versions of the formatters it may pick ("" when not installed)."""
    versions = []
    for name in ("mkdocstrings-python", "black", "ruff"):
        try:
            versions.append(f"{name}=={installed_version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name}==")
    return "\0".join(versions)


def keep_signature_formats(rendering: ModuleType, folder: Path) -> KeptAnswers | None:
    """Make ``rendering`` (``mkdocstrings_handlers.python._internal.rendering``) look each
    layout up in a :class:`KeptAnswers` under ``folder`` before asking its formatter; None
    (nothing changed) when the module has no ``_get_formatter`` to stand in for. An earlier
    stand-in is replaced, so the answers follow the current project."""
    current = getattr(rendering, "_get_formatter", None)
    if current is None:
        return None
    ask_formatter = getattr(current, "asks", current)
    name = hashlib.sha256(_formatter_setup().encode()).hexdigest()[:16]
    answers = KeptAnswers(folder / f"{name}.json")

    def formatter(code: str, line_length: int) -> str:
        question = f"{line_length}\0{code}"
        found = answers.get(question)
        if found is None:
            found = ask_formatter()(code, line_length)
            answers.put(question, found)
        return found

    def get_formatter() -> Formatter:
        return formatter

    get_formatter.asks = ask_formatter  # type: ignore[attr-defined]
    rendering._get_formatter = get_formatter
    return answers
