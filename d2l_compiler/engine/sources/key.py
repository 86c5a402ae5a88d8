"""The content key of a page's execution: everything that can change its outputs, nothing else.

Inputs: the code of the regions it runs; the source of every project module those regions
import, followed transitively by static analysis (never by importing); the installed version
of each third-party distribution they import, read from package metadata; the Python version,
the device kind and the record format. Prose around the regions is not an input.
"""

from __future__ import annotations

import ast
import hashlib
import os
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from d2l_compiler.engine.sources.discover import Include, Region
from d2l_compiler.engine.sources.graph import Node, page_graph
from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.formats import RECORD_FORMAT
from d2l_compiler.engine.sources.installed import installed_version
from d2l_compiler.engine.sources.inputs import KeyInputs, PageInputs, RegionInputs

# environment variables that change what regions print without being seen read: those the C
# library reads (time zone, locale). Every other variable a region reads is recorded as it
# runs (``RegionRun.seen``) and checked before its result is reused; D2L_DEVICE enters as
# the device. A book's own variables need no entry here.
OUTPUT_ENV = ("TZ", "LANG", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "LC_TIME", "LC_COLLATE",
              "LC_MONETARY", "LC_MESSAGES")


@lru_cache(maxsize=512)
def _imported_names(source: str, module: str | None = None,
                    is_package: bool = False) -> frozenset[str]:
    """Absolute dotted names imported anywhere in ``source`` (inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and module is not None:
                parts = module.split(".")
                anchor = parts if is_package else parts[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            # `from pkg import sub` may name a submodule: keep both candidates
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return frozenset(n for n in names if n)


def _project_file(root: Path, dotted: str) -> tuple[Path, bool] | None:
    base = root.joinpath(*dotted.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py", True
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py"), False
    return None


@lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


@lru_cache(maxsize=512)
def _distribution_versions(top_level: str) -> list[str]:
    try:  # fast path: the distribution is named like its module (torch, numpy, jieba)
        return [f"{top_level}=={installed_version(top_level)}"]
    except metadata.PackageNotFoundError:
        pass
    versions = []  # slow path (scans every installed distribution): yaml -> PyYAML
    for dist in sorted(set(_distributions().get(top_level, []))):
        try:
            versions.append(f"{dist}=={installed_version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist}==missing")
    return versions or [f"{top_level}==not-installed"]


class ProjectSources:
    """The project's modules as one computation sees them: each dotted name looked up, each
    file read and digested once (a page's regions import mostly the same modules). Made
    afresh for each computation, so that an edit between two builds is always seen."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._found: dict[str, tuple[Path, bool] | None] = {}
        self._texts: dict[str, str] = {}
        self._digests: dict[str, str] = {}

    def find(self, dotted: str) -> tuple[Path, bool] | None:
        """The file of a project module (and whether it is a package), else None."""
        if dotted not in self._found:
            self._found[dotted] = _project_file(self.root, dotted)
        return self._found[dotted]

    def text(self, rel: str) -> str:
        """The text of the project file ``rel``."""
        if rel not in self._texts:
            self._texts[rel] = (self.root / rel).read_text(encoding="utf-8")
        return self._texts[rel]

    def digest(self, rel: str) -> str:
        """The SHA-256 of the project file ``rel``'s text."""
        if rel not in self._digests:
            self._digests[rel] = hashlib.sha256(self.text(rel).encode("utf-8")).hexdigest()
        return self._digests[rel]


def dependencies(root: Path, regions: list[Region], sources: ProjectSources | None = None,
                 ) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Project files (path -> sha256) and third-party packages (name -> versions) the regions use."""
    sources = sources or ProjectSources(root)
    files, packages = project_modules(root, regions, sources)
    return {rel: sources.digest(rel) for rel in files}, packages


def project_modules(root: Path, regions: list[Region], sources: ProjectSources | None = None,
                    ) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The source of every project module the regions import, followed transitively by static
    analysis (path -> text), and the third-party packages they import (name -> versions)."""
    sources = sources or ProjectSources(root)
    files: dict[str, str] = {}
    packages: dict[str, list[str]] = {}
    pending = [name for r in regions for name in _imported_names(r.code)]
    seen: set[str] = set()
    while pending:
        dotted = pending.pop()
        if dotted in seen:
            continue
        seen.add(dotted)
        top = dotted.split(".")[0]
        in_project = sources.find(top) is not None  # first on the regions' sys.path,
        if not in_project and (top in sys.stdlib_module_names or top == "__future__"):
            continue  # so a project folder named like a stdlib module (code/) shadows it
        # a submodule import also runs its parent package's __init__ (and so on upwards)
        parent = dotted.rpartition(".")[0]
        if parent:
            pending.append(parent)
        found = sources.find(dotted)
        if found is None:
            if not in_project:
                packages[top] = _distribution_versions(top)
            continue
        file, is_package = found
        rel = file.relative_to(root).as_posix()
        files[rel] = sources.text(rel)
        pending.extend(_imported_names(files[rel], dotted, is_package))
    return dict(sorted(files.items())), dict(sorted(packages.items()))


def data_files(root: Path, regions: list[Region]) -> dict[str, str]:
    """SHA-256 of each data file the regions declare with ``# reads: path``."""
    digests = {}
    for region in regions:
        for rel in region.reads:
            file = root / rel
            if not file.is_file():
                raise UsageError(f"{region.id} declares '# reads: {rel}', which does not exist")
            digests[Path(rel).as_posix()] = hashlib.sha256(file.read_bytes()).hexdigest()
    return dict(sorted(digests.items()))


def region_keys(root: Path, nodes: list[Node], device: str,
                versions: Mapping[str, list[str]] | None = None,
                machine: KeyInputs | None = None,
                page: str = "") -> list[tuple[str, RegionInputs]]:
    """The key of each executed region of a page, and its inputs: its own code, the project
    modules, packages and data files it uses, whether it runs in a process of its own, and
    the keys of the regions it depends on (so an edit re-keys exactly its descendants).
    ``versions`` (package -> versions) stand in for the installed ones: those of the machine
    that recorded a result, when this one vouches only for its sources; ``machine`` (its
    ``python`` and ``env`` inputs) likewise stands in for this machine's interpreter and
    environment."""
    keys: list[tuple[str, RegionInputs]] = []
    sources = ProjectSources(root)
    here = _machine(device, machine)
    for node in nodes:
        files, packages = dependencies(root, [node.region], sources)
        if versions is not None:
            packages = {name: list(versions.get(name, found)) for name, found in packages.items()}
        inputs = RegionInputs(**here, page=page, region=(node.region.id, node.region.source_sha),
                              files=files, packages=packages,
                              data=data_files(root, [node.region]), own_process=node.own_process,
                              after=[keys[d][0] for d in node.deps])
        keys.append((inputs.digest(), inputs))
    return keys


def _machine(device: str, machine: KeyInputs | None = None) -> dict[str, Any]:
    """The machine facts every key covers: this machine's, or (``machine``) those of the
    machine that recorded a result, taken as it says (they are not inputs this one can
    check; the sources are)."""
    if machine is not None:
        return {"format": RECORD_FORMAT, "python": machine.python, "device": device,
                "env": dict(machine.env)}
    return {"format": RECORD_FORMAT, "python": platform.python_version(), "device": device,
            "env": {name: os.environ.get(name, "") for name in OUTPUT_ENV}}


@dataclass(frozen=True)
class PageKeys:
    """A page's key and inputs, its dependency graph, and each executed region's key."""

    key: str
    inputs: PageInputs
    nodes: list[Node]
    regions: list[tuple[str, RegionInputs]]  # (key, inputs) per node


def page_keys(root: Path, regions: list[Region], device: str,
              own_process: list[bool] | None = None,
              versions: Mapping[str, list[str]] | None = None,
              machine: KeyInputs | None = None, page: str = "") -> PageKeys:
    """The keys of a page's execution (``key``: the whole page's) and of each of its regions."""
    nodes = page_graph(regions, own_process or [False] * len(regions))
    keyed = region_keys(root, nodes, device, versions, machine, page)

    def union(kind: str) -> dict[str, Any]:  # read once per region, there
        return dict(sorted({name: value for _, inputs in keyed
                            for name, value in getattr(inputs, kind).items()}.items()))
    inputs = PageInputs(
        **_machine(device, machine),
        # the page's modules, packages and data: the union of its regions'
        files=union("files"), packages=union("packages"), data=union("data"),
        # order and repetition are inputs: they change what each region sees when it runs
        regions=[(r.id, r.source_sha) for r in regions],
        region_keys=[(node.region.id, k) for node, (k, _) in zip(nodes, keyed, strict=True)])
    return PageKeys(inputs.digest(), inputs, nodes, keyed)


def include_keys(root: Path, includes: list[Include], device: str,
                 versions: Mapping[str, list[str]] | None = None,
                 machine: KeyInputs | None = None) -> PageKeys:
    """:func:`page_keys` of a page's includes (those it only shows are left out)."""
    executed = [inc for inc in includes if inc.region.executed]
    return page_keys(root, [inc.region for inc in executed], device,
                     [inc.own_process for inc in executed], versions, machine,
                     includes[0].page if includes else "")
