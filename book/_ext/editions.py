"""The book's two editions, English (the repository's root) and Korean (book/ko, served under ko/).

- Each page links to its twin in the other edition, at the top of the page and as ``<link rel="alternate">``.
  English ``book/X`` is Korean ``X``; a chapter ``notebooks/N`` has the same name in both.
- Sphinx has no Korean search: it indexes whole space-separated words, and a Korean word carries its particles
  (합성곱은, 합성곱을), so a search for 합성곱 found only a page that wrote it bare. The Korean edition indexes every
  Hangul word with its leading parts of two syllables or more (합성, 합성곱, 합성곱은), so a term finds each page
  that uses it, whatever particle follows.
- Hangul needs a font: the Korean pages fall back to NanumGothic (SIL Open Font License 1.1), served from
  _static/fonts, cut from the copy in the koreanize-matplotlib wheel, where the reader's system has no Korean
  font.
"""
from __future__ import annotations

import importlib.util
import logging
import re
from pathlib import Path

import yaml
from sphinx.search import SearchLanguage

ROOT = Path(__file__).resolve().parents[2]
TOCS = {"en": ROOT / "_toc.yml", "ko": ROOT / "book" / "ko" / "_toc.yml"}
LABELS = {"en": ("English", "en"), "ko": ("한국어 (Korean)", "ko")}
HANGUL_WORD = re.compile(r"[\uac00-\ud7a3]{3,}")
HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")


def toc_files(toc_path: Path) -> list[str]:
    """Every page a table of contents lists (its root first), as paths without the extension."""
    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                yield node["file"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    return [toc["root"], *walk(toc.get("parts", [])), *walk(toc.get("chapters", []))]


def toc_pages(lang: str) -> set[str]:
    return set(toc_files(TOCS[lang]))


def twin(pagename: str, lang: str) -> str | None:
    """The other edition's page name for ``pagename`` of edition ``lang``, where that page exists."""
    other = "ko" if lang == "en" else "en"
    if pagename in ("genindex", "search"):
        return pagename
    if lang == "en":
        name = pagename[len("book/"):] if pagename.startswith("book/") else pagename
    else:
        name = pagename if pagename.startswith("notebooks/") else f"book/{pagename}"
    return name if name in toc_pages(other) else None


def twin_url(pagename: str, lang: str) -> str | None:
    name = twin(pagename, lang)
    if name is None:
        return None
    up = "../" * pagename.count("/")
    return f"{up}ko/{name}.html" if lang == "en" else f"{up}../{name}.html"


def add_twin_link(app, pagename, templatename, context, doctree) -> None:
    lang = app.config.edition_language
    url = twin_url(pagename, lang)
    if url is None or "body" not in context:
        return
    label, code = LABELS["ko" if lang == "en" else "en"]
    context["body"] = (f'<p class="edition-link"><a href="{url}" hreflang="{code}" lang="{code}">{label}</a></p>\n'
                       + context["body"])
    context["metatags"] = context.get("metatags", "") + f'\n<link rel="alternate" hreflang="{code}" href="{url}" />'


class SearchKorean(SearchLanguage):
    """Sphinx's default splitter, plus each Hangul word's leading parts (see the module's docstring)."""
    lang = "ko"
    language_name = "Korean"

    def split(self, input: str) -> list[str]:
        words = super().split(input)
        extra = [w[:n] for w in words if HANGUL_WORD.fullmatch(w) for n in range(2, len(w))]
        return words + extra

    def stem(self, word: str) -> str:
        return word.lower()


def hangul_font(app, exception) -> None:
    """Serve NanumGothic cut to the Hangul the site uses (about 200 KB instead of 4.7 MB), as WOFF: in the English
    edition only the three syllables of the link to the Korean one.

    The subset also drops the font's empty VTT hinting tables (TSI0-TSI5), which Chromium's font sanitiser rejects
    ("OTS parsing error: TSI3: zero-length table"), leaving Hangul as missing-glyph boxes.
    """
    if exception is not None or app.builder.format != "html":
        return
    from fontTools import subset

    spec = importlib.util.find_spec("koreanize_matplotlib")  # found, not imported: importing it restyles matplotlib
    if spec is None or spec.origin is None:
        raise RuntimeError("the Korean edition needs koreanize-matplotlib's NanumGothic (requirements.txt)")
    outdir = Path(app.outdir)
    used: set[str] = set()
    for path in [*outdir.rglob("*.html"), *outdir.joinpath("_static").rglob("*.js")]:
        used |= set(HANGUL.findall(path.read_text(encoding="utf-8", errors="ignore")))
    options = subset.Options()
    options.flavor = "woff"
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
    font = subset.load_font(str(Path(spec.origin).parent / "fonts" / "NanumGothic.ttf"), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in used))
    subsetter.subset(font)
    target = outdir / "_static" / "fonts"
    target.mkdir(parents=True, exist_ok=True)
    subset.save_font(font, str(target / "NanumGothic.woff"), options)


def setup(app):
    app.add_config_value("edition_language", "en", "html")
    app.add_search_language(SearchKorean)
    app.connect("config-inited", lambda app, config: setattr(config, "edition_language", config.language or "en"))
    app.connect("html-page-context", add_twin_link)
    app.connect("build-finished", hangul_font)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
