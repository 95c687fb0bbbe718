"""Which code cells of a notebook a given cell depends on: a backward slice over the names the cells bind and read.

The FULL-branch tests use it to execute a chapter's FULL cell with only the cells that build what it reads,
instead of the whole chapter (whose live experiments nbval already runs). The analysis is static and errs on
the side of running more: a cell is kept if it binds a name a kept cell reads, or changes an object one reads
(``x[i] = ...``, ``x.attr = ...``, ``x += ...``, ``x.method(...)`` on a name that is not an imported module).
A name missed here fails loudly (a NameError in the kept cells), it cannot pass silently.
"""
from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class CellNames:
    """What one cell does with names at its top level: binds them, changes the objects behind them, reads them."""

    binds: set[str] = field(default_factory=set)  # bound at the top level (imports, assignments, def, for, with)
    changes: set[str] = field(default_factory=set)  # the object behind the name may be modified in place
    reads: set[str] = field(default_factory=set)  # read before (or without) being bound in the cell
    modules: set[str] = field(default_factory=set)  # names bound by import statements


def python_of(source: str) -> str:
    """The cell's source with IPython magics and shell escapes replaced by ``pass``, so that ``ast`` can parse it."""
    return "\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _base_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def cell_names(source: str) -> CellNames:
    """Analyse one cell (see :class:`CellNames`); raises SyntaxError for a cell that is not Python."""
    tree = ast.parse(python_of(source))
    names = CellNames()
    events: list[tuple[tuple[int, int], str, str]] = []  # ((line, column), name, "load" or "store")

    def store(name: str, where: ast.AST) -> None:
        events.append(((where.lineno, where.col_offset), name, "store"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            kind = "load" if isinstance(node.ctx, ast.Load) else "store"
            events.append(((node.lineno, node.col_offset), node.id, kind))
        elif isinstance(node, ast.arg):
            store(node.arg, node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            store(node.name, node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                store(bound, node)
                names.modules.add(bound)
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            for gen in node.generators:  # the loop variable is bound before the element that reads it
                for target in ast.walk(gen.target):
                    if isinstance(target, ast.Name):
                        store(target.id, node)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            store(node.name, node)

    first: dict[str, str] = {}
    for _, name, kind in sorted(events, key=lambda e: (e[0], e[2] == "load")):  # a store at the same place wins
        first.setdefault(name, kind)
    names.reads = {name for name, kind in first.items() if kind == "load"}

    for stmt in tree.body:  # top-level statements: what the cell leaves behind for later cells
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.binds.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.binds.update(alias.asname or alias.name.split(".")[0] for alias in stmt.names)
        elif isinstance(stmt, ast.AugAssign):  # x += 1 reads x and changes it
            base = _base_name(stmt.target)
            if base:
                names.changes.add(base)
                names.reads.add(base)
        targets: list[ast.expr] = []
        if isinstance(stmt, ast.Assign):
            targets = list(stmt.targets)
        elif isinstance(stmt, (ast.AnnAssign, ast.For, ast.AsyncFor)):
            targets = [stmt.target]
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            targets = [item.optional_vars for item in stmt.items if item.optional_vars is not None]
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.binds.add(node.id)
                elif isinstance(node, (ast.Subscript, ast.Attribute)) and (base := _base_name(node)):
                    names.changes.add(base)  # x[i] = ... and x.a = ...: x itself is read (a Load), so also in reads
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if base := _base_name(node.func.value):
                names.changes.add(base)  # x.method(...) may change x
        elif isinstance(node, ast.Global):
            names.binds.update(node.names)
    return names


def needed_cells(sources: Sequence[str], targets: Sequence[int], always: Sequence[int] = ()) -> list[int]:
    """Indices of the cells that ``targets`` need (targets and ``always`` included), in notebook order.

    Walks backwards from the last target: a cell is kept if it binds a name that a kept later cell reads, or
    changes an object behind such a name (imported modules excepted: ``torch.manual_seed(0)`` does not make every
    cell that reads ``torch`` a dependency). A kept cell's own reads become needed in turn.
    """
    analysed = [cell_names(s) for s in sources]
    modules = set().union(*(a.modules for a in analysed)) if analysed else set()
    keep = set(targets) | set(always)
    needed: set[str] = set()
    for i in range(max(keep), -1, -1):
        a = analysed[i]
        if i not in keep and not (a.binds & needed or (a.changes - modules) & needed):
            continue
        keep.add(i)
        needed = (needed - a.binds - a.changes) | a.reads  # a name the cell reads first still needs its past
    return sorted(keep)
