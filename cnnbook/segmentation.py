"""Segmentation metrics and losses, written to be read: a confusion matrix, per-class IoU and Dice, a soft Dice
loss, and accuracy on the pixels near class boundaries.

Predictions are class ids (N, H, W) or logits (N, C, H, W) (their argmax is taken); targets are class ids
(N, H, W) in [0, num_classes). A class absent from both prediction and target has no IoU or Dice: NaN.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _labels(pred: Tensor, target: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Check shapes and ranges; return (pred ids, target ids), both (N, H, W) int64."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
    if target.dim() != 3 or target.dtype.is_floating_point or target.dtype == torch.bool:
        raise ValueError(f"target must be an (N, H, W) tensor of class ids, got {tuple(target.shape)} {target.dtype}")
    if pred.dim() == 4:
        if pred.shape[1] != num_classes:
            raise ValueError(f"logits must have {num_classes} channels, got {pred.shape[1]}")
        pred = pred.argmax(1)
    elif pred.dim() != 3 or pred.dtype.is_floating_point:
        raise ValueError(f"pred must be (N, H, W) class ids or (N, C, H, W) logits, got {tuple(pred.shape)} {pred.dtype}")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target masks differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}")
    for name, ids in (("pred", pred), ("target", target)):
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= num_classes):
            raise ValueError(f"{name} has class ids in [{int(ids.min())}, {int(ids.max())}], "
                             f"expected [0, {num_classes - 1}]")
    return pred.long(), target.long()


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """(num_classes, num_classes) int64 counts: row = true class, column = predicted class."""
    pred, target = _labels(pred, target, num_classes)
    index = target.flatten() * num_classes + pred.flatten()
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def iou_per_class(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """Intersection over union of each class, |P and T| / |P or T| over all pixels of the batch (NaN if empty)."""
    cm = confusion_matrix(pred, target, num_classes).double()
    hit = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - hit
    return torch.where(union > 0, hit / union.clamp(min=1), torch.full_like(hit, float("nan")))


def dice_per_class(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """Dice of each class, 2 |P and T| / (|P| + |T|) over all pixels of the batch (NaN if both are empty)."""
    cm = confusion_matrix(pred, target, num_classes).double()
    hit = cm.diagonal()
    total = cm.sum(0) + cm.sum(1)
    return torch.where(total > 0, 2 * hit / total.clamp(min=1), torch.full_like(hit, float("nan")))


def pixel_accuracy(pred: Tensor, target: Tensor, num_classes: int) -> float:
    """The fraction of pixels whose class is right."""
    pred, target = _labels(pred, target, num_classes)
    return float((pred == target).double().mean())


def boundary_mask(target: Tensor, width: int = 1) -> Tensor:
    """(N, H, W) bool: pixels with a different class within ``width`` pixels (a (2 width + 1)^2 window)."""
    if target.dim() != 3:
        raise ValueError(f"target must be (N, H, W) class ids, got shape {tuple(target.shape)}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be an integer >= 1, got {width!r}")
    ids = target[:, None].double()
    k = 2 * width + 1
    # Padding with the border value itself (replicate) so the image edge is no boundary.
    padded = F.pad(ids, (width,) * 4, mode="replicate")
    high = F.max_pool2d(padded, k, stride=1)
    low = -F.max_pool2d(-padded, k, stride=1)
    return (high != low)[:, 0]


def boundary_accuracy(pred: Tensor, target: Tensor, num_classes: int, width: int = 1) -> float:
    """Pixel accuracy on the target's boundary pixels only (see ``boundary_mask``); NaN if there are none."""
    pred, target = _labels(pred, target, num_classes)
    near = boundary_mask(target, width)
    if not near.any():
        return float("nan")
    return float((pred[near] == target[near]).double().mean())


def dice_loss(logits: Tensor, target: Tensor, eps: float = 1.0, include_background: bool = True) -> Tensor:
    """Soft Dice loss: 1 - mean over classes of (2 sum p t + eps) / (sum p + sum t + eps), p the softmax, summed
    over the batch's pixels; differentiable, and 0 only for a confident, perfect prediction."""
    if logits.dim() != 4:
        raise ValueError(f"logits must be (N, C, H, W), got shape {tuple(logits.shape)}")
    num_classes = logits.shape[1]
    if not include_background and num_classes < 2:
        raise ValueError("include_background=False needs at least 2 classes")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    _, target = _labels(logits.detach(), target, num_classes)
    probs = logits.softmax(1)
    onehot = F.one_hot(target, num_classes).permute(0, 3, 1, 2).to(probs.dtype)
    dims = (0, 2, 3)
    overlap = (probs * onehot).sum(dims)
    total = probs.sum(dims) + onehot.sum(dims)
    dice = (2 * overlap + eps) / (total + eps)
    if not include_background:
        dice = dice[1:]
    return 1 - dice.mean()


def foreground_miou(pred: Tensor, target: Tensor, num_classes: int | None = None) -> float:
    """Mean IoU over the classes other than background (class 0), pooled over all pixels; classes absent from
    both masks are skipped. ``num_classes`` defaults to the largest class id in either mask, plus one."""
    if num_classes is None:
        if pred.dim() == 4:
            raise ValueError("foreground_miou needs num_classes to be given for logits, or class ids (N, H, W)")
        num_classes = max(int(pred.max()), int(target.max()), 1) + 1 if target.numel() else 2
    iou = iou_per_class(pred, target, num_classes)[1:]
    if torch.isnan(iou).all():
        raise ValueError("foreground_miou: no foreground class in either mask, so there is nothing to score")
    return iou.nanmean().item()


def segmentation_loss(logits: Tensor, target: Tensor) -> Tensor:
    """Pixel-wise cross-entropy plus the soft Dice loss (:func:`dice_loss`), the sum U-Nets are commonly trained on."""
    return F.cross_entropy(logits, target) + dice_loss(logits, target)
