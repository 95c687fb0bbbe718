"""A chapter's translatable units, the state of its translation, and the translated notebook built from both."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

from cnnbook.i18n import Entry, digest, localise, output_units, parse_entries, store_dir, templates

LANGUAGE_LINE = 'cnnbook.use_language("{lang}")'
SUMMARY_ID = "summary-{lang}"

# What a translated Markdown cell must keep exactly as the English has it (as sets: a sentence may be rebuilt).
KEEP = {
    "maths": re.compile(r"\$\$.+?\$\$|\$(?:[^$\n]|\n(?!\n))+\$", re.S),  # inline maths may wrap too
    "code": re.compile(r"`(?:[^`\n]|\n(?!\n))+`"),  # a code span may wrap onto the next line
    "link targets": re.compile(r"\]\(([^)\s]+)\)"),
    "labels": re.compile(r"^\([\w-]+\)=$", re.M),
    "images": re.compile(r"!\[[^\]]*\]\(([^)]+)\)"),
}
HEADING = re.compile(r"^(#{1,6}) ", re.M)


@dataclass(frozen=True)
class Unit:
    """One piece of English a reader sees: its kind, the cell it belongs to, its text (outputs: a template)."""
    kind: str
    key: str
    text: str

    @property
    def hash(self) -> str:
        return digest(self.text)


@dataclass
class Report:
    """How a chapter's translation stands. Empty lists everywhere: complete and in step."""
    chapter: str
    units: int = 0
    missing: list[Unit] = field(default_factory=list)
    untranslated: list[Unit] = field(default_factory=list)
    stale: list[Entry] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.untranslated or self.stale or self.mismatched)

    def summary(self) -> str:
        done = self.units - len(self.missing) - len(self.untranslated)
        return (f"{self.chapter}: {done}/{self.units} translated, {len(self.missing)} missing, "
                f"{len(self.untranslated)} still English, {len(self.stale)} stale, {len(self.mismatched)} mismatched")

    def details(self) -> str:
        lines = [self.summary()]
        lines += [f"  missing {u.kind} in cell {u.key} (en:{u.hash})" for u in self.missing]
        lines += [f"  still English: {u.kind} in cell {u.key} (en:{u.hash})" for u in self.untranslated]
        lines += [f"  stale: {e.kind} {e.key} en:{e.en_hash} (its English source changed or is gone)" for e in self.stale]
        lines += [f"  {m}" for m in self.mismatched]
        return "\n".join(lines)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def units(nb: dict) -> list[Unit]:
    """Every unit of a notebook, in reading order."""
    out: list[Unit] = []
    for cell in nb["cells"]:
        cid = cell["id"]
        if cell["cell_type"] == "markdown":
            out.append(Unit("markdown", cid, _source(cell)))
            continue
        if cell["cell_type"] != "code":
            continue
        mystnb = cell.get("metadata", {}).get("mystnb", {})
        if mystnb.get("figure", {}).get("caption"):
            out.append(Unit("caption", cid, mystnb["figure"]["caption"]))
        if mystnb.get("image", {}).get("alt"):
            out.append(Unit("alt", cid, mystnb["image"]["alt"]))
        seen = set()
        for output in cell.get("outputs", []):
            md = output.get("data", {}).get("text/markdown")
            if md is None:
                continue
            for template in output_units(_source({"source": md})):
                if template not in seen:
                    seen.add(template)
                    out.append(Unit("output", cid, template))
    return out


def store_path(chapter: str, lang: str) -> Path:
    return store_dir(lang) / f"{chapter}.md"


def load_entries(chapter: str, lang: str) -> list[Entry]:
    path = store_path(chapter, lang)
    return parse_entries(path.read_text(encoding="utf-8"), str(path)) if path.exists() else []


def _differences(english: str, translated: str) -> list[str]:
    problems = []
    for name, pattern in KEEP.items():
        en = {" ".join(m.split()) for m in pattern.findall(english)}
        tr = {" ".join(m.split()) for m in pattern.findall(translated)}
        if en != tr:
            lost, added = sorted(en - tr), sorted(tr - en)
            problems.append(f"{name} differ" + (f"; lost {lost[:3]}" if lost else "") + (f"; added {added[:3]}" if added else ""))
    if HEADING.findall(english) != HEADING.findall(translated):
        problems.append("headings differ in number or level")
    return problems


def _slots(text: str) -> list[str]:
    return sorted(re.findall(r"\u27e6\d+\u27e7", text))


def report(chapter: str, nb: dict, lang: str) -> Report:
    """Compare a chapter's units with its translation file."""
    rep = Report(chapter)
    us = units(nb)
    rep.units = len(us)
    entries = load_entries(chapter, lang)
    by_key = {(e.kind, e.key, e.en_hash): e for e in entries}
    output_hashes = {e.en_hash for e in entries if e.kind == "output"}
    current = {(u.kind, u.key, u.hash) for u in us}
    for u in us:
        entry = by_key.get((u.kind, u.key, u.hash))
        if u.kind == "output" and entry is None and u.hash in output_hashes:
            entry = next(e for e in entries if e.kind == "output" and e.en_hash == u.hash)
        if entry is None:
            rep.missing.append(u)
            continue
        if entry.text.strip() == u.text.strip() and re.search(r"[A-Za-z]{2,}", u.text):
            rep.untranslated.append(u)
            continue
        where = f"{u.kind} in cell {u.key}"
        if u.kind == "markdown":
            rep.mismatched += [f"{where}: {p}" for p in _differences(u.text, entry.text)]
        elif u.kind == "output" and _slots(u.text) != _slots(entry.text):
            rep.mismatched.append(f"{where}: the translation's number slots differ from the English template's")
    if not any(e.kind == "summary" for e in entries):
        rep.mismatched.append("no summary entry (the chapter's key points, shown after its title)")
    output_now = {u.hash for u in us if u.kind == "output"}
    cells = {c["id"] for c in nb["cells"]}
    for e in entries:
        if e.kind == "summary":
            if e.key not in cells:
                rep.stale.append(e)
        elif e.kind == "output":
            if e.en_hash not in output_now:
                rep.stale.append(e)
        elif (e.kind, e.key, e.en_hash) not in current:
            rep.stale.append(e)
    return rep


def skeleton(chapter: str, nb: dict, lang: str) -> list[Entry]:
    """The chapter's translation file with an English placeholder for every missing unit, in reading order.

    Entries already there (fresh or stale) are kept, each at its cell's place; a stale entry stays next to the new
    placeholder so that the translator sees the old translation.
    """
    old = load_entries(chapter, lang)
    have = {(e.kind, e.key, e.en_hash) for e in old}
    have_outputs = {e.en_hash for e in old if e.kind == "output"}
    placed: set[int] = set()
    out: list[Entry] = []
    for u in units(nb):
        for e in old:
            if e.kind == u.kind and e.key == u.key and id(e) not in placed:
                out.append(e)
                placed.add(id(e))
        if (u.kind, u.key, u.hash) not in have and not (u.kind == "output" and u.hash in have_outputs):
            out.append(Entry(u.kind, u.key, u.hash, u.text))
            have.add((u.kind, u.key, u.hash))
            have_outputs.add(u.hash)
    summaries = [e for e in old if e.kind == "summary"]
    rest = [e for e in old if id(e) not in placed and e.kind != "summary"]
    return summaries + out + rest


def merge(chapter: str, lang: str, new: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """Replace the chapter's entries by ``new`` ones with the same kind, key and hash; return (store, unmatched)."""
    entries = load_entries(chapter, lang)
    index = {(e.kind, e.key, e.en_hash): i for i, e in enumerate(entries)}
    unmatched = []
    for e in new:
        i = index.get((e.kind, e.key, e.en_hash))
        if i is None and e.kind == "summary":
            entries.insert(0, e)
            index = {(x.kind, x.key, x.en_hash): j for j, x in enumerate(entries)}
        elif i is None:
            unmatched.append(e)
        else:
            entries[i] = e
    return entries, unmatched


def translate(nb: dict, chapter: str, lang: str, draft: bool = False) -> dict:
    """The translated twin of an English notebook: same code cells and numbers, translated text.

    Raises ValueError when the translation is incomplete or stale (see :func:`report`); a ``draft`` keeps the
    English where a translation is missing, to look at a half-translated chapter.
    """
    rep = report(chapter, nb, lang)
    if (rep.missing or rep.stale) and not draft:
        raise ValueError(rep.details())
    entries = load_entries(chapter, lang)
    text = {(e.kind, e.key, e.en_hash): e.text for e in entries}
    if draft:
        text.update({(u.kind, u.key, u.hash): u.text for u in rep.missing})
    from cnnbook.i18n.messages import localise_line

    twin = copy.deepcopy(nb)
    first_code = True
    cells = []
    summaries = {e.key: e.text for e in entries if e.kind == "summary"}
    for cell in twin["cells"]:
        cid = cell["id"]
        if cell["cell_type"] == "markdown":
            cell["source"] = text[("markdown", cid, digest(_source(cell)))]
        elif cell["cell_type"] == "code":
            if first_code:
                first_code = False
                cell["source"] = _source(cell).rstrip("\n") + "\n" + LANGUAGE_LINE.format(lang=lang)
            mystnb = cell.get("metadata", {}).get("mystnb", {})
            if mystnb.get("figure", {}).get("caption"):
                mystnb["figure"]["caption"] = text[("caption", cid, digest(mystnb["figure"]["caption"]))]
            if mystnb.get("image", {}).get("alt"):
                mystnb["image"]["alt"] = text[("alt", cid, digest(mystnb["image"]["alt"]))]
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if "text/markdown" in data:
                    data["text/markdown"] = localise(_source({"source": data["text/markdown"]}), lang)
                if output.get("output_type") == "stream":
                    output["text"] = "\n".join(localise_line(line, lang) if line else line
                                               for line in _source({"source": output["text"]}).split("\n"))
        cells.append(cell)
        if cid in summaries:
            cells.append({"cell_type": "markdown", "id": SUMMARY_ID.format(lang=lang), "metadata": {},
                          "source": summaries[cid]})
    twin["cells"] = cells
    twin["metadata"]["cnnbook"] = {"language": lang, "translates": f"notebooks/{chapter}.ipynb"}
    return twin


def clear_cache() -> None:
    templates.cache_clear()
