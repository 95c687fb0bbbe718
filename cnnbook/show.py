"""Show the package's own source in a notebook, so a chapter never pastes a second copy, and a chapter's summary."""
from __future__ import annotations

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


def show_source(obj: object) -> Markdown:
    """Display the source of ``obj`` as a highlighted Python block (renders in JupyterLab and the HTML book)."""
    return Markdown(f"```python\n{source(obj)}```")


def summary_table(rows: Iterable[tuple[str, str]]) -> str:
    """A chapter's summary as a two-column Markdown table: each result in words, and its value."""
    rows = list(rows)
    if not rows or any(not isinstance(r, tuple) or len(r) != 2 for r in rows):
        raise ValueError("summary_table needs a non-empty list of (result, value) pairs")
    return "| result | value |\n|---|---|\n" + "\n".join(f"| {what} | {value} |" for what, value in rows)
