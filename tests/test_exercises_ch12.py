"""Chapter 12's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
import torch
import torch.nn.functional as F

from cnnbook.exercises import ch12


def test_ex1_block_parameters():
    c = 96
    right = 49 * c + c + 2 * c + (c * 4 * c + 4 * c) + (4 * c * c + c) + c
    assert right == 79_296
    assert ch12.ex1(right)
    assert not ch12.ex1(right - c)  # forgets layer scale
    assert not ch12.ex1(9 * c + c + 2 * c + 8 * c * c + 5 * c + c)  # a 3x3 depthwise kernel
    assert not ch12.ex1(None)


def test_ex2_patchify_macs():
    assert ch12.ex2(4 * 4 * 3 * 96 * 56 * 56)
    assert ch12.ex2(14_450_688)
    assert not ch12.ex2(4 * 4 * 3 * 96 * 224 * 224)  # forgets the stride
    assert not ch12.ex2(None)


def test_ex3_drop_probability():
    assert ch12.ex3(0.1 * 14 / 17)  # 3 + 3 + 8 blocks before it, 18 blocks in all
    assert not ch12.ex3(0.1 * 14 / 18)
    assert not ch12.ex3(0.1)
    assert not ch12.ex3(None)


def test_ex4_layer_norm_over_channels():
    def right(x):
        mean = x.mean(dim=1, keepdim=True)
        var = x.var(dim=1, unbiased=False, keepdim=True)
        return (x - mean) / torch.sqrt(var + 1e-6)

    def group_norm(x):  # the erratum: statistics over (C, H, W)
        return F.group_norm(x, 1, eps=1e-6)

    def unbiased(x):
        return (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, keepdim=True) + 1e-6)

    assert ch12.ex4(right)
    assert not ch12.ex4(group_norm)
    assert not ch12.ex4(unbiased)
    assert not ch12.ex4(lambda x: 1 / 0)
    assert not ch12.ex4(None)


def test_ex5_downsampling_parameters():
    widths = [96, 192, 384, 768]
    right = sum(2 * a + 4 * a * b + b for a, b in zip(widths, widths[1:]))
    assert right == 1_550_976
    assert ch12.ex5(right)
    assert not ch12.ex5(sum(4 * a * b + b for a, b in zip(widths, widths[1:])))  # forgets the LayerNorms
    assert not ch12.ex5(None)
