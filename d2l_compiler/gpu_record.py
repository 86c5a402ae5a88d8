"""``python -m d2l_compiler.gpu_record``: build this chapter's record on a GPU machine, once,
in one command, for a lease measured in minutes.

1. The environment is checked and written down before anything long runs: Python, torch and
   the CUDA version it was built for, the device's name and compute capability, the float32
   matmul precision (and any TF32 override), ``CUDA_HOME`` and ``nvcc`` (AOTInductor on a
   GPU needs them), Triton, ONNX Runtime, a C++ compiler, and the packages the engine needs.
   What is missing that a *path* needs is only noted (that path is skipped, with its reason,
   in the record); what the *build* needs fails at once in one line.
2. ``python -m d2l_compiler build --no-site`` runs every page (no MkDocs needed), with a
   limit per page and per measured path so the whole run ends in time.
3. The record, the build's log and the page logs are left in ``--out`` (default
   ``.d2l/gpu-run``): ``record-<device>.json``, ``build.log``, ``environment.json``,
   ``page-logs.tar.gz``. Put the record beside the CPU one with
   ``python -m d2l_compiler merge .d2l/record.json record-cuda.json`` (or commit it under
   ``records/``, which ``nox -s docs`` merges when it matches the sources).

Exit status: 0 recorded, 1 the build failed (the log says where), 2 the environment cannot
build at all. ``D2L_DEVICE=cpu`` runs the same steps on the CPU (to rehearse the command).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ENGINE_NEEDS = ("yaml", "rich")  # what `build --no-site` imports besides the chapter's code
CHAPTER_NEEDS = ("torch", "numpy")


@dataclass
class Environment:
    """What this machine offers the build, read before anything runs."""

    python: str
    platform: str
    torch: str = "not installed"
    torch_cuda: str | None = None  # the CUDA version torch was built for (None: a CPU build)
    cuda_available: bool = False
    device: str = "cpu"  # what D2L_DEVICE resolves to here
    gpu: str | None = None
    capability: str | None = None
    gpu_memory_gib: float | None = None
    matmul_precision: str | None = None
    tf32_override: str | None = None
    cuda_home: str | None = None
    nvcc: str | None = None
    triton: str | None = None
    onnxruntime: str | None = None
    cxx: str | None = None
    cpu_count: int = 0
    missing: list[str] = field(default_factory=list)  # fatal: the build cannot run
    notes: list[str] = field(default_factory=list)  # a path will be skipped, with this reason

    def lines(self) -> list[str]:
        """One ``name: value`` line per fact, for the terminal and the log."""
        return [f"{name:>16}: {value}" for name, value in asdict(self).items()
                if name not in ("missing", "notes")]


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def read_environment() -> Environment:
    """Probe this machine (imports torch: this command runs where torch is meant to run)."""
    env = Environment(python=platform.python_version(), platform=platform.platform(),
                      cpu_count=os.cpu_count() or 0)
    for module in (*ENGINE_NEEDS, *CHAPTER_NEEDS):
        if importlib.util.find_spec(module) is None:
            env.missing.append(f"Python package {module!r} is not installed")
    env.cxx = shutil.which(os.environ.get("CXX") or "c++") or shutil.which("g++")
    env.triton, env.onnxruntime = _version("triton"), _version("onnxruntime")
    env.tf32_override = os.environ.get("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE")
    if importlib.util.find_spec("torch") is None:
        return env
    import torch

    env.torch, env.torch_cuda = torch.__version__, torch.version.cuda
    env.cuda_available = torch.cuda.is_available()
    env.matmul_precision = torch.get_float32_matmul_precision()
    try:
        from torch.utils.cpp_extension import CUDA_HOME

        env.cuda_home = CUDA_HOME
    except Exception as exc:  # noqa: BLE001 - any failure here only means "not usable"
        env.notes.append(f"torch.utils.cpp_extension failed to load: {exc}")
    env.nvcc = shutil.which("nvcc") or (str(Path(env.cuda_home) / "bin" / "nvcc")
                                        if env.cuda_home else None)
    requested = os.environ.get("D2L_DEVICE", "auto").strip().lower() or "auto"
    if env.cuda_available and requested != "cpu":
        env.device = "cuda"
        props = torch.cuda.get_device_properties(0)
        env.gpu = props.name
        env.capability = f"{props.major}.{props.minor}"
        env.gpu_memory_gib = round(props.total_memory / 2**30, 1)
    elif requested == "cuda":
        build = f"a CUDA {env.torch_cuda} build" if env.torch_cuda else "a CPU build"
        env.missing.append(f"D2L_DEVICE=cuda but torch {env.torch} ({build}) sees no GPU")
    if env.device == "cuda":
        if env.cuda_home is None:
            env.notes.append("no CUDA toolkit (CUDA_HOME, nvcc): AOTInductor will be skipped")
        if env.triton is None:
            env.notes.append("Triton is not installed: torch.compile paths will be skipped")
        if env.tf32_override not in (None, "", "0"):
            env.notes.append("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE forces TF32: outputs are "
                             "compared with a looser tolerance, and the page says so")
    if env.cxx is None:
        env.notes.append("no C++ compiler: every TorchInductor path will be skipped")
    return env


def ensure_installed(project_root: Path) -> str | None:
    """Make the project's entry points (the chapter's tokens, checked by the build) visible:
    a checkout copied to a machine without a package registry is installed in place,
    editable, with no dependencies and no downloads; where even that fails (an old
    setuptools), its metadata is written by hand into a folder put on ``PYTHONPATH``.
    Returns what was done, or None if nothing was needed."""
    found = importlib.metadata.entry_points(group="d2l_compiler.extensions")
    if any(ep.name == "chapter" for ep in found):
        return None
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
               "--no-build-isolation", "-e", str(project_root)]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode == 0:
        return "installed the project in place (pip install -e . --no-deps --no-index)"
    lines = proc.stderr.strip().splitlines() or ["pip failed"]
    try:
        site = _metadata_by_hand(project_root)
    except (OSError, KeyError, ValueError) as exc:
        return f"pip could not install the project ({lines[-1]}), nor its metadata be written ({exc})"
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(project_root), str(site), os.environ.get("PYTHONPATH")]))
    return f"pip could not install the project ({lines[-1]}); wrote its metadata to {site}"


def _metadata_by_hand(project_root: Path) -> Path:
    """A ``*.dist-info`` with the project's entry points, from ``pyproject.toml``."""
    import tomllib  # Python 3.11+; the GPU images have 3.12

    project = tomllib.loads((project_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    site = project_root / ".d2l" / "site-packages"
    version = project.get("version", "0")  # a dynamic version is not needed for entry points
    info = site / f"{project['name']}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\n"
                                   f"Version: {version}\n", encoding="utf-8")
    groups = project.get("entry-points", {})
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in items.items())
        for group, items in groups.items()), encoding="utf-8")
    return site


def _pack_logs(logs: Path, target: Path, since: float) -> None:
    """The page logs this run wrote (not older ones left in the folder) as one archive."""
    with tarfile.open(target, "w:gz") as tar:
        for log in sorted(logs.glob("*.log")) if logs.is_dir() else ():
            if log.stat().st_mtime >= since:
                tar.add(log, arcname=log.name)


@dataclass(frozen=True)
class Plan:
    """Where this run reads and writes, decided (and checked) before anything runs."""

    out: Path
    record: Path  # what the build writes: the book's record, or the shard's
    logs: Path
    build_args: tuple[str, ...]


def plan(args: argparse.Namespace) -> Plan:
    """The run's paths and build arguments from the book's own settings; ``UsageError`` in one
    line for a bad ``--shard`` or an ``--out`` that is a file or lies in the published docs."""
    from d2l_compiler.engine.errors import UsageError
    from d2l_compiler.engine.run.shard import parse_shard, shard_record_path
    from d2l_compiler.engine.sources.project import find_project

    project = find_project(args.config)
    build_args: tuple[str, ...] = ("--config", str(project.config_file))
    record = project.record_path
    if args.gpu_shards and not args.shard:
        raise UsageError("--gpu-shards needs --shard K/N")
    if args.shard:
        shard = parse_shard(args.shard, args.gpu_shards)
        build_args += ("--shard", str(shard), "--gpu-shards", args.gpu_shards or "")
        record = shard_record_path(project, shard)
    out = Path(args.out).resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out}: exists and is not a folder")
    if out == project.docs_dir.resolve() or out.is_relative_to(project.docs_dir.resolve()):
        raise UsageError(f"--out {args.out}: inside the docs folder, whose files are published")
    return Plan(out, record, project.logs_dir, build_args)


def main(argv: list[str] | None = None) -> int:
    """Check, build, collect; the exit status as described in the module docstring."""
    from d2l_compiler.engine.errors import UsageError

    parser = argparse.ArgumentParser(prog="python -m d2l_compiler.gpu_record",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="mkdocs.yml", help="MkDocs config (default: mkdocs.yml)")
    parser.add_argument("--out", default=".d2l/gpu-run", help="where the record and logs go")
    parser.add_argument("--page-timeout", type=float, default=480.0,
                        help="seconds a page may run (default: 480)")
    parser.add_argument("--path-timeout", type=float, default=150.0,
                        help="seconds one compile path at one batch size may take before it "
                             "is skipped with that reason (default: 150)")
    parser.add_argument("--check-only", action="store_true", help="check the environment only")
    parser.add_argument("--shard", metavar="K/N", help="passed on to `build` (CI's GPU shard): "
                        "the record is then the shard's, <state_dir>/shards/K-of-N.json")
    parser.add_argument("--gpu-shards", metavar="LIST", help="passed on to `build` with --shard")
    args = parser.parse_args(argv)
    try:
        where = plan(args)
        where.out.mkdir(parents=True, exist_ok=True)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: --out {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    out = where.out
    started, started_at = time.perf_counter(), time.time()
    env = read_environment()
    print("\n".join(["environment:", *env.lines()]), flush=True)
    for note in env.notes:
        print(f"note: {note}", flush=True)
    (out / "environment.json").write_text(json.dumps(asdict(env), indent=2), encoding="utf-8")
    if env.missing:
        print(f"error: cannot build here: {'; '.join(env.missing)}", file=sys.stderr)
        return 2
    if args.check_only:
        return 0
    installed = ensure_installed(Path.cwd())
    if installed:
        print(installed, flush=True)
    command = [sys.executable, "-m", "d2l_compiler", "build", "--no-site", "--publish",
               "--timeout", str(args.page_timeout), *where.build_args]
    child_env = {**os.environ, "D2L_PATH_TIMEOUT": str(args.path_timeout),
                 "PYTHONUNBUFFERED": "1", "D2L_DEVICE": env.device}
    print(f"running: {' '.join(command)}", flush=True)
    code = _run_build(command, child_env, out / "build.log")
    _pack_logs(where.logs, out / "page-logs.tar.gz", started_at)
    fresh = where.record.is_file() and where.record.stat().st_mtime >= started_at
    if code != 0 or not fresh:
        why = f"exit {code}" if code != 0 else f"it wrote no new record at {where.record}"
        print(f"error: the build failed ({why}); see {out / 'build.log'} and "
              f"{out / 'page-logs.tar.gz'}", file=sys.stderr)
        return 1
    target = out / f"record-{env.device}.json"
    shutil.copyfile(where.record, target)
    print(f"recorded in {time.perf_counter() - started:.0f} s: {target}\n"
          f"merge beside the CPU record: python -m d2l_compiler merge <your record> {target}, "
          f"or commit it and name it in the d2l plugin's records:")
    return 0


def _run_build(command: list[str], env: dict[str, str], log_file: Path) -> int:
    """The build, its output streamed to the terminal and ``log_file``; if this command is
    stopped (Ctrl-C, SIGTERM), the build is stopped too, never left holding the GPU."""
    previous = signal.signal(signal.SIGTERM, _terminated)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    try:
        with open(log_file, "w", encoding="utf-8") as log:
            assert proc.stdout is not None
            for line in proc.stdout:  # to the terminal and the log, as it happens
                sys.stdout.write(line)
                sys.stdout.flush()
                log.write(line)
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()  # the engine cleans up its page processes on SIGTERM
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        signal.signal(signal.SIGTERM, previous)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(143)


if __name__ == "__main__":
    sys.exit(main())
