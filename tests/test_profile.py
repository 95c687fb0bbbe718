import pytest
import torchvision
from torch import nn

from cnnbook.profile import count_params, flops, latency, macs, summary


def small_net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 16 * 16, 10),
    )


def test_count_params_by_hand():
    net = small_net()
    assert count_params(net) == (3 * 9 * 64 + 64) + (64 * 16 * 16 * 10 + 10)
    net[0].requires_grad_(False)
    assert count_params(net, trainable_only=True) == 64 * 16 * 16 * 10 + 10


def test_count_params_matches_torchvision_resnet18():
    assert count_params(torchvision.models.resnet18()) == 11_689_512


def test_macs_and_flops_by_hand():
    net = small_net()
    conv = 64 * 32 * 32 * 3 * 9
    linear = 64 * 16 * 16 * 10
    assert macs(net, (3, 32, 32)) == conv + linear
    assert flops(net, (3, 32, 32)) == 2 * (conv + linear)


def test_macs_of_resnet18_matches_published_1_81_gmacs():
    # torchvision documents 1.81 "GFLOPS" for resnet18, which are multiply-accumulates.
    assert macs(torchvision.models.resnet18(), (3, 224, 224)) / 1e9 == pytest.approx(1.81, abs=0.01)


def test_flops_keeps_training_mode():
    net = small_net().train()
    flops(net, (3, 32, 32))
    assert net.training


def test_latency_is_positive_milliseconds():
    ms = latency(small_net(), (3, 32, 32), device="cpu", warmup=1, repeats=3)
    assert 0 < ms < 5_000


def test_summary_rows_shapes_and_params():
    rows = summary(small_net(), (3, 32, 32))
    assert [r.kind for r in rows] == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    assert rows[0].output_shape == (64, 32, 32)
    assert rows[2].output_shape == (64, 16, 16)
    assert rows[-1].output_shape == (10,)
    assert sum(r.params for r in rows) == count_params(small_net())
    text = str(rows)
    assert "Conv2d" in text and "64x32x32" in text and "total parameters" in text


def test_summary_depth_folds_children():
    model = torchvision.models.resnet18()
    rows = summary(model, (3, 64, 64), depth=1)
    assert [r.name for r in rows] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    assert rows[7].output_shape == (512, 2, 2)
    assert sum(r.params for r in rows) == count_params(model)


@pytest.mark.parametrize("bad", [(3, 0, 32), 32, (3, 32.0, 32)])
def test_bad_input_size(bad):
    with pytest.raises(ValueError, match="input_size"):
        macs(small_net(), bad)


def test_bad_model_and_arguments():
    with pytest.raises(ValueError, match="nn.Module"):
        count_params("resnet")
    with pytest.raises(ValueError, match="repeats"):
        latency(small_net(), (3, 32, 32), repeats=0)
    with pytest.raises(ValueError, match="depth"):
        summary(small_net(), (3, 32, 32), depth=0)


@pytest.mark.parametrize("measure", [macs, flops, summary, lambda m, s: latency(m, s, repeats=1, warmup=0)])
def test_input_that_does_not_fit_the_model_is_a_clear_error(measure):
    with pytest.raises(ValueError, match=r"cannot run on an input of shape \(1, 32, 32\)"):
        measure(small_net(), (1, 32, 32))  # the first conv expects 3 channels
