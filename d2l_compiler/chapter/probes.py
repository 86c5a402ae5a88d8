"""What the chapter records of each page's run beside the engine's provenance (see
``Extensions.probe``): called in the page process after its regions ran."""

from __future__ import annotations

import sys


def matmul_precision() -> str:
    """torch's float32 matrix-multiplication precision as the regions left it (``highest``:
    full float32; ``high``/``medium``: TF32 or bfloat16 allowed on hardware that has them)."""
    return str(sys.modules["torch"].get_float32_matmul_precision())
