"""The arithmetic a measurement runs under: float32 matmul precision (TF32 or not) and the
tolerance with which a compiled path's outputs must match eager's.

On Ampere and later GPUs, float32 matrix products may run on TF32 tensor cores (10 mantissa
bits): about 1e-3 relative error, against about 1e-7 in full float32. That is set globally
(``torch.set_float32_matmul_precision``, the newer ``fp32_precision`` flags, or the
environment override ``TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1``), so a measurement pins it,
records it next to its numbers, and picks its output tolerance from it on purpose instead of
failing a path whose kernels are merely less precise by design.

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

# cuBLAS uses TF32 whatever PyTorch's flags say when this is set (a documented override)
TF32_OVERRIDE_ENV = "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE"
# The precision a measurement asks for unless told otherwise: full float32, so every path
# computes the same numbers eager does and "faster" never means "less exact".
DEFAULT_PRECISION = "highest"
PRECISIONS = ("highest", "high", "medium")
PRECISION_ENV = "D2L_MATMUL_PRECISION"


@dataclass(frozen=True)
class Tolerance:
    """``torch.allclose`` tolerances for comparing a path's outputs with eager's."""

    rtol: float
    atol: float

    def as_kwargs(self) -> dict[str, float]:
        """Keyword arguments for ``torch.allclose``."""
        return {"rtol": self.rtol, "atol": self.atol}


# Full-precision float32: compiled kernels only sum in another order (measured max abs diff
# on this model: about 1e-7 on the CPU). TF32 or half precision: about 1e-3 relative.
FULL_FLOAT32 = Tolerance(rtol=1e-4, atol=1e-5)
REDUCED = Tolerance(rtol=1e-2, atol=1e-3)


@dataclass(frozen=True)
class MatmulSettings:
    """How float32 matrix products were computed during a measurement."""

    precision: str  # torch.get_float32_matmul_precision(): highest, high or medium
    tf32: bool  # whether TF32 tensor cores could be used on this device
    forced_by: str = ""  # what forced TF32 on despite the precision, if anything

    def describe(self) -> str:
        """Chinese words for the provenance line."""
        if self.forced_by:
            return f"float32 矩阵乘法：TF32（由 {self.forced_by} 强制开启）"
        return f"float32 矩阵乘法：{self.precision}（{'启用' if self.tf32 else '未启用'} TF32）"

    def to_record(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"precision": self.precision, "tf32": self.tf32, "forced_by": self.forced_by}


def requested_precision() -> str:
    """``D2L_MATMUL_PRECISION`` (default ``highest``); ValueError names the choices."""
    value = os.environ.get(PRECISION_ENV, DEFAULT_PRECISION).strip().lower() or DEFAULT_PRECISION
    if value not in PRECISIONS:
        raise ValueError(f"{PRECISION_ENV}={value!r} is not one of {', '.join(PRECISIONS)}")
    return value


def pin_matmul_precision(device_type: str, precision: str | None = None) -> MatmulSettings:
    """Set float32 matmul precision to ``precision`` (default: :func:`requested_precision`)
    in this process and say what is in force, TF32 overrides included.

    Only the one long-standing setter is called, and only when the value differs: PyTorch
    2.9+ refuses to mix its legacy and new TF32 flags, so we never touch either ourselves.
    """
    import torch

    wanted = precision or requested_precision()
    if torch.get_float32_matmul_precision() != wanted:
        torch.set_float32_matmul_precision(wanted)
    current = torch.get_float32_matmul_precision()
    forced = TF32_OVERRIDE_ENV if os.environ.get(TF32_OVERRIDE_ENV, "") not in ("", "0") else ""
    tf32_capable = device_type == "cuda" and torch.cuda.get_device_capability()[0] >= 8
    tf32 = tf32_capable and (current != "highest" or bool(forced))
    return MatmulSettings(current, tf32, forced if tf32_capable else "")


def tolerance(device_type: str, dtype: Any, settings: MatmulSettings) -> Tolerance:
    """The tolerance for outputs computed on ``device_type`` in ``dtype`` under ``settings``:
    full float32 everywhere it can be, loose where TF32 or a 16-bit dtype is in play."""
    import torch

    if dtype in (torch.float16, torch.bfloat16) or settings.tf32 or (
            device_type == "cpu" and settings.precision != "highest"):
        return REDUCED  # the CPU may use bf16 internally for "medium" matmuls too
    return FULL_FLOAT32
