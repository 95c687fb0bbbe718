"""load_torchvision_weights on its own: renaming, strictness and bad arguments (the models' tests cover real networks)."""
import pytest
import torch
from torch import nn

from cnnbook.models import load_torchvision_weights


class Theirs(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
        self.fc = nn.Linear(2, 3)


class Ours(nn.Module):
    """The same layers under other names, mapped by TORCHVISION_RENAMES."""

    TORCHVISION_RENAMES = ((r"^features\.0\.", "stem."), (r"^fc\.", "head."))

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 2, 3)
        self.head = nn.Linear(2, 3)


def test_renames_map_every_tensor_and_copy_the_values():
    theirs, ours = Theirs(), Ours()
    assert load_torchvision_weights(ours, theirs) is ours
    assert torch.equal(ours.stem.weight, theirs.features[0].weight)
    assert torch.equal(ours.head.bias, theirs.fc.bias)


def test_a_state_dict_works_as_source():
    theirs, ours = Theirs(), Ours()
    load_torchvision_weights(ours, theirs.state_dict())
    assert torch.equal(ours.head.weight, theirs.fc.weight)


def test_nothing_is_copied_when_a_check_fails():
    theirs, ours = Theirs(), Ours()
    before = ours.stem.weight.clone()
    state = {**theirs.state_dict(), "fc.weight": torch.zeros(4, 2)}
    with pytest.raises(ValueError, match=r"shape mismatch.*head\.weight: model expects \(3, 2\), source has \(4, 2\)"):
        load_torchvision_weights(ours, state)
    assert torch.equal(ours.stem.weight, before)


def test_two_source_names_on_one_target_is_an_error():
    class Collapsing(Ours):
        TORCHVISION_RENAMES = ((r"^features\.0\.", "stem."), (r"^fc\.", "stem."))

    with pytest.raises(ValueError, match="map to the same name 'stem.weight'"):
        load_torchvision_weights(Collapsing(), Theirs())


def test_missing_and_extra_are_both_named():
    state = Theirs().state_dict()
    state.pop("fc.bias")
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"missing from source \(1\): head\.bias .*not in model \(1\): extra\.weight"):
        load_torchvision_weights(Ours(), state)


def test_bad_arguments():
    with pytest.raises(ValueError, match="model must be an nn.Module"):
        load_torchvision_weights({"a": 1}, Theirs())
    with pytest.raises(ValueError, match="source must be an nn.Module or a state_dict"):
        load_torchvision_weights(Ours(), [1, 2])


def test_calibrate_batchnorm_takes_the_batch_statistics_and_restores_momentum():
    from cnnbook.models.weights import calibrate_batchnorm

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 1), nn.BatchNorm2d(2))
    x = torch.randn(8, 3, 10, 10) * 3 + 1
    assert calibrate_batchnorm(model, x) is model and not model.training
    first = model[0](x)
    assert torch.allclose(model[1].running_mean, first.mean((0, 2, 3)), atol=1e-5)
    assert torch.allclose(model[1].running_var, first.var((0, 2, 3)), rtol=1e-4)
    assert model[1].momentum == 0.1 and model[4].momentum == 0.1
    with pytest.raises(ValueError, match="no BatchNorm"):
        calibrate_batchnorm(nn.Linear(2, 2), torch.randn(1, 2))
