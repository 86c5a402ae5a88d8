"""Digests of a page process's state, compared between runs so that a guess of the static
analysis that was wrong becomes a re-run instead of a stale page (see
:mod:`d2l_compiler.engine.record.state_walk`).

:meth:`StateProbe.digest` maps every public name of the page's namespace to a digest of the value
it holds, followed deeply (an alias mutated through another name changes both names'
digests), plus pseudo-names for state outside the namespace (``<random>``, ``<numpy.random>``,
``<torch>``, ``<environ>``, ``<builtins>``, ``<sys.path>``, ``<cwd>``, and ``<module NAME>`` for
each project module loaded). A digest depends on content only, never on addresses, so two
processes in the same state agree. What cannot be looked into (a C object without state it
exposes) is compared by its type; a state probe still in the state the process started with
reads ``initial`` (a fresh interpreter seeds ``random`` from the OS).
"""

from __future__ import annotations

import builtins
import hashlib
import os
import struct
import sys
import warnings
import random
import types
from pathlib import Path
from typing import Any

from d2l_compiler.engine.run.observe import project_path

_NODE_BUDGET = 200_000  # objects followed per name; past it the value is compared by type
_LARGE_FILE = 16 * 1024 * 1024  # files in the working directory digested by size above this


_DICT_VIEWS = (type({}.keys()), type({}.values()), type({}.items()))


class _Budget(Exception):
    pass


def _short(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


class _Hasher:
    """One deep digest: objects in a fixed traversal order, shared objects by back-reference."""

    def __init__(self, own_modules: frozenset[str]) -> None:
        self.own_modules = own_modules  # functions and classes of these are followed by code
        self.seen: dict[int, int] = {}
        self.keep: list[Any] = []  # keeps visited objects alive: ids stay unique
        self.nodes = 0

    def digest(self, value: Any) -> str:
        self.seen, self.keep, self.nodes = {}, [], 0
        out = hashlib.blake2b(digest_size=8)
        try:
            self._feed(value, out)
        except (_Budget, RecursionError):
            return "type:" + _qualname(type(value))
        except Exception:  # noqa: BLE001 - a value whose own code fails when looked into
            return "unreadable:" + _qualname(type(value))
        return out.hexdigest()

    def _feed(self, value: Any, out: Any) -> None:  # noqa: C901 - one case per kind of value
        self.nodes += 1
        if self.nodes > _NODE_BUDGET:
            raise _Budget
        kind = type(value)
        if value is None or kind in (bool, int, float, complex, str, bytes):
            out.update(b"v" + _qualname(kind).encode() + repr(value).encode("utf-8", "backslashreplace"))
            return
        ref = self.seen.get(id(value))
        if ref is not None:
            out.update(b"@" + str(ref).encode())
            return
        self.seen[id(value)] = len(self.seen)
        self.keep.append(value)
        out.update(b"<" + _qualname(kind).encode() + b">")
        if kind in (list, tuple):
            out.update(str(len(value)).encode())
            for item in value:
                self._feed(item, out)
        elif kind in (set, frozenset):
            for item in sorted(_Hasher(self.own_modules).digest(v) for v in value):
                out.update(item.encode())
        elif isinstance(value, dict):
            out.update(str(len(value)).encode())
            for key, item in value.items():
                self._feed(key, out)
                self._feed(item, out)
        elif isinstance(value, types.ModuleType):
            out.update(value.__name__.encode())
        elif isinstance(value, types.FunctionType):
            self._function(value, out)
        elif isinstance(value, types.MethodType):
            self._feed(value.__self__, out)
            self._feed(value.__func__, out)
        elif isinstance(value, type):
            out.update(_qualname(value).encode())
            if value.__module__ in self.own_modules:
                for key, item in vars(value).items():
                    if key not in ("__dict__", "__weakref__", "__doc__"):
                        self._feed(key, out)
                        self._feed(item, out)
        elif isinstance(value, types.CodeType):
            self._code(value, out)
        elif isinstance(value, (types.BuiltinFunctionType, types.MethodWrapperType,
                                types.WrapperDescriptorType, types.MethodDescriptorType)):
            out.update(repr(getattr(value, "__qualname__", kind)).encode())
        elif isinstance(value, types.GeneratorType):  # where it stands and what it holds
            frame = value.gi_frame
            self._code(value.gi_code, out)
            if frame is not None:
                out.update(str(frame.f_lasti).encode())
                self._feed(dict(frame.f_locals), out)
        elif isinstance(value, memoryview):
            out.update(f"{value.format}{value.shape}{value.readonly}".encode())
            out.update(value.tobytes())
        elif kind in _DICT_VIEWS:  # a live view: what it shows is its mapping's
            self._feed(dict(value.mapping), out)
        elif _is_tensor(value):
            self._tensor(value, out)
        elif _is_ndarray(value):
            out.update(str(value.dtype).encode() + str(value.shape).encode())
            out.update(value.tobytes())
        else:
            self._object(value, out)

    def _function(self, func: types.FunctionType, out: Any) -> None:
        out.update(f"{func.__module__}.{func.__qualname__}".encode())
        if func.__module__ not in self.own_modules:
            return  # a library's function: its name says which (its module's file is keyed)
        self._code(func.__code__, out)
        self._feed(func.__defaults__, out)
        self._feed(func.__kwdefaults__, out)
        for cell in func.__closure__ or ():
            try:
                self._feed(cell.cell_contents, out)
            except ValueError:  # an empty cell
                out.update(b"empty")
        self._feed(dict(func.__dict__), out)

    def _code(self, code: types.CodeType, out: Any) -> None:
        # not the file name or the line numbers: where a function is defined is not its state
        out.update(code.co_code)
        out.update(repr((code.co_names, code.co_varnames, code.co_freevars,
                         code.co_cellvars, code.co_argcount, code.co_kwonlyargcount,
                         code.co_flags)).encode())
        for const in code.co_consts:
            self._feed(const, out)

    def _tensor(self, tensor: Any, out: Any) -> None:
        out.update(f"{tensor.dtype}{tuple(tensor.shape)}{tensor.requires_grad}".encode())
        try:  # the bytes of its values, whatever the dtype (bfloat16 has no numpy twin)
            import torch  # noqa: PLC0415 - optional: a tensor means a region imported it

            data = tensor.detach().cpu().contiguous().reshape(-1)
            out.update(data.view(torch.uint8).numpy().tobytes())
        except Exception:  # noqa: BLE001 - a meta, sparse or quantized tensor: type and shape
            out.update(b"?")
        for key, item in getattr(tensor, "__dict__", {}).items():
            self._feed(key, out)
            self._feed(item, out)

    def _object(self, value: Any, out: Any) -> None:
        if type(value).__module__ in self.own_modules:  # a page's class: what it holds counts
            self._feed(type(value), out)
        state = getattr(value, "__dict__", None)
        slots = [s for k in type(value).__mro__ for s in getattr(k, "__slots__", ())
                 if isinstance(s, str)]
        if state is None and not slots:
            try:  # what pickle would save: a value's state as it defines it
                reduced = value.__reduce_ex__(4)
            except Exception:  # noqa: BLE001 - cannot be looked into: its type says it
                return
            if isinstance(reduced, tuple):
                for part in reduced[1:3]:
                    self._feed(part, out)
            return
        if isinstance(state, dict):
            self._feed(dict(state), out)
        for slot in slots:
            if hasattr(value, slot):
                self._feed(slot, out)
                self._feed(getattr(value, slot), out)


def _qualname(kind: type) -> str:
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', kind.__name__)}"


def _is_tensor(value: Any) -> bool:
    tensor = getattr(sys.modules.get("torch"), "Tensor", None)  # a region may stub torch
    return isinstance(tensor, type) and isinstance(value, tensor)


def _is_ndarray(value: Any) -> bool:
    ndarray = getattr(sys.modules.get("numpy"), "ndarray", None)
    return isinstance(ndarray, type) and isinstance(value, ndarray) and value.dtype != object


class StateProbe:
    """Digests the state of one page process, region after region."""

    def __init__(self, root: Path, namespace: dict) -> None:
        self.root = root.resolve()
        self.namespace = namespace
        self.initial: dict[str, str] = {}  # probe -> its digest when first seen
        self.builtins = dict(vars(builtins))
        self.environ = dict(os.environ)
        self.path = list(sys.path)

    def project_modules(self) -> dict[str, types.ModuleType]:
        """Loaded modules whose file is in the project (not the engine running the page)."""
        found = {}
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if not file or name.startswith("__") or name == "d2l_compiler.engine" \
                    or name.startswith("d2l_compiler.engine."):
                continue
            if project_path(Path(file).resolve(), self.root) is not None:
                found[name] = module
        return found

    def digest(self) -> dict[str, str]:
        """The state now: name -> digest, for the namespace's public names and the probes."""
        modules = self.project_modules()
        hasher = _Hasher(frozenset({"__main__", *modules}))
        state = {name: hasher.digest(value) for name, value in list(self.namespace.items())
                 if not name.startswith("__")}
        for name, module in modules.items():
            try:
                public = {k: v for k, v in vars(module).items() if not k.startswith("__")
                          and not isinstance(v, types.ModuleType)}
            except Exception:  # noqa: BLE001 - a module object replaced by something odd
                public = None
            state[f"<module {name}>"] = hasher.digest(public)
        probes = {"<random>": self._random, "<numpy.random>": self._numpy,
                  "<settings>": _library_settings,
                  "<torch>": self._torch, "<environ>": lambda: repr(sorted(os.environ.items())),
                  "<sys.path>": lambda: repr(sys.path),
                  "<cwd>": lambda: _cwd_digest(self.root),
                  "<builtins>": self._builtins}
        for name, read in probes.items():
            try:
                value = read()
            except Exception:  # noqa: BLE001 - a probe must never fail a page
                value = "unreadable"
            if value is None:
                continue
            value = value if isinstance(value, str) else _short(repr(value).encode())
            first = self.initial.setdefault(name, value)
            state[name] = "initial" if value == first else value
        return state

    def _random(self) -> str:
        return _short(repr(random.getstate()).encode())

    def _numpy(self) -> str | None:
        numpy = sys.modules.get("numpy")
        if numpy is None:
            return None
        kind, keys, pos, has_gauss, cached = numpy.random.get_state()
        return _short(keys.tobytes() + struct.pack("qqd", pos, has_gauss, cached))

    def _torch(self) -> str | None:
        torch = sys.modules.get("torch")
        if torch is None or not hasattr(torch, "get_rng_state"):
            return None
        settings = (torch.get_num_threads(), str(torch.get_default_dtype()),
                    torch.is_grad_enabled(), torch.get_float32_matmul_precision())
        return _short(torch.get_rng_state().numpy().tobytes() + repr(settings).encode())

    def _builtins(self) -> str:
        now = vars(builtins)
        changed = sorted(k for k in set(now) | set(self.builtins)
                         if now.get(k, _MISSING) is not self.builtins.get(k, _MISSING))
        if not changed:
            return "initial"
        hasher = _Hasher(frozenset({"__main__"}))
        return _short(repr([(k, hasher.digest(now.get(k))) for k in changed]).encode())


_MISSING = object()


def _library_settings() -> str:
    """Process-wide settings of libraries that change what a region prints: the decimal
    context, NumPy's and torch's print options, the locale, warning filters."""
    found = []
    decimal = sys.modules.get("decimal")
    if decimal is not None:
        found.append(repr(decimal.getcontext()))
    numpy = sys.modules.get("numpy")
    if numpy is not None and hasattr(numpy, "get_printoptions"):
        found.append(repr(sorted(numpy.get_printoptions().items(), key=lambda kv: kv[0])))
    printing = getattr(sys.modules.get("torch._tensor_str"), "PRINT_OPTS", None)
    if printing is not None:
        found.append(repr(sorted(vars(printing).items())))
    locale = sys.modules.get("locale")
    if locale is not None:
        found.append(locale.setlocale(locale.LC_ALL, None))
    found.append(repr([(f[0], str(f[1]), getattr(f[2], "__name__", f[2]), str(f[3]), f[4])
                       for f in warnings.filters]))
    return _short("\0".join(found).encode("utf-8", "backslashreplace"))


def _cwd_digest(root: Path) -> str:
    """The working directory's files: names, sizes and (below a size) contents; not the
    project's, which its links lead to (a region's reads of those are its inputs)."""
    out = hashlib.blake2b(digest_size=8)
    project = os.path.join(os.path.realpath(root), "")
    for folder, dirs, files in os.walk("."):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            if os.path.islink(path) and os.path.realpath(path).startswith(project):
                continue
            try:
                size = os.path.getsize(path)
                out.update(f"{path}\0{size}\0".encode("utf-8", "backslashreplace"))
                if size <= _LARGE_FILE:
                    with open(path, "rb") as data:
                        out.update(hashlib.blake2b(data.read(), digest_size=8).digest())
            except OSError:
                out.update(f"{path}\0?".encode("utf-8", "backslashreplace"))
    return out.hexdigest()


def changes(before: dict[str, str], after: dict[str, str]) -> dict[str, str | None]:
    """What differs from ``before`` to ``after``: name -> new digest (None: deleted)."""
    found: dict[str, str | None] = {k: v for k, v in after.items() if before.get(k) != v}
    found.update({k: None for k in before if k not in after})
    return found
