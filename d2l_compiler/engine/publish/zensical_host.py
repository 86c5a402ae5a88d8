"""Zensical as a second host: ``python -m d2l_compiler build --host zensical``.

Zensical (the successor of mkdocs-material) reads ``mkdocs.yml`` but runs no MkDocs plugins,
while it passes ``markdown_extensions`` through. So the site is built by Zensical from a
variant of the book's config that adds the engine's Markdown extension
(:mod:`d2l_compiler.engine.render.extension`, the plugin's rendering and freshness rule),
and then given what the MkDocs plugin publishes beside the pages
(:func:`~d2l_compiler.engine.publish.downloads.downloads`). The result is swapped into the
site directory exactly as the MkDocs build's is (:mod:`.sitedir`): only on success, and
only over a directory this tool built.

Zensical insists that the config file, ``docs_dir`` and ``site_dir`` share a root, so the
variant config is a hidden file beside the book's (removed when the build ends) and Zensical
writes into a folder in the state directory first. The variant names the record's digest,
so Zensical's own cache (``.cache/`` beside the config) never serves a page rendered from
another record.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from d2l_compiler.engine.errors import BuildError, UsageError
from d2l_compiler.engine.publish.downloads import downloads, unwanted_source_map
from d2l_compiler.engine.publish.sitedir import check_site_dir, project_paths, publish
from d2l_compiler.engine.sources.project import Project, TolerantLoader

EXTENSION = "d2l_compiler.engine.render.extension"
TIMEOUT_S = 600.0  # a Zensical build of a book takes seconds; a hung one must not hold the lock
_RELATIVE = re.compile(r"!relative(?:[ \t]+(?P<base>\$config_dir|\$docs_dir))?")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_OUR_ERRORS = re.compile(r"\b(?:RenderError|BuildError|UsageError|PageSyntaxError): (?P<message>.+)$")
VARIANT_PREFIX, BUILT_PREFIX = ".d2l-zensical-", ".zensical-"  # what a build holds while it runs


def _code_and_comment(line: str) -> tuple[str, str]:
    """A YAML line split where its comment starts (a ``#`` outside quotes, at the start or
    after a space)."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return line[:index], line[index:]
    return line, ""


def _outside_quotes(code: str, position: int) -> bool:
    before = code[:position]
    return before.count('"') % 2 == 0 and before.count("'") % 2 == 0


def _resolve_tags(project: Project, text: str) -> str:
    """``!relative $config_dir`` / ``$docs_dir`` as the absolute folders (Zensical has no such
    tag); a bare ``!relative`` (the page's own folder) cannot be expressed there."""
    def resolve(match: re.Match) -> str:
        if match["base"] is None:
            raise UsageError(f"{project.config_file.name}: Zensical has no '!relative' (the "
                             "folder of the page being rendered); use '!relative $config_dir'")
        base = project.root if match["base"] == "$config_dir" else project.docs_dir
        return json.dumps(str(base.resolve()))

    lines = []
    for line in text.split("\n"):
        code, comment = _code_and_comment(line)
        lines.append(_RELATIVE.sub(lambda m, code=code: resolve(m) if _outside_quotes(
            code, m.start()) else m[0], code) + comment)
    return "\n".join(lines)


def _with_extension(project: Project, text: str, options: dict[str, str]) -> str:
    """``text`` with the engine's extension added first to ``markdown_extensions``, written in
    the form (list or mapping) and indentation the book uses."""
    key = re.search(r"^markdown_extensions:[ \t]*(?:#[^\n]*)?$", text, flags=re.M)
    if key is None:
        if re.search(r"^markdown_extensions:", text, flags=re.M):
            raise UsageError(f"{project.config_file.name}: write markdown_extensions as a block "
                             "(one extension per line) for the Zensical host to add its own")
        return text.rstrip("\n") + "\nmarkdown_extensions:\n" + _entry("  ", True, options)
    following = text[key.end():].split("\n")[1:]
    first = next((line for line in following if line.strip()
                  and not line.lstrip().startswith("#")), "")
    indent = first[:len(first) - len(first.lstrip())]
    listed = first.lstrip().startswith("-")
    if not listed and not indent:  # an empty value: a list of ours alone
        indent, listed = "  ", True
    return text[:key.end() + 1] + _entry(indent, listed, options) + text[key.end() + 1:]


def _entry(indent: str, listed: bool, options: dict[str, str]) -> str:
    head = f"{indent}- {EXTENSION}:\n" if listed else f"{indent}{EXTENSION}:\n"
    inner = indent + ("    " if listed else "  ")
    return head + "".join(f"{inner}{name}: {json.dumps(value)}\n" for name, value in options.items())


def variant_config(project: Project, staging: Path) -> str:
    """The book's config as Zensical must read it: MkDocs-only YAML tags resolved, the engine's
    Markdown extension first among the extensions, the site written into ``staging`` (a key
    appended last: YAML's last value wins, however the book wrote its own). Read back before
    use: ``UsageError`` in one line if the result does not say exactly that."""
    text = project.config_file.read_text(encoding="utf-8")
    record = project.record_path.read_bytes() if project.record_path.is_file() else b""
    options = {"config_file": str(project.config_file),
               "record_digest": hashlib.sha256(record).hexdigest()}
    text = _with_extension(project, _resolve_tags(project, text), options)
    site = staging.relative_to(project.root).as_posix()
    text = (text.rstrip("\n") + "\n\n# d2l_compiler's Zensical host: the site is built into its "
            f"staging folder\nsite_dir: {json.dumps(site)}\n")
    _check_variant(project, text, site)
    return text


def _check_variant(project: Project, text: str, site: str) -> None:
    try:
        data = yaml.load(text, Loader=TolerantLoader)
    except yaml.YAMLError as exc:
        raise UsageError(f"{project.config_file.name}: the Zensical host could not add its "
                         f"extension to this config ({exc.__class__.__name__}); please report "
                         "the config's form") from None
    extensions = data.get("markdown_extensions") if isinstance(data, dict) else None
    first = (extensions[0] if isinstance(extensions, list) and extensions
             else dict(list(extensions.items())[:1]) if isinstance(extensions, dict) else None)
    if data.get("site_dir") != site or not (isinstance(first, dict) and EXTENSION in first):
        raise UsageError(f"{project.config_file.name}: the Zensical host could not direct the "
                         "site and the extension in this config; please report its form")


def sweep_leftovers(project: Project) -> None:
    """Remove what a Zensical build killed outright (SIGKILL) left: its variant config and
    its unfinished site. Called under the project's lock, so no build of it is running."""
    for stale in project.config_file.parent.glob(f"{VARIANT_PREFIX}*.yml"):
        stale.unlink(missing_ok=True)
    if project.state_dir.is_dir():
        for stale in project.state_dir.glob(f"{BUILT_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)


def require_zensical(project: Project) -> None:
    """``UsageError`` (one line) unless Zensical is importable here and can build ``project``
    (checked before any region runs)."""
    if importlib.util.find_spec("zensical") is None:
        raise UsageError("--host zensical: Zensical is not installed in this environment "
                         "(pip install zensical)")
    if not project.docs_dir.resolve().is_relative_to(project.root.resolve()):
        raise UsageError(f"--host zensical: Zensical needs docs_dir inside the project folder "
                         f"({project.docs_dir} is outside {project.root})")


def build_site(project: Project, site_dir: Path, protected: list[Path] | None = None) -> None:
    """``zensical build --strict`` of the book into ``site_dir``, swapped in only on success."""
    require_zensical(project)
    sweep_leftovers(project)
    protected = protected if protected is not None else project_paths(project)
    site_dir = check_site_dir(site_dir, protected, project.docs_dir)
    inside = project.state_dir if project.state_dir.resolve().is_relative_to(
        project.root.resolve()) else project.root
    inside.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=BUILT_PREFIX, dir=inside))
    handle, name = tempfile.mkstemp(prefix=VARIANT_PREFIX, suffix=".yml",
                                    dir=project.config_file.parent)
    os.close(handle)
    variant = Path(name)
    try:
        variant.write_text(variant_config(project, built), encoding="utf-8")
        try:
            proc = subprocess.run([sys.executable, "-m", "zensical", "build", "--strict", "-f",
                                   str(variant)], cwd=project.root, capture_output=True,
                                  text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise BuildError(f"zensical build ran past {TIMEOUT_S:.0f} s; {site_dir} left "
                             "unchanged") from None
        if proc.returncode != 0 or not (built / "index.html").is_file():
            raise BuildError(f"zensical build --strict failed; {site_dir} left unchanged:\n"
                             f"{_failure(proc.stdout + proc.stderr, project.docs_dir.name)}")
        for name, source in downloads(project).items():
            (built / name).parent.mkdir(parents=True, exist_ok=True)  # packages/<wheel>
            shutil.copyfile(source, built / name)
        for path in [p for p in built.rglob("*.map") if p.is_file()]:
            if unwanted_source_map(path.relative_to(built).as_posix(), None, project):
                path.unlink()
        site_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".site-", dir=site_dir.parent))
        staging.rmdir()
        shutil.move(str(built), str(staging))  # a rename, or a copy across file systems
        try:
            publish(staging, check_site_dir(site_dir, protected, project.docs_dir))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        variant.unlink(missing_ok=True)
        shutil.rmtree(built, ignore_errors=True)


_WHERE = re.compile(r"─\[ (?P<where>[^\]]+?) \]")  # Zensical's box around a warning's place


def _failure(output: str, docs_name: str = "docs") -> str:
    """What to show of a failed Zensical build: the engine's own error in one line when the
    extension raised one (Zensical wraps it in its traceback), else each warning --strict
    refused, as ``docs/page.md:line:column: what`` (without colour codes)."""
    lines = [_ANSI.sub("", line).rstrip() for line in output.splitlines() if line.strip()]
    ours = [m["message"] for line in lines for m in [_OUR_ERRORS.search(line)] if m]
    if ours:
        return ours[-1]
    found: list[str] = []
    for number, line in enumerate(lines):
        warning = re.match(r"^\s*(?:warning|error):\s*(?P<what>.+)$", line, re.I)
        if warning:
            place = next((m["where"] for later in lines[number + 1:number + 3]
                          for m in [_WHERE.search(later)] if m), None)
            found.append(f"{docs_name}/{place}: {warning['what']}" if place else warning["what"])
    return "\n".join(dict.fromkeys(found[:10])) or (lines[-1] if lines else "no output")
