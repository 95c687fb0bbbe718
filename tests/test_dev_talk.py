"""What a reader sees talks about the book's subject, never about how the book was made.

Scanned: every notebook's Markdown cells and stored text outputs (stream text, text/plain, text/markdown and
the text of text/html; image data is not text and is skipped) and the book/*.md pages. The built HTML is
scanned by tests/test_book.py with `html_hits`, on the build it makes anyway (one build per run).

The patterns are case-insensitive and word-bounded, and each is narrow on purpose:

- ``syllabus``: any use.
- ``issue`` as in a tracker: ``issue #12`` or ``issue 12``, "this/the chapter's (page's, book's, section's)
  issue", "the issue" followed by what a ticket does (asks, asked for, hoped, wants, says, requires,
  expects, targets ...), "issue tracker/thread", "GitHub issue". Ordinary English stays: "at issue",
  "the issue is", "the issue with deep plain networks", and links to other projects' issues (the text
  of such a link names the project, e.g. pytorch/vision#8905, and the URL says "issues", which does not match).
- versions and drafts of the book itself: "first version" (but "the first version of Inception", of a
  capitalised name, stays), "earlier/previous/older version (draft, edition) of this/the chapter (page,
  book, notebook, section, package)", and any "draft".
- "committed run(s)/output(s)/notebook(s)/result(s)/number(s)", "this session", "hoped for", TODO, FIXME.
- "errata (erratum) of chapter/this page/this book": errata of a paper or of torchvision's documentation
  are the subject and stay.
- machine paths: /work/, /tmp/, /home/, /root/ where they start a path (not inside a URL such as
  example.org/home/).
- the test machinery by file: ``tests/...``, ``test_*.py``, ``conftest.py``; and, on chapter pages only,
  ``scripts/...`` (book/how_to_use.md may point an instructor with a clone of the repository at a script).
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PAGES = sorted((ROOT / "book").glob("*.md"))

_TICKET_VERBS = (
    r"asks?|asked|hoped|hopes|wants?|wanted|says|said|requires?|required|calls?\s+for|called\s+for|"
    r"expects?|expected|targets?|targeted|promised|promises|demands?|demanded|specifies|specified"
)
_SELF = r"chapter|page|book|notebook|section|package|text"

PATTERNS: dict[str, re.Pattern] = {
    name: re.compile(regex, re.IGNORECASE)
    for name, regex in {
        "syllabus": r"\bsyllabus\w*",
        "tracker issue": "|".join([
            r"\bissues?\s*#\s*\d+",
            r"\bissue\s+\d+\b",
            rf"\b(?:this|that|the|our|its)\s+(?:{_SELF})['\u2019]?s\s+issue\b",
            rf"\b(?:this|that|the|our|its)\s+issue\s+(?:{_TICKET_VERBS})\b",
            r"\bissue\s+(?:tracker|thread|ticket)s?\b",
            r"\bgithub\s+issues?\b",
        ]),
        "version of the book": "|".join([
            r"\bfirst\s+version\b(?!\s+of\s+(?:the\s+)?(?-i:[A-Z]))",
            rf"\b(?:first|earlier|previous|older|old|last)\s+(?:version|draft|edition)s?\s+of\s+"
            rf"(?:this|the)\s+(?:{_SELF})\b",
            r"\bdrafts?\b",
        ]),
        "committed run": r"\bcommitted\s+(?:runs?|outputs?|notebooks?|results?|numbers?|version)\b",
        "this session": r"\bthis\s+session\b",
        "hoped for": r"\bhoped[-\s]+for\b",
        "TODO/FIXME": r"\b(?:TODO|FIXME)\b",
        "errata of the book": rf"\berrat(?:a|um)\s+(?:of|in)\s+(?:this\s+|the\s+)?(?:{_SELF})\b",
        "machine path": r"(?<![\w.~/:-])/(?:work|tmp|home|root)/",
        "test file": r"(?<![\w/.-])tests?/[\w./-]+|\btest_\w+\.py\b|\bconftest\.py\b",
    }.items()
}
# On chapter pages (notebooks) only: the repository's scripts are the maintainers' tools.
CHAPTER_ONLY = {"script file": re.compile(r"(?<![\w/.-])scripts/[\w./-]+", re.IGNORECASE)}

OUTPUT_MIMES = ("text/plain", "text/markdown", "text/html")


class _Text(HTMLParser):
    """The text of an HTML document or fragment: no tags, attributes, scripts or styles."""

    SKIP = {"script", "style", "template", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skipping += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The text a reader sees in `html` (tags, attributes, scripts and styles removed)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return " ".join(parser.parts)


def hits(text: str, chapter: bool = False) -> list[str]:
    """Each development-talk phrase in `text`, as 'kind: "...context..."'."""
    patterns = {**PATTERNS, **CHAPTER_ONLY} if chapter else PATTERNS
    found = []
    for name, pattern in patterns.items():
        for match in pattern.finditer(text):
            start, end = max(0, match.start() - 50), min(len(text), match.end() + 50)
            context = " ".join(text[start:end].split())
            found.append(f"{name} {match.group(0)!r} in \"...{context}...\"")
    return found


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def notebook_texts(path: Path):
    """(cell index, where, text) for each Markdown cell and each stored text output of the notebook."""
    for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] == "markdown":
            yield index, "markdown", _joined(cell["source"])
        elif cell["cell_type"] == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream":
                    yield index, f"output ({output.get('name', 'stream')})", _joined(output.get("text", ""))
                elif output.get("output_type") == "error":
                    yield index, "output (error)", "\n".join([output.get("evalue", ""), *output.get("traceback", [])])
                data = output.get("data", {})
                for mime in OUTPUT_MIMES:
                    if mime in data:
                        text = _joined(data[mime])
                        yield index, f"output ({mime})", html_text(text) if mime == "text/html" else text


def notebook_hits(path: Path) -> list[str]:
    """'file cell N (where): hit' for every phrase of development talk in what the notebook shows."""
    return [
        f"{path.relative_to(ROOT)} cell {index} ({where}): {hit}"
        for index, where, text in notebook_texts(path)
        for hit in hits(text, chapter=True)
    ]


def page_hits(path: Path) -> list[str]:
    """'file line N: hit' for every phrase of development talk in a Markdown page."""
    return [
        f"{path.relative_to(ROOT)} line {number}: {hit}"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        for hit in hits(line)
    ]


def html_hits(site: Path) -> list[str]:
    """'page: hit' for every phrase of development talk in the text of each page of a built site."""
    found = []
    for page in sorted(site.rglob("*.html")):
        relative = page.relative_to(site)
        if relative.parts[0].startswith("_"):  # _static, _sources ...: not pages
            continue
        chapter = relative.parts[0] == "notebooks"
        found += [f"{relative}: {hit}" for hit in hits(html_text(page.read_text(encoding="utf-8")), chapter)]
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_development_talk_in_notebook(path):
    found = notebook_hits(path)
    assert not found, "development talk in what the reader sees:\n  " + "\n  ".join(found)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_no_development_talk_in_book_page(path):
    found = page_hits(path)
    assert not found, "development talk in what the reader sees:\n  " + "\n  ".join(found)


# ------------------------------------------------------------------------------ the patterns themselves
@pytest.mark.parametrize("text", [
    "That is below the 0.6-0.7 this chapter's issue hoped for.",
    "as issue #19 asked", "see issue 12", "the issue asked for three seeds", "the issue tracker",
    "open an issue thread", "a GitHub issue",
    "the syllabus's first draft said", "the first version of this chapter", "an earlier version of the page",
    "floors just under what the committed run reaches", "the committed run skips it",
    "measured in this session", "TODO: mend", "FIXME", "see the errata of chapter 9",
    "saved to /work/main/_build", "/tmp/cnnbook-x", "tests/test_detection.py proves it", "test_book.py",
])
def test_patterns_find_development_talk(text):
    assert hits(text), text


@pytest.mark.parametrize("text", [
    "The question at issue is whether depth helps.", "The issue is that the gradient vanishes.",
    "The issue with plain networks is optimisation, not overfitting.",
    "([pytorch/vision#8905](https://github.com/pytorch/vision/issues/8905))",
    "the first version of Inception (GoogLeNet)", "the paper's errata list a wrong stride",
    "an erratum worth knowing", "https://example.org/home/page", "the test set", "tests the claim",
    "a unit test checks that", "the authors hoped that depth would help",
])
def test_patterns_leave_ordinary_english(text):
    assert not hits(text), hits(text)


def test_scripts_are_named_on_instructor_pages_only():
    assert not hits("`scripts/bench_notebooks.py --write` saves the executed notebook")
    assert hits("`scripts/bench_notebooks.py --write` saves the executed notebook", chapter=True)


def test_html_text_leaves_out_scripts_and_attributes():
    html = '<p title="TODO">Text <a href="/tmp/x">link</a></p><script>var todo = "/work/";</script><style>x{}</style>'
    assert " ".join(html_text(html).split()) == "Text link"
