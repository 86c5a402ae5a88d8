"""A Mermaid data-flow diagram of a function, derived from its source (AST), never drawn by hand.

Handles the straight-line functions the chapter uses: ``name = f(args...)`` assignments and a
final ``return name``. Anything else is refused with a clear error rather than drawn wrongly.
"""

from __future__ import annotations

import ast


class DataflowError(ValueError):
    """The function is not straight-line code this diagram can describe exactly."""


def _function(code: str, name: str) -> ast.FunctionDef:
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise DataflowError(f"no function {name!r} in the region")


def dataflow_mermaid(code: str, name: str) -> str:
    """Mermaid ``flowchart`` text: inputs -> each call -> the value it defines -> return."""
    func = _function(code, name)
    lines = ["flowchart LR"]
    lines += [f"    {a.arg}(({a.arg}))" for a in func.args.args]
    calls = 0
    for stmt in func.body:
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Name)
                and all(isinstance(arg, ast.Name) for arg in stmt.value.args)):
            calls += 1
            op = f"call{calls}[\"{stmt.value.func.id}\"]"
            target = stmt.targets[0].id
            lines += [f"    {arg.id} --> {op}" for arg in stmt.value.args]
            lines.append(f"    call{calls} --> {target}(({target}))")
        elif isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Name):
            lines.append(f"    {stmt.value.id} --> result([\"return {stmt.value.id}\"])")
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        else:
            raise DataflowError(f"line {stmt.lineno}: only `x = f(a, b)` and `return x` are drawn")
    return "\n".join(lines)
