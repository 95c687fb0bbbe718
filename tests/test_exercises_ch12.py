"""Chapter 12's exercise checkers: right answers (derived by hand or measured by a second route) pass, wrong ones,
malformed ones and None fail with a message that says why."""
import pytest
import torch
from torch import nn

from cnnbook import set_seed
from cnnbook.data import load_shapes10
from cnnbook.exercises import ch12
from cnnbook.experiments import standardised
from cnnbook.models.convnext import convnext_ladder
from cnnbook.records.convnext import PAGE_SPLIT, SMALL


def test_ex1_parameter_count_unchanged(capsys):
    assert ch12.ex1({"a", "b", "e", "f", "g"})
    assert ch12.ex1(["A", "B", "E", "F", "G"])
    assert "correct" in capsys.readouterr().out
    assert not ch12.ex1({"a", "b", "g"})  # forgot that BatchNorm's running statistics are buffers, not parameters
    assert not ch12.ex1({"a", "b", "c", "e", "f", "g"})  # layer scale's gamma is a parameter
    assert not ch12.ex1({"a", "b", "d", "e", "f", "g"})  # a 3x3 depthwise filter has 9 weights, not 49
    assert "not quite" in capsys.readouterr().out


def test_ex1_bad_input_and_none(capsys):
    assert not ch12.ex1({"a", "z"})
    assert "choose among" in capsys.readouterr().out
    assert not ch12.ex1(3)
    assert "set of letters" in capsys.readouterr().out
    assert not ch12.ex1(None)
    assert "not answered yet" in capsys.readouterr().out


def test_ex2_stage1_receptive_field(capsys):
    stem, jump, blocks = 4, 4, 3  # a 4x4/4 patchify stem, then three blocks at a jump of 4 pixels
    with_7, with_3 = stem + blocks * 6 * jump, stem + blocks * 2 * jump
    assert (with_7, with_3) == (76, 28)
    assert ch12.ex2((with_7, with_3)) and ch12.ex2([76, 28])
    assert "correct" in capsys.readouterr().out
    assert not ch12.ex2((28, 76))  # swapped
    assert not ch12.ex2((4 + 6, 4 + 2))  # one block at a jump of 1
    assert not ch12.ex2((stem + blocks * 6, stem + blocks * 2))  # forgot the stem's jump of 4
    assert "not quite" in capsys.readouterr().out


def test_ex2_bad_input_and_none(capsys):
    for bad in (76, (76,), (76, 28, 35), ("76", "28"), (76.5, 28), (True, 28)):
        assert not ch12.ex2(bad)
        assert "give a pair of whole numbers" in capsys.readouterr().out
    assert not ch12.ex2(None)
    assert "not answered yet" in capsys.readouterr().out


def test_ladder_step_names_are_the_ladders():
    names = ch12.ladder_step_names()
    assert len(names) == 13 and names[0] == "ResNet-50" and names[-1] == "separate downsampling layers"


def test_ex3_first_activation_free_trunk(capsys):
    assert ch12.ex3("fewer activations")
    assert ch12.ex3("  Fewer   Activations ")  # case and spacing do not matter
    assert "correct" in capsys.readouterr().out
    assert not ch12.ex3("patchify stem")  # drops the stem's ReLU only; the ReLU after each addition stays
    assert not ch12.ex3("ReLU -> GELU")  # GELU is an activation too
    assert not ch12.ex3("BatchNorm -> LayerNorm")
    assert "not quite" in capsys.readouterr().out


def test_ex3_trunk_activations_found_by_a_second_route():
    """The ResNet-50 rung's trunk has the stem's ReLU and one after each of its four additions; ConvNeXt's none."""
    ladder = dict(convnext_ladder())
    assert len(ch12._trunk_activations(ladder["ResNet-50"](**SMALL))) == 1 + 4
    assert len(ch12._trunk_activations(ladder["patchify stem"](**SMALL))) == 4
    assert ch12._trunk_activations(ladder["fewer activations"](**SMALL)) == []
    assert ch12._trunk_activations(ladder["separate downsampling layers"](**SMALL)) == []


def test_ex3_bad_input_and_none(capsys):
    for bad in (9, "fewer activation", ["fewer activations"]):
        assert not ch12.ex3(bad)
        assert "give one of the ladder's step names" in capsys.readouterr().out
    assert not ch12.ex3(None)
    assert "not answered yet" in capsys.readouterr().out


def test_ex4_batch_independence(capsys):
    assert ch12.ex4({"a", "c"})
    assert "correct" in capsys.readouterr().out
    assert not ch12.ex4({"a"})  # copies of one image give BatchNorm that image's own statistics
    assert not ch12.ex4({"a", "b", "c"})  # without running statistics BatchNorm uses the batch's, even in eval mode
    assert not ch12.ex4({"a", "c", "d"})  # the first convolution's outputs of a mirror image have other statistics
    assert not ch12.ex4({"a", "c", "e"})  # doubling the companions doubles their share of the batch's statistics
    assert "not quite" in capsys.readouterr().out


def test_ex4_cases_by_hand():
    torch.manual_seed(0)
    build = convnext_ladder()[0][1]
    net, images = build(**SMALL), torch.rand(8, 3, 32, 32)
    with torch.no_grad():
        net.train()(images)  # running statistics that differ from their starting values
        net.eval()
        alone, in_batch = net(images[:1]), net(images)[:1]
        free = ch12.without_running_stats(net).eval()
        assert not any(m.track_running_stats for m in free.modules() if isinstance(m, nn.BatchNorm2d))
        free_alone, free_in_batch = free(images[:1]), free(images)[:1]
    assert torch.allclose(alone, in_batch, atol=1e-5)
    assert not torch.allclose(free_alone, free_in_batch, atol=1e-3)  # eval mode, yet the batch's statistics


def test_without_running_stats_keeps_other_modules_and_rejects_non_modules():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, eps=1e-3), nn.Sequential(nn.BatchNorm2d(4)))
    out = ch12.without_running_stats(net)
    assert out is net and isinstance(net[0], nn.Conv2d)
    assert net[1].eps == 1e-3 and net[1].running_mean is None and net[2][0].running_var is None
    with pytest.raises(ValueError, match="nn.Module"):
        ch12.without_running_stats("resnet")


def test_ex4_bad_input_and_none(capsys):
    assert not ch12.ex4({"b", "f"})
    assert "choose among" in capsys.readouterr().out
    assert not ch12.ex4(None)
    assert "not answered yet" in capsys.readouterr().out


def _share(net: nn.Module, images: torch.Tensor) -> float:
    """The between-image share computed a second way: 1 - |mean feature|^2 / mean |feature|^2, the head read by hand."""
    net.train()
    with torch.no_grad():
        x = net.stem(images)
        for name in net._stage_names:
            x = getattr(net, name)(x)
        f = torch.flatten(net.norm(net.avgpool(x)), 1)
    return 1 - (f.mean(0).pow(2).sum() / f.pow(2).sum(1).mean()).item()


@pytest.fixture(scope="module")
def first_images():
    shapes = load_shapes10(**PAGE_SPLIT)
    return shapes.train.tensors[0][:256], standardised(shapes).train.tensors[0][:256]


def _measured(step: str, images: torch.Tensor, width: float, seeds=range(6)) -> list[float]:
    build = dict(convnext_ladder())[step]
    out = []
    for seed in seeds:
        set_seed(seed)
        out.append(_share(build(**dict(SMALL, width_scale=width)), images))
    return out


def test_ex5_range_holds_for_seed_0_and_excludes_the_other_runs(first_images):
    raw, standard = first_images
    share = _measured("BatchNorm -> LayerNorm", raw, 1 / 8, seeds=[ch12.EX5_SEED])[0]
    low, high = ch12.EX5_RANGE
    assert ch12.ex5(share) and low + 0.005 < share < high - 0.01  # a margin on both sides
    batch_norm = _measured("fewer norms", raw, 1 / 8, seeds=[0])
    assert batch_norm[0] == pytest.approx(1.0, abs=1e-4)
    assert not ch12.ex5(batch_norm[0])  # the BatchNorm rung's share, not the LayerNorm rung's
    others = [*_measured("BatchNorm -> LayerNorm", raw, 1 / 2, seeds=[0]),
              *_measured("BatchNorm -> LayerNorm", raw, 1 / 4, seeds=[0]),
              *_measured("BatchNorm -> LayerNorm", standard, 1 / 8, seeds=[0])]
    assert not any(ch12.ex5(s) for s in others)  # exercise 6's shares do not pass for exercise 5's


def test_ex5_bad_input_and_none(capsys):
    assert not ch12.ex5(0.9)
    assert "not quite" in capsys.readouterr().out
    assert not ch12.ex5(0.0)  # every image with the same features
    assert not ch12.ex5(0.05)  # a guess in the middle of the seeds' spread
    assert "not quite" in capsys.readouterr().out
    for bad in (1.5, -0.1, "0.05", True, (0.05,)):
        assert not ch12.ex5(bad)
        assert "between 0 and 1" in capsys.readouterr().out
    assert not ch12.ex5(None)
    assert "not answered yet" in capsys.readouterr().out


def test_ex6_ranges_hold_for_seed_0(first_images, capsys):
    raw, standard = first_images
    wide = _measured("BatchNorm -> LayerNorm", raw, 1 / 2, seeds=[0])[0]
    standardised_share = _measured("BatchNorm -> LayerNorm", standard, 1 / 8, seeds=[0])[0]
    narrow = _measured("BatchNorm -> LayerNorm", raw, 1 / 8, seeds=[0])[0]
    for value, (low, high) in ((wide, ch12.EX6_WIDE_RANGE), (standardised_share, ch12.EX6_STANDARDISED_RANGE)):
        assert low + 0.002 < value < high - 0.002  # a margin on both sides
    assert ch12.ex6((wide, standardised_share))
    assert not ch12.ex6((standardised_share, wide))  # swapped
    assert not ch12.ex6((narrow, standardised_share))  # exercise 5's share in place of the wide rung's
    out = capsys.readouterr().out
    assert "Exercise 6 (width 1/2, raw images): correct" in out and "not quite" in out


def test_ex6_bad_input_and_none(capsys):
    assert not ch12.ex6((0.05, 0.05))  # both raw: standardising is what raises the share
    assert "not quite" in capsys.readouterr().out
    assert not ch12.ex6((0.0, 0.47)) and not ch12.ex6((0.066, 0.3))  # 0 for the wide rung; a guess for the other
    assert "not quite" in capsys.readouterr().out
    for bad in (0.5, (0.05,), (0.05, 0.5, 0.5), ("0.05", "0.5")):
        assert not ch12.ex6(bad)
        assert "give a pair of shares" in capsys.readouterr().out
    assert not ch12.ex6((0.05, 1.5))
    assert "between 0 and 1" in capsys.readouterr().out
    assert not ch12.ex6(None)
    assert "not answered yet" in capsys.readouterr().out


def test_ex7_parameters_with_11x11_kernels(capsys):
    by_hand = 28_589_128 + (11 * 11 - 7 * 7) * (3 * 96 + 3 * 192 + 9 * 384 + 3 * 768)
    assert by_hand == 29_066_056
    assert ch12.ex7(by_hand) and ch12.ex7(torch.tensor(by_hand).item())
    assert "correct" in capsys.readouterr().out
    assert not ch12.ex7(28_589_128 + 72 * 96 * 18)  # every block taken at the first stage's width
    assert "not quite" in capsys.readouterr().out


def test_ex7_bad_input_and_none(capsys):
    assert not ch12.ex7(29.5e6)
    assert "whole number" in capsys.readouterr().out
    assert not ch12.ex7(True)
    assert "whole number" in capsys.readouterr().out
    assert not ch12.ex7(None)
    assert "not answered yet" in capsys.readouterr().out
