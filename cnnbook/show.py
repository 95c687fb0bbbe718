"""Show the package's own source in a notebook, so a chapter never pastes a second copy."""
from __future__ import annotations

import inspect
import textwrap

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
