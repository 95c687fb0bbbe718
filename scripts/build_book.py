"""Build both editions of the HTML book: English into OUT/_build/html, Korean into OUT/_build/html/ko.

    python scripts/build_book.py                     # OUT is the repository (what `make book` runs)
    python scripts/build_book.py --path-output /tmp/site

Warnings are errors and every problem is reported (jupyter-book's --warningiserror --nitpick --keep-going). The
Korean edition is built from its committed notebooks (book/ko/notebooks, written by scripts/translate.py build).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--warningiserror", "--nitpick", "--keep-going"]


def build(out: Path) -> int:
    jb = str(Path(sys.executable).with_name("jupyter-book"))
    english = subprocess.run([jb, "build", str(ROOT), *FLAGS, "--path-output", str(out)])
    korean_out = out / "_build" / "ko-edition"
    korean = subprocess.run([jb, "build", str(ROOT / "book" / "ko"), *FLAGS, "--path-output", str(korean_out)])
    site = out / "_build" / "html"
    if (korean_out / "_build" / "html").is_dir() and site.is_dir():
        shutil.rmtree(site / "ko", ignore_errors=True)
        shutil.copytree(korean_out / "_build" / "html", site / "ko")
    return english.returncode or korean.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path-output", type=Path, default=ROOT)
    return build(parser.parse_args().path_output.resolve())


if __name__ == "__main__":
    sys.exit(main())
