import math

import pytest
import torch

from cnnbook.segmentation import (
    boundary_accuracy,
    boundary_mask,
    confusion_matrix,
    dice_loss,
    dice_per_class,
    foreground_miou,
    iou_per_class,
    pixel_accuracy,
    segmentation_loss,
)


def _random_masks(seed: int, num_classes: int = 4, shape=(3, 9, 11)):
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, num_classes, shape, generator=g)
    pred = torch.where(torch.rand(shape, generator=g) < 0.6, target, torch.randint(0, num_classes, shape, generator=g))
    return pred, target


def _brute_force(pred, target, num_classes):
    """Count pixel by pixel with Python loops: the definitions, nothing clever."""
    iou, dice, cm = [], [], [[0] * num_classes for _ in range(num_classes)]
    p, t = pred.flatten().tolist(), target.flatten().tolist()
    for a, b in zip(t, p):
        cm[a][b] += 1
    for c in range(num_classes):
        both = sum(1 for a, b in zip(p, t) if a == c and b == c)
        either = sum(1 for a, b in zip(p, t) if a == c or b == c)
        sizes = sum(1 for a in p if a == c) + sum(1 for b in t if b == c)
        iou.append(both / either if either else math.nan)
        dice.append(2 * both / sizes if sizes else math.nan)
    return cm, iou, dice


@pytest.mark.parametrize("seed", range(5))
def test_metrics_equal_a_brute_force_count(seed):
    num_classes = 4
    pred, target = _random_masks(seed, num_classes)
    if seed == 4:  # a class present nowhere: NaN, not 0 and not 1
        pred[pred == 3], target[target == 3] = 0, 0
    cm, iou, dice = _brute_force(pred, target, num_classes)
    assert confusion_matrix(pred, target, num_classes).tolist() == cm
    for got, want in ((iou_per_class(pred, target, num_classes), iou), (dice_per_class(pred, target, num_classes), dice)):
        for g, w in zip(got.tolist(), want):
            assert (math.isnan(g) and math.isnan(w)) or abs(g - w) < 1e-12
    assert pixel_accuracy(pred, target, num_classes) == pytest.approx((pred == target).float().mean().item())


def test_logits_are_argmaxed():
    pred, target = _random_masks(0)
    logits = torch.nn.functional.one_hot(pred, 4).permute(0, 3, 1, 2).float() * 5 + 0.1 * torch.randn(3, 4, 9, 11)
    assert torch.equal(iou_per_class(logits, target, 4), iou_per_class(pred, target, 4))


def test_perfect_and_disjoint_predictions():
    target = torch.tensor([[[0, 1], [2, 2]]])
    assert iou_per_class(target, target, 3).tolist() == [1.0, 1.0, 1.0]
    assert dice_per_class(target, target, 3).tolist() == [1.0, 1.0, 1.0]
    pred = torch.tensor([[[1, 0], [0, 0]]])
    assert iou_per_class(pred, target, 3).tolist() == [0.0, 0.0, 0.0]


def test_dice_and_iou_are_related():
    pred, target = _random_masks(1)
    iou, dice = iou_per_class(pred, target, 4), dice_per_class(pred, target, 4)
    torch.testing.assert_close(dice, 2 * iou / (1 + iou))


def _boundary_brute_force(target, width):
    n, h, w = target.shape
    out = torch.zeros_like(target, dtype=torch.bool)
    for i in range(n):
        for y in range(h):
            for x in range(w):
                window = target[i, max(0, y - width) : y + width + 1, max(0, x - width) : x + width + 1]
                out[i, y, x] = bool((window != target[i, y, x]).any())
    return out


@pytest.mark.parametrize("width", [1, 2])
def test_boundary_mask_and_accuracy_by_brute_force(width):
    pred, target = _random_masks(2, 3, (2, 8, 7))
    target[0] = 0
    target[0, 2:5, 3:6] = 2  # a block: its rim and the ring around it are the boundary
    near = _boundary_brute_force(target, width)
    assert torch.equal(boundary_mask(target, width), near)
    assert boundary_accuracy(pred, target, 3, width) == pytest.approx((pred[near] == target[near]).float().mean().item())
    flat = torch.zeros(1, 5, 5, dtype=torch.long)
    assert not boundary_mask(flat).any() and math.isnan(boundary_accuracy(flat, flat, 2))


def test_dice_loss_values_and_gradient():
    target = torch.tensor([[[0, 1], [2, 2]]])
    confident = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).float() * 50
    assert dice_loss(confident, target, eps=1e-6).item() == pytest.approx(0.0, abs=1e-6)
    wrong = torch.nn.functional.one_hot((target + 1) % 3, 3).permute(0, 3, 1, 2).float() * 50
    assert dice_loss(wrong, target, eps=1e-6).item() == pytest.approx(1.0, abs=1e-6)
    # The soft loss by hand: p = softmax, per class 1 - (2 sum p t + eps) / (sum p + sum t + eps), averaged.
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    target = torch.randint(0, 3, (2, 4, 4))
    p = logits.softmax(1)
    by_hand = []
    for c in range(3):
        t = (target == c).float()
        by_hand.append(1 - (2 * (p[:, c] * t).sum() + 1) / (p[:, c].sum() + t.sum() + 1))
    loss = dice_loss(logits, target)
    torch.testing.assert_close(loss, torch.stack(by_hand).mean())
    torch.testing.assert_close(dice_loss(logits, target, include_background=False), torch.stack(by_hand[1:]).mean())
    loss.backward()
    assert logits.grad.abs().sum() > 0


def test_bad_input():
    pred, target = _random_masks(0)
    with pytest.raises(ValueError, match="differ in shape"):
        iou_per_class(pred[:, :5], target, 4)
    with pytest.raises(ValueError, match=r"expected \[0, 2\]"):
        iou_per_class(pred, target, 3)  # class id 3 out of range
    with pytest.raises(ValueError, match="target"):
        dice_per_class(pred, target.float(), 4)
    with pytest.raises(ValueError, match="target"):
        dice_per_class(pred, target[0], 4)
    with pytest.raises(ValueError, match="channels"):
        iou_per_class(torch.randn(3, 5, 9, 11), target, 4)
    with pytest.raises(ValueError, match="pred"):
        iou_per_class(pred.float(), target, 4)
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix(pred, target, 0)
    with pytest.raises(ValueError, match="target"):
        iou_per_class(pred, -target - 1, 4)
    with pytest.raises(ValueError):
        dice_loss(torch.randn(3, 4, 9, 11), target.clamp(max=3) + 1, 4)  # eps=4 is fine, ids up to 4 are not
    with pytest.raises(ValueError, match="logits"):
        dice_loss(torch.randn(4, 9, 11), target)
    with pytest.raises(ValueError, match="width"):
        boundary_mask(target, 0)


def test_foreground_miou_is_the_mean_iou_without_background():
    pred, target = _random_masks(1)
    _, iou, _ = _brute_force(pred, target, 4)
    assert foreground_miou(pred, target) == pytest.approx(sum(iou[1:]) / 3)
    assert foreground_miou(pred, target, 6) == pytest.approx(sum(iou[1:]) / 3)  # absent classes 4, 5 are skipped
    logits = torch.nn.functional.one_hot(pred, 4).permute(0, 3, 1, 2).float()
    assert foreground_miou(logits, target, 4) == pytest.approx(sum(iou[1:]) / 3)
    with pytest.raises(ValueError, match="num_classes"):
        foreground_miou(logits, target)
    with pytest.raises(ValueError, match="no foreground"):
        foreground_miou(torch.zeros(1, 2, 2, dtype=torch.long), torch.zeros(1, 2, 2, dtype=torch.long))


def test_segmentation_loss_is_cross_entropy_plus_dice():
    _, target = _random_masks(2)
    logits = torch.randn(3, 4, 9, 11, generator=torch.Generator().manual_seed(2))
    want = torch.nn.functional.cross_entropy(logits, target) + dice_loss(logits, target)
    assert torch.equal(segmentation_loss(logits, target), want)
