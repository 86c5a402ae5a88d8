"""The MkDocs plugin ``d2l`` (``plugins: - d2l``): fills pages from the build record; and
:func:`build_site`, the engine's strict MkDocs build into a staging directory.

The only module of the engine that imports MkDocs. It never runs code: it loads the record
once per build, refuses a page whose results are stale or tampered with (the same rule as
``check``: :func:`~d2l_compiler.engine.record.freshness.staleness`), renders each page with
:func:`~d2l_compiler.engine.render.markdown.render_page`, and publishes the record as
``d2l-record.json``. Its options are the engine's settings (see
:mod:`d2l_compiler.engine.sources.project`); both read them through the same ``Project``.
"""

from __future__ import annotations

import html
import importlib
import logging
import os
import posixpath
import shutil
import sys
import tempfile

from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from markdown.extensions.toc import slugify as default_slugify

from jinja2 import FileSystemBytecodeCache
from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import base, load_config
from mkdocs.config import config_options as c
from mkdocs.exceptions import MkDocsException, PluginError
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import get_toc
from mkdocs.utils import get_relative_url

from d2l_compiler.engine.errors import BuildError, UsageError
from d2l_compiler.engine.publish.downloads import downloads, unwanted_source_map
from d2l_compiler.engine.publish.kept_answers import KeptAnswers
from d2l_compiler.engine.publish.notebook_html import (colab_url, notebook_links, title_first,
                                                       toc_tokens, trimmed, with_site_anchors)
from d2l_compiler.engine.publish.search_segments import CACHE_FOLDER, SegmentCache, cache_segments
from d2l_compiler.engine.publish.signature_formats import CACHE_FOLDER as SIGNATURE_CACHE
from d2l_compiler.engine.publish.signature_formats import keep_signature_formats
from d2l_compiler.engine.publish.site_inputs import TEMPLATE_CACHE, note_build, watching
from d2l_compiler.engine.publish.sitedir import check_site_dir, project_paths, publish
from d2l_compiler.engine.publish.status import read_status, serve_loop_running, status_path
from d2l_compiler.engine.record.freshness import outdated_regions
from d2l_compiler.engine.record.io import load_record
from d2l_compiler.engine.record.whole import Record
from d2l_compiler.engine.escape import inline, snippet_safe, visible
from d2l_compiler.engine.render.markdown import (TOKEN, RenderError, labels_for, refuse_stale,
                                                 render_page)
from d2l_compiler.engine.render.installed import extensions_for
from d2l_compiler.engine.render.crossref import BookIndex, PageLabels, book_index
from d2l_compiler.engine.render.math import FormulaError, formula_line
from d2l_compiler.engine.render.section_numbers import SectionNumbers
from d2l_compiler.engine.render.notebook import notebook_of, page_of
from d2l_compiler.engine.sources.discover import page_includes
from d2l_compiler.engine.sources.project import GENERATED_DIR, SETTING_NAMES, Project

os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")

_HINT = "run `python -m d2l_compiler build`"
# where mkdocstrings-python lays signatures out (private: if it moves, nothing is kept)
PYTHON_HANDLER_RENDERING = "mkdocstrings_handlers.python._internal.rendering"


# The ``d2l`` plugin's options as MkDocs sees them: one per field of the engine's ``Settings``,
# generated from it, accepted as given. Names, defaults and validation live in ``Settings``
# (read through ``Project``: one-line errors, for the plugin and the command line alike).
D2LConfig = type("D2LConfig", (base.Config,), {
    "__doc__": "The d2l plugin's options (see d2l_compiler.engine.sources.project.Settings).",
    **{name: c.Optional(c.Type(object)) for name in SETTING_NAMES}})


class D2LPlugin(BasePlugin[D2LConfig]):
    """Renders recorded outputs, values and stamps into the pages."""

    D2L_RENDERER = True  # the engine refuses to build a site without a renderer

    def __init__(self) -> None:
        self.project: Project | None = None
        self.record: Record | None = None
        self.serving = False  # `mkdocs serve`: stale outputs are shown, marked, not refused
        self.segments: SegmentCache | None = None
        self.signatures: KeptAnswers | None = None
        self.book: BookIndex | None = None  # the book's labels, read at its first page
        self.converting: str | None = None  # the page file MkDocs converts
        self.sections: PageLabels | None = None  # its share of the index (section_numbers)

    def on_startup(self, command: str, **_: Any) -> None:
        """Remember whether this is the live preview."""
        self.serving = command == "serve"

    def on_serve(self, server: Any, **_: Any) -> Any:
        """Reload the preview when the engine rewrites the record or reports a failure, and
        as soon as executed code, a module it imports or a data file it reads changes (its
        outputs are then shown as outdated until the engine has run it again)."""
        project = self.project
        watched = [project.record_path, status_path(project)]
        watched += [project.root / folder for folder in project.settings.executed]
        for entry in self.record.pages.values():
            watched += [project.root / rel for rel in (*entry.inputs.files,
                                                       *entry.inputs.data)]
        for path in dict.fromkeys(watched):
            if path.exists():  # the serve loop writes the status file before MkDocs starts
                server.watch(str(path))
        return server

    @event_priority(100)  # before Material's search loads jieba's dictionaries
    def on_config(self, config: MkDocsConfig, **_: Any) -> MkDocsConfig:
        """Load the record, the extensions and the labels once per build; keep the search's
        Chinese segmentation between builds (see :mod:`.search_segments`)."""
        self.project = Project(Path(config.config_file_path).resolve())
        search = sys.modules.get("material.plugins.search.plugin")
        if search is not None:
            self.segments = cache_segments(search, self.project.state_dir / CACHE_FOLDER)
        try:
            self.project.settings  # noqa: B018 - validated here: a bad option fails in one line
            record = load_record(self.project.record_path)
            self.extensions = extensions_for(self.project.settings.extensions)
            self.labels = labels_for(self.project.settings.labels)
        except BuildError as exc:
            raise PluginError(f"{exc}; {_HINT}") from None
        if record is None:
            raise PluginError(f"no build record at {self.project.record_path}: {_HINT}")
        self.record = record
        self.book: BookIndex | None = None  # the book's labels, read at its first page
        # the numbers on a numbered page's headings, for the page on_page_markdown hands over
        config.markdown_extensions.append(SectionNumbers(lambda: self.sections))
        return config

    def _book(self) -> BookIndex:
        if self.book is None:
            self.book = book_index(self.project)
        return self.book

    def on_page_markdown(self, markdown: str, page: Page, **_: Any) -> str:
        """Refuse a stale page; render a fresh one from the record. While serving, a stale
        page shows its previous outputs marked as outdated, and a failure at its top."""
        project = self.project
        name = page.file.src_uri
        self.sections = None  # numbered below, once the page is known to render
        if not name.endswith(".md"):  # a notebook mkdocs-jupyter renders (see on_page_content)
            return markdown
        if PurePosixPath(name).parts[0] == GENERATED_DIR:  # the engine's: rendered already,
            return markdown  # and what a region printed there is never a token
        page_file = (project.docs_dir / name).relative_to(project.root).as_posix()
        self.converting = page_file  # MkDocs converts it next: see on_build_error
        entry = self.record.pages.get(name)
        try:
            self.sections = self._book().page_labels(name)
            if entry is not None:  # a page with outputs: its includes and fences must render
                project.check_extensions()
            if self.serving:
                return self._preview(markdown, name, page_file, entry)
            includes = page_includes(project, Path(name)) if entry is not None else []
            refuse_stale(project, includes, self.record, name, page_file)
            return render_page(markdown, entry, self.record, project.root, page_file,
                               extensions=self.extensions, labels=self.labels, page_name=name,
                               book=self._book())
        except (RenderError, BuildError, OSError) as exc:
            placed = exc.at(page_file) if isinstance(exc, RenderError) else f"{page_file}: {exc}"
            raise PluginError(f"{placed}; {_HINT}") from None

    def on_build_error(self, error: Exception, **_: Any) -> None:
        """A page's error raised while MkDocs converts the page this plugin handed it last (a
        formula that cannot be typeset, a section numbered unlike its index) placed at its
        page (and a formula at its line), as every other page error is."""
        if isinstance(error, RenderError) and error.page_file is None and self.converting:
            page_file, line = self.converting, None
            if isinstance(error, FormulaError):
                try:  # the author's file: its own line numbers, front matter included
                    text = (self.project.root / page_file).read_text(encoding="utf-8-sig")
                    line = formula_line(text, error.tex)
                except (OSError, UnicodeDecodeError):
                    pass
            # raised in its place: MkDocs reports a PluginError in one line, not a traceback
            raise PluginError(str(error.at(page_file, line if line is not None else error.line)))

    def on_page_content(self, content: str, page: Page, config: MkDocsConfig, files: Files,
                        **_: Any) -> str:
        """A notebook page (mkdocs-jupyter's HTML) trimmed and anchored as the site's pages
        (see :mod:`.notebook_html`), left out of the search (it repeats its page); the
        notebook's download and Colab links under the title of both."""
        project, labels = self.project, self.labels
        if not project.jupyter_pages:
            return content
        name = page.file.src_uri
        source = page_of(name)
        if source is not None and page.file.is_documentation_page():
            toc = config.mdx_configs.get("toc", {})
            content, headings = with_site_anchors(
                trimmed(content), toc.get("slugify", default_slugify),
                str(toc.get("permalink_title", "Permanent link")))
            page.toc = get_toc(toc_tokens(headings))
            page.meta.setdefault("search", {})["exclude"] = True
            source_file = files.get_file_from_path(source)
            title = next((h.name for h in headings if h.level == 1), html.escape(source))
            note = ""
            if source_file is not None:
                link = f'<a href="{html.escape(get_relative_url(source_file.url, page.url))}">{title}</a>'
                note = labels.notebook_of.format(link=link)
            return title_first(content, self._links(name, page, files, note))
        entry = self.record.pages.get(name)
        if entry is not None and entry.executed:
            return title_first(content, self._links(notebook_of(name), page, files))
        return content

    def _links(self, notebook: str, page: Page, files: Files, note: str = "") -> str:
        """Download and Colab links for the notebook ``notebook`` (docs-relative), where this
        site publishes it: beside its page when mkdocs-jupyter made one (its
        ``include_source``), else as the file itself."""
        settings, labels = self.project.settings, self.labels
        file = files.get_file_from_path(notebook)
        if file is None:
            return ""
        target = file.dest_uri
        if file.is_documentation_page():
            target = posixpath.join(posixpath.dirname(file.dest_uri), posixpath.basename(notebook))
        return notebook_links(get_relative_url(target, page.url), labels.notebook_download,
                              colab_url(self.project.repo_url, settings.colab_branch, notebook),
                              labels.notebook_colab, note)

    def _preview(self, markdown: str, name: str, page_file: str, entry: Any) -> str:
        project, labels = self.project, self.labels
        if not serve_loop_running():  # plain `mkdocs serve`: nothing runs an edited region
            labels = replace(labels, outdated=labels.outdated_unbuilt,
                             pending=labels.pending_unbuilt)
        status = read_status(project)
        failure = status.get(name) or status.get("*")
        banner = ""
        if failure:
            banner = (f'<div class="d2l-failed"><p>{inline(labels.failed)}</p>'
                      f'<pre>{html.escape(visible(failure))}</pre></div>\n\n')
        options = {"extensions": self.extensions, "labels": labels, "page_name": name}
        try:
            options["book"] = self._book()
            includes = page_includes(project, Path(name))
            outdated = frozenset() if entry is None else outdated_regions(project, includes, entry)
            if outdated is None or (entry is None and any(i.region.executed for i in includes)):
                banner += f'<p class="d2l-outdated">{inline(labels.pending)}</p>\n\n'
                return banner + render_page(markdown, entry, self.record, project.root, page_file,
                                            outputs=False, **options)
            return banner + render_page(markdown, entry, self.record, project.root, page_file,
                                        outdated=outdated, **options)
        except (RenderError, BuildError) as exc:  # shown in the page, not a dead preview
            # its includes shown as text: one that names no region (a typo) would make
            # pymdownx.snippets raise, and the preview would hang until the page is fixed
            shown = "\n".join(snippet_safe(line) for line in TOKEN.sub("…", markdown).split("\n"))
            return (f'<div class="d2l-failed"><p>{inline(labels.failed)}</p>'
                    f'<pre>{html.escape(visible(str(exc)))}</pre></div>\n\n{shown}')

    def _template_cache(self) -> FileSystemBytecodeCache:
        folder = self.project.state_dir / TEMPLATE_CACHE
        folder.mkdir(parents=True, exist_ok=True)
        return FileSystemBytecodeCache(str(folder))

    def on_pre_build(self, config: MkDocsConfig, **_: Any) -> None:
        """The API page's handlers (mkdocstrings) keep their compiled templates between
        builds too, each as it is first used (pages are converted before ``on_env``), and
        the Python handler its formatted signatures (see :mod:`.signature_formats`)."""
        handlers = getattr(config.plugins.get("mkdocstrings"), "handlers", None)
        if handlers is not None and hasattr(handlers, "get_handler"):
            cache = self._template_cache()
            for handler in getattr(handlers, "seen_handlers", ()):
                _cache_templates(handler, cache)
            handlers.get_handler = _caching_templates(handlers.get_handler, cache)
            try:
                rendering = importlib.import_module(PYTHON_HANDLER_RENDERING)
            except ImportError:  # no Python handler (or it moved): signatures formatted as usual
                return
            self.signatures = keep_signature_formats(
                rendering, self.project.state_dir / SIGNATURE_CACHE)

    def on_env(self, env: Any, **_: Any) -> Any:
        """Keep the theme's compiled templates between builds (Jinja's bytecode cache, in the
        state directory, checked against each template's source)."""
        env.bytecode_cache = self._template_cache()
        return env

    def on_post_build(self, **_: Any) -> None:
        """Keep this build's segmentations and signature layouts for the next."""
        for answers in (self.segments, self.signatures):
            if answers is not None:
                answers.save()

    def on_files(self, files: Files, config: MkDocsConfig, **_: Any) -> Files:
        """Publish the downloads every host publishes (the record as ``d2l-record.json``,
        a valid link target for --strict); leave out the theme's source maps unless
        ``keep_source_maps``."""
        for name, source in downloads(self.project).items():
            files.append(File.generated(config, name, abs_src_path=str(source)))
        for file in [f for f in files if f.abs_src_path and unwanted_source_map(
                f.src_uri, Path(f.abs_src_path), self.project)]:
            files.remove(file)
        return files


def _cache_templates(handler: Any, cache: FileSystemBytecodeCache) -> Any:
    environment = getattr(handler, "env", None)
    if environment is not None and environment.bytecode_cache is None:
        environment.bytecode_cache = cache
    return handler


def _caching_templates(get_handler: Any, cache: FileSystemBytecodeCache) -> Any:
    """``Handlers.get_handler`` whose handlers keep their compiled templates in ``cache``."""
    def get_handler_caching(*args: Any, **kwargs: Any) -> Any:
        return _cache_templates(get_handler(*args, **kwargs), cache)
    return get_handler_caching


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname}: {record.getMessage()}")


def build_site(project: Project, site_dir: Path, protected: list[Path] | None = None) -> None:
    """``mkdocs build --strict`` into a temporary directory, swapped in only on success.

    MkDocs runs in this process (a second interpreter would cost more than a warm build's
    whole engine work); its warnings are collected and shown only if the build fails. The
    site directory is checked (again) just before the swap: see :mod:`.sitedir`.
    """
    protected = protected if protected is not None else project_paths(project)
    site_dir = check_site_dir(site_dir, protected, project.docs_dir)
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".site-", dir=site_dir.parent))
    logger, collect = logging.getLogger("mkdocs"), _Collect()
    logger.addHandler(collect)
    saved_cwd = Path.cwd()
    try:
        os.chdir(project.root)  # relative paths in mkdocs.yml resolve as for `mkdocs build` there
        config = load_config(str(project.config_file), site_dir=str(staging), strict=True)
        if not any(getattr(plugin, "D2L_RENDERER", False) for plugin in config.plugins.values()):
            raise UsageError(f"{project.config_file.name} does not load the d2l renderer, so "
                             "no output would be shown: add 'plugins: [d2l]'")
        with watching(project, site_dir) as reads:
            mkdocs_build(config)
    except (MkDocsException, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc.__context__, RenderError):  # a page's error MkDocs met (a formula)
            raise BuildError(f"{exc}; {site_dir} left unchanged") from None
        detail = "\n".join([*collect.lines[-20:], str(exc)])
        raise BuildError(f"mkdocs build --strict failed; {site_dir} left unchanged:\n{detail}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        os.chdir(saved_cwd)
        logger.removeHandler(collect)
    publish(staging, check_site_dir(site_dir, protected, project.docs_dir))
    note_build(project, "mkdocs", site_dir, reads)
