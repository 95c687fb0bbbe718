"""The nbval plugin compares printed outputs on the code path that produced them, and only cells elsewhere."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from cnnbook.env import executed_with
from nbval_machine import foreign_notebooks, notebook_stamp

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]


def _notebook(path: Path, source: str, output: str, stamp: str | None) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
    nb.cells = [cell]
    if stamp is not None:
        nb.metadata["cnnbook"] = {"executed_with": stamp}
    nbformat.write(nb, path)
    return path


def test_every_chapter_says_what_its_outputs_were_computed_with():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        stamp = notebook_stamp(json.loads(path.read_text(encoding="utf-8")))
        assert stamp and stamp.startswith("torch ") and " on " in stamp, path.name


def test_foreign_notebooks_are_those_from_another_code_path(tmp_path):
    here = executed_with()
    same = _notebook(tmp_path / "same.ipynb", "print(1)", "1\n", here)
    other = _notebook(tmp_path / "other.ipynb", "print(1)", "1\n", "torch 2.14.1, AVX512 on another CPU")
    unknown = _notebook(tmp_path / "unknown.ipynb", "print(1)", "1\n", None)
    assert foreign_notebooks([same, other, unknown], here) == {
        other: "torch 2.14.1, AVX512 on another CPU", unknown: None}
    unpinned = _notebook(tmp_path / "unpinned.ipynb", "print(1)", "1\n",
                         here.split(",")[0] + ", AVX512 on " + here.rsplit(" on ", 1)[-1])
    assert foreign_notebooks([unpinned], here) == {}  # this processor, other pins: compared, so a mismatch fails


def _run(pytester: pytest.Pytester, notebook: Path) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "nbval_machine", "--nbval", "--nbval-current-env", "-p",
                                         "no:cacheprovider", "-o", f"pythonpath={ROOT / 'tests'}", str(notebook))


def test_outputs_are_compared_on_their_own_code_path_only(pytester):
    (pytester.path / "notebooks").mkdir()
    here = executed_with()
    wrong_here = _notebook(pytester.path / "notebooks" / "a.ipynb", "print(2)", "1\n", here)
    result = _run(pytester, wrong_here)
    result.assert_outcomes(failed=1)
    wrong_elsewhere = _notebook(pytester.path / "notebooks" / "a.ipynb", "print(2)", "1\n", "torch 0.0, elsewhere")
    result = _run(pytester, wrong_elsewhere)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*notebook outputs not compared*", "a.ipynb: executed with torch 0.0, elsewhere"])


def test_a_failing_check_fails_on_any_code_path(pytester):
    (pytester.path / "notebooks").mkdir()
    failing = _notebook(pytester.path / "notebooks" / "b.ipynb", "assert 0.5 > 0.9", "", "torch 0.0, elsewhere")
    _run(pytester, failing).assert_outcomes(failed=1)
