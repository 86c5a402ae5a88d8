"""What a build reads, checked before and after regions run.

* :func:`fingerprint` hashes every source the build depends on (pages, config, included and
  imported files, declared data), so a build notices when a region (or anything else)
  changed one of them while it ran, and refuses to publish a mix of old outputs and new text;
* :func:`renderer_wired` makes sure the MkDocs config loads our renderer, without which the
  site would build "successfully" with every output missing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from d2l_compiler.engine.sources import key
from d2l_compiler.engine.sources.discover import Include
from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.sources.project import GENERATED_DIR, Project


@dataclass(frozen=True)
class Fingerprint:
    """SHA-256 of each source file (relative path -> digest; missing files map to "")."""

    digests: dict[str, str]

    def changed_since(self, before: Fingerprint) -> list[str]:
        """Files added, removed or edited since ``before``, sorted."""
        names = set(self.digests) | set(before.digests)
        return sorted(n for n in names if self.digests.get(n) != before.digests.get(n))


def _digest(file: Path) -> str:
    try:
        return hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError:
        return ""


def fingerprint(project: Project, pages: dict[str, list[Include]]) -> Fingerprint:
    """The current content of everything ``pages`` are built from (generated files excluded)."""
    root = project.root
    generated = project.docs_dir / GENERATED_DIR
    files = {p for p in project.docs_dir.rglob("*") if p.is_file() and not p.is_relative_to(generated)}
    files.add(project.config_file)
    regions = [inc.region for incs in pages.values() for inc in incs]
    files |= {root / r.path for r in regions}
    executed = [r for r in regions if r.executed]
    modules, _ = key.dependencies(root, executed)
    files |= {root / name for name in modules}
    files |= {root / name for name in key.data_files(root, executed)}
    return Fingerprint({f.relative_to(root).as_posix() if f.is_relative_to(root) else str(f):
                        _digest(f) for f in files})


def renderer_wired(project: Project) -> None:
    """``UsageError`` unless the MkDocs config lists the ``d2l`` plugin, which renders outputs."""
    if not project.uses_plugin:
        raise UsageError(f"{project.config_file.name} does not load the d2l renderer, so no "
                         "output would be shown: add 'plugins: [d2l]'")
