"""The HTML book builds from the committed notebooks with every Sphinx warning treated as an error."""
from bookbuild import ROOT, VENDOR_FILES, build_book, missing_vendor_files, toc_files



def test_every_notebook_is_in_the_toc_and_every_toc_entry_exists():
    listed = set(toc_files())
    for path in listed:
        assert (ROOT / f"{path}.md").exists() or (ROOT / f"{path}.ipynb").exists(), path
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert f"notebooks/{nb.stem}" in listed, f"{nb.name} is not in _toc.yml"


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
