"""Fold the checks out of the lesson: each shown code cell's trailing asserts move to a collapsed cell after it.

A chapter's asserts are its promise (every number the text states is checked), but most of them pin numbers for
the tests and interrupt the reader. This moves the asserts that end a shown code cell (with the comments just
above them) into the next cell, which starts with "# Checks of the numbers above" and is collapsed on the page
(`hide-input`) and in JupyterLab (`jupyter.source_hidden`). A cell is left alone when its last remaining line
would then display a value, and exercise cells (checker calls) are never touched. Re-execute the notebook after.

    python scripts/fold_checks.py notebooks/07_resnet.ipynb            # count what would move
    python scripts/fold_checks.py --write notebooks/07_resnet.ipynb    # rewrite in place
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import uuid
from pathlib import Path

FOLDED_TAGS = {"hide-cell", "remove-cell", "remove-input", "hide-input", "parameters"}
FIRST_LINE = "# Checks of the numbers above"
EXERCISE = re.compile(r"\b(?:ch\d\d\w*|exercises)\.ex\d")
QUIET_CALLS = {"print", "display", "tight_layout", "show"}


def split_checks(source: str) -> tuple[str, str] | None:
    """(lesson, checks) when the cell ends in asserts that can move without changing what it displays, else None."""
    try:
        body = ast.parse(source).body
    except SyntaxError:  # IPython magics
        return None
    k = len(body)
    while k > 0 and isinstance(body[k - 1], ast.Assert):
        k -= 1
    if k in (0, len(body)):
        return None
    last = body[k - 1]
    if isinstance(last, ast.Expr):
        func = getattr(last.value, "func", None)
        if getattr(func, "id", None) not in QUIET_CALLS and getattr(func, "attr", None) not in QUIET_CALLS:
            return None  # the cell would display the value of its new last line
    lines = source.split("\n")
    cut = body[k].lineno - 1
    while cut > 0 and lines[cut - 1].lstrip().startswith("#"):
        cut -= 1
    if last.end_lineno > cut:
        return None
    return "\n".join(lines[:cut]).rstrip("\n"), "\n".join(lines[cut:]).strip("\n")


def foldable(cell: dict) -> bool:
    """A shown, non-exercise code cell that is not itself a checks cell."""
    source = "".join(cell["source"])
    return (cell["cell_type"] == "code" and not set(cell["metadata"].get("tags", [])) & FOLDED_TAGS
            and not EXERCISE.search(source) and not source.startswith(FIRST_LINE))


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def fold(nb: dict) -> int:
    """Fold every foldable cell's trailing checks in place; returns how many asserts moved."""
    cells, moved = [], 0
    for cell in nb["cells"]:
        cells.append(cell)
        parts = split_checks("".join(cell["source"])) if foldable(cell) else None
        if parts is None:
            continue
        lesson, checks = parts
        moved += sum(line.lstrip().startswith("assert") for line in checks.split("\n"))
        cell["source"] = _lines(lesson)
        cells.append({"cell_type": "code", "execution_count": None, "id": uuid.uuid4().hex[:8],
                      "metadata": {"tags": ["hide-input"], "jupyter": {"source_hidden": True}},
                      "outputs": [], "source": _lines(f"{FIRST_LINE}\n{checks}")})
    nb["cells"] = cells
    return moved


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--write", action="store_true", help="rewrite the notebooks in place")
    args.add_argument("notebooks", nargs="+", type=Path)
    opts = args.parse_args(argv)
    for path in opts.notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        moved = fold(nb)
        print(f"{path.name}: {moved} assert line(s) {'moved' if opts.write else 'to move'}")
        if opts.write and moved:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
