"""The HTML book builds from the committed notebooks with every Sphinx warning treated as an error."""
from html.parser import HTMLParser

from bookbuild import ROOT, VENDOR_FILES, build_book, missing_vendor_files, toc_files



def test_every_notebook_is_in_the_toc_and_every_toc_entry_exists():
    listed = set(toc_files())
    for path in listed:
        assert (ROOT / f"{path}.md").exists() or (ROOT / f"{path}.ipynb").exists(), path
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert f"notebooks/{nb.stem}" in listed, f"{nb.name} is not in _toc.yml"


def test_exercise_solutions_stay_collapsed_in_jupyterlab_and_colab_too():
    # the hide-cell tag folds a solution on the web page only; jupyter.source_hidden folds it in the notebook itself
    import json

    open_solutions = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            meta = cell.get("metadata", {})
            if "hide-cell" in meta.get("tags", []) and not meta.get("jupyter", {}).get("source_hidden"):
                open_solutions.append(f"{nb.name} cell {i}")
    assert not open_solutions, "hide-cell without jupyter.source_hidden: " + ", ".join(open_solutions)


def test_book_builds_without_warnings():
    # The same build the browser test opens (tests/bookbuild.py builds it once per run).
    build = build_book()
    assert build.returncode == 0, build.log
    html = build.html
    assert (html / "index.html").exists()
    for path in toc_files():
        assert (html / f"{path}.html").exists(), f"{path}.html was not rendered"


def test_maths_and_widgets_are_served_by_the_site():
    assert not missing_vendor_files(), f"run `make assets` (missing under book/assets/npm: {missing_vendor_files()})"
    build = build_book()
    static = build.html / "_static" / "npm"
    for name in VENDOR_FILES:
        assert (static / name).is_file(), f"{name} was not copied into the site"
    page = (build.html / "notebooks" / "01_convolution.html").read_text()
    assert "cdn.jsdelivr.net" not in page and "cdnjs.cloudflare.com" not in page


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alts: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            found = dict(attrs)
            self.alts.append((found.get("src") or "", found.get("alt")))


def test_every_figure_has_alt_text_that_describes_it():
    # myst-nb falls back to the image's file path; a screen-reader user needs words (cell metadata mystnb.image.alt).
    build = build_book()
    problems = []
    for path in toc_files():
        parser = _Images()
        parser.feed((build.html / f"{path}.html").read_text())
        for src, alt in parser.alts:
            if "logo" in src or "favicon" in src:
                continue
            text = (alt or "").strip()
            if len(text) < 10 or text.endswith((".png", ".svg", ".jpg")) or "_images" in text or text == src:
                problems.append(f"{path}: {src} has alt {alt!r}")
    assert not problems, "\n".join(problems)
