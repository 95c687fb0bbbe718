"""The book in other languages: translations kept in step with the English notebooks.

Every piece of text a reader sees in a chapter is a *unit*: a Markdown cell, a figure's caption or alt text, and
each prose segment of the Markdown a code cell displays (a verdict written from the numbers, a results table).
A translation records the hash of the English unit it translates, so a changed English cell shows up as stale.

Displayed Markdown is translated as a *template*: its numbers are cut out into numbered slots (``⟦0⟧``, ``⟦1⟧``),
the template is translated once, and the numbers of each run are put back. So one run of a notebook, in English,
gives both editions' outputs, and a reader who runs a translated notebook (after ``use_language("ko")``) sees the
prose in that language with their own run's numbers.

Translations live in ``cnnbook/i18n/<lang>/<notebook>.md``, one file per chapter, as entries headed
``<!-- KIND KEY en:HASH -->`` (see :func:`parse_entries`).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LANGUAGES = ("en", "ko")
HERE = Path(__file__).resolve().parent

# A number standing on its own, exponent included ("2.1e-05"): not part of a name ("conv3", "3x3"; "VGG-11" keeps its
# "11" as a number, which is harmless). A factor's "x" stays text ("4.6x", "x1.10"), so a translation can say
# "4.6배". A sign belongs to the number only where no digit or letter precedes it, so the hyphen of a range
# "0.1-0.3" stays text.
NUMBER = re.compile(r"(?:(?<![\w.])|(?<=(?<!\w)x))[-+\u2212]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?(?![^\Wx]|x\w|\.\d)")
SLOT = re.compile(r"\u27e6(\d+)\u27e7")
FENCE = re.compile(r"^(```|~~~)[^\n]*\n.*?^\1[ \t]*$\n?", re.M | re.S)
HEADER = re.compile(r"^<!-- (markdown|caption|alt|output|summary|message) (\S+)(?: en:([0-9a-f]{10}))? -->$", re.M)
KINDS = ("markdown", "caption", "alt", "output", "summary", "message")


def digest(text: str) -> str:
    """Ten hex digits of the text's SHA-256: what a translation records of its English source."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def slot(i: int) -> str:
    return f"\u27e6{i}\u27e7"


def to_template(text: str) -> tuple[str, list[str]]:
    """Cut the numbers out of ``text``: ("0.308 on 3 seeds" -> "⟦0⟧ on ⟦1⟧ seeds", ["0.308", "3"])."""
    numbers: list[str] = []

    def cut(match: re.Match) -> str:
        numbers.append(match.group(0))
        return slot(len(numbers) - 1)

    return NUMBER.sub(cut, text), numbers


def fill(template: str, numbers: list[str]) -> str:
    """Put the numbers back into a (translated) template's slots."""
    def put(match: re.Match) -> str:
        i = int(match.group(1))
        if i >= len(numbers):
            raise ValueError(f"template slot {slot(i)} has no number (the text has {len(numbers)})")
        return numbers[i]

    return SLOT.sub(put, template)


def has_prose(text: str) -> bool:
    """Whether text has words to translate once code spans, slots, links' targets and HTML tags are removed."""
    text = re.sub(r"`[^`]*`|\u27e6\d+\u27e7|\]\([^)]*\)|<[^>]+>", " ", text)
    return re.search(r"[A-Za-z]{2,}", text) is not None


def segments(text: str) -> list[tuple[bool, str]]:
    """Split displayed Markdown into (is_prose, piece): fenced code blocks are never translated."""
    pieces: list[tuple[bool, str]] = []
    last = 0
    for block in FENCE.finditer(text):
        if block.start() > last:
            pieces.append((True, text[last:block.start()]))
        pieces.append((False, block.group(0)))
        last = block.end()
    if last < len(text):
        pieces.append((True, text[last:]))
    return pieces


def output_units(text: str) -> list[str]:
    """The templates of displayed Markdown that need a translation, in order."""
    out = []
    for prose, piece in segments(text):
        core = piece.strip()
        if prose and core:
            template, _ = to_template(core)
            if has_prose(template):
                out.append(template)
    return out


@dataclass
class Entry:
    """One translation: ``kind`` (markdown, caption, alt, output, summary, message), the English cell id (or
    the message's own hash), the hash of the English text it translates, and the translated text."""
    kind: str
    key: str
    en_hash: str | None
    text: str

    def header(self) -> str:
        return f"<!-- {self.kind} {self.key}" + (f" en:{self.en_hash}" if self.en_hash else "") + " -->"


def parse_entries(text: str, source: str = "<string>") -> list[Entry]:
    """Read a translation file: each entry is a header line ``<!-- KIND KEY en:HASH -->`` and the text after it."""
    headers = list(HEADER.finditer(text))
    if text[: headers[0].start() if headers else len(text)].strip():
        raise ValueError(f"{source}: text before the first entry header")
    entries = []
    for i, m in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        body = text[m.end():end].strip("\n")
        entries.append(Entry(m.group(1), m.group(2), m.group(3), body))
    return entries


def format_entries(entries: list[Entry]) -> str:
    return "".join(f"{e.header()}\n{e.text}\n\n" for e in entries).rstrip("\n") + "\n"


def store_dir(lang: str) -> Path:
    if lang not in LANGUAGES or lang == "en":
        raise ValueError(f"no translations for language {lang!r}; the book has {', '.join(LANGUAGES[1:])}")
    return HERE / lang


@lru_cache(maxsize=None)
def templates(lang: str) -> dict[str, str]:
    """English template hash -> translated template, over every chapter's outputs and the messages."""
    table: dict[str, str] = {}
    for path in sorted(store_dir(lang).glob("*.md")):
        for e in parse_entries(path.read_text(encoding="utf-8"), str(path)):
            if e.kind in ("output", "message") and e.en_hash:
                table[e.en_hash] = e.text
    return table


_language = "en"


def language() -> str:
    """The language the package writes in (``use_language`` sets it)."""
    return _language


def localise(text: str, lang: str | None = None) -> str:
    """Displayed Markdown or a message in ``lang`` (default: the current language), with this text's numbers.

    A piece with no translation stays in English: a run whose prose differs from the committed one (another
    branch of a verdict) still reads, in English, rather than failing.
    """
    lang = lang or _language
    if lang == "en":
        return text
    table = templates(lang)
    out = []
    for prose, piece in segments(text):
        core = piece.strip()
        if not prose or not core:
            out.append(piece)
            continue
        template, numbers = to_template(core)
        translated = table.get(digest(template))
        if translated is None:
            out.append(piece)
        else:
            lead, trail = piece[: len(piece) - len(piece.lstrip())], piece[len(piece.rstrip()):]
            out.append(lead + fill(translated, numbers) + trail)
    return "".join(out)


def say(text: str) -> None:
    """Print a message in the current language (what the exercise checkers use)."""
    print(localise(text))


def use_language(lang: str) -> None:
    """Write displayed Markdown and the checkers' messages in ``lang`` from here on (in a notebook: this kernel)."""
    global _language
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; the book has {', '.join(LANGUAGES)}")
    if lang != "en":
        templates(lang)  # fail here, not at the first display, if a translation file is malformed
    _language = lang
    try:
        from IPython import get_ipython
        from IPython.display import Markdown
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        formatter = shell.display_formatter.formatters["text/markdown"]
        formatter.for_type(Markdown, lambda md: localise(md.data))
