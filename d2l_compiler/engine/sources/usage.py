"""What one region's code binds and reads at the page's top level, by static analysis (see
:mod:`.graph` for the rule that turns it into dependencies between regions)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

# calls that can read or bind any name of the namespace (exec/eval: without one of their own)
_NAMESPACE_CALLS = frozenset({"exec", "eval", "globals", "locals", "vars"})
# what can import, and so change, any module
_MODULE_CALLS = frozenset({"__import__"})
_MODULE_MODULES = frozenset({"importlib"})
# the working directory is shared state too: these reach it
_FILE_CALLS = frozenset({"open"})
_FILE_MODULES = frozenset({"os", "pathlib", "shutil", "io", "glob", "tempfile"})
FILES = "<files>"  # the pseudo-name of the working directory's contents
# attributes that reach a namespace the text does not name: a function's globals, a frame's
_NAMESPACE_ATTRIBUTES = frozenset({
    "__globals__", "f_globals", "f_locals", "f_builtins", "f_back", "tb_frame", "gi_frame",
    "cr_frame", "ag_frame", "_getframe", "currentframe", "stack", "getouterframes"})
# modules through which any name can be read or bound
_NAMESPACE_MODULES = frozenset({"builtins", "__main__", "inspect"})
_DEPENDS = re.compile(r"^\s*#\s*depends:\s*(?P<names>\S.*?)\s*$")
_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith,
             ast.Match) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())


def module_name(top: str) -> str:
    """The pseudo-name under which a top-level module's shared state is tracked."""
    return f"<module {top}>"


@dataclass(frozen=True)
class Usage:
    """What one region's code binds and reads at the page's top level."""

    binds: frozenset[str]  # names it binds unconditionally
    reads: frozenset[str]  # names (and pseudo-names) it may read or mutate
    opaque: bool  # it can read or bind any name (exec, globals(), star import, ...)
    any_module: bool = False  # it can import or change any module (exec with a namespace, ...)
    may_bind: frozenset[str] = frozenset()  # names it binds only sometimes


class _Reads(ast.NodeVisitor):
    """Names a subtree may read from the module namespace: loads at the top level, and loads
    inside functions, lambdas and comprehensions of names they do not bind themselves
    (closures read at call time)."""

    def __init__(self) -> None:
        self.loaded: set[str] = set()
        self.calls: set[str] = set()
        self.namespace_calls = False  # exec(code), globals(), ...: the caller's namespace

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.loaded.add(node.id)
        if node.id == "__builtins__":  # names put there are read by every later region
            self.namespace_calls = True

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in _NAMESPACE_ATTRIBUTES:  # a frame's or a function's namespace
            self.namespace_calls = True
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name):
            self.calls.add(node.func.id)
            if node.func.id == "dir" and not node.args:
                self.namespace_calls = True  # lists the caller's namespace
            if node.func.id in _NAMESPACE_CALLS:
                # exec/eval given a namespace of their own leave the caller's alone
                own = node.func.id in ("exec", "eval") and (
                    len(node.args) >= 2 or any(k.arg == "globals" for k in node.keywords))
                self.namespace_calls = self.namespace_calls or not own
        self.generic_visit(node)

    def _scope(self, node: ast.AST, body: list[ast.AST], arguments: ast.arguments | None) -> None:
        inner = _Reads()
        for child in body:
            inner.visit(child)
        local = {a.arg for a in _all_args(arguments)}
        declared_global: set[str] = set()
        for child in body:
            for sub in ast.walk(child):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store | ast.Del):
                    local.add(sub.id)
                elif isinstance(sub, ast.Global | ast.Nonlocal):
                    declared_global.update(sub.names)
                elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    local.add(sub.name)
        self.loaded |= inner.loaded - (local - declared_global)
        self.calls |= inner.calls
        self.namespace_calls = self.namespace_calls or inner.namespace_calls
        for default in _defaults(arguments) + getattr(node, "decorator_list", []):
            self.visit(default)  # evaluated in the enclosing scope

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._scope(node, node.body, node.args)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scope(node, [node.body], node.args)

    def _comprehension(self, node: ast.AST) -> None:
        # generators bind their targets locally; everything else is read outside them
        self._scope(node, list(ast.iter_child_nodes(node)), None)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension


def _all_args(arguments: ast.arguments | None) -> list[ast.arg]:
    if arguments is None:
        return []
    found = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    return found + [a for a in (arguments.vararg, arguments.kwarg) if a is not None]


def _defaults(arguments: ast.arguments | None) -> list[ast.expr]:
    if arguments is None:
        return []
    return [*arguments.defaults, *(d for d in arguments.kw_defaults if d is not None)]


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp,
           ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _top_level(statement: ast.AST):
    """The nodes of ``statement`` that run in the module scope (nested scopes not entered,
    except for their names, decorators and defaults); then the nested scopes themselves."""
    if isinstance(statement, _SCOPES):
        pending, nested = [], [statement]
        yield statement
    else:
        pending, nested = [statement], []
    while pending:
        node = pending.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _SCOPES):
                nested.append(child)
                yield child  # its own name is bound here
            else:
                pending.append(child)
    for scope in nested:
        for inner in ast.walk(scope):
            if isinstance(inner, ast.Global):
                yield inner  # binds a module name when the function runs


def _bound_by(statement: ast.stmt) -> tuple[set[str], set[str]]:
    """Names a top-level statement binds in the module namespace: (surely, maybe). Names a
    function declares ``global`` are bound only if it is called: maybe."""
    surely: set[str] = set()
    maybe: set[str] = set()
    # `x: int` alone binds nothing (it only annotates)
    annotated_only = {id(node.target) for node in ast.walk(statement)
                      if isinstance(node, ast.AnnAssign) and node.value is None}
    for node in _top_level(statement):
        if id(node) in annotated_only:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            surely.add(node.id)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            surely.add(node.name)  # a capture pattern (the case itself may not match)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            surely.add(node.rest)
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            # `(y := ...)` inside a comprehension binds y in the enclosing scope, if it runs
            maybe.update(sub.target.id for sub in ast.walk(node)
                         if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name))
        elif isinstance(node, ast.alias) and node.name != "*":
            surely.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            surely.add(node.name)
        elif isinstance(node, ast.Global):
            maybe.update(node.names)
        elif isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            surely.add(node.target.id)
    return surely, maybe


def _modules(statement: ast.stmt) -> tuple[set[str], bool]:
    """Top-level modules a statement imports anywhere inside it, and whether one is a star."""
    found, star = set(), False
    for node in ast.walk(statement):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            star = star or any(a.name == "*" for a in node.names)
    return found, star


def usage(code: str) -> Usage:
    """What ``code`` binds and reads; a region that does not parse reads everything (it will
    fail when it runs, and must not be trusted to be independent of anything)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return Usage(frozenset(), frozenset(), True, True)
    binds: set[str] = set()
    reads: set[str] = set()
    opaque = any_module = False
    may_bind: set[str] = set()
    for statement in tree.body:
        seen = _Reads()
        seen.visit(statement)
        bound, maybe = _bound_by(statement)
        modules, star = _modules(statement)
        # a name read before this region bound it comes from earlier regions; augmented
        # assignments and deletions read the old value; a binding inside if/for/try/with may
        # not happen, so the old value may live on (``may_bind``: later readers depend on
        # this region and on the earlier binder, this region on neither)
        if isinstance(statement, ast.AugAssign | ast.Delete):
            reads |= bound - binds
        elif isinstance(statement, _COMPOUND):
            maybe |= bound
        reads |= seen.loaded - binds
        reads |= {module_name(m) for m in modules}
        if modules & _FILE_MODULES or seen.calls & _FILE_CALLS:
            reads.add(FILES)
        opaque = opaque or star or seen.namespace_calls or bool(modules & _NAMESPACE_MODULES)
        any_module = any_module or bool(seen.calls & (_MODULE_CALLS | {"exec", "eval"})) or bool(
            (modules | seen.loaded) & _MODULE_MODULES)
        binds |= bound - maybe
        may_bind |= maybe
    for line in code.splitlines():
        declared = _DEPENDS.match(line)
        if declared:
            names = {n.strip() for n in declared["names"].split(",") if n.strip()}
            opaque = opaque or "*" in names
            reads |= names - {"*"}
    return Usage(frozenset(binds), frozenset(reads), opaque, any_module or opaque,
                 frozenset(may_bind - binds))
