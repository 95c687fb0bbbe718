"""One build of the HTML book per pytest run, shared by test_book.py and test_browser.py.

The build is what `make book` runs (scripts/build_book.py: both editions, warnings are errors, every problem
reported), into a temporary folder, so the tests see a fresh site and never touch the reader's `_build/html`.
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
        result = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "build_book.py"), "--path-output", str(out)],
            capture_output=True, text=True, timeout=1200,
        )
        _build = Build(result.returncode, result.stdout[-4000:] + result.stderr[-4000:], out / "_build" / "html")
        shutil.rmtree(out / "_build" / ".doctrees", ignore_errors=True)
        shutil.rmtree(out / "_build" / "ko-edition", ignore_errors=True)
    return _build


def toc_files(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every page a table of contents lists (its root first), as paths without the extension."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from editions import toc_files as listed  # the site's own reading of a table of contents

    return listed(toc_path)


def korean_pages() -> list[str]:
    """The Korean edition's pages, as the site serves them (under ko/)."""
    return [f"ko/{page}" for page in toc_files(ROOT / "book" / "ko" / "_toc.yml")]
