"""Show the package's own source in a notebook, so a chapter never pastes a second copy, and a chapter's summary."""
from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterable

from IPython.display import Markdown


def source(obj: object) -> str:
    """The source code of a function, class or module of cnnbook (or anything inspectable)."""
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (TypeError, OSError) as err:
        raise ValueError(f"cannot show the source of {obj!r}: {err}") from None


def _built_in_init(init: ast.FunctionDef) -> list[str]:
    """The attributes a constructor assigns (``self.name = ...``), in order, once each."""
    names: list[str] = []
    for node in ast.walk(init):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Attribute) and getattr(target.value, "id", None) == "self" \
                    and target.attr not in names:
                names.append(target.attr)
    return names


def teaching_view(cls: type, methods: Iterable[str]) -> str:
    """A class cut to its idea: its header and docstring, what ``__init__`` builds, and the named methods in full."""
    if not inspect.isclass(cls):
        raise ValueError(f"teaching_view needs a class, got {cls!r}")
    methods = list(methods)
    text = source(cls)
    tree = ast.parse(text).body[0]
    defs = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    unknown = [m for m in methods if m not in defs]
    if not methods or unknown:
        raise ValueError(f"{cls.__name__} defines {sorted(defs)}; cannot show {unknown or 'no method'}")
    lines = text.splitlines()
    first = tree.body[0]
    has_doc = isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
        and isinstance(first.value.value, str)
    out = lines[:first.end_lineno] if has_doc else lines[:tree.body[0].lineno - 1]
    if "__init__" in defs and "__init__" not in methods:
        built = _built_in_init(defs["__init__"])
        if built:
            out.append(f"    # __init__ sets {', '.join(built)}")
    for name in methods:
        node = defs[name]
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        out += ["", *lines[start - 1:node.end_lineno]]
    return "\n".join(out) + "\n"


def _folded(obj: object) -> str:
    full = source(obj)
    return (f"<details><summary>The whole class <code>{obj.__name__}</code> ({len(full.splitlines())} lines)</summary>"
            f"\n\n```python\n{full}```\n\n</details>")


def show_source(obj: object, *methods: str, folded: bool = False) -> Markdown:
    """Display the source of ``obj`` as a highlighted Python block (renders in JupyterLab and the HTML book).

    With method names (``show_source(BasicBlock, "forward")``) a class is shown cut to those methods, and its whole
    source follows, folded, one click away. ``folded=True`` shows only the folded whole source (for a class whose
    idea the page has already written out in brief).
    """
    if folded:
        if methods or not inspect.isclass(obj):
            raise ValueError("folded=True shows a whole class: pass the class and no method names")
        return Markdown(_folded(obj))
    if not methods:
        return Markdown(f"```python\n{source(obj)}```")
    return Markdown(f"```python\n{teaching_view(obj, methods)}```\n\n{_folded(obj)}")


def summary_table(rows: Iterable[tuple[str, str]]) -> str:
    """A chapter's summary as a two-column Markdown table: each result in words, and its value."""
    rows = list(rows)
    if not rows or any(not isinstance(r, tuple) or len(r) != 2 for r in rows):
        raise ValueError("summary_table needs a non-empty list of (result, value) pairs")
    return "| result | value |\n|---|---|\n" + "\n".join(f"| {what} | {value} |" for what, value in rows)
