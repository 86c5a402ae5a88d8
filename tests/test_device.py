"""The reader's device helper (the installed torch build, read without importing it), a build
refusing ``--memory-limit`` on a GPU machine, and ``bench-chapter``'s choice of the published
numbers to compare with. No GPU needed: the machine is faked (``machine`` fixture: driver
file, ``/dev/nvidia*``, ``nvidia-smi``, torch's ``version.py``). The engine's own device
decision is tested in test_run_units.py (fast, in-process: ``nox -s mutation`` runs it)."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import subprocess
import sys
import types

import pytest

from conftest import run_cli

reader = importlib.import_module("d2l_compiler.device")  # the module, not the function
SPEC_HINT = 'D2L_TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"'


# --- the reader's helper -------------------------------------------------------------------------

def test_torch_build_is_read_from_version_py_without_importing_torch(machine, monkeypatch):
    assert reader.torch_build() == reader.TorchBuild("2.13.0+cpu", False)
    machine.torch("2.13.0+cu128", "12.8")
    assert reader.torch_build() == reader.TorchBuild("2.13.0+cu128", True)
    assert reader.torch_build().describe() == "torch 2.13.0+cu128 (a GPU build)"
    machine.torch_of_unknown_kind()
    assert reader.torch_build() == reader.TorchBuild("0.0-fake", None)
    assert machine.torch_dir is not None
    (machine.torch_dir / "version.py").unlink()  # then only a local version tag tells
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "2.13.0+cu126")
    assert reader.torch_build() == reader.TorchBuild("2.13.0+cu126", True)
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "2.13.0")  # PyPI's: either
    assert reader.torch_build() == reader.TorchBuild("2.13.0", None)
    machine.no_torch()
    assert reader.torch_build() == reader.TorchBuild(None, False)
    assert reader.torch_build().describe() == "torch is not installed"


def test_the_real_torch_build_matches_what_torch_says():
    torch = pytest.importorskip("torch")
    build = reader.torch_build()
    assert build.version == torch.__version__
    assert build.gpu == (torch.version.cuda is not None or torch.version.hip is not None)


def _fake_torch(version: str, cuda: str | None, available: bool) -> types.ModuleType:
    torch = types.ModuleType("torch")
    torch.__version__ = version  # type: ignore[attr-defined]
    torch.version = types.SimpleNamespace(cuda=cuda, hip=None)  # type: ignore[attr-defined]
    torch.cuda = types.SimpleNamespace(is_available=lambda: available)  # type: ignore[attr-defined]
    return torch


def test_reader_cuda_with_a_cpu_build_names_the_wheel(machine, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", _fake_torch("2.13.0+cpu", None, False))
    monkeypatch.setenv("D2L_DEVICE", "cuda")
    with pytest.raises(reader.DeviceUnavailable) as exc:
        reader.device_kind()
    assert str(exc.value) == ("D2L_DEVICE=cuda but torch 2.13.0+cpu is a CPU build "
                              "(torch.version.cuda is None): install a CUDA build, e.g. "
                              f"{SPEC_HINT} (see README)")
    monkeypatch.setitem(sys.modules, "torch", _fake_torch("2.13.0+cu128", "12.8", False))
    with pytest.raises(reader.DeviceUnavailable, match=r"torch 2.13.0\+cu128 \(CUDA 12.8\) "
                                                       "finds no usable CUDA device"):
        reader.device_kind()


def test_reader_auto_asks_torch_once_imported_whatever_the_driver_file(machine, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", _fake_torch("2.13.0+cu128", "12.8", True))
    monkeypatch.setenv("D2L_DEVICE", "auto")
    assert reader.device_kind() == "cuda"  # no driver file, but torch is there to ask


FAKE_TORCH = """\
import os
with open(os.environ["TORCH_IMPORTS"], "a") as log:
    log.write("imported\\n")
__version__ = {version!r}
from . import version
class cuda:
    @staticmethod
    def is_available():
        return True
"""


@pytest.mark.parametrize(("cuda", "driver", "expected"), [
    ("12.8", False, "cuda imported"),  # a CUDA build, no driver file (a sandbox): torch asked
    (None, True, "cpu -"),  # a CPU build never sees a GPU: not even imported
])
def test_reader_auto_decides_by_the_torch_build_not_only_the_driver_file(tmp_path, cuda, driver,
                                                                        expected):
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    version = "2.13.0+cu128" if cuda else "2.13.0+cpu"
    (fake / "__init__.py").write_text(FAKE_TORCH.format(version=version))
    (fake / "version.py").write_text(f"__version__ = {version!r}\ncuda = {cuda!r}\nhip = None\n")
    driver_file, imports = tmp_path / "nvidia-version", tmp_path / "imports"
    if driver:
        driver_file.write_text("NVRM version: 1")
    imports.write_text("")
    code = "from d2l_compiler.device import device_kind; print(device_kind())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(fake.parent), "D2L_DEVICE": "auto",
                               "TORCH_IMPORTS": str(imports), "PATH": str(tmp_path),
                               reader.DRIVER_FILE_ENV: str(driver_file)})
    assert f"{proc.stdout.strip()} {imports.read_text().strip() or '-'}" == expected


# --- --memory-limit on a GPU build ---------------------------------------------------------------

def test_build_with_memory_limit_on_a_gpu_machine_is_one_line_usage_error(site, tmp_path):
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(FAKE_TORCH.format(version="2.13.0+cu128"))
    (fake / "version.py").write_text("__version__ = '2.13.0+cu128'\ncuda = '12.8'\nhip = None\n")
    (tmp_path / "imports").write_text("")
    site.write("docs/index.md", '# T\n\n```python\n--8<-- "snippets/s.py:r"\n```\n')
    site.write("snippets/s.py", "# --8<-- [start:r]\nprint('hi')\n# --8<-- [end:r]\n")
    env = {"D2L_DEVICE": "auto", "PYTHONPATH": str(fake.parent),
           "TORCH_IMPORTS": str(tmp_path / "imports")}
    result = site.build("--memory-limit", "1024", "--no-site", env=env)
    assert result.code == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: --memory-limit limits address space (RLIMIT_AS)")
    assert not (site.root / ".d2l" / "record.json").exists()  # nothing ran


# --- bench-chapter --published: the same device's numbers ----------------------------------------

def _paths(device: str, median: float, gpu: str | None = None) -> dict:
    value = {"type": "paths", "device": device, "torch": "2.13.0", "threads": 4, "quick": True,
             "batches": {"1": {"eager": {"samples": {"median": median, "q1": median,
                                                     "q3": median}, "speedup": 1.0}}}}
    return value | ({"gpu": gpu} if gpu else {})


def _entry(device: str, paths: dict) -> dict:
    return {"inputs": {"device": device},
            "provenance": {"cpu": f"{device} host CPU", "device": device},
            "regions": [{"id": "x", "values": {"other": 3, "paths": paths}}]}


@pytest.fixture
def merged_record(tmp_path):
    """A merged record: the build's device cuda (first), cpu under ``other_devices``."""
    record = {"format": 1, "pages": {"compilers.md": _entry("cuda", _paths("cuda", 1e-5, "H200"))},
              "other_devices": {"compilers.md": [_entry("cpu", _paths("cpu", 2e-4))]}}
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record))
    return path


def test_published_numbers_are_those_of_the_readers_device(merged_record):
    from d2l_compiler.bench_chapter import load_published

    cpu = load_published(str(merged_record), "cpu")
    assert (cpu.device, cpu.cpu, cpu.note) == ("cpu", "cpu host CPU", None)
    assert cpu.paths["batches"]["1"]["eager"]["samples"]["median"] == 2e-4
    cuda = load_published(str(merged_record), "cuda")
    assert (cuda.device, cuda.gpu, cuda.note) == ("cuda", "H200", None)


def test_published_numbers_from_another_device_say_they_are_not_comparable(tmp_path):
    from d2l_compiler.bench_chapter import load_published, side_by_side

    path = tmp_path / "record.json"
    path.write_text(json.dumps({"pages": {"compilers.md": _entry("cuda", _paths("cuda", 1e-5,
                                                                                 "NVIDIA H200"))}}))
    theirs = load_published(str(path), "cpu")
    assert theirs.note == ("published numbers are from cuda (NVIDIA H200); yours from cpu: "
                           "not comparable")
    table = side_by_side(_paths("cpu", 3e-4), "my CPU", theirs.paths, theirs.cpu, theirs.note)
    assert table.splitlines()[:3] == [
        "yours:     cpu (my CPU), torch 2.13.0, 4 threads, quick",
        "published: cuda (NVIDIA H200), torch 2.13.0, 4 threads, quick",
        f"note: {theirs.note}"]


def test_bench_chapter_compares_with_the_same_device(merged_record, monkeypatch):
    from d2l_compiler import bench_chapter, measure

    class Report:
        def to_record(self) -> dict:
            return _paths("cpu", 3e-4)

    monkeypatch.setattr(measure, "compare_paths", lambda net, **kwargs: Report())
    monkeypatch.setenv("D2L_DEVICE", "cpu")
    out = bench_chapter.run(str(merged_record), False, [1], ["eager"])
    assert "published: cpu (cpu host CPU)" in out and "note:" not in out
    assert "200.0 (200.0-200.0) 1.00x" in out  # the cpu entry's median, not the cuda one's


@pytest.mark.parametrize("text", ["[]", '{"pages": {"x.md": {"regions": 3}}}'])
def test_bench_chapter_malformed_record_is_one_line(tmp_path, text):
    path = tmp_path / "record.json"
    path.write_text(text)
    result = run_cli("bench-chapter", "--quick", "--published", str(path), cwd=tmp_path)
    assert result.code == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "record.json" in result.stderr

