"""cnnbook.batchnorm: the BatchNorm written out equals torch.nn.BatchNorm2d in every mode, step after step."""
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook.batchnorm import BatchNorm2d, recompute_batchnorm, replace_batchnorm
from cnnbook.models import small_cnn


def twins(momentum=0.1, affine=True, channels=5):
    ours, theirs = BatchNorm2d(channels, momentum=momentum, affine=affine), nn.BatchNorm2d(channels, momentum=momentum,
                                                                                        affine=affine)
    if affine:
        with torch.no_grad():
            for m in (ours, theirs):
                m.weight.copy_(torch.linspace(0.5, 2.0, channels))
                m.bias.copy_(torch.linspace(-1.0, 1.0, channels))
    return ours, theirs


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("affine", [True, False])
def test_equal_to_torch_in_training_and_eval_mode_over_several_steps(momentum, affine):
    g = torch.Generator().manual_seed(0)
    ours, theirs = twins(momentum, affine)
    for step in range(6):  # batches with different shapes, means and scales
        x = torch.randn(3 + step, 5, 4, 2 + step, generator=g) * (1 + step) + step
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ours.running_mean, theirs.running_mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ours.running_var, theirs.running_var, rtol=1e-5, atol=1e-6)
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 6
    ours.eval(), theirs.eval()
    x = torch.randn(4, 5, 3, 3, generator=g)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
    assert ours.num_batches_tracked.item() == 6  # eval mode leaves the estimates alone


def test_momentum_none_is_the_plain_average_of_the_batch_statistics():
    g = torch.Generator().manual_seed(1)
    bn = BatchNorm2d(2, momentum=None)
    batches = [torch.randn(4, 2, 3, 3, generator=g) + i for i in range(5)]
    for x in batches:
        bn(x)
    means = torch.stack([x.mean((0, 2, 3)) for x in batches]).mean(0)
    variances = torch.stack([x.var((0, 2, 3), unbiased=True) for x in batches]).mean(0)
    torch.testing.assert_close(bn.running_mean, means)
    torch.testing.assert_close(bn.running_var, variances)


def test_running_variance_is_unbiased_and_the_normalisation_uses_the_biased_one():
    x = torch.tensor([1.0, 2.0, 3.0, 6.0]).view(4, 1, 1, 1)  # mean 3, biased variance 3.5, unbiased 14/3
    bn = BatchNorm2d(1, momentum=1.0, affine=False, eps=1e-12)
    y = bn(x)
    assert bn.running_mean.item() == pytest.approx(3.0)
    assert bn.running_var.item() == pytest.approx(14 / 3)
    torch.testing.assert_close(y.flatten(), (x.flatten() - 3.0) / 3.5 ** 0.5)


def test_gradients_equal_torch():
    g = torch.Generator().manual_seed(2)
    ours, theirs = twins()
    x = torch.randn(6, 5, 4, 4, generator=g)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    upstream = torch.randn(6, 5, 4, 4, generator=g)
    ours(a).backward(upstream)
    theirs(b).backward(upstream)
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.bias.grad, theirs.bias.grad, rtol=1e-4, atol=1e-5)


def test_state_dicts_are_interchangeable_and_affine_false_has_no_parameters():
    ours, theirs = twins()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    assert sum(p.numel() for p in BatchNorm2d(7, affine=False).parameters()) == 0
    assert sum(p.numel() for p in BatchNorm2d(7).parameters()) == 14


@pytest.mark.parametrize("kwargs, message", [
    ({"num_features": 0}, "num_features"), ({"num_features": 2.0}, "num_features"),
    ({"num_features": 2, "eps": 0}, "eps"), ({"num_features": 2, "momentum": 1.5}, "momentum"),
    ({"num_features": 2, "momentum": True}, "momentum"), ({"num_features": 2, "affine": 1}, "affine"),
])
def test_bad_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BatchNorm2d(**kwargs)


def test_bad_input():
    bn = BatchNorm2d(3)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        bn(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        bn(torch.zeros(2, 4, 4, 4))
    with pytest.raises(ValueError, match="more than one value per channel"):
        bn(torch.zeros(1, 3, 1, 1))
    bn.eval()
    assert bn(torch.zeros(1, 3, 1, 1)).shape == (1, 3, 1, 1)  # one value is fine with running estimates


def test_replace_batchnorm_keeps_the_function_and_none_removes_it():
    torch.manual_seed(0)
    model = small_cnn(10)
    x = torch.rand(8, 3, 16, 16)
    model(x)  # move the running estimates away from their initial values
    model.eval()
    expected = model(x)
    ours = replace_batchnorm(model, "ours")
    assert sum(isinstance(m, BatchNorm2d) for m in ours.modules()) == 4 and not ours.training
    torch.testing.assert_close(ours(x), expected, rtol=1e-5, atol=1e-5)
    back = replace_batchnorm(ours, "torch")
    assert sum(isinstance(m, nn.BatchNorm2d) for m in back.modules()) == 4
    torch.testing.assert_close(back(x), expected, rtol=1e-5, atol=1e-5)
    plain = replace_batchnorm(small_cnn(10), "none")
    assert not any(isinstance(m, (nn.BatchNorm2d, BatchNorm2d)) for m in plain.modules())
    convs = [m for m in plain.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.bias is not None and c.bias.abs().max() <= 1 / c.weight[0].numel() ** 0.5 for c in convs)
    with pytest.raises(ValueError, match="by must be"):
        replace_batchnorm(small_cnn(10), "group")
    with pytest.raises(ValueError, match="no BatchNorm2d"):
        replace_batchnorm(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="running statistics"):
        replace_batchnorm(nn.Sequential(nn.BatchNorm2d(3, track_running_stats=False)))


def test_recompute_batchnorm_gives_the_average_batch_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2), nn.Dropout(0.5), BatchNorm2d(2))
    x = torch.randn(40, 1, 3, 3) * 3 + 1
    recompute_batchnorm(model, TensorDataset(x, torch.zeros(40, dtype=torch.long)), batch_size=20)
    assert not model.training and model[1].momentum == 0.1 and model[3].momentum == 0.1
    with torch.no_grad():
        h = model[0](x)
    means = torch.stack([h[:20].mean((0, 2, 3)), h[20:].mean((0, 2, 3))]).mean(0)
    variances = torch.stack([h[:20].var((0, 2, 3)), h[20:].var((0, 2, 3))]).mean(0)
    torch.testing.assert_close(model[1].running_mean, means)
    torch.testing.assert_close(model[1].running_var, variances)
    assert model[1].num_batches_tracked.item() == 2 == model[3].num_batches_tracked.item()
    # the dropout was off: the second BatchNorm saw the first one's output unchanged, mean 0 and variance ~1
    assert model[3].running_mean.abs().max() < 1e-5
    with pytest.raises(ValueError, match="no BatchNorm2d"):
        recompute_batchnorm(nn.Linear(2, 2), TensorDataset(x))
    with pytest.raises(ValueError, match="batch_size"):
        recompute_batchnorm(model, TensorDataset(x), batch_size=1)
    with pytest.raises(ValueError, match="empty"):
        recompute_batchnorm(model, TensorDataset(x[:0], torch.zeros(0, dtype=torch.long)))
