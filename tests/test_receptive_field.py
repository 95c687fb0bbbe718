"""Tests for cnnbook.receptive_field: the chain recursion, fields of real networks, probes and the ERF.

Independent references: an enumeration of the pixels each unit reads (chain), gradients of one unit with
respect to the input (networks), layer lists written by hand from the papers (torchvision models), and
the closed-form spread of stacked box filters (ERF).
"""
import functools
import math
import random

import pytest
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn

from cnnbook.receptive_field import (
    LayerField,
    ReceptiveField,
    RFRow,
    effective_receptive_field,
    erf_radius,
    erf_std,
    gradient_support,
    receptive_field,
    receptive_field_layers,
    receptive_field_of,
    receptive_field_probe,
    receptive_field_table,
)

VGG_STYLE = [(3, 1, 1), (3, 1, 1), (2, 2), (3, 1, 1), (3, 1, 1), (2, 2)]


# ------------------------------------------------------------------------------------------ chains


def chain_by_enumeration(layers):
    """Input coordinates read by units 0 and 1 of the last layer, found by listing every tap (1-D)."""

    @functools.lru_cache(maxsize=None)
    def reads(level, unit):
        if level == 0:
            return frozenset([unit])
        k, s, p, d = (*layers[level - 1], *(0, 1)[len(layers[level - 1]) - 2 :])
        return frozenset().union(*(reads(level - 1, unit * s - p + t * d) for t in range(k)))

    first, second = reads(len(layers), 0), reads(len(layers), 1)
    return max(first) - min(first) + 1, min(second) - min(first), -min(first)


def test_stacked_3x3_fields_and_the_errata():
    assert receptive_field([(3, 1)]) == ReceptiveField(3, 1, 0)
    assert receptive_field([(3, 1), (3, 1)]).size == 5  # not 7
    assert receptive_field([(3, 1)] * 3).size == 7
    assert receptive_field([]) == ReceptiveField(1, 1, 0)


def test_vgg_style_stack_and_dilation():
    assert receptive_field(VGG_STYLE) == ReceptiveField(16, 4, 6)
    assert chain_by_enumeration(VGG_STYLE) == (16, 4, 6)
    for k, d in [(3, 2), (3, 4), (5, 3)]:
        assert receptive_field([(k, 1, 0, d)]).size == d * (k - 1) + 1
    assert receptive_field([(3, 1, 1, 1), (3, 1, 2, 2), (3, 1, 4, 4)]).size == 15  # 3 + 4 + 8


def test_chain_matches_enumeration_on_random_chains():
    rng = random.Random(0)
    for _ in range(40):
        layers = [
            (rng.randint(1, 5), rng.randint(1, 3), rng.randint(0, 2), rng.randint(1, 3))[: rng.randint(2, 4)]
            for _ in range(rng.randint(1, 5))
        ]
        assert tuple(receptive_field(layers)) == chain_by_enumeration(layers), layers


def test_table_rows_and_non_square_layers():
    rows = receptive_field_table(VGG_STYLE)
    assert [r.size for r in rows] == [3, 5, 6, 10, 14, 16]
    assert [r.jump for r in rows] == [1, 1, 2, 2, 2, 4]
    assert rows[2] == RFRow(3, 2, 2, 0, 1, 6, 2, 2)
    field = receptive_field([((1, 7), 1, (0, 3)), ((7, 1), (2, 1))])
    assert field == ReceptiveField(7, (2, 1), (0, 3))  # each field is an int when its axes agree
    assert receptive_field([((3, 5), 1)]) == ReceptiveField((3, 5), 1, 0)


def test_bounds_of_a_unit():
    field = ReceptiveField(16, 4, 6)
    assert field.bounds((0, 2)) == ((-6, 9), (2, 17))
    assert ReceptiveField((3, 5), (1, 2), (0, 1)).bounds(1) == ((1, 3), (1, 5))


@pytest.mark.parametrize(
    "layers, message",
    [
        ([(3,)], "kernel, stride"),
        ([(3, 1, 0, 1, 9)], "kernel, stride"),
        ([3], "kernel, stride"),
        ([(0, 1)], "kernel must be a positive int"),
        ([(3, 0)], "stride must be a positive int"),
        ([(3, 1, -1)], "padding must be a non-negative int"),
        ([(3, 1, 0, 0)], "dilation must be a positive int"),
        ([(3.0, 1)], r"int or a \(height, width\) pair"),
        ([(True, 1)], r"int or a \(height, width\) pair"),
        ([((3, 3, 3), 1)], r"int or a \(height, width\) pair"),
        ((3, 1), "kernel, stride"),
        ("conv", "list of"),
    ],
)
def test_chain_rejects_bad_layers(layers, message):
    with pytest.raises(ValueError, match=message):
        receptive_field(layers)
    with pytest.raises(ValueError, match=message):
        receptive_field_table(layers)


# ------------------------------------------------------------------------------- small networks


class Inception(nn.Module):
    """Four parallel branches (1x1; 1x1-3x3; 1x1-5x5; 3x3 max-pool - 1x1), concatenated."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch1 = nn.Conv2d(c_in, 2, 1)
        self.branch2 = nn.Sequential(nn.Conv2d(c_in, 2, 1), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1))
        self.branch3 = nn.Sequential(nn.Conv2d(c_in, 2, 1), nn.ReLU(), nn.Conv2d(2, 2, 5, padding=2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(c_in, 2, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class Residual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, groups=2)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride) if stride > 1 else nn.Identity()

    def forward(self, x):
        out = self.conv2(F.relu(self.bn1(self.conv1(x))))
        out += self.shortcut(x)
        return F.relu(out)


class Dense(nn.Module):
    def __init__(self, c_in: int, growth: int, n: int):
        super().__init__()
        self.layers = nn.ModuleList(nn.Conv2d(c_in + i * growth, growth, 3, padding=1) for i in range(n))

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.dense = Dense(4, 2, 3)
        self.transition = nn.AvgPool2d(2, 2)
        self.head = nn.Linear(10, 5)

    def forward(self, x):
        x = self.transition(self.dense(F.relu(self.stem(x))))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class OffCentre(nn.Module):
    """Two paths whose fields are not centred on each other: their union is larger than either."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)

    def forward(self, x):
        return self.conv(x) + F.pad(x[:, :, 3:, 3:], (0, 1, 0, 1))


def test_branches_take_the_largest_path_not_the_sum():
    net = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), Inception(2), Inception(8))
    field = receptive_field_of(net, (3, 32, 32))
    assert field == ReceptiveField(11, 1, 5) == receptive_field([(3, 1, 1), (5, 1, 2), (5, 1, 2)])
    assert field == receptive_field_probe(net, (3, 32, 32))


def test_residual_blocks_with_downsampling_shortcut():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), Residual(4, 4, 1), Residual(4, 8, 2), Residual(8, 8, 1))
    expected = receptive_field([(3, 1, 1)] * 3 + [(3, 2, 1)] + [(3, 1, 1)] * 3)
    assert expected == ReceptiveField(21, 2, 10)
    assert receptive_field_of(net, (3, 40, 40)) == expected == receptive_field_probe(net, (3, 40, 40))
    assert receptive_field_of(net, (3, 40, 40), layer="2") == receptive_field_probe(net, (3, 40, 40), layer="2")


def test_dense_block_then_global_pooling_reports_the_last_spatial_map():
    net = Classifier()
    assert receptive_field_of(net, (3, 24, 24)) == ReceptiveField(10, 2, 4)
    assert receptive_field_of(net, (3, 24, 24), layer="transition") == ReceptiveField(10, 2, 4)
    assert receptive_field_of(net, (3, 24, 24), layer="dense") == receptive_field_probe(net, (3, 24, 24), "dense")
    assert receptive_field_probe(net, (3, 24, 24), "transition") == ReceptiveField(10, 2, 4)
    with pytest.raises(ValueError, match="no spatial layout"):
        receptive_field_of(net, (3, 24, 24), layer="head")


def test_off_centre_paths_merge_as_the_union_of_their_fields():
    net = OffCentre()
    assert receptive_field_of(net, (1, 16, 16)) == ReceptiveField(4, 1, 0)
    assert gradient_support(net, (1, 16, 16), (5, 2)) == (5, 8, 2, 5)


def test_dilation_groups_and_pools_agree_with_the_probe():
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=2, dilation=2),
        nn.MaxPool2d(3, 2, 1),
        nn.Conv2d(4, 4, (3, 5), padding=(1, 2), groups=4),
        nn.AvgPool2d(2, 2, ceil_mode=True),
        nn.Conv2d(4, 4, 3, padding="same", dilation=3),
        nn.MaxPool2d(3, 1, dilation=2),
    )
    field = receptive_field_of(net, (3, 96, 96))
    assert field == receptive_field(
        [(5, 1, 2), (3, 2, 1), ((3, 5), 1, (1, 2)), (2, 2), (7, 1, 3), (5, 1, 0)]
    )
    assert field == receptive_field_probe(net, (3, 96, 96))


def test_functional_reshapes_slices_and_values_dependent_code():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.norm = nn.BatchNorm2d(4)

        def forward(self, x):
            x = self.norm(self.conv(x))
            if x.mean() > -1e9:  # looks at values: runs on real tensors, not on "meta" ones
                x = x.permute(0, 2, 3, 1).contiguous()
                x = F.layer_norm(x, (4,)) * 2.0
                x = x.permute(0, 3, 1, 2)
            y = x.reshape(2, 2, *x.shape[-2:]).sum(1, keepdim=True)
            return torch.sigmoid(y)[..., ::2, 1:]

    net = Odd().train()
    stats = net.norm.running_mean.clone()
    field = receptive_field_of(net, (3, 20, 20))
    assert field == ReceptiveField(3, (2, 1), (0, -1))  # rows every 2nd unit, columns from unit 1
    assert net.training and net.norm.training
    assert torch.equal(net.norm.running_mean, stats)


# -------------------------------------------------------------------------- torchvision networks


@pytest.fixture(scope="module")
def meta_models():
    with torch.device("meta"):
        return {
            "alexnet": tvm.alexnet(weights=None),
            "vgg16": tvm.vgg16(weights=None),
            "resnet18": tvm.resnet18(weights=None),
            "resnet50": tvm.resnet50(weights=None),
            "googlenet": tvm.googlenet(weights=None, init_weights=False, aux_logits=False),
            "densenet121": tvm.densenet121(weights=None),
        }


def resnet_chain(blocks, bottleneck, stride_on_1x1=False):
    layers = [(7, 2, 3), (3, 2, 1)]
    for stage, n in enumerate(blocks):
        for i in range(n):
            s = 2 if stage > 0 and i == 0 else 1
            if not bottleneck:
                layers += [(3, s, 1), (3, 1, 1)]
            elif stride_on_1x1:
                layers += [(1, s), (3, 1, 1), (1, 1)]
            else:
                layers += [(1, 1), (3, s, 1), (1, 1)]
    return layers


def test_classic_networks_match_chains_written_from_the_papers(meta_models):
    alexnet = [(11, 4, 2), (3, 2), (5, 1, 2), (3, 2), (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 2)]
    assert receptive_field(alexnet[:-1]) == ReceptiveField(163, 16, 66)
    conv5 = receptive_field_of(meta_models["alexnet"], (3, 224, 224), layer="features.10")
    assert conv5 == receptive_field(alexnet[:-1])
    assert receptive_field_of(meta_models["alexnet"], (3, 224, 224)) == receptive_field(alexnet)
    assert receptive_field(alexnet).size == 195

    vgg16 = []
    for n in (2, 2, 3, 3, 3):
        vgg16 += [(3, 1, 1)] * n + [(2, 2)]
    assert receptive_field(vgg16[:-1]).size == 196
    assert receptive_field_of(meta_models["vgg16"], (3, 224, 224), layer="features.28") == receptive_field(vgg16[:-1])
    assert receptive_field_of(meta_models["vgg16"], (3, 224, 224)) == receptive_field(vgg16) == (212, 32, 90)


def test_residual_networks_use_the_longest_path(meta_models):
    assert receptive_field_of(meta_models["resnet18"], (3, 224, 224)) == receptive_field(
        resnet_chain([2, 2, 2, 2], False)
    ) == (435, 32, 217)
    # torchvision's ResNet-50 strides in the 3x3 conv ("v1.5"): 427; the 2015 paper strides in the 1x1: 483.
    assert receptive_field_of(meta_models["resnet50"], (3, 224, 224)) == receptive_field(
        resnet_chain([3, 4, 6, 3], True)
    ) == (427, 32, 213)
    assert receptive_field(resnet_chain([3, 4, 6, 3], True, stride_on_1x1=True)).size == 483
    assert receptive_field_of(meta_models["resnet50"], (3, 224, 224), layer="layer3").size == 267


def test_googlenet_and_densenet(meta_models):
    # GoogLeNet's longest path: each Inception module adds one 3x3 (torchvision's "5x5" branch is 3x3).
    googlenet = [(7, 2, 3), (3, 2), (3, 1, 1), (3, 2)] + [(3, 1, 1)] * 2 + [(3, 2)] + [(3, 1, 1)] * 5
    googlenet += [(2, 2)] + [(3, 1, 1)] * 2
    assert receptive_field_of(meta_models["googlenet"], (3, 224, 224)) == receptive_field(googlenet) == (379, 32, 167)
    densenet = [(7, 2, 3), (3, 2, 1)]
    for i, n in enumerate((6, 12, 24, 16)):
        densenet += [(1, 1), (3, 1, 1)] * n + ([(1, 1), (2, 2)] if i < 3 else [])
    assert receptive_field_of(meta_models["densenet121"], (3, 224, 224)) == receptive_field(densenet)
    assert receptive_field(densenet) == (2071, 32, 1021)


def test_real_networks_agree_with_gradient_probes():
    torch.manual_seed(0)
    resnet = tvm.resnet18(weights=None)
    assert receptive_field_of(resnet, (3, 224, 224), layer="layer3") == receptive_field_probe(
        resnet, (3, 224, 224), layer="layer3"
    ) == (211, 16, 105)
    googlenet = tvm.googlenet(weights=None, init_weights=False, aux_logits=False)
    assert receptive_field_of(googlenet, (3, 96, 96), layer="inception3b") == receptive_field_probe(
        googlenet, (3, 96, 96), layer="inception3b"
    ) == (59, 8, 23)
    densenet = tvm.densenet121(weights=None)
    assert receptive_field_of(densenet, (3, 96, 96), layer="features.transition1") == receptive_field_probe(
        densenet, (3, 96, 96), layer="features.transition1"
    ) == (63, 8, 29)


def test_layer_table_of_resnet18(meta_models):
    rows = receptive_field_layers(meta_models["resnet18"], (3, 224, 224))
    assert all(isinstance(r, LayerField) for r in rows)
    names = [r.name for r in rows]
    assert len(names) == len(set(names))
    by_name = {r.name: r for r in rows}
    assert by_name["conv1"] == LayerField("conv1", "Conv2d", (112, 112), ReceptiveField(7, 2, 3))
    assert by_name["layer1.0.relu"].field.size == 27  # the shared ReLU, at its last call
    assert by_name["layer4"].out_size == (7, 7) and by_name["layer4"].field.size == 435
    assert "avgpool" not in by_name and "fc" not in by_name
    assert names.index("layer3") < names.index("layer4")


# ---------------------------------------------------------------------------------------- errors


def test_receptive_field_of_rejects_bad_input(meta_models):
    net = nn.Sequential(nn.Conv2d(3, 4, 3))
    for size in [(3, 8), (3, 0, 8), (3.0, 8, 8), "3x8x8", (1, 3, 8, 8)]:
        with pytest.raises(ValueError, match="input_size"):
            receptive_field_of(net, size)
    with pytest.raises(ValueError, match="nn.Module"):
        receptive_field_of(lambda x: x, (3, 8, 8))
    with pytest.raises(ValueError, match="could not run"):
        receptive_field_of(net, (1, 8, 8))
    with pytest.raises(ValueError, match="layer must name a module"):
        receptive_field_of(meta_models["resnet18"], (3, 64, 64), layer="layer5")
    with pytest.raises(ValueError, match="no spatial layout"):
        receptive_field_of(meta_models["resnet18"], (3, 64, 64), layer="avgpool")
    with pytest.raises(ValueError, match="nn.Module"):
        receptive_field_layers("resnet", (3, 8, 8))


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


@pytest.mark.parametrize(
    "module, message",
    [
        (nn.ConvTranspose2d(3, 3, 2, 2), r"transposed convolution .* in module 'up' \(ConvTranspose2d\)"),
        (nn.Upsample(scale_factor=2), r"upsampling .* in module 'up' \(Upsample\)"),
        (Lambda(lambda x: torch.roll(x, 1, 2)), r"roll .* in module 'up' \(Lambda\)"),
        (Lambda(lambda x: x.cumsum(2)), r"`cumsum` over a spatial axis"),
        (Lambda(lambda x: x[:, :, :4, :4] + x[:, :, ::2, ::2]), "different effective strides"),
        (Lambda(lambda x: torch.cat([x, x], 2)), "concatenates along a spatial axis"),
        (Lambda(lambda x: x.mean(3)), "one spatial axis"),
    ],
)
def test_unsupported_operations_name_the_module(module, message):
    net = nn.Sequential()
    net.add_module("conv", nn.Conv2d(3, 3, 3, padding=1))
    net.add_module("up", module)
    with pytest.raises(ValueError, match=message):
        receptive_field_of(net, (3, 8, 8))


def test_probes_reject_bad_requests():
    net = nn.Sequential(nn.Conv2d(1, 1, 5), nn.Conv2d(1, 1, 5))
    with pytest.raises(ValueError, match="touches the input border"):
        receptive_field_probe(net, (1, 10, 10))
    with pytest.raises(ValueError, match="at least 2x2"):
        receptive_field_probe(net, (1, 9, 9))
    with pytest.raises(ValueError, match="unit must lie inside"):
        gradient_support(net, (1, 12, 12), (4, 0))
    with pytest.raises(ValueError, match="layer must name"):
        gradient_support(net, (1, 12, 12), (0, 0), layer="nope")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        gradient_support(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), (1, 2, 2), (0, 0))
    assert gradient_support(net, (1, 12, 12), (0, 3)) == (0, 8, 3, 11)


# ------------------------------------------------------------------------------------------- ERF


def box_stack(depth: int) -> nn.Sequential:
    convs = [nn.Conv2d(1, 1, 3, padding=1, bias=False) for _ in range(depth)]
    for conv in convs:
        nn.init.constant_(conv.weight, 1 / 9)
    return nn.Sequential(*convs)


def test_erf_of_box_filters_grows_like_the_square_root_of_depth():
    spreads = {}
    for depth in (2, 8):
        erf = effective_receptive_field(box_stack(depth), (1, 33, 33))
        assert erf.shape == (33, 33)
        spreads[depth] = erf_std(erf)
        # each layer adds variance 2/3 per axis (uniform over -1, 0, 1)
        assert spreads[depth] == pytest.approx(math.sqrt(2 * depth / 3), rel=1e-5)
        assert erf_radius(erf, fraction=1.0) == depth == (receptive_field([(3, 1, 1)] * depth).size - 1) / 2
        assert erf_radius(erf, fraction=0.5) < depth
    assert spreads[8] / spreads[2] == pytest.approx(2.0, rel=1e-5)  # sqrt(8 / 2), while the field grows 4x


def test_erf_is_deterministic_and_restores_the_model():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 3, 3, padding=1))
    net.train()
    before = [p.clone() for p in net.parameters()]
    a = effective_receptive_field(net, (2, 15, 15), n_samples=3, seed=4)
    b = effective_receptive_field(net, (2, 15, 15), n_samples=3, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, effective_receptive_field(net, (2, 15, 15), n_samples=3, seed=5))
    singles = [effective_receptive_field(net, (2, 15, 15), seed=0) for _ in range(2)]
    assert torch.equal(singles[0], singles[1])
    r = effective_receptive_field(net, (2, 15, 15), n_samples=2, reinit=True, seed=0)
    assert not torch.equal(r, effective_receptive_field(net, (2, 15, 15), n_samples=2, seed=0))
    assert all(torch.equal(p, q) for p, q in zip(before, net.parameters()))
    assert net.training and all(p.grad is None for p in net.parameters())
    support = (a > 0).nonzero()
    assert support.min().item() == 5 and support.max().item() == 9  # the 5x5 field of unit (7, 7)


def test_erf_channels_units_and_layers():
    net = box_stack(2)
    net.insert(0, nn.Conv2d(1, 2, 1, bias=False))
    nn.init.constant_(net[0].weight, 0.5)
    net[1] = nn.Conv2d(2, 1, 3, padding=1, bias=False)
    nn.init.constant_(net[1].weight, 1 / 18)
    whole = effective_receptive_field(net, (1, 11, 11), layer="0")
    parts = [effective_receptive_field(net, (1, 11, 11), layer="0", channel=c) for c in (0, 1)]
    assert torch.allclose(parts[0] + parts[1], whole)
    corner = effective_receptive_field(net, (1, 11, 11), unit=(0, 10))
    assert corner[0, 10] > 0 and corner[3:, :].sum() == 0 and corner[:, :7].sum() == 0


def test_erf_rejects_bad_requests():
    net = box_stack(1)
    for kwargs, message in [
        ({"n_samples": 0}, "n_samples"),
        ({"seed": -1}, "seed"),
        ({"channel": -1}, "channel"),
        ({"channel": 1}, "channel must be < 1"),
        ({"unit": (9, 0)}, "unit must lie inside"),
    ]:
        with pytest.raises(ValueError, match=message):
            effective_receptive_field(net, (1, 9, 9), **kwargs)
    with pytest.raises(ValueError, match="pass layer="):
        effective_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten()), (1, 5, 5))
    for bad in [torch.ones(3), -torch.ones(3, 3), torch.zeros(3, 3), torch.full((2, 2), float("nan"))]:
        with pytest.raises(ValueError, match="erf must"):
            erf_std(bad)
        with pytest.raises(ValueError, match="erf must"):
            erf_radius(bad)
    for fraction in (0, 1.5, "all"):
        with pytest.raises(ValueError, match="fraction"):
            erf_radius(torch.ones(3, 3), fraction=fraction)
    assert erf_std(torch.ones(1, 1)) == 0.0 and erf_radius(torch.ones(3, 3), 1.0) == 1.0


def test_cnnbook_reference_models_have_torchvisions_receptive_fields(meta_models):
    """The book's own multi-path models (ResNet, ResNeXt, GoogLeNet, DenseNet) give the same figures."""
    from cnnbook import models

    with torch.device("meta"):
        ours = {
            "resnet18": models.resnet18(),
            "resnet50": models.resnet50(),
            "googlenet": models.googlenet(aux_logits=False, init_weights=False),
            "densenet121": models.densenet121(),
        }
        resnext = models.resnext50_32x4d()
    for name, model in ours.items():
        assert receptive_field_of(model, (3, 224, 224)) == receptive_field_of(meta_models[name], (3, 224, 224)), name
    # Grouped 3x3 convolutions change the channels, not the field: same as ResNet-50.
    assert receptive_field_of(resnext, (3, 224, 224)) == (427, 32, 213)
    small = models.cifar_resnet(depth=20, in_channels=1)
    assert receptive_field_of(small, (1, 32, 32)) == receptive_field([(3, 1, 1)] * 7 + [(3, 2, 1)] + [(3, 1, 1)] * 5
                                                                     + [(3, 2, 1)] + [(3, 1, 1)] * 5)
