"""Rewrite the MyST-only syntax of the notebooks' Markdown cells into plain Markdown that the HTML book still reads.

JupyterLab and Colab render Markdown cells as CommonMark, where ``{cite}`key``` and ``{doc}`chapter``` roles and
```` ```{note} ```` directives show as raw markup. The plain forms read well everywhere:

- a citation becomes a link whose text is the author and year, ``[He et al., 2016](#cite:he2016deep)``; the book's
  Sphinx extension (book/_ext/site_fixes.py) turns it back into the citation role, so the HTML keeps its
  bibliography;
- a link to another chapter becomes ``[its title](06b_training.ipynb)``, which MyST and JupyterLab both follow;
- a note or warning becomes a block quote that starts with **Note.** or **Warning.**

    python scripts/plain_markdown.py            # list what would change
    python scripts/plain_markdown.py --write    # rewrite the notebooks in place
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITE = re.compile(r"\{cite(?::([pt]))?\}`([^`]+)`")
DOC = re.compile(r"\{doc\}`(?:([^`<]*?)\s*<)?([^`>]+)>?`")
ADMONITION = re.compile(r"^(?:```|:::)\{(note|warning)\}\n(.*?)\n(?:```|:::)[ \t]*$", re.S | re.M)


ACCENTS = {'"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303"}


def _last_name(author: str) -> str:
    """A BibTeX author's last name, with LaTeX accents as Unicode ("M{\\"u}ller, Rafael" -> "Müller")."""
    author = re.sub(r"\\(['`^\"~])\{?(\w)\}?", lambda m: m.group(2) + ACCENTS[m.group(1)], author)
    author = unicodedata.normalize("NFC", author.replace("{", "").replace("}", "")).strip()
    return author.split(",")[0].strip() if "," in author else author.split()[-1]


def bibliography(path: Path = ROOT / "book" / "references.bib") -> dict[str, str]:
    """Every entry's key -> its author-year label as the HTML book prints it ("He et al., 2016")."""
    labels = {}
    for entry in re.split(r"\n(?=@)", path.read_text(encoding="utf-8")):
        key = re.match(r"@\w+\{([^,]+),", entry.strip())
        author = re.search(r"author\s*=\s*\{(.*?)\},?\s*\n", entry, re.S)
        year = re.search(r"year\s*=\s*\{?(\d{4})", entry)
        if not key:
            continue
        if not (author and year):
            raise ValueError(f"{key.group(1)}: an entry needs an author and a year")
        names = [_last_name(a) for a in re.split(r"\s+and\s+", " ".join(author.group(1).split()))]
        who = names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2 else f"{names[0]} et al."
        labels[key.group(1).strip()] = f"{who}, {year.group(1)}"
    return labels


def titles(folder: Path = ROOT / "notebooks") -> dict[str, str]:
    """Every chapter notebook's name -> the title of its first heading."""
    out = {}
    for path in sorted(folder.glob("*.ipynb")):
        first = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
        out[path.stem] = re.match(r"#\s+(.*)", first).group(1).strip()
    return out


def plain(text: str, labels: dict[str, str], chapters: dict[str, str]) -> str:
    """One Markdown text with its citations, chapter links and admonitions in plain Markdown."""
    def cite(m: re.Match) -> str:
        keys = [k.strip() for k in m.group(2).split(",")]
        missing = [k for k in keys if k not in labels]
        if missing:
            raise ValueError(f"no bibliography entry for {missing}")
        kind = f"{m.group(1)}:" if m.group(1) else ""
        return f"[{'; '.join(labels[k] for k in keys)}](#cite:{kind}{','.join(keys)})"

    def doc(m: re.Match) -> str:
        target = m.group(2).strip()
        if target not in chapters:
            raise ValueError(f"no chapter notebook named {target!r}")
        return f"[{m.group(1) or chapters[target]}]({target}.ipynb)"

    def admonition(m: re.Match) -> str:
        lines = m.group(2).split("\n")
        lines[0] = f"**{m.group(1).capitalize()}.** {lines[0]}"
        return "\n".join(f"> {line}" if line else ">" for line in lines)

    return ADMONITION.sub(admonition, DOC.sub(doc, CITE.sub(cite, text)))


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--write", action="store_true", help="rewrite the notebooks in place")
    args.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in notebooks/")
    opts = args.parse_args(argv)
    labels, chapters = bibliography(), titles()
    changed = 0
    for path in opts.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        edits = 0
        for cell in nb["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            old = "".join(cell["source"])
            new = plain(old, labels, chapters)
            if new != old:
                edits += 1
                lines = new.split("\n")
                cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
        if edits:
            changed += 1
            print(f"{path.name}: {edits} Markdown cell(s)")
            if opts.write:
                path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{changed} notebook(s) {'rewritten' if opts.write else 'to rewrite'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
