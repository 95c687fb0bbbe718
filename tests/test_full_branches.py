"""The Colab path under test: every chapter's FULL branch runs on the CPU, in seconds, on stand-in data.

Convention (papermill's): a chapter with a long run has ONE code cell tagged ``parameters`` that assigns

    FULL = False                      # the committed run and nbval keep this
    FULL_EPOCHS = 10                  # epochs of the long run
    FULL_TRAIN_SIZE = None            # None: the whole training set; an int: a seeded subset of that size
    DATA_ROOT = cnnbook.data.DEFAULT_ROOT
    DOWNLOAD = True                   # False: use the files already under DATA_ROOT

(FULL always; the others where the notebook's code reads them.) This test inserts a cell right after it (as
papermill does) that switches FULL on with one epoch, 64 training images and DATA_ROOT pointing at tiny MNIST /
Fashion-MNIST / CIFAR-10 files in their real on-disk formats (tests/fakedata.py), DOWNLOAD = False, and executes
in a fresh kernel on one thread the cells that read a parameter together with every cell they depend on
(tests/cellslice.py: the first cell, and each cell that binds or changes a name a kept cell reads). The other
cells read no parameter and run the same either way; nbval runs them. Any error fails, a dependency the slice
missed included (a NameError). The kernel gets no network (downloads go to a dead proxy) and an empty TORCH_HOME,
so a FULL branch that still downloads something fails here instead of passing on a machine that happens to have a
cache.

A notebook that never mentions FULL is skipped; one that mentions FULL without a parameters cell fails.
Deselect these tests for a quick run with ``-k "not full_branch"``; CI (`make test`) runs them. The executed
notebook is saved under pytest's tmp_path for inspection.
"""
from __future__ import annotations

import ast
import os
import re
import time
from pathlib import Path

import fakedata
import nbformat
import pytest
from cellslice import needed_cells
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = Path(os.environ.get("CNNBOOK_NOTEBOOKS", ROOT / "notebooks"))
PARAMETER_NAMES = ("FULL", "FULL_EPOCHS", "FULL_TRAIN_SIZE", "DATA_ROOT", "DOWNLOAD")
CELL_TIMEOUT = 600  # s: a guard against a hang, not the budget (`make bench` measures that); a loaded CI machine is slow
STANDIN_TRAIN, STANDIN_TEST = 200, 100



@pytest.fixture(scope="module")
def standin_root(tmp_path_factory) -> Path:
    return fakedata.write_all(tmp_path_factory.mktemp("standin-data"), n_train=STANDIN_TRAIN, n_test=STANDIN_TEST)


def _code(cell) -> str:
    return "".join(cell.source) if isinstance(cell.source, list) else cell.source


def _parameters_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]


def _assigned_names(source: str) -> dict[str, ast.expr]:
    # IPython magics (%pip, !cmd) are not Python: blank them before parsing.
    python = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    names = {}
    for node in ast.walk(ast.parse(python)):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node.value
    return names


def _injected(data_root: Path) -> str:
    return (
        "# Parameters injected by tests/test_full_branches.py: the FULL branch on stand-in data\n"
        "FULL = True\nFULL_EPOCHS = 1\nFULL_TRAIN_SIZE = 64\n"
        f"DATA_ROOT = {str(data_root)!r}\nDOWNLOAD = False\n"
    )


ALL_NOTEBOOKS = sorted(NOTEBOOKS.glob("*.ipynb"))
# `make test` hands each test file to one of its two workers (--dist loadfile): the odd-numbered half of the
# notebooks runs from tests/test_full_branches_odd.py, so the two halves run side by side.


@pytest.mark.parametrize("path", ALL_NOTEBOOKS[0::2], ids=lambda p: p.stem)
def test_full_branch_runs_on_standin_data(path, standin_root, tmp_path, monkeypatch):
    run_full_branch(path, standin_root, tmp_path, monkeypatch)


def run_full_branch(path: Path, standin_root: Path, tmp_path: Path, monkeypatch) -> None:
    """Insert the FULL = True parameters after the notebook's parameters cell and execute it all."""
    nb = nbformat.read(path, as_version=4)
    mentions_full = any(re.search(r"\bFULL\b", _code(c)) for c in nb.cells if c.cell_type == "code")
    cells = _parameters_cells(nb)
    if not cells:
        if not mentions_full:
            pytest.skip(f"{path.name} has no FULL switch")
        pytest.fail(f"{path.name} uses FULL but has no code cell tagged `parameters` (see this file's docstring)")
    assert len(cells) == 1, f"{path.name} has {len(cells)} cells tagged `parameters`; it needs exactly one"
    index = cells[0]
    assigned = _assigned_names(_code(nb.cells[index]))
    # FULL, and each other parameter the notebook's code reads, is set in the parameters cell (a chapter that
    # trains nothing does not carry FULL_EPOCHS for show).
    used = {name for name in PARAMETER_NAMES[1:] for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and i != index and re.search(rf"\b{name}\b", _code(c))}
    missing = [name for name in PARAMETER_NAMES if (name == "FULL" or name in used) and name not in assigned]
    assert not missing, f"the parameters cell of {path.name} does not assign {missing}"
    full = assigned["FULL"]
    assert isinstance(full, ast.Constant) and full.value is False, "the committed parameters cell must say FULL = False"

    injected = nbformat.v4.new_code_cell(_injected(standin_root), metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, injected)
    # Only the cells that read a parameter and those that build what they read (tests/cellslice.py). The rest of
    # the chapter reads no parameter, runs the same either way, and nbval runs it already.
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    sources = [_code(nb.cells[i]) for i in code]
    reads_parameters = re.compile(rf"\b({'|'.join(PARAMETER_NAMES)})\b")
    targets = [k for k, i in enumerate(code) if i not in (index, index + 1) and reads_parameters.search(sources[k])]
    kept = [code[k] for k in needed_cells(sources, targets, always=[0, code.index(index), code.index(index) + 1])]
    original = {i: i - (i > index) for i in kept}  # index in the committed notebook, for the messages below
    nb.cells = [nb.cells[i] for i in kept]

    # The kernel inherits this environment: one thread, no network, no cached weights, a private home for data.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, "1")
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("MPLBACKEND", "Agg")

    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        waiting = [i for i, c in enumerate(nb.cells) if c.get("execution_count") is None]
        where = ""
        if waiting:  # nbclient numbers a cell when it finishes: the first one without a number is where it stopped
            cell = nb.cells[waiting[0]]
            where = (f"in cell {original[kept[waiting[0]]]} (after {time.perf_counter() - start:.0f} s):\n"
                     f"{_code(cell)[:600]}\n")
        pytest.fail(f"{path.name} with FULL = True failed {where}\n{str(err)[-3000:]}", pytrace=False)
    finally:
        nbformat.write(nb, tmp_path / path.name)
    elapsed = time.perf_counter() - start
    print(f"{path.name}: FULL branch executed in {elapsed:.1f} s, {len(kept) - 1} of the chapter's {len(code) - 1} "
          f"code cells ({tmp_path / path.name})")
