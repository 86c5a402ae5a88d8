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
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from d2l_compiler.engine.errors import BuildError, UsageError
from d2l_compiler.engine.publish.downloads import downloads, unwanted_source_map
from d2l_compiler.engine.publish.sitedir import check_site_dir, publish
from d2l_compiler.engine.sources.project import Project

EXTENSION = "d2l_compiler.engine.render.extension"
TIMEOUT_S = 600.0  # a Zensical build of a book takes seconds; a hung one must not hold the lock
_RELATIVE = re.compile(r"!relative(?:[ \t]+(?P<base>\$config_dir|\$docs_dir))?")
_KEY = r"^{key}:[^\n]*(?:\n(?=[ \t]).*)*"  # a top-level key with its indented block


def variant_config(project: Project, staging: Path) -> str:
    """The book's config as Zensical must read it: MkDocs-only YAML tags resolved, the engine's
    Markdown extension first among the extensions, the site written into ``staging``."""
    text = project.config_file.read_text(encoding="utf-8")

    def resolve(match: re.Match) -> str:
        if match["base"] is None:
            raise UsageError(f"{project.config_file.name}: Zensical has no '!relative' (the "
                             "folder of the page being rendered); use '!relative $config_dir'")
        base = project.root if match["base"] == "$config_dir" else project.docs_dir
        return json.dumps(str(base.resolve()))

    text = _RELATIVE.sub(resolve, text)
    text = re.sub(_KEY.format(key="site_dir"), "", text, flags=re.M)
    site = staging.relative_to(project.root).as_posix()
    record = project.record_path.read_bytes() if project.record_path.is_file() else b""
    extension = (f"  - {EXTENSION}:\n      config_file: {json.dumps(str(project.config_file))}\n"
                 f"      record_digest: {hashlib.sha256(record).hexdigest()}\n")
    if re.search(r"^markdown_extensions:[ \t]*\n", text, flags=re.M):
        text = re.sub(r"^markdown_extensions:[ \t]*\n", lambda m: m[0] + extension, text,
                      count=1, flags=re.M)
    elif re.search(r"^markdown_extensions:", text, flags=re.M):
        raise UsageError(f"{project.config_file.name}: write markdown_extensions as a block "
                         "list (one '- name' per line) for the Zensical host to add its own")
    else:
        text += f"\nmarkdown_extensions:\n{extension}"
    return f"site_dir: {json.dumps(site)}\n{text}"


def require_zensical() -> None:
    """``UsageError`` (one line) unless Zensical is importable here."""
    if importlib.util.find_spec("zensical") is None:
        raise UsageError("--host zensical: Zensical is not installed in this environment "
                         "(pip install zensical)")


def build_site(project: Project, site_dir: Path, protected: list[Path] | None = None) -> None:
    """``zensical build --strict`` of the book into ``site_dir``, swapped in only on success."""
    require_zensical()
    protected = protected if protected is not None else [
        project.root, project.docs_dir, project.state_dir, project.config_file]
    site_dir = check_site_dir(site_dir, protected, project.docs_dir)
    inside = project.state_dir if project.state_dir.resolve().is_relative_to(
        project.root.resolve()) else project.root
    inside.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=".zensical-", dir=inside))
    variant = Path(tempfile.mkstemp(prefix=".d2l-zensical-", suffix=".yml",
                                    dir=project.config_file.parent)[1])
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
                             f"{_failure(proc.stdout + proc.stderr)}")
        for name, source in downloads(project).items():
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


def _failure(output: str) -> str:
    """What to show of a failed Zensical build: the engine's own error in one line when the
    extension raised one (Zensical prints the Python traceback), else the output's tail."""
    lines = [line for line in output.splitlines() if line.strip()]
    ours = [line.split(": ", 1)[1] for line in lines
            if re.match(r"^[\w.]*(RenderError|BuildError|UsageError|PageSyntaxError): ", line)]
    return ours[-1] if ours else "\n".join(lines[-20:])
