"""The Korean edition is complete and in step with the English one (cnnbook/i18n, scripts/translate.py).

A changed English cell makes its translation stale and fails here with the cell named; the committed Korean
notebooks must equal what the English notebooks and the translations give; code, numbers and figures are the
English ones.
"""
from __future__ import annotations

import copy
import re
from collections import Counter
from pathlib import Path

import nbformat
import pytest
import yaml

from cnnbook import i18n
from cnnbook.i18n import Entry, digest, fill, format_entries, localise, parse_entries, to_template
from cnnbook.i18n import messages
from cnnbook.i18n.notebooks import LANGUAGE_LINE, report, translate, units

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KO = ROOT / "book" / "ko"
# Every run of digits, in either language ("3개", "4.6배" included).
DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def read(path: Path) -> dict:
    return nbformat.read(path, as_version=4)


def text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_unit_is_translated_and_in_step(path):
    rep = report(path.stem, read(path), "ko")
    assert rep.ok, "\n" + rep.details() + "\nRun `python scripts/translate.py skeleton " + path.stem + "` and translate."


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_committed_korean_notebook_is_what_the_translation_gives(path):
    committed = KO / "notebooks" / path.name
    assert committed.exists(), f"{committed} missing: run `python scripts/translate.py build`"
    expected = nbformat.from_dict(translate(read(path), path.stem, "ko"))
    assert nbformat.writes(read(committed)) == nbformat.writes(expected), (
        f"{committed.relative_to(ROOT)} is out of step: run `python scripts/translate.py build {path.stem}`")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_korean_twin_has_the_english_code_numbers_and_figures(path):
    en, ko = read(path), read(KO / "notebooks" / path.name)
    ko_cells = [c for c in ko.cells if c.id != "summary-ko"]
    assert [c.id for c in ko_cells] == [c.id for c in en.cells]
    first_code = True
    for e, k in zip(en.cells, ko_cells):
        assert e.cell_type == k.cell_type
        if e.cell_type != "code":
            continue
        expected_source = e.source + "\n" + LANGUAGE_LINE.format(lang="ko") if first_code else e.source
        first_code = False
        assert k.source == expected_source, f"cell {e.id}: the code differs from the English"
        assert k.metadata.get("tags") == e.metadata.get("tags")
        assert len(k.outputs) == len(e.outputs), f"cell {e.id}"
        for eo, ko_ in zip(e.outputs, k.outputs):
            for mime, value in eo.get("data", {}).items():
                if mime == "text/markdown":  # each English number is in the Korean (which may add "1장", "4분의 1")
                    missing = Counter(DIGITS.findall(text(value))) - Counter(DIGITS.findall(text(ko_.data[mime])))
                    assert not missing, f"cell {e.id}: numbers of the English output missing in the Korean: {missing}"
                else:
                    assert ko_.data[mime] == value, f"cell {e.id}: {mime} differs"
            if eo.output_type == "stream":
                assert not Counter(DIGITS.findall(eo.text)) - Counter(DIGITS.findall(ko_.text)), f"cell {e.id}"


def _unrendered_emphasis(markdown: str) -> list[str]:
    """Text where * or ** stayed literal: CommonMark does not close "**참조 실행(reference run)**에서", whose closing
    delimiter sits between punctuation and a letter, as Korean particles put it."""
    from markdown_it import MarkdownIt

    found = []
    def walk(tokens):
        for token in tokens:
            walk(token.children or [])
            if token.type == "text" and re.search(r"\*\*|\*[^\s*]", token.content):
                found.append(token.content[:60])
    walk(MarkdownIt("commonmark").enable("table").parse(re.sub("\u27e6\\d+\u27e7", "0", markdown)))
    return found


def test_emphasis_renders_in_the_korean_text():
    found = [f"{store.name} {e.kind} {e.key}: {hit!r}" for store in sorted((ROOT / "cnnbook" / "i18n" / "ko").glob("*.md"))
             for e in parse_entries(store.read_text(encoding="utf-8")) if e.kind in ("markdown", "output", "summary")
             for hit in _unrendered_emphasis(e.text)]
    found += [f"{page.name}: {hit!r}" for page in sorted(KO.glob("*.md"))
              for hit in _unrendered_emphasis(page.read_text(encoding="utf-8"))]
    assert not found, "emphasis that shows its asterisks (end it before the bracket: **용어**(term)에서):\n" + "\n".join(found)


def test_korean_toc_lists_the_english_chapters_in_order():
    def chapters(path):
        return re.findall(r"notebooks/\w+", path.read_text(encoding="utf-8"))

    assert chapters(KO / "_toc.yml") == chapters(ROOT / "_toc.yml")


def test_korean_config_agrees_with_the_english_one():
    en = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    ko = yaml.safe_load((KO / "_config.yml").read_text(encoding="utf-8"))
    for key in ("execute", "launch_buttons", "parse", "only_build_toc_files"):
        assert ko[key] == en[key], key
    assert ko["repository"] == {**en["repository"], "path_to_book": "book/ko"}
    assert ko["sphinx"]["config"]["language"] == "ko"
    shared = {k: v for k, v in en["sphinx"]["config"].items() if k not in ("html_static_path", "html_css_files")}
    assert {k: ko["sphinx"]["config"][k] for k in shared} == shared


PAGES = ["intro", "how_to_use", "notation", "bibliography"]


@pytest.mark.parametrize("page", PAGES)
def test_translated_page_is_in_step(page):
    english = (ROOT / "book" / f"{page}.md").read_text(encoding="utf-8")
    korean = (KO / f"{page}.md").read_text(encoding="utf-8")
    first = korean.splitlines()[0]
    assert first == f"<!-- translates book/{page}.md en:{digest(english)} -->", (
        f"book/ko/{page}.md translates another version of book/{page}.md (its first line: {first!r})")
    heading = re.compile(r"^(#{1,6}) ", re.M)
    assert heading.findall(korean) == heading.findall(english), f"book/ko/{page}.md: headings differ"
    assert re.search(r"[\uac00-\ud7a3]", korean)


# ------------------------------------------------------------------------------------------ the mechanism itself
def test_template_cuts_and_restores_numbers():
    line = "After 2 epochs: 0.308 vs 0.141 (gap +0.168, 1,000 images, conv3-64, 3x3, lr 2e-3, range 0.1-0.3)."
    template, numbers = to_template(line)
    assert numbers == ["2", "0.308", "0.141", "+0.168", "1,000", "64", "2e-3", "0.1", "0.3"]
    assert "conv3-\u27e65\u27e7" in template and "3x3" in template and "\u27e67\u27e7-\u27e68\u27e7" in template
    speed, factors = to_template("4.6x faster, x1.10 wider, 16x16 images")
    assert speed == "\u27e60\u27e7x faster, x\u27e61\u27e7 wider, 16x16 images" and factors == ["4.6", "1.10"]
    assert fill(template, numbers) == line
    with pytest.raises(ValueError, match="slot"):
        fill("\u27e63\u27e7", ["1"])


def test_entries_round_trip_and_bad_files_fail_clearly():
    entries = [Entry("markdown", "abc", "0123456789", "# 제목\n\n본문"), Entry("summary", "abc", None, "> 요약")]
    assert parse_entries(format_entries(entries)) == entries
    with pytest.raises(ValueError, match="before the first entry"):
        parse_entries("stray text\n<!-- markdown abc en:0123456789 -->\nx")


def test_localise_translates_prose_and_keeps_code_and_this_runs_numbers(monkeypatch):
    template, _ = to_template("The CNN reaches 0.5 on 3 seeds.")
    monkeypatch.setattr(i18n, "templates", lambda lang: {digest(template): "CNN은 시드 \u27e61\u27e7개에서 \u27e60\u27e7에 도달합니다."})
    shown = "The CNN reaches 0.731 on 5 seeds.\n\n```python\nx = 1  # stays\n```\n"
    assert localise(shown, "ko") == "CNN은 시드 5개에서 0.731에 도달합니다.\n\n```python\nx = 1  # stays\n```\n"
    assert localise("Another sentence, 1.", "ko") == "Another sentence, 1."  # no translation: the English stays
    assert localise(shown, "en") == shown
    with pytest.raises(ValueError, match="unknown language"):
        i18n.use_language("fr")


def test_a_changed_english_cell_is_named_as_stale():
    path = ROOT / "notebooks" / "05_vgg.ipynb"
    nb = read(path)
    md = next(c for c in nb.cells if c.cell_type == "markdown" and "##" in c.source)
    assert report("05_vgg", nb, "ko").ok
    changed = copy.deepcopy(nb)
    next(c for c in changed.cells if c.id == md.id).source += " One more sentence."
    rep = report("05_vgg", changed, "ko")
    assert not rep.ok
    assert md.id in rep.details() and [u.key for u in rep.missing] == [md.id]
    assert [e.key for e in rep.stale] == [md.id]
    with pytest.raises(ValueError, match=md.id):
        translate(changed, "05_vgg", "ko")


def test_new_numbers_in_an_output_keep_its_translation():
    nb = read(ROOT / "notebooks" / "05_vgg.ipynb")
    cell = next(c for c in nb.cells if c.cell_type == "code" and any("text/markdown" in o.get("data", {}) for o in c.outputs)
                and any(u.kind == "output" and "\u27e60\u27e7" in u.text for u in units({"cells": [c]})))
    output = next(o for o in cell.outputs if "text/markdown" in o.get("data", {}))
    template, numbers = to_template(text(output.data["text/markdown"]))
    output.data["text/markdown"] = fill(template, [str(len(n)) + "7" for n in numbers])
    assert report("05_vgg", nb, "ko").ok


def test_checker_messages_are_translated_and_in_step():
    rep = messages.report("ko")
    assert rep.ok, "\n" + rep.details() + "\nRun `python scripts/translate.py skeleton exercises` and translate."


def test_checkers_answer_in_the_readers_language(capsys):
    from cnnbook.exercises import check

    try:
        i18n.use_language("ko")
        check(None, 1, name="Exercise 2")
        check(3, 4, name="Exercise 2", hint="a 3x3 kernel has 3 * 3 * C_in weights per output channel, plus one bias each.")
        korean = capsys.readouterr().out.splitlines()
    finally:
        i18n.use_language("en")
    check(None, 1, name="Exercise 2")
    assert capsys.readouterr().out == "Exercise 2: not answered yet.\n"
    assert all(re.search(r"[\uac00-\ud7a3]", line) for line in korean), korean
    assert korean[1].count("3") >= 3 and "C_in" in korean[1]
    # What the committed Korean notebooks show is what a Korean reader's run prints.
    assert messages.localise_line("Exercise 2: not answered yet.", "ko") == korean[0]


def test_a_korean_kernel_displays_the_verdicts_in_korean_with_its_own_numbers():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import Markdown

    nb = read(ROOT / "notebooks" / "05_vgg.ipynb")
    english = text(next(o.data["text/markdown"] for c in nb.cells if c.id == "a41f02d9" for o in c.outputs
                        if "text/markdown" in o.get("data", {})))
    template, numbers = to_template(english)
    rerun = fill(template, [n + "7" if "." in n else n for n in numbers])  # another run's numbers
    shell = InteractiveShell.instance()
    try:
        i18n.use_language("ko")
        shown = shell.display_formatter.format(Markdown(rerun))[0]["text/markdown"]
    finally:
        i18n.use_language("en")
    assert re.search(r"[\uac00-\ud7a3]", shown) and not Counter(DIGITS.findall(rerun)) - Counter(DIGITS.findall(shown))
    assert shell.display_formatter.format(Markdown(rerun))[0]["text/markdown"] == rerun  # English again
