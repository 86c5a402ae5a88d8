"""The engine's shape, checked by tools: its layers and what it may not import (import-linter
contracts in ``pyproject.toml``), no import hidden inside a function but optional ones (ruff's
PLC0415), and a page process that loads nothing of the book before the regions do."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

BIN = Path(sys.executable).parent
BOOK_MODULES = ("chapter", "claims", "device", "timing", "measure", "models", "paths", "numerics",
                "bench_chapter", "gpu_record", "__main__")


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package under ``root`` (its ``pyproject.toml`` contracts)."""
    tool = BIN / "lint-imports"
    if not tool.exists():
        pytest.fail("import-linter is not installed (it is in the test extra)")
    return subprocess.run([str(tool), "--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PATH": str(BIN), "PYTHONPATH": str(root)})


def test_the_layer_contracts_hold():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"Contracts: (\d+) kept, 0 broken", result.stdout)
    assert int(re.search(r"Contracts: (\d+) kept", result.stdout)[1]) >= 4


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("layers")
    shutil.copytree(ROOT / "d2l_compiler", copy / "d2l_compiler",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy)
    return copy


@pytest.mark.parametrize(("module", "planted", "contract"), [
    ("engine/sources/key.py", "import d2l_compiler.engine.record.model", "stages"),  # upward
    ("engine/record/io.py", "import d2l_compiler.engine.publish.sitedir", "stages"),
    ("engine/render/markdown.py", "import d2l_compiler.claims", "chapter or the readers"),
    ("engine/run/child.py", "from d2l_compiler import device", "chapter or the readers"),
    ("engine/build.py", "import mkdocs.config", "MkDocs is imported by one"),
])
def test_a_planted_import_breaks_its_contract(package_copy, module, planted, contract):
    target = package_copy / "d2l_compiler" / module
    original = target.read_text(encoding="utf-8")
    target.write_text(original.replace("from __future__ import annotations\n",
                                       f"from __future__ import annotations\n{planted}\n", 1),
                      encoding="utf-8")
    try:
        result = _lint_imports(package_copy)
    finally:
        target.write_text(original, encoding="utf-8")
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in broken, broken[:2000]


def test_no_import_hides_inside_an_engine_function_but_optional_ones():
    ruff = BIN / "ruff"
    if not ruff.exists():
        pytest.fail("ruff is not installed (it is in the test extra)")
    result = subprocess.run([str(ruff), "check", "--select", "PLC0415", "--output-format",
                             "concise", "d2l_compiler/engine"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout
    # each exception says why: an optional dependency or host
    reasons = re.findall(r"noqa: PLC0415 - (.+)", "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "d2l_compiler" / "engine").rglob("*.py")))
    assert reasons and all(reason.strip() for reason in reasons)


def test_the_page_process_loads_nothing_of_the_book():
    """What ``python -X importtime`` shows for the page process's entry point: the engine's
    own modules, and no module of the chapter, its helpers, or a site builder."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "import d2l_compiler.engine.run.child"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded = [line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
              if line.startswith("import time:") and "|" in line]
    assert "d2l_compiler.engine.run.child" in loaded
    ours = [name for name in loaded if name.startswith("d2l_compiler.")]
    assert all(name.split(".")[1] == "engine" for name in ours), ours
    assert not {name.split(".")[0] for name in loaded} & {"mkdocs", "markdown", "pymdownx",
                                                           "yaml", "jinja2", "rich", "snippets"}


_BLOCKED = ("torch", "numpy", "onnx", "onnxruntime", "onnxscript", "jieba", "mkdocstrings",
            "material", "zensical")
_BLOCKER = f"""
import sys
from importlib.abc import MetaPathFinder

class _Absent(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {_BLOCKED!r}:
            raise ImportError(f"{{name}} is not installed (engine-only install)")
        return None

sys.meta_path.insert(0, _Absent())
from d2l_compiler.__main__ import main
sys.exit(main(["build"]))
"""


def test_a_book_builds_with_the_engine_alone(tmp_path):
    """An engine-only install (``pip install ".[engine]"``): the extra names only MkDocs,
    pymdown-extensions, the typed record's msgspec, the two process and file libraries, the
    formula typesetter (latex2mathml) and the HTML sanitiser (nh3), and a book builds with
    torch, numpy, the theme and every package of this chapter made unimportable."""
    from importlib.metadata import requires

    engine = sorted(r.split(";")[0].split(">")[0].split("<")[0].strip()
                    for r in requires("d2l_compiler") or () if 'extra == "engine"' in r)
    assert engine == ["latex2mathml", "mkdocs", "msgspec", "nh3", "psutil", "pymdown-extensions",
                      "watchfiles"]
    (tmp_path / "docs").mkdir()
    (tmp_path / "snippets").mkdir()
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: engine only\nmarkdown_extensions:\n  - pymdownx.superfences\n"
        "  - pymdownx.snippets:\n      check_paths: true\nplugins:\n  - d2l\n")
    (tmp_path / "snippets" / "hello.py").write_text(
        "# --8<-- [start:hello]\nanswer = 6 * 7\nprint('the answer is', answer)\n"
        "# --8<-- [end:hello]\n")
    (tmp_path / "docs" / "index.md").write_text(
        '# Hello\n\n```python\n--8<-- "snippets/hello.py:hello"\n```\n\n'
        "The answer is {{ d2l:hello.answer }}.\n")
    proc = subprocess.run([sys.executable, "-c", _BLOCKER], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={"PATH": str(BIN), "NO_MKDOCS_2_WARNING": "1",
                                                       "D2L_DEVICE": "cpu"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "the answer is 42" in html and "The answer is 42." in html


def test_every_engine_module_leaves_its_annotations_unevaluated():
    """``from __future__ import annotations`` everywhere: the mutation driver skips mutants
    inside annotations on that ground, and a module without it would break its run."""
    missing = [str(p.relative_to(ROOT)) for p in (ROOT / "d2l_compiler" / "engine").rglob("*.py")
               if p.name != "__init__.py"
               and "from __future__ import annotations" not in p.read_text(encoding="utf-8")]
    assert missing == []
