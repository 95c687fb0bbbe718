"""The HTML book as a reader meets it: every page of a fresh build, opened in headless Chromium.

The site is served from 127.0.0.1 by a thread of the standard library's http.server, and each page is opened
at a desktop width (1400 px) and a phone width (400 px). A page fails on a console error, a failed request,
any request to a host other than 127.0.0.1 (the book must serve MathJax and the widget manager itself), an
image that did not load, an image drawn wider than its file, a wide notebook figure shrunk on a phone below
0.6 of its width (its labels unreadable), raw Markdown tables or raw TeX in the rendered text, a page wider
than the screen, or a sidebar toggle that does nothing. Search must find a term the book uses. One screenshot
per page and width (and one of the first widget) lands in _build/screenshots/ for a person to look at.

Chromium and ChromeDriver are Debian's (`make browser` installs them as root). Where they are missing the
test fails; CNNBOOK_SKIP_BROWSER=1 skips it on purpose. Every internal link and anchor is checked without a
browser (test_internal_links_and_anchors); external links are only listed, in _build/external_links.txt.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from bookbuild import ROOT, build_book, korean_pages, missing_vendor_files, toc_files

CHROMIUM = Path(os.environ.get("CNNBOOK_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CNNBOOK_CHROMEDRIVER", "/usr/bin/chromedriver"))
SKIP_ENV = "CNNBOOK_SKIP_BROWSER"
SCREENSHOTS = ROOT / "_build" / "screenshots"
WIDTHS = (1400, 400)
SEARCH_TERM = "receptive"
# 패딩 (padding): two syllables, so only the Korean edition's own indexing (book/_ext/editions.py) finds the pages
# that write it with a particle (패딩은, 패딩을).
KOREAN_SEARCH_TERM = "패딩"



PAGES = [*toc_files(), "genindex", "search", *korean_pages(), "ko/genindex", "ko/search"]


# --------------------------------------------------------------------------------------------------- the site
@pytest.fixture(scope="module")
def site():
    """The fresh build, served on 127.0.0.1 by a standard-library HTTP server thread.

    CNNBOOK_SITE=path/to/html opens an existing build instead (e.g. `make book`'s _build/html).
    """
    if os.environ.get("CNNBOOK_SITE"):
        root = Path(os.environ["CNNBOOK_SITE"]).resolve()
    else:
        assert not missing_vendor_files(), (
            f"MathJax and the widget manager are not fetched ({missing_vendor_files()} missing): run `make assets`"
        )
        build = build_book()
        assert (build.html / "index.html").exists(), "the book did not build:\n" + build.log
        root = build.html

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def driver():
    """Debian's Chromium, headless, through its ChromeDriver; a fresh profile; only 127.0.0.1 resolves."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        if os.environ.get(SKIP_ENV) == "1":
            pytest.skip(f"{SKIP_ENV}=1 and {', '.join(missing)} missing")
        pytest.fail(
            f"the browser test needs {', '.join(missing)}: run `make browser` (as root it installs Debian's "
            f"chromium and chromium-driver), or set {SKIP_ENV}=1 to skip it on purpose"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cnnbook-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
        # A request to any other host fails at once (and is reported below) instead of waiting for a network.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    browser.set_page_load_timeout(60)
    browser.set_script_timeout(30)
    yield browser
    browser.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def screenshots():
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    report: dict[str, list[str]] = {}
    yield report
    (SCREENSHOTS / "problems.json").write_text(json.dumps(report, indent=1))


# ------------------------------------------------------------------------------------------ in-page scripts
WAIT_FOR_PAGE = """
const done = arguments[arguments.length - 1];
function settle() {
  const mj = window.MathJax;
  const typeset = mj && mj.startup && mj.startup.promise ? mj.startup.promise : Promise.resolve();
  typeset.then(() => {
    const start = Date.now();
    (function images() {
      const pending = [...document.images].filter(i => !i.complete);
      if (pending.length === 0 || Date.now() - start > 10000) { done(mj && mj.startup ? 'mathjax' : 'none'); }
      else { setTimeout(images, 100); }
    })();
  }, err => done('mathjax failed: ' + err));
}
if (document.readyState === 'complete') { settle(); } else { window.addEventListener('load', settle); }
"""

INSPECT = r"""
const problems = [];
const width = arguments[0];  // the emulated screen's width (a phone may zoom out and widen innerWidth)
for (const img of document.images) {
  if (img.naturalWidth === 0) problems.push('image did not load: ' + (img.currentSrc || img.src));
}
// A figure is never blown up past its pixels, and on a phone a wide one (a row of panels with 9-point labels)
// is not shrunk until its text is unreadable (book/assets/figures.js lets it scroll instead). An explorer's
// picture is left out: its widget shows it at half its pixels, for high-density screens.
for (const img of document.images) {
  const drawn = img.getBoundingClientRect().width;
  if (img.naturalWidth === 0 || drawn === 0) continue;
  const name = (img.currentSrc || img.src).split(/[/?#]/).filter(Boolean).pop();
  if (drawn > img.naturalWidth + 1) {
    problems.push(`image drawn wider than its file: ${name} is ${Math.round(drawn)} px wide on screen, `
                  + `${img.naturalWidth} px in the file`);
  }
  if (width < 600 && img.naturalWidth >= 700 && drawn < 0.6 * img.naturalWidth && img.closest('.cell_output')
      && !img.closest('.jupyter-widgets, .widget-subarea')) {
    problems.push(`notebook figure too small to read at ${width} px: ${name} is drawn ${Math.round(drawn)} px `
                  + `wide, under 0.6 x its ${img.naturalWidth} px`);
  }
}
const mathNodes = [...document.querySelectorAll('span.math, div.math')];
const unrendered = mathNodes.filter(el => !el.querySelector('mjx-container'));
if (unrendered.length) {
  problems.push(`${unrendered.length} of ${mathNodes.length} maths expressions not rendered by MathJax, e.g. `
                + JSON.stringify(unrendered[0].textContent.slice(0, 60)));
}
const copy = document.body.cloneNode(true);
copy.querySelectorAll('pre, code, script, style, textarea, svg, mjx-container, .highlight, dialog, '
                      + '[type="application/vnd.jupyter.widget-state+json"]').forEach(el => el.remove());
const text = copy.textContent;
// A table's separator row; the typographer may have turned its --- into an em or en dash.
const table = text.match(/\|\s*:?(-{3,}|[\u2013\u2014]-*):?\s*\|/);
if (table) problems.push('raw Markdown table in the text: ' + JSON.stringify(text.substr(Math.max(0, table.index - 60), 120)));
const tex = text.match(/\$\$|\\(frac|begin\{|end\{|sum_|times|cdot|mathrm|mathbf|left[(\[|]|right[)\]|]|lfloor|rfloor|sqrt|text\{)/);
if (tex) problems.push('raw TeX in the text: ' + JSON.stringify(text.substr(Math.max(0, tex.index - 40), 100)));
const scrollWidth = Math.max(document.scrollingElement.scrollWidth, window.innerWidth);
if (scrollWidth > width) {
  // Name the elements that stick out and are not inside a box that scrolls or clips them.
  const culprits = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right <= width + 1 || r.width === 0) continue;
    if (r.left <= 0 && r.width >= scrollWidth - 1) continue;  // stretches with the page, not its cause
    let clipped = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox !== 'visible') { clipped = true; break; }
    }
    if (clipped) continue;
    if ([...el.children].some(c => c.getBoundingClientRect().right > width + 1)) continue;  // report the innermost
    culprits.push(el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '')
                  + ' ' + JSON.stringify((el.textContent || '').trim().slice(0, 50)));
    if (culprits.length >= 3) break;
  }
  problems.push(`page is ${scrollWidth} px wide at ${width} px: ` + culprits.join('; '));
}
return problems;
"""

# Hangul drawn in the page's own font: a syllable that draws the same pixels as an unassigned code point (or as
# another syllable) is a missing-glyph box ("tofu"). This machine has no Korean system font, so the Korean pages
# pass only with the web font the edition serves.
HANGUL = r"""
const done = arguments[arguments.length - 1];
const main = document.querySelector('main') || document.body;
if (!/[\uac00-\ud7a3]/.test(main.innerText)) { done('no Hangul in the page'); return; }
// Text, headings, and code or outputs each have their own font stack: check one element of each with Hangul.
const elements = ['p', 'h1, h2, h3', 'pre'].map(sel => [...main.querySelectorAll(sel)]
  .find(e => /[\uac00-\ud7a3]/.test(e.textContent))).filter(Boolean);
const canvas = document.createElement('canvas');
canvas.width = 120; canvas.height = 60;
const g = canvas.getContext('2d');
Promise.all(elements.map(e => document.fonts.load(`40px ${getComputedStyle(e).fontFamily}`, '\ud55c\uae00'))).then(() => {
  const problems = [];
  for (const e of elements) {
    const font = `40px ${getComputedStyle(e).fontFamily}`;
    const draw = (text) => { g.clearRect(0, 0, 120, 60); g.font = font; g.fillText(text, 10, 45);
                             return g.getImageData(0, 0, 120, 60).data.join(','); };
    const han = draw('\ud55c'), geul = draw('\uae00'), missing = draw('\u0378');
    if (han === missing || han === geul) problems.push(`Hangul in <${e.tagName.toLowerCase()}> draws as missing-glyph boxes`);
  }
  done(problems.length ? problems.join('; ') : 'ok');
}, (err) => done(`the font did not load: ${err}`));
"""

NAV_SHOWN = """
// Is the chapter list on screen and not covered? (On a phone the theme moves it into a modal dialog.)
const navs = [...document.querySelectorAll('nav.bd-docs-nav')];
if (navs.length === 0) return null;
return navs.some(nav => {
  const r = nav.getBoundingClientRect();
  if (r.width < 100 || r.height < 20 || r.right < 50 || r.left > window.innerWidth - 50 || r.bottom < 0) return false;
  const x = Math.min(Math.max(r.left, 0) + 40, window.innerWidth - 1);
  const y = Math.min(Math.max(r.top, 0) + 10, window.innerHeight - 1);
  const hit = document.elementFromPoint(x, y);
  return !!hit && nav.contains(hit);
});
"""

VISIBLE_TOGGLES = """
return [...document.querySelectorAll('.primary-toggle')].filter(b => {
  const r = b.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && getComputedStyle(b).visibility !== 'hidden';
});
"""


# --------------------------------------------------------------------------------------------------- helpers
def _set_width(browser, width: int) -> None:
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def _drain_logs(browser) -> tuple[list[str], list[str]]:
    """Console errors and request problems logged since the last call."""
    console = [
        entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"
    ]
    requests, failures = {}, []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message["method"], message.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            requests[params["requestId"]] = url
            parts = urlsplit(url)
            if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != "127.0.0.1":
                failures.append(f"request to another host: {url}")
        elif method == "Network.responseReceived":
            status = params["response"]["status"]
            if status >= 400:
                failures.append(f"HTTP {status}: {params['response']['url']}")
        elif method == "Network.loadingFailed":
            url = requests.get(params["requestId"], "?")
            if urlsplit(url).hostname == "127.0.0.1" or url == "?":
                failures.append(f"request failed ({params.get('errorText')}): {url}")
    return console, failures


def _slug(page: str) -> str:
    return page.replace("/", "_")


# ------------------------------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", PAGES)
def test_page_in_browser(site, driver, screenshots, page, width):
    html, base = site
    _set_width(driver, width)
    _drain_logs(driver)
    driver.get(urljoin(base, f"{page}.html"))
    state = driver.execute_async_script(WAIT_FOR_PAGE)
    problems = [] if state in ("mathjax", "none") else [state]
    driver.save_screenshot(str(SCREENSHOTS / f"{_slug(page)}-{width}.png"))
    widget = driver.execute_script("return document.querySelector('.jupyter-widgets, .widget-subarea');")
    if widget is not None:
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", widget)
        time.sleep(0.3)
        driver.save_screenshot(str(SCREENSHOTS / f"{_slug(page)}-{width}-widget.png"))
        driver.execute_script("window.scrollTo(0, 0);")
    problems += driver.execute_script(INSPECT, width)
    hangul = driver.execute_async_script(HANGUL)  # an English page's only Hangul is its link to the Korean twin
    if hangul != "ok" and (page.startswith("ko/") or hangul != "no Hangul in the page"):
        problems.append(hangul)

    # Each visible sidebar toggle: at 400 px it must show the hidden chapter list; at 1400 px it must change
    # whether the list shows (the book theme collapses it). Afterwards the page is put back as it was.
    before = driver.execute_script(NAV_SHOWN)
    if before is not None:
        toggles = driver.execute_script(VISIBLE_TOGGLES)
        if not toggles:
            problems.append("no visible sidebar toggle")
        for toggle in toggles:
            where = driver.execute_script("return arguments[0].closest('header') ? 'top-bar' : 'article-header';", toggle)
            toggle.click()
            after, deadline = before, time.time() + 3
            while time.time() < deadline:
                after = driver.execute_script(NAV_SHOWN)
                if (width < 600 and after) or (width >= 600 and after != before):
                    break
                time.sleep(0.1)
            if width < 600 and not after:
                problems.append(f"the {where} sidebar toggle does not open the sidebar")
            elif width >= 600 and after == before:
                problems.append(f"the {where} sidebar toggle does nothing")
            driver.execute_script("document.querySelectorAll('dialog[open]').forEach(d => d.close());")
            if driver.execute_script(NAV_SHOWN) != before:
                toggle.click()
                time.sleep(0.3)

    console, requests = _drain_logs(driver)
    problems += [f"console error: {m}" for m in console] + requests
    if problems:
        screenshots[f"{page}@{width}"] = problems
    assert not problems, f"{page}.html at {width} px:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("edition, term", [("", SEARCH_TERM), ("ko/", KOREAN_SEARCH_TERM)])
def test_search_finds_a_term_the_book_uses(site, driver, edition, term):
    _, base = site
    _set_width(driver, 1400)
    driver.get(urljoin(base, f"{edition}search.html?q={term}"))
    hits, deadline = 0, time.time() + 30
    while time.time() < deadline:
        hits, finished = driver.execute_script(
            "const r = document.querySelectorAll('#search-results ul.search li');"
            "const s = document.querySelector('#search-results');"
            "return [r.length, !!s && /Search finished|did not match|검색이 완료|일치하는 문서가 없/i.test(s.textContent)];"
        )
        if hits or finished:
            break
        time.sleep(0.2)
    assert hits > 0, f"searching the {edition or 'English '}book for {term!r} found nothing"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag in ("img", "script") and attrs.get("src"):
            self.links.append(attrs["src"])
        elif tag == "link" and attrs.get("href") and attrs.get("rel") != "canonical":
            self.links.append(attrs["href"])


def test_internal_links_and_anchors():
    """Every internal link and anchor of the built site resolves; external links are listed, not fetched."""
    build = build_book()
    html = build.html
    assert (html / "index.html").exists(), build.log
    pages = [p for p in html.rglob("*.html") if not any(part.startswith("_") for part in p.relative_to(html).parts)]
    parsed = {}
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        parsed[page] = parser
    broken, external = [], set()
    for page, parser in parsed.items():
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https"):
                external.add(link)
                continue
            if parts.scheme or link.startswith("//"):  # mailto:, javascript:, data: ...
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if html.resolve() not in target.parents and target != html.resolve():
                broken.append(f"{page.relative_to(html)}: {link} leaves the site")
                continue
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(html)}: {link} (no such file)")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _ids_of(target)
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(html)}: {link} (no anchor #{parts.fragment})")
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "external_links.txt").write_text("".join(f"{url}\n" for url in sorted(external)))
    assert not broken, f"{len(broken)} broken internal links:\n  " + "\n  ".join(sorted(set(broken))[:50])


def _ids_of(path: Path) -> set[str]:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.ids
