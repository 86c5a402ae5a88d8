"""The downloaded notebook runs anywhere: in a fresh virtual environment where nothing is
installed but a kernel, its own first cell installs what it needs (the helpers from the
wheel the site ships), then every cell runs, and the outputs have the recorded shape."""

from __future__ import annotations

import functools
import http.server
import json
import re
import subprocess
import sys
import threading
import venv
from urllib.parse import urlparse


from tests.conftest import read_record


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _setup_cell(notebook: dict) -> str:
    first = notebook["cells"][0]
    assert first["cell_type"] == "code" and first["metadata"].get("d2l_setup"), first
    return "".join(first["source"])


def test_the_first_cell_pins_what_the_notebook_imports(chapter):
    notebook = json.loads((chapter / "site" / "generated" / "compilers" / "compilers.ipynb")
                          .read_text(encoding="utf-8"))
    source = _setup_cell(notebook)
    record = read_record(chapter)
    torch = record["pages"]["compilers.md"]["provenance"]["torch"].split("+")[0]
    install = source.splitlines()[1]
    assert install.startswith("%pip install ")
    for pin in (f"torch=={torch}", "numpy==", "onnxruntime==", "onnx==", "onnxscript=="):
        assert pin in install, install
    wheel = re.search(r"d2l_compiler@(\S+?\.whl)", install)[1]
    published = chapter / "site" / urlparse(wheel).path.lstrip("/")
    assert published.is_file() and published.parent.name == "packages"
    # the warnings a region raised are kept, on standard error, without the build's folders
    streams = [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    warned = [o for o in streams if o["name"] == "stderr" and "DeprecationWarning" in "".join(o["text"])]
    assert warned and not any(".nox" in "".join(o["text"]) for o in warned)
    assert "provenance" in notebook["metadata"]["d2l"]  # which build made it


def _shape(text: str) -> list[str]:
    """A cell's output with every number replaced: what a re-run must reproduce."""
    return [re.sub(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", "N", line) for line in text.splitlines()]


def test_the_downloaded_notebook_runs_in_a_fresh_environment(chapter, tmp_path, monkeypatch):
    import nbclient
    import nbformat

    site = chapter / "site"
    published = site / "generated" / "compilers" / "compilers.ipynb"
    nb = nbformat.read(published, as_version=4)
    recorded = [c for c in nb.cells if c.cell_type == "code"]
    wheel = urlparse(re.search(r"@(\S+?\.whl)", _setup_cell(json.loads(
        published.read_text(encoding="utf-8"))))[1])
    assert wheel.hostname == "127.0.0.1", wheel  # the tests build the site for a local server
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", wheel.port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    # a fresh environment holding only a kernel; the notebook's first cell installs the rest
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "ipykernel"], check=True)
    subprocess.run([python, "-m", "ipykernel", "install", "--prefix", tmp_path / "jupyter",
                    "--name", "fresh"], check=True, capture_output=True)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter" / "share" / "jupyter"))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    before = subprocess.run([python, "-c", "import importlib.util as u; print("
                             "[m for m in ('torch', 'd2l_compiler', 'onnxruntime') if u.find_spec(m)])"],
                            capture_output=True, text=True, check=True, cwd=tmp_path)
    assert before.stdout.strip() == "[]"  # nothing of the notebook's is there before it runs

    work = tmp_path / "reader"
    work.mkdir()
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="fresh",
                                     resources={"metadata": {"path": str(work)}})
    try:
        client.execute()  # CellExecutionError names the cell that failed
    finally:
        server.shutdown()
    ran = [c for c in nb.cells if c.cell_type == "code"]
    assert "".join(o.get("text", "") for o in ran[1].outputs) == "10\n"
    for old, new in zip(recorded[1:], ran[1:], strict=True):
        shown, fresh = ("".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
                        for cell in (old, new))
        assert len(_shape(fresh)) == len(_shape(shown)), (old.metadata["d2l_region"], fresh)
    assert sys.executable != str(python)  # the test ran the kernel it made, not its own
