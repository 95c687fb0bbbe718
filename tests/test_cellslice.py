"""The backward slice the FULL-branch tests execute (tests/cellslice.py): what it keeps and what it leaves out."""
from __future__ import annotations

import pytest
from cellslice import cell_names, needed_cells


def test_cell_names_separates_binding_changing_and_reading():
    names = cell_names("import torch\nif FAST:\n    %time pass\nx = f(y)\nd['k'] = z\nacc += 1\nnet.eval()\n"
                       "def g(a):\n    return a + b\nrows = [r * 2 for r in table]\nfor i in range(3):\n    pass\n")
    assert names.binds == {"torch", "x", "g", "rows", "i"}
    assert names.changes == {"d", "acc", "net"}
    assert {"FAST", "f", "y", "d", "z", "acc", "net", "b", "table", "range"} == names.reads - {"pass"}
    assert not {"a", "r", "x", "i"} & names.reads  # arguments, comprehension variables, names bound before reading
    assert names.modules == {"torch"}


def test_needed_cells_keeps_what_the_target_reads_and_drops_the_rest():
    cells = ["import torch\nDEVICE = 'cpu'",  # 0: always kept
             "data = torch.zeros(3)",  # 1: read through 3
             "slow = train_for_a_minute(data)",  # 2: nothing later reads `slow`
             "model = torch.nn.Linear(3, 1)\nmodel.to(DEVICE)",  # 3
             "torch.manual_seed(1)\nmodel.eval()",  # 4: changes model
             "model = torch.nn.Linear(3, 2)",  # 5: rebinds model, so cell 3's and 4's model no longer matter...
             "print(slow)",  # 6
             "FULL = False",  # 7: the parameters cell
             "if FULL:\n    model(data)"]  # 8: the target
    assert needed_cells(cells, [8], always=[0, 7]) == [0, 1, 5, 7, 8]
    cells[5] = "model.weight.data.zero_()"  # ...but changing it in place keeps them
    assert needed_cells(cells, [8], always=[0, 7]) == [0, 1, 3, 4, 5, 7, 8]


def test_needed_cells_follows_functions_and_augmented_assignments():
    cells = ["import math", "scale = 2", "def helper(x):\n    return x * scale", "total = 0", "total += helper(1)",
             "unrelated = 5", "print(math.pi, total)"]
    assert needed_cells(cells, [6], always=[0]) == [0, 1, 2, 3, 4, 6]


def test_a_cell_that_is_not_python_is_refused():
    with pytest.raises(SyntaxError):
        cell_names("def broken(:\n")
