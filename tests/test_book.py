"""The HTML book builds from the committed notebooks with every Sphinx warning treated as an error."""
import json
import posixpath
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from bookbuild import ROOT, VENDOR_FILES, build_book, korean_pages, missing_vendor_files, toc_files
from test_dev_talk import html_hits



def test_every_notebook_is_in_the_toc_and_every_toc_entry_exists():
    listed = set(toc_files())
    for path in listed:
        assert (ROOT / f"{path}.md").exists() or (ROOT / f"{path}.ipynb").exists(), path
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert f"notebooks/{nb.stem}" in listed, f"{nb.name} is not in _toc.yml"


def test_exercise_solutions_stay_collapsed_in_jupyterlab_and_colab_too():
    # the hide-cell tag folds a solution on the web page only; jupyter.source_hidden folds it in the notebook itself
    import json

    open_solutions = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            meta = cell.get("metadata", {})
            if "hide-cell" in meta.get("tags", []) and not meta.get("jupyter", {}).get("source_hidden"):
                open_solutions.append(f"{nb.name} cell {i}")
    assert not open_solutions, "hide-cell without jupyter.source_hidden: " + ", ".join(open_solutions)


def test_a_folded_solution_shows_no_answer_in_its_one_visible_line():
    # JupyterLab shows the first line of a collapsed cell: in the exercises it is "# Solution", nothing more.
    telling = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        in_exercises = False
        for cell in json.loads(nb.read_text())["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                for title in re.findall(r"^## (.*)$", text, re.M):
                    in_exercises = title.strip().lower().startswith("exercises")
            elif in_exercises and "hide-cell" in cell["metadata"].get("tags", []) and text.split("\n")[0] != "# Solution":
                telling.append(f"{nb.name} cell {cell['id']}: {text.splitlines()[0][:60]!r}")
    assert not telling, "a solution whose first line is more than '# Solution':\n" + "\n".join(telling)


def test_notebook_markdown_reads_in_jupyterlab_and_colab_too():
    # JupyterLab and Colab render Markdown cells as CommonMark: MyST roles and directives would show as raw markup.
    # Citations are links, [He et al., 2016](#cite:he2016deep), that the book's Sphinx extension turns back into
    # citations; scripts/plain_markdown.py --write rewrites MyST syntax into these forms.
    sys.path.insert(0, str(ROOT / "scripts"))
    from plain_markdown import bibliography, plain, titles

    labels, chapters = bibliography(), titles()
    raw, unknown = [], []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and plain(text, labels, chapters) != text:
                raw.append(f"{nb.name} cell {i}")
            shown = text if cell["cell_type"] == "markdown" else "".join(
                "".join(out.get("data", {}).get("text/markdown", "")) for out in cell.get("outputs", []))
            for match in re.finditer(r"\(#cite:(?:[pt]:)?([^)]+)\)", shown):
                unknown += [f"{nb.name} cell {i}: {k}" for k in match.group(1).split(",") if k not in labels]
    assert not raw, "MyST-only markup (run scripts/plain_markdown.py --write): " + ", ".join(raw)
    assert not unknown, "citations of keys that book/references.bib lacks: " + ", ".join(unknown)


def test_checks_are_folded_out_of_the_lesson():
    # Asserts that end a shown code cell pin its numbers: they live in a collapsed cell right after it.
    sys.path.insert(0, str(ROOT / "scripts"))
    from fold_checks import foldable, split_checks

    unfolded = [f"{nb.name} cell {i}" for nb in sorted((ROOT / "notebooks").glob("*.ipynb"))
                for i, cell in enumerate(json.loads(nb.read_text())["cells"])
                if foldable(cell) and split_checks("".join(cell["source"])) is not None]
    assert not unfolded, "trailing asserts in a shown cell (run scripts/fold_checks.py --write): " + ", ".join(unfolded)


def test_every_setup_cell_is_collapsed_on_the_page_and_in_jupyterlab():
    # The first code cell (install line, imports, seed) is plumbing: the reader meets the idea first.
    open_setup = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        first = next(c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        meta = first.get("metadata", {})
        if "hide-input" not in meta.get("tags", []) or not meta.get("jupyter", {}).get("source_hidden"):
            open_setup.append(nb.name)
    assert not open_setup, "setup cell not collapsed (hide-input tag and jupyter.source_hidden): " + ", ".join(open_setup)


def test_every_shown_source_reaches_the_page():
    # show_source returns a Markdown block, and a cell displays only its last expression: a show_source call
    # anywhere else must be wrapped in display(...), or the source it promises never reaches the page.
    import ast

    lost = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            if cell["cell_type"] != "code":
                continue
            lines = "".join(cell["source"]).split("\n")  # an IPython magic line becomes `pass`, at its indentation
            code = "\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                             else line for line in lines)
            body = ast.parse(code).body
            lost += [f"{nb.name} cell {i}" for node in body[:-1] if isinstance(node, ast.Expr)
                     and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "show_source"]
    assert not lost, "show_source(...) that is not its cell's last line, without display(...): " + ", ".join(lost)


def test_every_notebook_names_the_kernel_jupyterlab_names():
    # JupyterLab rewrites a kernelspec whose display name differs from the installed kernel's, so a notebook
    # saved with another name opens as modified before the reader has touched it.
    installed = json.loads((Path(sys.prefix) / "share" / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    wrong = [nb.name for nb in sorted((ROOT / "notebooks").glob("*.ipynb"))
             if json.loads(nb.read_text())["metadata"].get("kernelspec") !=
             {"display_name": installed["display_name"], "language": "python", "name": "python3"}]
    assert not wrong, f"kernelspec other than {installed['display_name']!r}: " + ", ".join(wrong)


def test_book_builds_without_warnings():
    # The same build the browser test opens (tests/bookbuild.py builds it once per run).
    build = build_book()
    assert build.returncode == 0, build.log
    html = build.html
    assert (html / "index.html").exists() and (html / "ko" / "index.html").exists()
    for path in [*toc_files(), *korean_pages()]:
        assert (html / f"{path}.html").exists(), f"{path}.html was not rendered"


def test_a_caption_belongs_to_a_figure_not_to_a_table_beside_it():
    # A cell that shows a results table and then plots it has one caption, under the plot.
    build = build_book()
    wrapped = []
    for path in [*toc_files(), *korean_pages()]:
        page = (build.html / f"{path}.html").read_text(encoding="utf-8")
        for figure in re.findall(r"<figure\b.*?</figure>", page, re.S):
            if "<img" not in figure:
                wrapped.append(f"{path}: {re.sub(r'<[^>]+>', ' ', figure)[:80].split()}")
    assert not wrapped, "a figure (with its caption and number) around something that is no image: " + "; ".join(wrapped)


def test_a_cell_that_draws_several_images_is_one_figure_with_one_caption():
    build = build_book()
    repeated = []
    for path in [*toc_files(), *korean_pages()]:
        page = (build.html / f"{path}.html").read_text(encoding="utf-8")
        figures = list(re.finditer(r"<figure\b.*?</figure>", page, re.S))
        for a, b in zip(figures, figures[1:]):
            caption = [re.search(r'<span class="caption-text">(.*?)</span>', f.group(0), re.S) for f in (a, b)]
            if not page[a.end():b.start()].strip() and all(caption) and caption[0].group(1) == caption[1].group(1):
                repeated.append(f"{path}: {caption[0].group(1)[:60]}")
    assert not repeated, "figures in a row with the same caption (one figure per image): " + "; ".join(repeated)
    lenet = (build.html / "notebooks" / "03_lenet.html").read_text(encoding="utf-8")
    merged = [f for f in re.findall(r"<figure\b.*?</figure>", lenet, re.S) if "six C1 maps and its sixteen C3" in f]
    assert len(merged) == 1 and merged[0].count("<img") == 3


def test_maths_and_widgets_are_served_by_the_site():
    assert not missing_vendor_files(), f"run `make assets` (missing under book/assets/npm: {missing_vendor_files()})"
    build = build_book()
    static = build.html / "_static" / "npm"
    for name in VENDOR_FILES:
        assert (static / name).is_file(), f"{name} was not copied into the site"
    page = (build.html / "notebooks" / "01_convolution.html").read_text()
    assert "cdn.jsdelivr.net" not in page and "cdnjs.cloudflare.com" not in page


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alts: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            found = dict(attrs)
            self.alts.append((found.get("src") or "", found.get("alt")))


def test_every_figure_has_alt_text_that_describes_it():
    # myst-nb falls back to the image's file path; a screen-reader user needs words (cell metadata mystnb.image.alt).
    build = build_book()
    problems = []
    for path in [*toc_files(), *korean_pages()]:
        parser = _Images()
        parser.feed((build.html / f"{path}.html").read_text(encoding="utf-8"))
        for src, alt in parser.alts:
            if "logo" in src or "favicon" in src:
                continue
            text = (alt or "").strip()
            if len(text) < 10 or text.endswith((".png", ".svg", ".jpg")) or "_images" in text or text == src:
                problems.append(f"{path}: {src} has alt {alt!r}")
    assert not problems, "\n".join(problems)


def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


@pytest.mark.parametrize("edition", ["en", "ko"])
def test_every_chapter_has_its_launch_buttons_and_the_repository_button(edition):
    # jupyter-book turns `repository` and `launch_buttons` into theme options; `sphinx.config.html_theme_options`
    # replaces them unless `sphinx.recursive_update` is on, and then every button silently vanishes. The Korean
    # chapters launch the Korean notebooks (book/ko/notebooks) on Colab and Binder.
    config = _config() if edition == "en" else yaml.safe_load((ROOT / "book" / "ko" / "_config.yml").read_text())
    repository, launch = config["repository"], config["launch_buttons"]
    url, branch = repository["url"].rstrip("/"), repository.get("branch", "main")
    prefix = repository.get("path_to_book", "").strip("/")
    prefix = f"{prefix}/" if prefix else ""
    org_repo = urlsplit(url).path.strip("/")
    colab, binder = launch["colab_url"].rstrip("/"), launch["binderhub_url"].rstrip("/")
    build = build_book()
    site = build.html if edition == "en" else build.html / "ko"
    chapters = [path for path in toc_files() if path.startswith("notebooks/")]
    assert chapters
    problems = []
    for path in chapters:
        parser = _Hrefs()
        parser.feed((site / f"{path}.html").read_text(encoding="utf-8"))
        notebook = f"{prefix}{path}.ipynb"
        assert (ROOT / notebook).exists(), notebook
        if f"{colab}/github/{org_repo}/blob/{branch}/{notebook}" not in parser.hrefs:
            problems.append(f"{path}: no Colab launch link for {notebook}")
        if not any(h.startswith(f"{binder}/v2/gh/{org_repo}/{branch}?") and h.endswith(notebook) for h in parser.hrefs):
            problems.append(f"{path}: no Binder launch link for {notebook}")
        if url not in parser.hrefs:
            problems.append(f"{path}: no repository button ({url})")
    assert not problems, "\n".join(problems)


def test_each_page_links_to_its_twin_in_the_other_edition():
    build = build_book()
    missing = []
    for en, ko in [("book/intro", "ko/intro"), *((p, f"ko/{p}") for p in toc_files() if p.startswith("notebooks/"))]:
        for page, twin in ((en, ko), (ko, en)):
            parser = _Hrefs()
            parser.feed((build.html / f"{page}.html").read_text(encoding="utf-8"))
            target = posixpath.relpath(f"{twin}.html", posixpath.dirname(page))
            if target not in parser.hrefs:
                missing.append(f"{page}.html has no link {target}")
    assert not missing, "\n".join(missing)


def test_built_pages_have_no_development_talk():
    # The patterns of tests/test_dev_talk.py, on the text of every page of the same build (scripts and
    # attributes left out): what the notebooks and pages hold, and what the build adds around them.
    build = build_book()
    found = html_hits(build.html)
    assert not found, "development talk in the built book:\n  " + "\n  ".join(found)


def test_the_repository_url_is_one_value():
    # _config.yml's repository (the launch and repository buttons), pyproject.toml's URLs, the README and the
    # install line in every notebook's first code cell name the same repository.
    url = _config()["repository"]["url"].rstrip("/")
    owner = urlsplit(url).path.strip("/").split("/")[0]
    pyproject = (ROOT / "pyproject.toml").read_text()
    table = re.search(r"^\[project\.urls\]\n(.*?)(?=^\[|\Z)", pyproject, re.MULTILINE | re.DOTALL)
    urls = re.findall(r'^\s*([\w"-]+)\s*=\s*"([^"]*)"', table.group(1), re.MULTILINE) if table else []
    assert urls, "pyproject.toml has no [project.urls]"
    for name, value in urls:
        assert value.rstrip("/") == url, f"pyproject.toml's {name} URL {value} is not _config.yml's {url}"
    readme = (ROOT / "README.md").read_text()
    assert url in readme, f"the README does not name the repository {url}"
    texts = {"README.md": readme, "pyproject.toml": pyproject}
    texts.update({str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / "book").glob("*.md"))})
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        first = next(("".join(c["source"]) for c in cells if c["cell_type"] == "code"), "")
        installs = re.findall(r"git\+(https?://[^\s\"'@]+)", first)
        assert installs, f"{nb.name}: the first code cell installs no package from the repository"
        for found in installs:
            assert found.rstrip("/") == url, f"{nb.name}: the first code cell installs from {found}, not {url}"
        texts[nb.name] = "".join("".join(c["source"]) for c in cells)
    # No other spelling of the book's own repository anywhere (a renamed repository left behind somewhere).
    own = re.compile(rf"github\.com/{re.escape(owner)}/[\w.-]+", re.IGNORECASE)
    for name, text in texts.items():
        for match in own.finditer(text):
            assert f"https://{match.group(0)}".removesuffix(".git") == url, f"{name} names {match.group(0)}, not {url}"


def test_the_intro_states_the_reference_runs_cpu_time():
    # book/intro.md says how long the reference runs took: the sum of their records' CPU seconds, in hours.
    seconds = sum(json.loads(path.read_text())["meta"]["seconds"]
                  for path in (ROOT / "cnnbook" / "benchmarks").glob("*.json"))
    stated = re.search(r"reference runs took about\s+(\d+)\s+hours of CPU time", (ROOT / "book" / "intro.md").read_text())
    assert stated, "book/intro.md no longer says how long the reference runs took"
    assert int(stated.group(1)) == round(seconds / 3600), f"the records hold {seconds / 3600:.2f} CPU hours"
