import matplotlib

matplotlib.use("Agg")

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """Unit tests run small batch-1 forwards: one intra-op thread is faster, and far faster on a busy machine.

    (Notebooks run in their own kernels and keep torch's default thread count.)
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
