"""Where things are: the MkDocs config, its docs directory, the build record, and the
engine's settings, read from the ``d2l`` plugin's options in ``mkdocs.yml``::

    plugins:
      - d2l:
          executed: [snippets/]   # regions under these folders run; others are only shown
          state_dir: .d2l         # the record, the store, the logs
          record: null            # default: <state_dir>/record.json
          extensions: []          # the token extensions this book uses, by entry-point name
                                  # (the engine's own tokens are always there)
          labels: en              # or zh: the words put around outputs and in the stamp
          notebook_setup: false   # each notebook's first cell installs what it imports,
                                  # pinned to this build's versions (needs site_url or repo_url
                                  # when the pages import the project's own modules)
          notebook_packages: []   # distributions to install beside those the code imports
                                  # (what libraries load on their own), pinned the same way
          colab_branch: null      # the branch of repo_url holding the built notebooks: an
                                  # "open in Colab" link beside each notebook download
          notebook_tab: null      # of content tabs (=== "PyTorch"), the one a notebook
                                  # keeps, by title (default: each group's first)
          keep_source_maps: false # publish the theme's *.map files too
          records: []             # records made on other machines (a GPU's), shown beside
                                  # this build's results while they match the sources

The engine and the MkDocs plugin both read these through :class:`Project`, so they agree.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path, PurePosixPath

import yaml
from yaml_env_tag import construct_env_tag

from d2l_compiler.engine.errors import UsageError


class TolerantLoader(yaml.SafeLoader):
    """SafeLoader that reads MkDocs-specific tags (``!relative``, ``!!python/name:``) as None."""


# ``!ENV NAME`` / ``!ENV [NAME, …, default]`` read by the very function MkDocs reads it with
# (pyyaml_env_tag: installed with MkDocs, which every engine install has)
TolerantLoader.add_constructor("!ENV", construct_env_tag)
TolerantLoader.add_multi_constructor("", lambda loader, suffix, node: None)


_UNSAFE_IN_URL = re.compile(r"[\s'\"`\\${}]")
_SOURCE_BRANCHES = frozenset({"main", "master", "trunk", "develop", "gh-pages"})
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
PLUGIN_NAME = "d2l"
NEEDED_EXTENSIONS = ("pymdownx.snippets", "pymdownx.superfences")  # see Project.check_extensions
LABEL_SETS = ("en", "zh")
GENERATED_DIR = "generated"  # under the docs directory: written by the engine, never a source


@dataclass(frozen=True)
class Settings:
    """The ``d2l`` plugin's options (defaults when the config does not list the plugin)."""

    executed: tuple[str, ...] = ("snippets/",)
    state_dir: str = ".d2l"
    record: str | None = None
    extensions: tuple[str, ...] = ()  # entry-point names: only what the book names is loaded
    labels: str = "en"
    notebook_setup: bool = False  # a first cell installing what the notebook imports, pinned
    notebook_packages: tuple[str, ...] = ()  # installed too: what libraries load on their own
    colab_branch: str | None = None  # the branch of repo_url holding the built notebooks
    notebook_tab: str | None = None  # the content tab (=== "PyTorch") notebooks keep
    keep_source_maps: bool = False  # publish the theme's *.map files (only its debugger reads them)
    records: tuple[str, ...] = ()  # other machines' records (relative to the project) to show


SETTING_NAMES = tuple(Settings.__dataclass_fields__)  # the plugin's options, in order


def _plugins(config: dict) -> list[tuple[str, object]]:
    """The plugins ``config`` lists, in order: (name, its options; {} when listed bare)."""
    plugins = config.get("plugins") or []
    found = []
    for item in plugins if isinstance(plugins, list) else [plugins]:
        if isinstance(item, dict):
            found += [(str(name), options or {}) for name, options in item.items()]
        else:
            found.append((str(item), {}))
    return found


def _plugin_options(config: dict) -> dict | None:
    """The options given to the ``d2l`` plugin, {} if it is listed bare, None if absent."""
    return next((options for name, options in _plugins(config) if name == PLUGIN_NAME), None)


def _folder(written: str, where: Path) -> str:
    """An ``executed`` entry as the prefix of the project paths it covers: ``./code`` and
    ``code`` are ``code/``; ``.`` is the whole project (""). Outside the project: an error."""
    path = PurePosixPath(written.strip().replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise UsageError(f"{where}: the d2l plugin's 'executed' names {written!r}, which is not a "
                         "folder inside the project: name folders relative to mkdocs.yml")
    folder = path.as_posix()
    return "" if folder == "." else folder + "/"


def _strings(value: object, name: str, where: Path, what: str = "names") -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise UsageError(f"{where}: the d2l plugin's {name!r} must be a list of {what}")
    return tuple(value)


STORE_ENV = "D2L_STORE_DIR"  # where the content store lives, if not in the state directory


@dataclass(frozen=True)
class Project:
    """A documentation project: its root (the directory holding ``mkdocs.yml``)."""

    config_file: Path
    # where the content store lives when not in the state directory (relative to the root):
    # ``D2L_STORE_DIR`` as it was when the project was opened, read nowhere else
    shared_store: str = field(kw_only=True,
                              default_factory=lambda: os.environ.get(STORE_ENV, "").strip())

    @property
    def root(self) -> Path:
        """The directory holding the MkDocs config."""
        return self.config_file.parent

    @property
    def docs_dir(self) -> Path:
        """The docs directory (``docs_dir`` of the config)."""
        docs = self.config().get("docs_dir") or "docs"
        if not isinstance(docs, str):
            raise UsageError(f"{self.config_file}: docs_dir must be a path, not {docs!r}")
        return self.root / docs

    @property
    def executed_given(self) -> bool:
        """Whether ``mkdocs.yml`` names the executed folders (else the default applies)."""
        return "executed" in (_plugin_options(self.config()) or {})

    def shadowed_modules(self) -> list[tuple[str, str]]:
        """The executed folders named like a standard-library module (``code/``), each with
        that module: the project root comes first on the regions' import path, so the folder
        shadows the module."""
        found = []
        for folder in self.settings.executed:
            top = folder.strip("/").split("/")[0]
            if top in sys.stdlib_module_names and (self.root / top).is_dir():
                found.append((f"{top}/", top))
        return found

    @property
    def markdown_extensions(self) -> set[str]:
        """The names ``markdown_extensions`` lists."""
        listed = self.config().get("markdown_extensions") or []
        return {next(iter(item)) if isinstance(item, dict) and item else item
                for item in (listed if isinstance(listed, list) else [listed])}

    def check_extensions(self) -> None:
        """``UsageError`` unless ``markdown_extensions`` lists what the engine's pages need:
        without ``pymdownx.snippets`` every include is shown as its literal ``--8<--`` line,
        and without ``pymdownx.superfences`` the outputs lose their titles."""
        missing = [name for name in NEEDED_EXTENSIONS if name not in self.markdown_extensions]
        if missing:
            raise UsageError(f"{self.config_file.name}: markdown_extensions lacks "
                             f"{' and '.join(missing)}, which the d2l plugin needs (without them "
                             "a page shows its '--8<--' lines as text): add them, e.g. "
                             "'- pymdownx.snippets: {base_path: [!relative $config_dir]}'")

    @property
    def uses_plugin(self) -> bool:
        """Whether ``mkdocs.yml`` lists the ``d2l`` plugin."""
        return _plugin_options(self.config()) is not None

    @cached_property
    def settings(self) -> Settings:
        """The engine's settings from the plugin's options; ``UsageError`` on a bad one."""
        options = _plugin_options(self.config()) or {}
        if not isinstance(options, dict):
            raise UsageError(f"{self.config_file}: the d2l plugin's options must be a mapping")
        unknown = sorted(set(options) - set(Settings.__dataclass_fields__))
        if unknown:
            raise UsageError(f"{self.config_file}: unknown d2l plugin option(s) {', '.join(unknown)}")
        settings = Settings()
        if "executed" in options:
            # an empty list: nothing runs, every region is only shown
            roots = _strings(options["executed"], "executed", self.config_file)
            settings = replace(settings, executed=tuple(
                _folder(root, self.config_file) for root in roots))
        if options.get("extensions") is not None:
            settings = replace(settings, extensions=_strings(options["extensions"], "extensions",
                                                             self.config_file))
        if options.get("notebook_packages") is not None:
            settings = replace(settings, notebook_packages=_strings(
                options["notebook_packages"], "notebook_packages", self.config_file,
                "distribution names"))
        if options.get("records") is not None:
            settings = replace(settings, records=_strings(options["records"], "records",
                                                          self.config_file, "files"))
        for name in ("keep_source_maps", "notebook_setup"):
            if options.get(name) is not None:
                if not isinstance(options[name], bool):
                    raise UsageError(f"{self.config_file}: the d2l plugin's {name!r} must be "
                                     "true or false")
                settings = replace(settings, **{name: options[name]})
        for name in ("state_dir", "record", "labels", "colab_branch", "notebook_tab"):
            value = options.get(name)
            if value is not None and not isinstance(value, str):
                raise UsageError(f"{self.config_file}: the d2l plugin's {name!r} must be text")
            if value is not None:
                settings = replace(settings, **{name: value})
        if settings.colab_branch is not None and (
                settings.colab_branch in _SOURCE_BRANCHES or not _BRANCH.fullmatch(settings.colab_branch)):
            # the deploy workflow replaces that branch with the built notebooks
            raise UsageError(f"{self.config_file}: colab_branch {settings.colab_branch!r} must be a "
                             "branch of its own for the built notebooks (e.g. notebooks), never "
                             "one holding the sources")
        if settings.labels not in LABEL_SETS:
            raise UsageError(f"{self.config_file}: labels must be one of {', '.join(LABEL_SETS)}")
        return settings

    @property
    def state_dir(self) -> Path:
        """Engine state, ignored by git: the record, the store and the per-page logs."""
        return self.root / self.settings.state_dir

    @property
    def store_dir(self) -> Path:
        """The content store: ``<state_dir>/store``, or ``shared_store`` (relative to the
        project root), e.g. a directory CI caches between runs and its shards share."""
        return self.root / self.shared_store if self.shared_store else self.state_dir / "store"

    def engine_dirs(self) -> tuple[Path, ...]:
        """The engine's folders inside the project (its state, logs and store): a region's
        code must not touch them."""
        root = self.root.resolve()
        found = (p.resolve() for p in (self.state_dir, self.logs_dir, self.store_dir))
        return tuple(dict.fromkeys(p for p in found if p != root and p.is_relative_to(root)))

    @property
    def logs_dir(self) -> Path:
        """Each page run's full log: ``<state_dir>/logs``."""
        return self.state_dir / "logs"

    @property
    def record_path(self) -> Path:
        """The build record's path."""
        record = self.settings.record
        return self.root / record if record else self.state_dir / "record.json"

    def config(self) -> dict:
        """The parsed ``mkdocs.yml`` (read once per Project)."""
        return self._config

    @cached_property
    def _config(self) -> dict:
        try:
            data = yaml.load(self.config_file.read_text(encoding="utf-8"), Loader=TolerantLoader)
        except UnicodeDecodeError as exc:
            raise UsageError(f"{self.config_file}: not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start})") from None
        except yaml.YAMLError as exc:
            raise UsageError(f"{self.config_file}: not valid YAML ({exc.__class__.__name__})") from None
        if not isinstance(data, dict):
            raise UsageError(f"{self.config_file}: expected a mapping at the top level")
        return data

    def _url(self, name: str) -> str | None:
        value = self.config().get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise UsageError(f"{self.config_file}: {name} must be an http(s) address, not {value!r}")
        if _UNSAFE_IN_URL.search(value):
            # the notebooks' first cell names it in an IPython magic, which expands $x and {x}
            raise UsageError(f"{self.config_file}: {name} {value!r} holds a space, quote, "
                             "backslash, $, { or }: write those characters %-encoded")
        return value

    @property
    def site_url(self) -> str | None:
        """Where the site is published (``site_url``, ``!ENV`` resolved), ending in ``/``."""
        url = self._url("site_url")
        return None if url is None else url.rstrip("/") + "/"

    @property
    def repo_url(self) -> str | None:
        """The book's repository (``repo_url``, ``!ENV`` resolved), without a trailing ``/``."""
        url = self._url("repo_url")
        return None if url is None else url.rstrip("/")

    @property
    def jupyter_pages(self) -> bool:
        """Whether mkdocs-jupyter renders the notebooks as site pages (else the engine writes
        each notebook's page as Markdown, for hosts without it)."""
        return any(name == "mkdocs-jupyter" for name, _ in _plugins(self.config()))

    def pages(self) -> list[Path]:
        """Markdown pages under the docs directory, sorted, as paths relative to it."""
        if not self.docs_dir.is_dir():
            raise UsageError(f"docs directory {self.docs_dir} does not exist")
        generated = self.docs_dir / GENERATED_DIR  # the engine's own output (notebook pages)
        return sorted(p.relative_to(self.docs_dir) for p in self.docs_dir.rglob("*.md")
                      if not p.is_relative_to(generated))


def find_project(config: str | Path = "mkdocs.yml") -> Project:
    """The project whose MkDocs config is ``config``; a one-line error if it is missing."""
    path = Path(config).resolve()
    if not path.is_file():
        raise UsageError(f"no MkDocs config at {path} (run from the project root or pass --config)")
    return Project(path)
