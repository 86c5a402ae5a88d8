"""A record made on a GPU machine (a fixture: this machine has none) can be checked and
published here without running anything, and renders the GPU's provenance."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from d2l_compiler.engine.sources import key
from d2l_compiler.chapter import tables
from d2l_compiler.engine.sources.discover import read_region
from d2l_compiler.engine.record.io import seal

GPU = "NVIDIA Fixture GPU (test double)"


def _as_if_built_on_a_gpu(site) -> None:
    path = site.root / ".d2l" / "record.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    entry = record["pages"]["index.md"]
    regions = [read_region(site.root, r["id"]) for r in entry["regions"] if r["executed"]]
    entry["key"], entry["inputs"] = key.page_key(site.root, regions, "cuda")
    entry["provenance"].update(device="cuda", gpu=GPU, torch="2.13.0+cu128", threads=8)
    record["provenance"]["device"] = "cuda"
    record["pages"]["index.md"] = seal(entry)  # a GPU build seals its entries like any build
    path.write_text(json.dumps(record), encoding="utf-8")


def test_gpu_record_checks_and_publishes_without_a_gpu(site):
    site.write("docs/index.md", '# GPU\n\n```python\n--8<-- "snippets/s.py:r"\n```\n')
    site.write("snippets/s.py", "# --8<-- [start:r]\nprint('ran on the GPU machine')\n"
                                "# --8<-- [end:r]\n")
    assert site.build("--no-site").code == 0
    _as_if_built_on_a_gpu(site)
    checked = site.run("check")
    assert checked.code == 0 and "fresh  index.md" in checked.stdout
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q"],
                          cwd=site.root, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr
    html = (site.root / "site" / "index.html").read_text(encoding="utf-8")
    assert f"设备 cuda（{GPU}）" in html and "PyTorch 2.13.0+cu128，8 个线程" in html
    # building here uses this machine's (CPU) key: its stored CPU result, never the GPU one
    assert site.build("--no-site").code == 0
    assert json.loads((site.root / ".d2l" / "record.json").read_text())[
        "pages"]["index.md"]["provenance"]["device"] == "cpu"


def test_paths_provenance_names_the_gpu():
    paths = {"type": "paths", "device": "cuda", "gpu": GPU, "torch": "2.13.0+cu128",
             "threads": 8, "quick": False, "batches": {}}
    entry = {"provenance": {"cpu": "some CPU"}, "executed_at": "2026-11-25T00:00:00Z"}
    line = tables.paths_provenance(paths, entry["provenance"], entry["executed_at"], "abc123")
    assert f"设备 cuda（{GPU}）" in line and "提交 <code>abc123</code>" in line and "some CPU" not in line
