"""Chapter 13's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
import pytest
import torch
from torch import nn

from cnnbook.exercises import ch13
from cnnbook.models.unet import overlap_tile_predict, unet


def test_ex1_output_side():
    # 508 -4-> 504 /2 252 -4-> 248 /2 124 -4-> 120 /2 60 -4-> 56 /2 28 -4-> 24 (bottom)
    # up: 48 -4-> 44, 88 -4-> 84, 168 -4-> 164, 328 -4-> 324
    assert ch13.ex1(324)
    assert not ch13.ex1(388)  # the 572 answer
    assert not ch13.ex1(508)  # a padded network's answer
    assert not ch13.ex1(None)


def test_ex2_double_conv_parameters():
    right = (9 * 64 * 128 + 128) + (9 * 128 * 128 + 128)
    assert right == 221_440
    assert ch13.ex2(right)
    assert not ch13.ex2(9 * 64 * 128 + 9 * 128 * 128)  # forgets the biases
    assert not ch13.ex2(None)


def test_ex3_smallest_valid_side():
    # depth 3: 8k + 60 with k the bottom side; the output 8k - 28 needs k >= 4; above 100: 108 (k = 6)
    assert ch13.ex3(108)
    assert not ch13.ex3(104)  # a multiple of 8: the padded rule
    assert not ch13.ex3(None)


def test_ex4_aligned_tilings():
    assert ch13.ex4({"a", "b"}) and ch13.ex4(["B", "a"])
    assert not ch13.ex4({"a", "b", "d"})  # the paper's 388-pixel tiles are 4 pixels off the depth-4 pooling grid
    assert not ch13.ex4("a") and not ch13.ex4(None)


def test_seamless_tiling_agrees_with_tiling_a_he_initialised_unet():
    image = torch.rand(1, 1, 50, 70, generator=torch.Generator().manual_seed(0))
    for depth, tiles in ((2, (12, 32)), (3, (12, 20))):
        torch.manual_seed(0)
        net = unet(1, 2, base_channels=4, depth=depth).eval()
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        with torch.no_grad():
            a, b = (overlap_tile_predict(net, image, tile=t) for t in tiles)
        same = torch.allclose(a, b, rtol=1e-4, atol=1e-5)
        assert same == all(ch13.tiling_is_seamless(depth, t) for t in tiles)
    with pytest.raises(ValueError, match="not an output side"):
        ch13.tiling_is_seamless(3, 27)


def test_ex5_foreground_iou():
    def right(pred, target):
        p, t = pred.bool(), target.bool()
        return float((p & t).sum() / (p | t).sum())

    def per_image_mean(pred, target):  # averages per image instead of pooling the pixels
        return float(sum(right(p[None], t[None]) for p, t in zip(pred, target)) / len(pred))

    assert ch13.ex5(right)
    assert not ch13.ex5(per_image_mean)
    assert not ch13.ex5(lambda pred, target: float((pred == target).double().mean()))  # pixel accuracy
    assert not ch13.ex5(None)


def test_dice_and_iou_are_tied():
    g = torch.Generator().manual_seed(0)
    target = (torch.rand(2, 7, 7, generator=g) < 0.4).long()
    pred = (torch.rand(2, 7, 7, generator=g) < 0.5).long()
    assert ch13.dice_matches_iou(pred, target)


def test_ex6_accepts_the_measured_range_only():
    assert ch13.ex6(0.127) and ch13.ex6(0.10) and ch13.ex6(0.16)
    assert not ch13.ex6(0.3) and not ch13.ex6(0.05) and not ch13.ex6(None) and not ch13.ex6("0.13")
