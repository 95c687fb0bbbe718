"""The other half of tests/test_full_branches.py (see its docstring): a second file so the two halves run in parallel."""
import pytest
from test_full_branches import ALL_NOTEBOOKS, run_full_branch, standin_root  # noqa: F401 (standin_root: a fixture)


@pytest.mark.parametrize("path", ALL_NOTEBOOKS[1::2], ids=lambda p: p.stem)
def test_full_branch_runs_on_standin_data(path, standin_root, tmp_path, monkeypatch):  # noqa: F811
    run_full_branch(path, standin_root, tmp_path, monkeypatch)
