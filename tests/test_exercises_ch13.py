"""Chapter 13's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
import torch

from cnnbook.exercises import ch13


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
    # depth 3: 8k + 4 * (2^4 - 1) = 8k + 60; k >= 1 needs bottom >= 1 ... above 100: 108 (k = 6)
    assert ch13.ex3(108)
    assert not ch13.ex3(104)  # a multiple of 8: the padded rule
    assert not ch13.ex3(None)


def test_ex4_iou_from_dice():
    assert ch13.ex4(lambda d: d / (2 - d))
    assert not ch13.ex4(lambda d: d)
    assert not ch13.ex4(lambda d: 2 * d / (1 + d))  # the inverse map, IoU -> Dice
    assert not ch13.ex4(None)


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
