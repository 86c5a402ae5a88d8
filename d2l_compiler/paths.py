"""The ways to run the chapter's model: eager, TorchScript (three variants), torch.compile
(two modes), torch.export + AOTInductor, and ONNX run by ONNX Runtime (no PyTorch at all);
with the file each one saves, reloaded and checked.

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .numerics import FULL_FLOAT32, Tolerance

PATHS = ("eager", "script", "frozen", "trace", "compile", "compile_max", "export_aoti", "onnx_ort")
LABELS = {
    "eager": "eager（命令式）",
    "script": "torch.jit.script",
    "frozen": "script + freeze + optimize_for_inference",
    "trace": "torch.jit.trace",
    "compile": "torch.compile",
    "compile_max": "torch.compile（max-autotune-no-cudagraphs）",
    "export_aoti": "torch.export + AOTInductor",
    "onnx_ort": "ONNX + ONNX Runtime",
}
# Each path's inference setting: every path is timed in eval mode under torch.no_grad(), and
# each gets the inference options its documentation recommends (shown in the chapter's table).
SETTINGS = {
    "eager": "eval() + no_grad()",
    "script": "eval() + no_grad()",
    "frozen": "freeze() + optimize_for_inference()",
    "trace": "eval() + no_grad()",
    "compile": "Inductor freezing=True",
    "compile_max": "Inductor freezing=True",
    "export_aoti": "AOTInductor freezing=True",
    "onnx_ort": "图优化全开，线程数同 PyTorch",
}


@dataclass(frozen=True)
class Artifact:
    """A file a path saved: what it is, where, how big, and whether it reloads equal."""

    kind: str
    file: str
    size_bytes: int
    reload_equal: bool

    def to_record(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"kind": self.kind, "file": Path(self.file).name, "size_bytes": self.size_bytes,
                "reload_equal": self.reload_equal}


# --8<-- [start:make_path]
def make_path(name, net, x, workdir):
    """把 eager 模型 ``net`` 转换成路径 ``name``，返回可调用的结果和它保存的文件。"""
    import torch

    workdir = Path(workdir)
    if name == "eager":
        torch.save(net.state_dict(), workdir / "mlp_state_dict.pt")
        return net, {"state_dict": workdir / "mlp_state_dict.pt"}
    if name in ("script", "frozen", "trace"):
        if name == "trace":
            module = torch.jit.trace(net, x)  # 记录这个输入实际走过的运算
        else:
            module = torch.jit.script(net)  # 编译 forward() 的 Python 源代码
        if name == "frozen":  # 参数变成常量，再做只适用于推理的改写
            module = torch.jit.optimize_for_inference(torch.jit.freeze(module.eval()))
        module.save(str(workdir / f"mlp_{name}.pt"))
        return module, {"torchscript": workdir / f"mlp_{name}.pt"}
    if name in ("compile", "compile_max"):  # 第一次调用时才真正编译
        mode = "max-autotune-no-cudagraphs" if name == "compile_max" else "default"
        options = torch._inductor.list_mode_options(mode)  # 该模式对应的 Inductor 选项
        options["freezing"] = True  # 推理冻结：把权重当作常量参与优化
        return torch.compile(net, options=options, dynamic=False), {}
    if name == "export_aoti":
        exported = torch.export.export(net, (x,))  # 整个模型成为一张图，不再有 Python
        torch.export.save(exported, str(workdir / "mlp_export.pt2"))
        package = torch._inductor.aoti_compile_and_package(  # 提前编译成 C++ 共享库
            exported, package_path=str(workdir / "mlp_aoti.pt2"),
            inductor_configs={"freezing": True})
        return torch._inductor.aoti_load_package(package), {
            "export": workdir / "mlp_export.pt2", "aoti_package": Path(package)}
    if name == "onnx_ort":  # 导出成 ONNX 文件，交给 ONNX Runtime 运行，不再经过 PyTorch
        torch.onnx.export(net, (x,), workdir / "mlp.onnx", dynamo=True, external_data=False,
                          verbose=False)
        return onnx_runner(workdir / "mlp.onnx", x), {"onnx": workdir / "mlp.onnx"}
    raise ValueError(f"unknown path {name!r}; choose from {', '.join(PATHS)}")
# --8<-- [end:make_path]


def onnx_runner(file: Path, x: Any) -> Any:
    """An ONNX Runtime session for ``file`` as a function of a tensor like ``x``: the tensor
    goes in as a NumPy array and comes back as a tensor (that round trip is part of the cost
    of calling it from a PyTorch program, so it is timed too). Same thread count as PyTorch."""
    import onnxruntime
    import torch

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def run(tensor: Any) -> Any:
        return torch.from_numpy(session.run(None, {input_name: tensor.numpy()})[0])
    return run


def unavailable_paths(device: Any, paths: tuple[str, ...] = PATHS) -> dict[str, str]:
    """在构建任何东西之前，找出 ``paths`` 中无法在本机 ``device`` 上运行的路径及各自的原因。

    ONNX Runtime 需要装好它的包，而且本章只在 CPU 上运行它（拿它和 GPU
    上的路径比较计时并不公平）；Inductor 需要 C++ 编译器，在 GPU 上还需要 Triton；
    GPU 上的 AOTInductor 另外还需要 CUDA 工具包的头文件（``CUDA_HOME``），
    而 pip 安装的 CUDA wheel 并不包含这些头文件。"""
    import importlib.util

    device_type = getattr(device, "type", str(device))
    reasons = {}
    if "onnx_ort" in paths:
        if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnxscript") is None:
            reasons["onnx_ort"] = "onnxruntime / onnxscript are not installed"
        elif device_type != "cpu":
            reasons["onnx_ort"] = "ONNX Runtime is measured on the CPU only"
    inductor = [name for name in ("compile", "compile_max", "export_aoti") if name in paths]
    missing = _inductor_missing(device_type) if inductor else {}
    for name in inductor:
        why = missing.get("aoti" if name == "export_aoti" else "compile") or missing.get("any")
        if why:
            reasons[name] = why
    return reasons


def _inductor_missing(device_type: str) -> dict[str, str]:
    """What TorchInductor lacks on this machine: ``any`` (every Inductor path), ``compile``
    (torch.compile) or ``aoti`` (AOTInductor) -> the reason."""
    import shutil

    missing = {}
    compiler = os.environ.get("CXX") or "c++"
    if not (shutil.which(compiler) or shutil.which("g++") or shutil.which("clang++")):
        missing["any"] = f"no C++ compiler ({compiler}) on PATH: TorchInductor needs one"
    if device_type == "cuda":
        import torch.utils._triton
        from torch.utils.cpp_extension import CUDA_HOME

        if not torch.utils._triton.has_triton():
            missing["compile"] = "Triton is not installed: torch.compile needs it on the GPU"
            missing["aoti"] = missing["compile"]
        elif CUDA_HOME is None:
            missing["aoti"] = ("AOTInductor on the GPU needs the CUDA toolkit (nvcc and headers; "
                               "CUDA_HOME is not set and no nvcc was found)")
    return missing


def reload_artifact(kind: str, file: Path, x, architecture: Any = None) -> Any:
    """Load a saved file back into something callable on ``x``; return its output. A
    ``state_dict`` holds parameters only: they are loaded into a fresh copy of
    ``architecture`` (default: the chapter's ``get_net()``)."""
    import copy

    import torch

    from .models import get_net

    if kind == "state_dict":
        net = (copy.deepcopy(architecture) if architecture is not None else get_net()).to(x.device)
        net.load_state_dict(torch.load(file, map_location=x.device))
        return net.eval()(x)
    if kind == "torchscript":
        return torch.jit.load(str(file), map_location=x.device)(x)
    if kind == "export":
        return torch.export.load(str(file)).module()(x)
    if kind == "aoti_package":
        return torch._inductor.aoti_load_package(str(file))(x)
    if kind == "onnx":
        return onnx_runner(Path(file), x)(x)
    raise ValueError(f"unknown artifact kind {kind!r}")


def check_artifacts(files: dict[str, Path], x, reference, tolerance: Tolerance = FULL_FLOAT32,
                    architecture: Any = None) -> list[Artifact]:
    """Reload every saved file and compare its output with ``reference`` within ``tolerance``
    (a ``state_dict`` into a copy of ``architecture``, the model that saved it)."""
    import torch

    artifacts = []
    for kind, file in files.items():
        with torch.no_grad():
            equal = torch.allclose(reload_artifact(kind, file, x, architecture), reference,
                                   **tolerance.as_kwargs())
        artifacts.append(Artifact(kind, str(file), Path(file).stat().st_size, bool(equal)))
    return artifacts
