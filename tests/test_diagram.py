"""Tests of cnnbook.diagram: the structure of the drawn graphs (not pixels), shapes, RNG safety and errors."""
import itertools

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from cnnbook import diagram as D
from cnnbook.models import (
    AlexNet, BasicBlock, Bottleneck, DenseBlock, DenseLayer, Inception, Transition, cifar_resnet, densenet121,
    googlenet, lenet5, resnet18,
)
from cnnbook.models.alexnet import PAPER_CHANNELS
from cnnbook.models.vgg import make_layers


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def projection(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


def labels(graph: D.DiagramGraph) -> list[str]:
    return [n.label for n in graph.nodes]


def assert_no_overlap(graph: D.DiagramGraph) -> None:
    """Boxes in one row of a vertical layout stand at least one column apart (a box is 0.86 wide)."""
    for a, b in itertools.combinations(graph.nodes, 2):
        if a.y == b.y:
            assert abs(a.x - b.x) >= 1.0 - 1e-9, (a.label, b.label)


# ---------------------------------------------------------------------------------------------------- labels

def test_layer_label_names_the_layer():
    assert D.layer_label(nn.Conv2d(3, 64, 3, padding=1)) == "Conv 3x3, 64"
    assert D.layer_label(nn.Conv2d(64, 128, 3, stride=2, groups=2)) == "Conv 3x3/2, 128, g=2"
    assert D.layer_label(nn.BatchNorm2d(8)) == "BN"
    assert D.layer_label(nn.ReLU()) == "ReLU"
    assert D.layer_label(nn.MaxPool2d(2)) == "MaxPool 2x2/2"
    assert D.layer_label(nn.MaxPool2d(3, stride=1, padding=1)) == "MaxPool 3x3/1"
    assert D.layer_label(nn.Linear(256, 10)) == "Linear 256→10"
    assert D.layer_label(nn.AdaptiveAvgPool2d(1)) == "GlobalAvgPool"
    assert D.layer_label(nn.AdaptiveAvgPool2d((6, 6))) == "AdaptAvgPool →6x6"
    assert D.layer_label(nn.Dropout(0.5)) == "Dropout 0.5"
    with pytest.raises(ValueError, match="expects an nn.Module, got int"):
        D.layer_label(3)


def test_format_shape():
    assert D.format_shape((64, 32, 32)) == "64x32x32"
    assert D.format_shape((10,)) == "10"
    assert D.format_shape(None) == ""


# ---------------------------------------------------------------------------------------------------- blocks

def test_lenet5_chain_of_shapes():
    graph = D.block_graph(lenet5(), (1, 32, 32), collapse=True)
    assert graph.chain_shapes() == ["1x32x32", "6x28x28", "6x14x14", "16x10x10", "16x5x5", "120", "84", "10"]
    assert labels(graph) == ["Input", "Conv 5x5, 6\n-ReLU", "MaxPool 2x2/2", "Conv 5x5, 16\n-ReLU", "MaxPool 2x2/2",
                             "Conv 5x5, 120\n-ReLU", "Linear 120→84\n-ReLU", "Linear 84→10"]
    full = D.block_graph(lenet5(), (1, 32, 32))
    assert "ReLU" in labels(full) and len(full.nodes) > len(graph.nodes)
    assert [n.y for n in graph.nodes] == list(range(len(graph.nodes)))  # a chain, one row per layer


def test_basic_block_with_projection_has_two_paths_into_the_add():
    block = BasicBlock(64, 128, stride=2, downsample=projection(64, 128, 2))
    graph = D.block_graph(block, (64, 32, 32))
    add = graph.find("add")[0]
    assert graph.num_paths("x", add.id) == 2
    assert len(graph.predecessors(add.id)) == 2
    assert add.shape_text == "128x16x16"
    shortcut = graph.find(label="Conv 1x1/2, 128")
    assert len(shortcut) == 1 and shortcut[0].x > graph.find(label="Conv 3x3/2, 128")[0].x  # main path left
    assert graph.nodes[-1].label == "ReLU" and graph.nodes[-1].shape == (128, 16, 16)
    assert_no_overlap(graph)


def test_basic_block_identity_shortcut_is_an_edge_from_input_to_add():
    graph = D.block_graph(BasicBlock(64, 64), (64, 32, 32))
    add = graph.find("add")[0]
    assert ("x", add.id) in graph.edges
    assert graph.num_paths("x", add.id) == 2


def test_bottleneck_collapsed():
    block = Bottleneck(256, 128, stride=2, downsample=projection(256, 512, 2))
    graph = D.block_graph(block, (256, 56, 56), collapse=True)
    assert labels(graph) == ["Input", "Conv 1x1/2, 512\n-BN", "Conv 1x1, 128\n-BN-ReLU",
                             "Conv 3x3/2, 128\n-BN-ReLU", "Conv 1x1, 512\n-BN", "+", "ReLU"]
    assert graph.num_paths("x", graph.find("add")[0].id) == 2
    assert graph.nodes[-1].shape == (512, 28, 28)


def test_inception_four_branches_meet_at_one_concat():
    graph = D.block_graph(Inception(192, 64, 96, 128, 16, 32, 32), (192, 28, 28), collapse=True)
    concats = graph.find("concat")
    assert len(concats) == 1
    assert len(graph.predecessors(concats[0].id)) == 4
    assert graph.num_paths("x", concats[0].id) == 4
    assert concats[0].shape_text == "256x28x28"
    first = [graph.node(s) for s in graph.successors("x")]
    assert sorted(n.label.split("\n")[0] for n in first) == ["Conv 1x1, 16", "Conv 1x1, 64", "Conv 1x1, 96",
                                                             "MaxPool 3x3/1"]
    assert len({n.y for n in first}) == 1 and len({n.x for n in first}) == 4  # side by side
    assert_no_overlap(graph)


def test_dense_block_concatenates_everything():
    graph = D.block_graph(DenseBlock(4, 64, 32), (64, 32, 32), depth=1)
    assert labels(graph) == ["Input", "DenseLayer 1", "DenseLayer 2", "DenseLayer 3", "DenseLayer 4", "concat"]
    for k, node in enumerate(graph.nodes[1:5], start=1):
        assert len(graph.predecessors(node.id)) == k  # the input and every earlier layer
        assert node.shape == (32, 32, 32)
    concat = graph.find("concat")[0]
    assert len(graph.predecessors(concat.id)) == 5
    assert concat.shape == (64 + 4 * 32, 32, 32)


def test_dense_layer_collapses_pre_activation():
    graph = D.block_graph(DenseLayer(64, 32), (64, 8, 8), collapse=True)
    assert labels(graph) == ["Input", "BN-ReLU-\nConv 1x1, 128", "BN-ReLU-\nConv 3x3, 32"]


def test_transition_chain():
    graph = D.block_graph(Transition(256, 128), (256, 32, 32))
    assert labels(graph) == ["Input", "BN", "ReLU", "Conv 1x1, 128", "AvgPool 2x2/2"]
    assert graph.nodes[-1].shape == (128, 16, 16)


def test_vgg_stage():
    graph = D.block_graph(make_layers([64, 64, "M"]), (3, 32, 32), collapse=True)
    assert labels(graph) == ["Input", "Conv 3x3, 64\n-ReLU", "Conv 3x3, 64\n-ReLU", "MaxPool 2x2/2"]
    assert graph.chain_shapes() == ["3x32x32", "64x32x32", "64x16x16"]


def test_alexnet_two_towers():
    with torch.device("meta"):
        model = AlexNet(channels=PAPER_CHANNELS, groups=2, lrn=True)
    plain = D.block_graph(model, (3, 224, 224), collapse=True)
    assert "Conv 5x5, 256, g=2\n-ReLU" in labels(plain)
    graph = D.block_graph(model, (3, 224, 224), collapse=True, split_groups=True)
    towers = graph.find(label="Conv 5x5, 128")
    assert len(towers) == 2 and towers[0].y == towers[1].y and towers[0].x != towers[1].x
    assert all(t.shape == (128, 27, 27) for t in towers)
    # conv3 is where the two GPUs talk: it reads both towers.
    conv3 = graph.find(label="Conv 3x3, 384")[0]
    assert len(graph.predecessors(conv3.id)) == 2
    conv5 = graph.find(label="Conv 3x3, 128")
    assert len(conv5) == 2 and all(len(graph.predecessors(c.id)) == 1 for c in conv5)  # no talk at conv4->5
    assert graph.nodes[-1].shape == (1000,)
    assert_no_overlap(graph)


# ---------------------------------------------------------------------------------------------------- networks

def test_lenet5_network_is_a_wrapped_chain():
    graph = D.network_graph(lenet5(), (1, 32, 32), per_row=4)
    assert graph.layout == "rows"
    assert [(n.x, n.y) for n in graph.nodes[:6]] == [(0, 0), (1, 0), (2, 0), (3, 0), (0, 1), (1, 1)]
    assert graph.chain_shapes()[-3:] == ["120", "84", "10"]


def test_cifar_resnet_groups_repeated_blocks():
    graph = D.network_graph(cifar_resnet(20), (3, 32, 32))
    stages = [n for n in graph.nodes if "BasicBlock ×3" in n.label]
    assert [n.label.split("\n")[0] for n in stages] == ["layer1", "layer2", "layer3"]
    assert [n.shape_text for n in stages] == ["16x32x32", "32x16x16", "64x8x8"]
    assert graph.nodes[-1].label == "Linear 64→10"
    each = D.network_graph(cifar_resnet(20), (3, 32, 32), group_repeats=False)
    assert sum("BasicBlock" in n.label for n in each.nodes) == 9
    assert "layer2.0\nBasicBlock" in labels(each)


def test_resnet18_small_input_rows_fit_the_page():
    with torch.device("meta"):
        model = resnet18(num_classes=10, small_input=True)
    graph = D.network_graph(model, (3, 32, 32), group_repeats=False, width=10.0)
    per_row = graph.meta["per_row"]
    assert max(n.x for n in graph.nodes) < per_row and max(n.y for n in graph.nodes) >= 1
    fig = D.draw_network(model, (3, 32, 32), group_repeats=False, title="ResNet-18")
    assert isinstance(fig, Figure) and fig.get_size_inches()[0] <= 10.0


def test_densenet121_whole_network_readable():
    with torch.device("meta"):
        model = densenet121()
    fig = D.draw_network(model, (3, 64, 64), title="DenseNet-121")  # timed in the report, not here (busy CI)
    assert fig.get_size_inches()[0] <= 10.0
    graph = D.network_graph(model, (3, 64, 64))
    found = labels(graph)
    for i, n in enumerate((6, 12, 24, 16), start=1):
        assert f"DenseBlock {i}\n{n} × DenseLayer" in found
    assert [n.shape_text for n in graph.find(label="Transition")] == ["128x8x8", "256x4x4", "512x2x2"]
    assert graph.nodes[-1].shape == (1000,)


def test_googlenet_inception_boxes():
    with torch.device("meta"):
        model = googlenet(aux_logits=False).eval()
    graph = D.network_graph(model, (3, 224, 224))
    assert graph.layout == "rows"
    assert graph.find(label="Inception 3a")[0].shape_text == "256x28x28"
    assert graph.find(label="Inception 5b")[0].shape_text == "1024x7x7"
    assert graph.nodes[1].label == "Conv 7x7/2, 64\n-BN-ReLU"  # BasicConv2d shown by its layers


def test_network_that_is_not_a_chain_is_drawn_top_to_bottom():
    with torch.device("meta"):
        model = googlenet(aux_logits=True)  # training mode: the auxiliary heads branch off
    graph = D.network_graph(model, (3, 224, 224))
    assert graph.layout == "vertical"
    assert len(graph.successors(graph.find(label="Inception 4a")[0].id)) == 2


# ---------------------------------------------------------------------------------------------------- drawing

def test_draw_returns_figures_and_uses_a_given_axes():
    fig = D.draw_block(BasicBlock(16, 16), (16, 8, 8), title="BasicBlock")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    fig2, ax = plt.subplots()
    assert D.draw_block(Transition(8, 4), (8, 8, 8), ax=ax) is fig2
    fig3, ax3 = plt.subplots()
    assert D.draw_network(lenet5(), (1, 32, 32), ax=ax3) is fig3


def test_drawing_leaves_rng_and_module_untouched():
    torch.manual_seed(0)
    block = BasicBlock(8, 16, stride=2, downsample=projection(8, 16, 2)).train()
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Dropout(0.5), nn.BatchNorm2d(8))
    before = {k: v.clone() for k, v in block.state_dict().items()}
    rng = torch.random.get_rng_state()
    D.draw_block(block, (8, 16, 16))
    D.draw_network(model, (3, 16, 16))
    D.block_graph(model.eval(), (3, 16, 16))
    assert torch.equal(rng, torch.random.get_rng_state())
    assert block.training and all(torch.equal(before[k], v) for k, v in block.state_dict().items())
    assert all(p.device.type == "cpu" for p in block.parameters())


# ---------------------------------------------------------------------------------------------------- errors

def test_not_a_module():
    with pytest.raises(ValueError, match="expects an nn.Module, got str"):
        D.draw_block("resnet", (3, 32, 32))
    with pytest.raises(ValueError, match="expects an nn.Module, got function"):
        D.draw_network(lenet5, (1, 32, 32))


@pytest.mark.parametrize("shape", [(64, 32), (1, 64, 32, 32), 64, (64, 0, 8), (64.0, 8, 8), "64x8x8"])
def test_bad_input_shape(shape):
    with pytest.raises(ValueError, match="input_shape"):
        D.block_graph(BasicBlock(64, 64), shape)


def test_shape_the_model_refuses():
    with pytest.raises(ValueError, match=r"expects 64 input channels, got 3") as info:
        D.draw_block(BasicBlock(64, 64), (3, 32, 32))
    assert "While executing" not in str(info.value)
    with pytest.raises(ValueError, match=r"LeNet5 refuses input shape \(1, 28, 28\).*expected 32x32"):
        D.draw_network(lenet5(), (1, 28, 28))
    with pytest.raises(ValueError, match=r"fc1 \(Linear 10→5\) expects 10 input features, got 7"):
        D.block_graph(_Mlp(), (7,))


class _Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(10, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc1(x)


class _DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.sum() > 0 else -x


def test_untraceable_module():
    with pytest.raises(ValueError, match="cannot draw _DataDependent: torch.fx.symbolic_trace failed"):
        D.draw_block(_DataDependent(), (3, 4, 4))


def test_bad_options():
    with pytest.raises(ValueError, match="depth must be an integer >= 1 or None, got 0"):
        D.block_graph(BasicBlock(8, 8), (8, 4, 4), depth=0)
    with pytest.raises(ValueError, match="depth must be an integer >= 1, got None"):
        D.network_graph(lenet5(), (1, 32, 32), depth=None)
    with pytest.raises(ValueError, match="per_row must be an integer >= 1"):
        D.draw_network(lenet5(), (1, 32, 32), per_row=0)
    with pytest.raises(ValueError, match="width must be > 0"):
        D.draw_network(lenet5(), (1, 32, 32), width=0)
    graph = D.block_graph(BasicBlock(8, 8), (8, 4, 4))
    with pytest.raises(ValueError, match="no node 'nope'"):
        graph.node("nope")
