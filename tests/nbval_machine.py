"""pytest plugin: compare a notebook's printed outputs only where they can repeat.

A chapter's committed outputs come from one torch version on one CPU code path (stored in the notebook's
metadata as ``cnnbook.executed_with`` by ``scripts/bench_notebooks.py --write``). Another processor rounds the
same training differently, so there nbval cannot expect the same digits: every cell still runs and every
assertion in it (the chapter's claims, stated as ranges that hold across seeds) still has to hold, but the
printed outputs are not compared, and the run says so in its header and summary. ``make execute`` on that
machine commits its own outputs, after which they are compared again.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnbook.env import executed_with

STAMP_KEY = "executed_with"


def notebook_stamp(notebook: dict) -> str | None:
    """What the notebook's committed outputs were computed with (None when it does not say)."""
    return notebook.get("metadata", {}).get("cnnbook", {}).get(STAMP_KEY)


def _foreign(stamp: str | None, here: str) -> bool:
    """Whether outputs stamped `stamp` may differ here. The same torch on the same processor is not foreign even
    with other pins: there the outputs are compared, so that a chapter executed without them fails loudly."""
    if stamp is None:
        return True
    torch_of = lambda s: s.split(",", 1)[0]  # noqa: E731
    processor_of = lambda s: s.rsplit(" on ", 1)[-1]  # noqa: E731
    return (torch_of(stamp), processor_of(stamp)) != (torch_of(here), processor_of(here))


def foreign_notebooks(paths: list[Path], here: str) -> dict[Path, str | None]:
    """The notebooks among `paths` whose outputs were computed with another torch or on another processor."""
    stamps = {p: notebook_stamp(json.loads(p.read_text(encoding="utf-8"))) for p in paths}
    return {p: s for p, s in stamps.items() if _foreign(s, here)}


def _notebooks(config: pytest.Config) -> list[Path]:
    return sorted((config.rootpath / "notebooks").glob("*.ipynb"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not config.getoption("nbval", default=False):
        return []
    here = executed_with()
    foreign = foreign_notebooks(_notebooks(config), here)
    lines = [f"this machine computes with {here}"]
    if foreign:
        lines.append(f"{len(foreign)} notebook(s) were executed with something else: their cells and checks run, "
                     "their printed outputs are not compared (`make execute` here makes them comparable)")
    return lines


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = executed_with()
    for item in items:
        notebook = getattr(item.parent, "nb", None)
        if type(item).__name__ == "IPyNbCell" and notebook is not None and _foreign(notebook_stamp(notebook), here):
            item.options["check"] = False


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    ran = {Path(r.nodeid.split("::")[0]).name for reports in terminalreporter.stats.values() for r in reports
           if hasattr(r, "nodeid") and ".ipynb::" in r.nodeid}
    foreign = {p: s for p, s in foreign_notebooks(_notebooks(config), executed_with()).items() if p.name in ran}
    if not foreign:
        return
    terminalreporter.section("notebook outputs not compared")
    terminalreporter.write_line(f"This machine computes with {executed_with()}.")
    for path, stamp in foreign.items():
        terminalreporter.write_line(f"{path.name}: executed with {stamp or 'an unrecorded code path'}")
    terminalreporter.write_line("Their cells and assertions ran; run `make execute` here to compare printed outputs.")
