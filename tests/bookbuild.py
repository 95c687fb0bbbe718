"""One build of the HTML book per pytest run, shared by test_book.py and test_browser.py.

The build is what `make book` runs (warnings are errors, every problem reported), into a temporary folder, so
the tests see a fresh site and never touch the reader's `_build/html`.
"""
from __future__ import annotations

import atexit
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "book" / "assets" / "npm"
VENDOR_FILES = ("mathjax/tex-mml-chtml.js", "html-manager/embed.js")


@dataclass(frozen=True)
class Build:
    returncode: int
    log: str
    html: Path  # the site's root folder (index.html lies there)


_build: Build | None = None


def missing_vendor_files() -> list[str]:
    """The served JavaScript that `make assets` fetches and that is not there."""
    return [name for name in VENDOR_FILES if not (VENDOR / name).is_file()]


def build_book() -> Build:
    """Build the book once per process and return where it is; later calls return the same build."""
    global _build
    if _build is None:
        out = Path(tempfile.mkdtemp(prefix="cnnbook-book-"))
        atexit.register(shutil.rmtree, out, ignore_errors=True)
        jb = Path(sys.executable).with_name("jupyter-book")
        result = subprocess.run(
            [str(jb), "build", str(ROOT), "--warningiserror", "--nitpick", "--keep-going", "--path-output", str(out)],
            capture_output=True, text=True, timeout=900,
        )
        _build = Build(result.returncode, result.stdout[-4000:] + result.stderr[-4000:], out / "_build" / "html")
        shutil.rmtree(out / "_build" / ".doctrees", ignore_errors=True)
    return _build


def toc_files() -> list[str]:
    """Every page `_toc.yml` lists (its root first), as paths without the extension."""
    import yaml

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                yield node["file"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"], *walk(toc.get("parts", [])), *walk(toc.get("chapters", []))]
