"""A data-flow diagram of a function, derived from its source (AST), never drawn by hand.

Handles the straight-line functions the chapter uses: ``name = f(args...)`` assignments and a
final ``return name``. Anything else is refused with a clear error rather than drawn wrongly.
The diagram is inline SVG laid out here (top to bottom, so it fits a phone): no script runs
in the reader's browser, and its text is the page's own, in the page's font.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from html import escape

VALUE, CALL, RESULT = "value", "call", "result"
NODE_HEIGHT, ROW_GAP, COLUMN_GAP, CHAR_WIDTH, PADDING = 32, 36, 20, 8.4, 12


class DataflowError(ValueError):
    """The function is not straight-line code this diagram can describe exactly."""


@dataclass
class Node:
    """A value (argument or assigned name), a call, or the returned result."""

    label: str
    kind: str
    layer: int
    inputs: list[int] = field(default_factory=list)  # indices of the nodes feeding this one


@dataclass
class Flow:
    """The data flow of one function: nodes in definition order, edges as ``Node.inputs``."""

    function: str
    nodes: list[Node]

    def edges(self) -> list[tuple[int, int]]:
        """``(source, target)`` node indices."""
        return [(source, target) for target, node in enumerate(self.nodes) for source in node.inputs]


def _function(code: str, name: str) -> ast.FunctionDef:
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise DataflowError(f"no function {name!r} in the region")


def dataflow(code: str, name: str) -> Flow:
    """The flow of function ``name`` in ``code``: arguments -> each call -> the name it
    defines -> the return. A name assigned twice is two nodes (each use reads the latest)."""
    func = _function(code, name)
    nodes: list[Node] = []
    latest: dict[str, int] = {}  # variable name -> the node that last defined it

    def value(label: str, layer: int, inputs: list[int]) -> int:
        nodes.append(Node(label, VALUE, layer, inputs))
        latest[label] = len(nodes) - 1
        return latest[label]

    def read(label: str) -> int:  # a name defined outside the function enters at the top
        return latest[label] if label in latest else value(label, 0, [])

    for arg in func.args.args:
        value(arg.arg, 0, [])
    for stmt in func.body:
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Name) and not stmt.value.keywords
                and all(isinstance(arg, ast.Name) for arg in stmt.value.args)):
            target = stmt.targets[0].id
            sources = [read(arg.id) for arg in stmt.value.args]
            layer = 1 + max((nodes[s].layer for s in sources), default=0)
            nodes.append(Node(stmt.value.func.id, CALL, layer, sources))
            value(target, layer + 1, [len(nodes) - 1])
        elif isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Name):
            source = read(stmt.value.id)
            nodes.append(Node(f"return {stmt.value.id}", RESULT, nodes[source].layer + 1, [source]))
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        else:
            raise DataflowError(f"line {stmt.lineno}: only `x = f(a, b)` and `return x` are drawn")
    return Flow(name, nodes)


def describe(flow: Flow, language: str = "en") -> str:
    """The diagram in words (its accessible name): each call, what it reads and defines."""
    steps = []
    for index, node in enumerate(flow.nodes):
        if node.kind == CALL:
            args = ", ".join(flow.nodes[i].label for i in node.inputs)
            made = next(n.label for n in flow.nodes if n.inputs == [index])
            steps.append(f"{made} = {node.label}({args})")
        elif node.kind == RESULT:
            steps.append(node.label)
    if language == "zh":
        return f"{flow.function} 的数据流：" + "；".join(steps) + "。"
    return f"Data flow of {flow.function}: " + "; ".join(steps) + "."


def _order(flow: Flow) -> list[list[int]]:
    """Nodes by layer; within a layer, by the mean position of their inputs (fewer crossings)."""
    layers: dict[int, list[int]] = {}
    for index, node in enumerate(flow.nodes):
        layers.setdefault(node.layer, []).append(index)
    rows: list[list[int]] = []
    position: dict[int, float] = {}
    for layer in sorted(layers):
        row = sorted(layers[layer], key=lambda i: (
            sum(position[s] for s in flow.nodes[i].inputs) / len(flow.nodes[i].inputs)
            if flow.nodes[i].inputs else i))
        position.update({index: slot for slot, index in enumerate(row)})
        rows.append(row)
    return rows


def _width(node: Node) -> float:
    return max(NODE_HEIGHT, len(node.label) * CHAR_WIDTH + 2 * PADDING)


def dataflow_svg(flow: Flow, language: str = "en") -> str:
    """Inline SVG of ``flow``, one line (so Markdown passes it through as raw HTML), in
    ``currentColor`` so it follows the page's light or dark scheme."""
    rows = _order(flow)
    row_widths = [sum(_width(flow.nodes[i]) for i in row) + COLUMN_GAP * (len(row) - 1)
                  for row in rows]
    width = max(row_widths) + 2 * PADDING
    height = len(rows) * NODE_HEIGHT + (len(rows) - 1) * ROW_GAP + 2 * PADDING
    centre: dict[int, tuple[float, float]] = {}
    for number, row in enumerate(rows):
        x = (width - row_widths[number]) / 2
        y = PADDING + number * (NODE_HEIGHT + ROW_GAP) + NODE_HEIGHT / 2
        for index in row:
            centre[index] = (x + _width(flow.nodes[index]) / 2, y)
            x += _width(flow.nodes[index]) + COLUMN_GAP
    uid = "d2l-flow-" + hashlib.sha256(repr(flow).encode()).hexdigest()[:10]
    title = escape(describe(flow, language))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="d2l-dataflow" role="img" '
             f'aria-labelledby="{uid}-title" viewBox="0 0 {width:.0f} {height:.0f}" '
             f'width="{width:.0f}" style="max-width:100%;height:auto">',
             f'<title id="{uid}-title">{title}</title>',
             f'<defs><marker id="{uid}-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
             'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
             '<path d="M0,0L10,5L0,10z" fill="currentColor"/></marker></defs>']
    half = NODE_HEIGHT / 2
    for source, target in flow.edges():
        (x1, y1), (x2, y2) = centre[source], centre[target]
        parts.append(f'<line x1="{x1:.1f}" y1="{y1 + half:.1f}" x2="{x2:.1f}" y2="{y2 - half:.1f}" '
                     f'stroke="currentColor" stroke-width="1.5" marker-end="url(#{uid}-arrow)"/>')
    for index, node in enumerate(flow.nodes):
        x, y = centre[index]
        w = _width(node)
        box = {VALUE: f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{w / 2:.1f}" ry="{half:.1f}"',
               CALL: f'<rect x="{x - w / 2:.1f}" y="{y - half:.1f}" width="{w:.1f}" '
                     f'height="{NODE_HEIGHT}" rx="4"',
               RESULT: f'<rect x="{x - w / 2:.1f}" y="{y - half:.1f}" width="{w:.1f}" '
                       f'height="{NODE_HEIGHT}" rx="{half:.0f}"'}[node.kind]
        parts.append(box + ' style="fill:var(--md-default-bg-color,#fff)" stroke="currentColor" '
                           'stroke-width="1.5"/>')
        parts.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" dominant-baseline="central" '
                     'style="font-family:var(--md-code-font-family,monospace);font-size:14px" '
                     f'fill="currentColor">{escape(node.label)}</text>')
    return "".join(parts) + "</svg>"
