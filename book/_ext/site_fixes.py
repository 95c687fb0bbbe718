"""A local Sphinx extension with the HTML book's small fixes (listed under sphinx.local_extensions in _config.yml).

- Every page got the inline scripts of sphinx-thebe (``const THEBE_JS_URL = ...``) and sphinx-togglebutton
  twice (Sphinx 7.4 sees ``None`` and ``""`` as different file names of an inline script), and a second
  ``const`` declaration is a SyntaxError in the browser console. Scripts that are the same file or the same
  inline body with the same attributes are kept once, whatever their priority.
- The notebooks cite in plain Markdown, ``[He et al., 2016](#cite:he2016deep)``, so that JupyterLab and Colab show
  the author and year instead of raw MyST (scripts/plain_markdown.py writes that form). Before a page is parsed,
  each such link becomes the citation role ``{cite}`he2016deep``` (``#cite:t:`` gives ``{cite:t}``), so the HTML
  book links every citation to its bibliography.
- myst-nb wraps every output of a cell whose metadata carries a figure caption in a figure with that caption,
  so a cell that displays a results table and then plots it showed the caption (and used a figure number) twice.
  Outputs without an image are unwrapped while the page is read, before figures are numbered.
"""
from __future__ import annotations

import re
from typing import Any

from docutils import nodes
from docutils.transforms import Transform

CITATION_LINK = re.compile(r"\[[^\]\n]*\]\(#cite:(?:([pt]):)?([\w.,:-]+)\)")


def citation_links_to_roles(app, docname: str, source: list[str]) -> None:
    source[0] = CITATION_LINK.sub(lambda m: f"{{cite{':' + m.group(1) if m.group(1) else ''}}}`{m.group(2)}`",
                                  source[0])


def _key(script: Any) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    # The same inline script arrives once with filename None (app.add_js_file after the builder started)
    # and once with filename "" (the builder's own list): treat both as "no file".
    return (getattr(script, "filename", None) or "", tuple(sorted(attributes.items())))


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept


class UnwrapFiguresWithoutImages(Transform):
    """A captioned cell's outputs that hold no image (a table, printed text) are not figures."""

    default_priority = 800

    def apply(self, **kwargs: Any) -> None:
        for figure in list(self.document.findall(nodes.figure)):
            bundles = [n for n in figure.findall(nodes.container) if n.get("nb_element") == "mime_bundle"]
            if not bundles or any(str(c.get("mime_type", "")).startswith("image/")
                                  for bundle in bundles for c in bundle.children):
                continue
            figure.replace_self([c for c in figure.children if not isinstance(c, (nodes.caption, nodes.legend))])


def setup(app):
    # Run after every other extension has added its page scripts (myst-nb adds the widget manager here).
    app.connect("html-page-context", drop_duplicate_scripts, priority=990)
    app.connect("source-read", citation_links_to_roles)
    app.add_transform(UnwrapFiguresWithoutImages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
