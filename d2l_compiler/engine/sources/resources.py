"""What a page needs to run: GPUs, the machine to itself, memory; declared or inferred.

A page declares needs with a mark on the line above a code fence (the same mark that asks for
a process of its own), e.g. ``<!-- d2l: exclusive, gpu=1, memory=4096 -->``. What is not
declared is inferred from the code the page runs and every project module it imports (by
static analysis, never by importing), erring towards the safe side:

* ``gpu`` (one): the code imports torch and mentions ``cuda`` (a string, an attribute or a
  name): it will use a GPU when there is one. ``gpu=0`` says it never does.
* ``exclusive``: the code reads a clock (``time.perf_counter``, ``time.time``, ...), or
  imports ``timeit`` or ``torch.utils.benchmark``: it measures time, and a page running
  beside it would disturb its numbers. ``exclusive=no`` says its timings do not matter.

The page needs the most GPUs and memory any of its fences does, and the machine to itself if
any fence does. The scheduler (:mod:`d2l_compiler.engine.run.schedule`) honours the result.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from d2l_compiler.engine.sources.discover import Include, Region
from d2l_compiler.engine.sources.key import project_modules

_CLOCKS = frozenset({"perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "time",
                     "time_ns", "process_time", "process_time_ns", "thread_time",
                     "thread_time_ns"})
_TIMING_MODULES = ("timeit", "torch.utils.benchmark")


@dataclass(frozen=True)
class Resources:
    """What one page needs from the machine it runs on."""

    gpus: int = 0
    exclusive: bool = False
    memory_mb: int = 0  # 0: not declared

    def __str__(self) -> str:
        parts = [f"{self.gpus} GPU{'s' if self.gpus != 1 else ''}"] if self.gpus else []
        parts += ["exclusive"] if self.exclusive else []
        parts += [f"{self.memory_mb} MiB"] if self.memory_mb else []
        return ", ".join(parts) or "a CPU slot"


@dataclass(frozen=True)
class _Traits:
    torch: bool = False
    cuda: bool = False
    clock: bool = False

    def __or__(self, other: _Traits) -> _Traits:
        return _Traits(self.torch or other.torch, self.cuda or other.cuda,
                       self.clock or other.clock)


@lru_cache(maxsize=1024)
def _traits(source: str) -> _Traits:
    """What one piece of code does that matters for scheduling (unparsable code: nothing;
    the run reports its syntax error)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return _Traits()
    torch = cuda = clock = False
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names])
            torch |= any(n == "torch" or n.startswith("torch.") for n in names)
            clock |= any(n == m or n.startswith(m + ".") for n in names for m in _TIMING_MODULES)
            if isinstance(node, ast.ImportFrom) and node.module == "time":
                clock |= any(a.name in _CLOCKS for a in node.names)
        elif isinstance(node, ast.Attribute):
            cuda |= node.attr == "cuda"
            clock |= (node.attr in _CLOCKS and isinstance(node.value, ast.Name)
                      and node.value.id == "time")
        elif isinstance(node, ast.Name):
            cuda |= node.id == "cuda"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            cuda |= "cuda" in node.value
    return _Traits(torch, cuda, clock)


def _inferred(root: Path, include: Include) -> _Traits:
    sources, _ = project_modules(root, [include.region])
    found = _traits(include.region.code)
    for source in sources.values():
        found |= _traits(source)
    return found


_VARIES = re.compile(r"^[ \t]*#[ \t]*varies\b", re.MULTILINE)


def output_varies(region: Region) -> bool:
    """Whether the region's output is expected to differ from run to run: it says so
    (``# varies``), or its own code reads a clock (it prints a measurement). Such a region,
    run again only to rebuild the state later regions need, is not expected to print what it
    printed before; the state it leaves is still checked (see run.jobs)."""
    return bool(_VARIES.search(region.code)) or _traits(region.code).clock


def page_resources(root: Path, includes: list[Include]) -> Resources:
    """What the page whose includes are ``includes`` needs (see the module's docstring)."""
    gpus, exclusive, memory = 0, False, 0
    for include in includes:
        if not include.region.executed:
            continue
        needs = include.needs
        traits = None if needs.gpus is not None and needs.exclusive is not None \
            else _inferred(root, include)
        gpus = max(gpus, needs.gpus if needs.gpus is not None
                   else int(traits.torch and traits.cuda))
        exclusive |= needs.exclusive if needs.exclusive is not None else traits.clock
        memory = max(memory, needs.memory_mb or 0)
    return Resources(gpus, exclusive, memory)
