"""Where things are: the MkDocs config, its docs directory, the build record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from d2l_compiler.engine.errors import UsageError


class _TolerantLoader(yaml.SafeLoader):
    """SafeLoader that reads MkDocs-specific tags (``!relative``, ``!!python/name:``) as None."""


_TolerantLoader.add_multi_constructor("", lambda loader, suffix, node: None)


@dataclass(frozen=True)
class Project:
    """A documentation project: its root (the directory holding ``mkdocs.yml``)."""

    config_file: Path

    @property
    def root(self) -> Path:
        return self.config_file.parent

    @property
    def docs_dir(self) -> Path:
        docs = self.config().get("docs_dir") or "docs"
        if not isinstance(docs, str):
            raise UsageError(f"{self.config_file}: docs_dir must be a path, not {docs!r}")
        return self.root / docs

    @property
    def state_dir(self) -> Path:
        """Engine state, ignored by git: the record and the per-page logs."""
        return self.root / ".d2l"

    @property
    def record_path(self) -> Path:
        return self.state_dir / "record.json"

    def config(self) -> dict:
        try:
            data = yaml.load(self.config_file.read_text(encoding="utf-8"), Loader=_TolerantLoader)
        except UnicodeDecodeError as exc:
            raise UsageError(f"{self.config_file}: not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start})") from None
        except yaml.YAMLError as exc:
            raise UsageError(f"{self.config_file}: not valid YAML ({exc.__class__.__name__})") from None
        if not isinstance(data, dict):
            raise UsageError(f"{self.config_file}: expected a mapping at the top level")
        return data

    def pages(self) -> list[Path]:
        """Markdown pages under the docs directory, sorted, as paths relative to it."""
        if not self.docs_dir.is_dir():
            raise UsageError(f"docs directory {self.docs_dir} does not exist")
        return sorted(p.relative_to(self.docs_dir) for p in self.docs_dir.rglob("*.md"))


def find_project(config: str | Path = "mkdocs.yml") -> Project:
    """The project whose MkDocs config is ``config``; a one-line error if it is missing."""
    path = Path(config).resolve()
    if not path.is_file():
        raise UsageError(f"no MkDocs config at {path} (run from the project root or pass --config)")
    return Project(path)
