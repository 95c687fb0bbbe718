import pytest
import torch

import cnnbook


def test_env_report_lists_versions_and_device(capsys):
    report = cnnbook.env_report()
    assert set(report) == {"python", "torch", "torchvision", "cnnbook", "device"}
    assert report["torch"] == torch.__version__.split("+")[0]
    assert report["device"].startswith(cnnbook.get_device().type)
    assert "torch=" in capsys.readouterr().out


def test_env_report_quiet(capsys):
    cnnbook.env_report(show=False)
    assert capsys.readouterr().out == ""


def test_get_device_is_cpu_without_accelerator():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert cnnbook.get_device().type == expected


def test_set_seed_repeats_random_draws():
    cnnbook.set_seed(3)
    a = torch.randn(5)
    cnnbook.set_seed(3)
    assert torch.equal(a, torch.randn(5))
    cnnbook.set_seed(4)
    assert not torch.equal(a, torch.randn(5))


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_set_seed_rejects_bad_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        cnnbook.set_seed(bad)
