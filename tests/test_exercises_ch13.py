"""Chapter 13's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
import pytest
import torch
from torch import nn

from cnnbook.exercises import ch13
from cnnbook.models.unet import overlap_tile_predict, unet, unet_sizes


def test_ex1_output_side():
    # depth 5, 508: 508 -4-> 504 /2 252 -4-> 248 /2 124 -4-> 120 /2 60 -4-> 56 /2 28 -4-> 24 /2 12 -4-> 8 (bottom)
    # up: 16 -4-> 12, 24 -4-> 20, 40 -4-> 36, 72 -4-> 68, 136 -4-> 132
    assert ch13.ex1(132)
    assert not ch13.ex1(324)  # the depth-4 answer (508 - 184)
    assert not ch13.ex1(508)  # a padded network's answer
    assert not ch13.ex1(None)


def test_ex2_double_conv_parameters():
    right = (9 * 64 * 128 + 128) + (9 * 128 * 128 + 128)
    assert right == 221_440
    assert ch13.ex2(right)
    assert not ch13.ex2(9 * 64 * 128 + 9 * 128 * 128)  # forgets the biases
    assert not ch13.ex2(None)


def test_ex3_smallest_valid_side():
    # depth 3: 8k + 60 with k the bottom side; the output 8k - 28 needs k >= 4; above 200: 204 (k = 18)
    assert ch13.ex3(204)
    assert not ch13.ex3(208)  # the padded rule (multiples of 8)
    assert not ch13.ex3(108)  # the smallest above 100
    assert not ch13.ex3(None)


def test_ex4_largest_aligned_stride():
    # 388 = 24 * 16 + 4: the largest multiple of 2^4 that is at most 388 is 384
    assert ch13.largest_aligned_stride(4, 388) == 384
    assert ch13.ex4(384)
    assert not ch13.ex4(388)  # edge to edge: every tile after the first starts 4 pixels off the grid
    assert not ch13.ex4(368)  # a multiple of 16, not the largest
    assert not ch13.ex4(None)
    with pytest.raises(ValueError, match="not an output side"):
        ch13.largest_aligned_stride(4, 384)


def _strided_tile_predict(net, image, tile, stride):
    """Output tiles of side ``tile`` started every ``stride`` pixels (later tiles overwrite the overlap), each
    seen with its context mirrored at the borders: overlap_tile_predict with a stride of its own."""
    side = next(s for s in range(tile, tile + 64 * 2**net.depth) if _valid_output(s, net.depth) == tile)
    margin = (side - tile) // 2
    _, _, h, w = image.shape
    starts_y, starts_x = range(0, h - tile + stride, stride), range(0, w - tile + stride, stride)
    span_y, span_x = starts_y[-1] + tile, starts_x[-1] + tile
    pads = (margin, span_x - w + margin, margin, span_y - h + margin)
    assert max(pads) < min(h, w)  # one reflection is enough for the sizes used here
    padded = torch.nn.functional.pad(image, pads, mode="reflect")
    out = image.new_zeros(1, net.num_classes, span_y, span_x)
    for y in starts_y:
        for x in starts_x:
            out[..., y:y + tile, x:x + tile] = net(padded[..., y:y + side, x:x + side])
    return out[..., :h, :w]


def _valid_output(side, depth):
    try:
        return unet_sizes(side, depth).output
    except ValueError:
        return None


def test_aligned_strides_agree_with_a_he_initialised_unet():
    # depth 3, output tiles of 36 (input 124): strides 24 and 32 start every tile on the 8-pixel grid, 36 does not
    image = torch.rand(1, 1, 90, 100, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    net = unet(1, 2, base_channels=4, depth=3).eval()
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    assert ch13.largest_aligned_stride(3, 36) == 32
    with torch.no_grad():
        by = {s: _strided_tile_predict(net, image, 36, s) for s in (24, 32, 36)}
    assert torch.allclose(by[24], by[32], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(by[32], by[36], rtol=1e-4, atol=1e-5)
    assert [ch13.starts_on_pooling_grid(3, s) for s in (24, 32, 36)] == [True, True, False]


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
    low, high = ch13.EX6_RANGE
    assert ch13.ex6(3_695) and ch13.ex6(low) and ch13.ex6(high)  # seed 0: 23,574 - 19,879 pixels
    assert ch13.ex6(22_995 - 20_745)  # seed 0 on an AVX2 code path
    assert ch13.ex6(torch.tensor(3_695))  # a count straight from a tensor sum
    assert not ch13.ex6(-3_695)  # the subtraction the other way round
    assert not ch13.ex6(19_879) and not ch13.ex6(23_574)  # one run's count, not the difference
    for printed in (0.026, 0.134, 0.160):  # an mIoU (or a difference of two) is not a pixel count
        assert not ch13.ex6(printed)
    assert not ch13.ex6(3695.5) and not ch13.ex6(True) and not ch13.ex6(None)
