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
  Outputs without an image are unwrapped while the page is read, before figures are numbered. A cell that draws
  several images in a row (a digit, then its feature maps) got one figure per image, each with the same caption
  and its own number: they become one figure holding every image, with the caption once.
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


class MergeFiguresOfOneCaption(Transform):
    """Figures side by side in one cell's output with the same caption are one figure: its images, one caption."""

    default_priority = 801  # after UnwrapFiguresWithoutImages, before figures are numbered

    def apply(self, **kwargs: Any) -> None:
        for parent in {id(f.parent): f.parent for f in self.document.findall(nodes.figure)}.values():
            run: list[nodes.figure] = []
            for child in [*parent.children, None]:
                if isinstance(child, nodes.figure) and run and _caption(child) == _caption(run[0]) is not None:
                    run.append(child)
                    continue
                if len(run) > 1:
                    _merge(run)
                run = [child] if isinstance(child, nodes.figure) else []


def _caption(figure: nodes.figure) -> str | None:
    caption = next(iter(figure.findall(nodes.caption)), None)
    return None if caption is None else caption.astext()


def _merge(run: list[nodes.figure]) -> None:
    last = run[-1]
    images = [c for f in run[:-1] for c in f.children if not isinstance(c, (nodes.caption, nodes.legend))]
    for figure in run[:-1]:
        figure.parent.remove(figure)
    for i, node in enumerate(images):
        last.insert(i, node)


def setup(app):
    # Run after every other extension has added its page scripts (myst-nb adds the widget manager here).
    app.connect("html-page-context", drop_duplicate_scripts, priority=990)
    app.connect("source-read", citation_links_to_roles)
    app.add_transform(UnwrapFiguresWithoutImages)
    app.add_transform(MergeFiguresOfOneCaption)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
