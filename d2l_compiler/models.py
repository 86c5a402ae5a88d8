"""The chapter's model and the save-and-measure helper. torch is imported on first use."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


# --8<-- [start:get_net]
def get_net():
    """本节的多层感知机：512 -> 256 -> 128 -> 2，层与层之间用 ReLU。"""
    from torch import nn

    return nn.Sequential(nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 2))
# --8<-- [end:get_net]


def human_size(num_bytes: int) -> str:
    """把字节数写成带二进制前缀的大小，保留一位小数（不足 1 KiB 时照写字节数）。

    Examples:
        >>> human_size(1536)
        '1.5 KiB'
        >>> human_size(512)
        '512 B'
    """
    if num_bytes < 0:
        raise ValueError("a size cannot be negative")
    size = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{num_bytes} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class SavedModel:
    """[`save_module`][d2l_compiler.models.save_module] 的测量结果。

    包括文件的位置、大小，以及重新加载后输出是否一致。"""

    path: str
    size_bytes: int
    reload_equal: bool

    @property
    def size_human(self) -> str:
        """用二进制前缀（KiB、MiB）表示的文件大小。"""
        return human_size(self.size_bytes)

    def __str__(self) -> str:
        return (f"{self.path}: {self.size_bytes} 字节 ({self.size_human}), "
                f"重新加载后输出一致: {self.reload_equal}")

    def to_record(self) -> dict[str, Any]:
        """可直接转为 JSON 的数据（供构建引擎读取）。"""
        return {"type": "saved_model", "path": self.path, "size_bytes": self.size_bytes,
                "size_human": self.size_human, "reload_equal": self.reload_equal}


# --8<-- [start:save_module]
def save_module(module, path: "str | os.PathLike", example) -> "SavedModel":
    """保存 TorchScript 模块，测量文件大小，再加载回来核对输出。"""
    import torch

    module.save(str(path))  # 参数和编译好的程序存在同一个文件里
    loaded = torch.jit.load(str(path), map_location=example.device)
    with torch.no_grad():
        equal = torch.allclose(module(example), loaded(example))
    return SavedModel(str(path), os.path.getsize(path), bool(equal))
# --8<-- [end:save_module]
