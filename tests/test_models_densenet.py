import pytest
import torch
import torchvision
from torch import nn

from cnnbook.models import (
    DenseBlock,
    DenseLayer,
    DenseNet,
    Transition,
    densenet121,
    densenet161,
    densenet169,
    densenet201,
    load_torchvision_weights,
)
from cnnbook.models.densenet import reuse_map
from cnnbook.profile import count_params

BUILDERS = {"densenet121": densenet121, "densenet161": densenet161, "densenet169": densenet169,
            "densenet201": densenet201}
COUNTS = {"densenet121": 7_978_856, "densenet161": 28_681_000, "densenet169": 14_149_480,
          "densenet201": 20_013_928}


def tiny(**kwargs) -> DenseNet:
    """A DenseNet-BC small enough to run forward and backward in milliseconds."""
    defaults = dict(growth_rate=6, block_config=(3, 3), num_init_features=8, bn_size=2, num_classes=5,
                    small_input=True)
    return DenseNet(**{**defaults, **kwargs})


@pytest.mark.parametrize("name", list(BUILDERS))
def test_same_names_shapes_and_counts_as_torchvision(name):
    with torch.device("meta"):
        theirs = getattr(torchvision.models, name)(weights=None)
        ours = BUILDERS[name]()
    assert count_params(ours) == count_params(theirs) == COUNTS[name]
    assert list(ours.state_dict()) == list(theirs.state_dict())  # identical names, no renames needed
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    load_torchvision_weights(ours, theirs)


@torch.no_grad()
def test_same_outputs_as_torchvision():
    torch.manual_seed(0)
    theirs = torchvision.models.densenet121(weights=None)
    g = torch.Generator().manual_seed(0)
    for m in theirs.modules():  # non-trivial BN statistics, so a misplaced BN would show
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
            m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
    ours = load_torchvision_weights(densenet121(), theirs).eval()
    x = torch.randn(1, 3, 64, 64, generator=g)
    a, b = ours(x), theirs.eval()(x)
    assert a.std() > 1e-3
    assert (a - b).abs().max().item() < 1e-5


def test_torchvision_names_spelled_out():
    with torch.device("meta"):
        names = set(densenet121().state_dict())
    for key in ["features.conv0.weight", "features.norm0.running_var",
                "features.denseblock1.denselayer1.norm1.weight", "features.denseblock1.denselayer1.conv1.weight",
                "features.denseblock1.denselayer1.norm2.bias", "features.denseblock4.denselayer16.conv2.weight",
                "features.transition1.norm.weight", "features.transition3.conv.weight", "features.norm5.weight",
                "classifier.weight", "classifier.bias"]:
        assert key in names


def test_wrong_state_dicts_are_refused_by_name():
    model = tiny()
    state = model.state_dict()
    missing = {k: v for k, v in state.items() if k != "features.transition1.conv.weight"}
    with pytest.raises(ValueError, match=r"missing.*features\.transition1\.conv\.weight"):
        load_torchvision_weights(tiny(), missing)
    extra = dict(state, **{"features.denseblock1.denselayer4.conv1.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match=r"not in model.*denselayer4\.conv1\.weight"):
        load_torchvision_weights(tiny(), extra)
    wrong = dict(state, **{"classifier.weight": torch.zeros(3, state["classifier.weight"].shape[1])})
    with pytest.raises(ValueError, match=r"shape mismatch.*classifier\.weight"):
        load_torchvision_weights(tiny(), wrong)


def test_dense_layer_channels_and_hand_count():
    k, k0, bn_size = 32, 64, 4
    block = DenseBlock(6, k0, k, bn_size)
    layers = list(block.children())
    assert [layer.conv1.in_channels for layer in layers] == [k0 + (l - 1) * k for l in range(1, 7)]
    assert all(layer.conv1.out_channels == bn_size * k and layer.conv2.out_channels == k for layer in layers)
    assert block.out_channels == k0 + 6 * k == 256
    c = k0 + 2 * k  # the third layer
    assert count_params(layers[2]) == 2 * c + c * bn_size * k + 2 * bn_size * k + 9 * bn_size * k * k
    x = torch.randn(2, k0, 7, 7)
    out = block.eval()(x)
    assert out.shape == (2, 256, 7, 7)
    assert torch.equal(out[:, :k0], x)  # the block's input is passed on unchanged (concatenation)


def test_dense_layer_takes_a_tensor_or_a_list():
    layer = DenseLayer(10, 4).eval()
    a, b = torch.randn(1, 6, 5, 5), torch.randn(1, 4, 5, 5)
    with torch.no_grad():
        assert torch.equal(layer([a, b]), layer(torch.cat([a, b], 1)))
        assert layer([a, b]).shape == (1, 4, 5, 5)


def test_transition_compresses_and_pools():
    t = Transition(256, 128)
    assert [n for n, _ in t.named_children()] == ["norm", "relu", "conv", "pool"]
    assert t(torch.randn(2, 256, 8, 9)).shape == (2, 128, 4, 4)
    with torch.device("meta"):
        model = densenet121()
    assert [getattr(model.features, f"transition{i}").conv.out_channels for i in (1, 2, 3)] == [128, 256, 512]
    assert model.features.norm5.num_features == model.classifier.in_features == 1024
    full = tiny(compression=1.0)
    assert full.features.transition1.conv.out_channels == 8 + 3 * 6


@pytest.mark.parametrize("size", [29, 64, 224])
def test_imagenet_shapes(size):
    model = tiny(small_input=False, block_config=(2, 2, 2, 2)).eval()
    assert model.min_input_size == 29
    with torch.no_grad():
        assert model(torch.randn(2, 3, size, size)).shape == (2, 5)


@pytest.mark.parametrize("size", [28, 32])
def test_small_input_variants(size):
    model = densenet121(num_classes=10, growth_rate=12, block_config=(4, 4, 4), num_init_features=24,
                        small_input=True, in_channels=1).eval()
    assert "pool0" not in dict(model.features.named_children())
    assert model.features.conv0.kernel_size == (3, 3) and model.features.conv0.stride == (1, 1)
    seen = {}
    model.features.denseblock1.register_forward_hook(lambda m, i, o: seen.__setitem__("b1", o.shape))
    with torch.no_grad():
        assert model(torch.randn(2, 1, size, size)).shape == (2, 10)
    assert seen["b1"] == (2, 24 + 4 * 12, size, size)


def test_memory_efficient_gives_same_outputs_gradients_and_statistics():
    torch.manual_seed(0)
    plain, efficient = tiny(), tiny(memory_efficient=True)
    efficient.load_state_dict(plain.state_dict())
    x = torch.randn(4, 3, 16, 16)
    out_a, out_b = plain(x), efficient(x)  # training mode: batch statistics
    assert torch.allclose(out_a, out_b, atol=1e-6)
    out_a.square().sum().backward()
    out_b.square().sum().backward()
    for (name, p), q in zip(plain.named_parameters(), efficient.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-5), name
    for (name, a), b in zip(plain.named_buffers(), efficient.buffers()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), name  # running statistics updated once only
    with torch.no_grad():
        assert torch.allclose(plain.eval()(x), efficient.eval()(x), atol=1e-6)


def saved_bytes(model: nn.Module, x: torch.Tensor) -> int:
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return total


def test_memory_efficient_saves_less_for_backward():
    plain = tiny(block_config=(8,), growth_rate=8)
    efficient = tiny(block_config=(8,), growth_rate=8, memory_efficient=True)
    x = torch.randn(2, 3, 16, 16)
    assert saved_bytes(efficient, x) < 0.7 * saved_bytes(plain, x)


def test_dropout_only_in_training():
    model = tiny(drop_rate=0.5)
    x = torch.randn(2, 3, 12, 12)
    torch.manual_seed(0)
    a = model(x)
    b = model(x)
    assert not torch.allclose(a, b)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_forward_input_errors():
    model = tiny()
    with pytest.raises(ValueError, match="expected 3 input channels, got 1"):
        model(torch.randn(1, 1, 16, 16))
    with pytest.raises(ValueError, match="4-D batch"):
        model(torch.randn(3, 16, 16))
    with pytest.raises(ValueError, match="too small, needs at least 29x29"):
        tiny(small_input=False, block_config=(1, 1, 1, 1)).eval()(torch.randn(1, 3, 28, 28))


def test_construction_errors():
    with pytest.raises(ValueError, match="growth_rate must be an integer >= 1, got 0"):
        densenet121(growth_rate=0)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        densenet121(num_classes=0)
    with pytest.raises(ValueError, match="block_config must be a non-empty"):
        tiny(block_config=())
    with pytest.raises(ValueError, match="every entry of block_config"):
        tiny(block_config=(2, 0))
    with pytest.raises(ValueError, match=r"compression must be in \(0, 1\]"):
        tiny(compression=0.0)
    with pytest.raises(ValueError, match=r"compression must be in \(0, 1\]"):
        tiny(compression=1.5)
    with pytest.raises(ValueError, match=r"drop_rate must be in \[0, 1\)"):
        tiny(drop_rate=1.0)
    with pytest.raises(ValueError, match="in_channels"):
        tiny(in_channels=0)
    with pytest.raises(ValueError, match="bn_size"):
        DenseLayer(8, 4, bn_size=0)
    with pytest.raises(ValueError, match="num_layers"):
        DenseBlock(0, 8, 4)
    with pytest.raises(ValueError, match="num_output_features"):
        Transition(8, 0)


def test_reuse_map_reads_each_sources_weights():
    block = DenseBlock(3, 4, 2)  # k0 = 4, k = 2: layers read 4, 6 and 8 channels
    with torch.no_grad():
        for layer in block.children():
            w = layer.conv1.weight  # (out, in, 1, 1): give input channel c the weight c + 1
            w.copy_(torch.arange(1.0, w.shape[1] + 1).view(1, -1, 1, 1).expand_as(w))
    grid = reuse_map(block)
    assert grid.shape == (3, 3) and torch.isnan(grid[0, 1:]).all() and torch.isnan(grid[1, 2])
    assert grid[0, 0] == grid[2, 0] == 2.5      # the block input: channels 1-4
    assert grid[1, 1] == grid[2, 1] == 5.5      # layer 1's maps: channels 5-6
    assert grid[2, 2] == 7.5                    # layer 2's maps: channels 7-8
