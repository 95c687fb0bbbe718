"""The notebooks as a student opens them: JupyterLab, driven by headless Chromium (Debian's, as in test_browser).

A fresh JupyterLab serves copies of a few chapters; each is opened the way a reader opens it (untrusted, no cell
run), and the test reads what JupyterLab shows through its own application object. A chapter fails when opening
it marks it modified, when a Markdown cell shows raw MyST markup (a citation or chapter role, a directive), when
the cells collapsed on screen are not exactly those the notebook marks collapsed (every exercise solution and
every folded check among them), or when an explorer shows neither itself nor its "run this cell" line.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from bookbuild import ROOT
from test_browser import driver  # noqa: F401  (the same headless Chromium fixture)

# name in the lab's folder -> the notebook; the Korean twin of 07 opens as it reads on the Korean site
NOTEBOOKS = {"01_convolution": ROOT / "notebooks" / "01_convolution.ipynb",
             "07_resnet": ROOT / "notebooks" / "07_resnet.ipynb",
             "13_unet": ROOT / "notebooks" / "13_unet.ipynb",
             "ko_07_resnet": ROOT / "book" / "ko" / "notebooks" / "07_resnet.ipynb"}
CHAPTERS = tuple(NOTEBOOKS)
RAW_MYST = ("{cite}", "{doc}", "](#cite:", "```{", ":::{")

READY = """
const app = window.jupyterapp;
const w = app && app.shell.currentWidget;
if (!w || !w.context || !w.context.isReady || !w.content || !w.content.widgets) return 0;
return w.context.path === arguments[0] ? w.content.widgets.length : 0;
"""
STATE = """
const w = window.jupyterapp.shell.currentWidget;
return {dirty: w.context.model.dirty, cells: w.content.widgets.map(c => ({
  type: c.model.type, hidden: c.inputHidden,
  text: c.model.type === 'markdown' ? c.node.innerText : '',
  output: c.model.type === 'code' ? (c.node.querySelector('.jp-OutputArea') || {innerText: ''}).innerText : '',
  details: c.model.type === 'code' ? [...c.node.querySelectorAll('.jp-OutputArea details')].map(d => d.open) : []}))};
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab():
    """JupyterLab on 127.0.0.1 over a temporary copy of the chapters, with every cell of a notebook rendered."""
    work = Path(tempfile.mkdtemp(prefix="cnnbook-lab-"))
    for name, path in NOTEBOOKS.items():
        shutil.copy(path, work / f"{name}.ipynb")
    settings = work / ".settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # JupyterLab renders only the cells near the viewport by default; the test reads them all.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(work / ".settings"), JUPYTER_RUNTIME_DIR=str(work / ".runtime"))
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.expose_app_in_browser=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(work / "lab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not start:\n" + (work / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield url, token, work
    server.terminate()
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()
    shutil.rmtree(work, ignore_errors=True)


def _open(driver, lab, name: str) -> dict:
    url, token, _ = lab
    driver.set_page_load_timeout(300)  # JupyterLab's bundle on a busy two-core machine
    driver.get(f"{url}/lab/tree/{name}.ipynb?reset&token={token}")  # reset: no tabs restored from before
    deadline = time.time() + 300
    while not driver.execute_script(READY, f"{name}.ipynb"):
        assert time.time() < deadline, f"{name} did not open in JupyterLab within 300 s"
        time.sleep(0.5)
    time.sleep(2)  # anything that would mark the notebook modified has happened by now
    return driver.execute_script(STATE)


@pytest.mark.parametrize("name", CHAPTERS)
def test_a_chapter_opens_in_jupyterlab_as_it_reads_on_the_page(driver, lab, name):  # noqa: F811
    state = _open(driver, lab, name)
    cells = json.loads(NOTEBOOKS[name].read_text(encoding="utf-8"))["cells"]
    assert len(state["cells"]) == len(cells)
    assert not state["dirty"], f"{name} opens as modified"
    raw = [f"cell {i}: {c['text'][:80]!r}" for i, c in enumerate(state["cells"])
           if any(mark in c["text"] for mark in RAW_MYST)]
    assert not raw, f"raw MyST markup shows in JupyterLab: {raw}"
    expected = [i for i, c in enumerate(cells) if c["metadata"].get("jupyter", {}).get("source_hidden")]
    shown_hidden = [i for i, c in enumerate(state["cells"]) if c["hidden"]]
    assert shown_hidden == expected
    solutions = [i for i, c in enumerate(cells) if "hide-cell" in c["metadata"].get("tags", [])]
    assert set(solutions) <= set(shown_hidden), "an exercise solution can be read without a click"
    if name == "01_convolution":  # an untrusted notebook cannot show the widget: its line says what to do
        assert any("run this cell" in c["output"] for c in state["cells"])
    if name.startswith("ko_"):  # the Korean twin reads in Korean
        assert sum(bool(re.search("[\uac00-\ud7a3]", c["text"])) for c in state["cells"]) > len(cells) // 3
    if name.endswith("07_resnet"):  # a class cut to its idea, the whole class folded under it
        folds = [d for c in state["cells"] for d in c["details"]]
        assert folds and not any(folds)
