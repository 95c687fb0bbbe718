"""Evaluating a trained classifier beyond its accuracy: per-class accuracy, the confusion matrix, calibration
(expected calibration error and reliability-diagram data, Guo et al. 2017), and the most confident mistakes."""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from cnnbook.segmentation import confusion_matrix as _pixel_confusion_matrix


@torch.no_grad()
def _outputs(model: nn.Module, data: Dataset | DataLoader, batch_size: int, caller: str) -> tuple[Tensor, Tensor]:
    """The main head's outputs of ``model`` in eval mode on ``data``, and the labels, on the CPU."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=batch_size)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    outputs, labels = [], []
    for x, y in loader:
        out = model(x.to(device))
        outputs.append((out[0] if isinstance(out, (tuple, list)) else out).cpu())
        labels.append(y.cpu())
    model.train(was_training)
    if not outputs:
        raise ValueError(f"{caller} got an empty data set")
    return torch.cat(outputs), torch.cat(labels)


def predict_proba(model: nn.Module, data: Dataset | DataLoader, batch_size: int = 256) -> tuple[Tensor, Tensor]:
    """Softmax probabilities (N, C) of ``model`` in eval mode on ``data``, and the labels (N,), on the CPU."""
    outputs, labels = _outputs(model, data, batch_size, "predict_proba")
    return outputs.float().softmax(1), labels


def _class_ids(pred: Tensor, target: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError("pred and target must be tensors")
    if pred.dim() == 2:
        if pred.shape[1] != num_classes:
            raise ValueError(f"scores must have {num_classes} columns, got {pred.shape[1]}")
        pred = pred.argmax(1)
    if pred.dim() != 1 or target.dim() != 1 or len(pred) != len(target):
        raise ValueError(f"expected (N,) predicted ids or (N, C) scores and (N,) targets, "
                         f"got {tuple(pred.shape)} and {tuple(target.shape)}")
    return pred, target


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """(num_classes, num_classes) counts, row = true class, column = predicted; ``pred`` is (N,) ids or (N, C) scores.

    The segmentation module's matrix, with each image as a 1x1 'mask'.
    """
    pred, target = _class_ids(pred, target, num_classes)
    return _pixel_confusion_matrix(pred.reshape(-1, 1, 1), target.reshape(-1, 1, 1), num_classes)


def per_class_accuracy(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """Fraction of each class's examples predicted right (the recall of each class; NaN for an absent class)."""
    cm = confusion_matrix(pred, target, num_classes).double()
    total = cm.sum(1)
    return torch.where(total > 0, cm.diagonal() / total.clamp(min=1), torch.full_like(total, float("nan")))


@dataclass
class Calibration:
    """Reliability-diagram data: per confidence bin, the mean confidence, the accuracy and the count."""

    edges: Tensor       # (n_bins + 1,) from 0 to 1
    confidence: Tensor  # (n_bins,) mean top-1 confidence in the bin (NaN if empty)
    accuracy: Tensor    # (n_bins,) fraction right in the bin (NaN if empty)
    count: Tensor       # (n_bins,) examples in the bin
    ece: float          # expected calibration error: sum over bins of count/N * |accuracy - confidence|


def calibration(probs: Tensor, target: Tensor, n_bins: int = 10) -> Calibration:
    """Bin the top-1 confidence of ``probs`` (N, C) into ``n_bins`` equal bins (lo, hi] and compare with accuracy."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    if not isinstance(probs, Tensor) or probs.dim() != 2 or len(probs) == 0:
        raise ValueError(f"probs must be a non-empty (N, C) tensor of probabilities, got {getattr(probs, 'shape', probs)}")
    pred, target = _class_ids(probs, target, probs.shape[1])
    if probs.min() < 0 or (probs.sum(1) - 1).abs().max() > 1e-3:
        raise ValueError("probs must be probabilities (non-negative rows summing to 1): apply softmax to logits first")
    conf = probs.max(1).values.double()
    right = (pred == target).double()
    bins = (conf * n_bins).ceil().long().clamp(1, n_bins) - 1  # (lo, hi]; a confidence of exactly 0 goes to bin 0
    count = torch.bincount(bins, minlength=n_bins)
    safe = count.clamp(min=1).double()
    nan = torch.full((n_bins,), float("nan"), dtype=torch.double)
    mean_conf = torch.where(count > 0, torch.bincount(bins, conf, n_bins) / safe, nan)
    accuracy = torch.where(count > 0, torch.bincount(bins, right, n_bins) / safe, nan)
    gaps = (accuracy - mean_conf).abs().nan_to_num(0.0)
    ece = float((count.double() / len(conf) * gaps).sum())
    return Calibration(torch.linspace(0, 1, n_bins + 1, dtype=torch.double), mean_conf, accuracy, count, ece)


def confident_mistakes(probs: Tensor, target: Tensor, k: int = 8) -> list[tuple[int, int, int, float]]:
    """The ``k`` wrong predictions made with the highest confidence: (index, true class, predicted class, confidence)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if not isinstance(probs, Tensor) or probs.dim() != 2:
        raise ValueError(f"probs must be an (N, C) tensor, got {getattr(probs, 'shape', probs)}")
    pred, target = _class_ids(probs, target, probs.shape[1])
    conf = probs.max(1).values
    wrong = (pred != target).nonzero().flatten()
    order = wrong[conf[wrong].argsort(descending=True, stable=True)][:k]
    return [(int(i), int(target[i]), int(pred[i]), float(conf[i])) for i in order]


def plot_confusion(cm: Tensor, classes: list[str] | tuple[str, ...], ax: plt.Axes | None = None,
                   normalize: bool = True) -> Figure:
    """The confusion matrix as an image (rows normalised to fractions of each true class by default)."""
    if cm.dim() != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(classes):
        raise ValueError(f"cm must be square with one row per class ({len(classes)}), got {tuple(cm.shape)}")
    values = cm.double()
    if normalize:
        values = values / values.sum(1, keepdim=True).clamp(min=1)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.6, 4))
    im = ax.imshow(values, cmap="Blues", vmin=0)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    return ax.figure


def plot_reliability(cal: Calibration, ax: plt.Axes | None = None, label: str | None = None) -> Figure:
    """Reliability diagram: accuracy against confidence per bin, the diagonal marking perfect calibration."""
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.4))
    centres = ((cal.edges[:-1] + cal.edges[1:]) / 2).numpy()
    width = float(cal.edges[1] - cal.edges[0])
    ax.bar(centres, cal.accuracy.nan_to_num(0).numpy(), width=width * 0.9, alpha=0.6,
           label=f"{label or 'accuracy'} (ECE {cal.ece:.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top-1 probability)")
    ax.set_ylabel("accuracy in the bin")
    ax.legend(fontsize=7, loc="upper left")
    return ax.figure


# ------------------------------------------------------------------------------------------------
# Temperature scaling (Guo et al. 2017): one scalar T divides the logits, fitted on the validation split.

def predict_logits(model: nn.Module, data: Dataset | DataLoader, batch_size: int = 256) -> tuple[Tensor, Tensor]:
    """Logits (N, C) of ``model`` in eval mode on ``data`` (float64, on the CPU), and the labels (N,)."""
    outputs, labels = _outputs(model, data, batch_size, "predict_logits")
    return outputs.double(), labels


def _check_logits(logits: Tensor, target: Tensor) -> None:
    if not isinstance(logits, Tensor) or logits.dim() != 2 or len(logits) == 0:
        raise ValueError(f"logits must be a non-empty (N, C) tensor, got {getattr(logits, 'shape', logits)}")
    if not isinstance(target, Tensor) or target.shape != (len(logits),):
        raise ValueError(f"target must be an (N,) tensor with N = {len(logits)}, got {getattr(target, 'shape', target)}")
    if not torch.isfinite(logits).all():
        raise ValueError("logits must be finite")


def nll_at_temperature(logits: Tensor, target: Tensor, temperature: float) -> float:
    """Mean negative log-likelihood of ``target`` under softmax(logits / temperature)."""
    _check_logits(logits, target)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return float(nn.functional.cross_entropy(logits.double() / temperature, target.long()))


def fit_temperature(logits: Tensor, target: Tensor, low: float = 0.05, high: float = 20.0, tol: float = 1e-5) -> float:
    """The temperature T in [low, high] that minimises the NLL of softmax(logits / T) (golden-section search).

    The NLL is convex in 1/T, so the search over 1/T finds the minimum; fit it on validation logits, never test.
    """
    _check_logits(logits, target)
    if not 0 < low < high:
        raise ValueError(f"need 0 < low < high, got low={low!r}, high={high!r}")
    z, y = logits.double(), target.long()

    def nll(beta: float) -> float:
        return float(nn.functional.cross_entropy(z * beta, y))

    a, b = 1 / high, 1 / low
    ratio = (5 ** 0.5 - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = nll(c), nll(d)
    while b - a > tol * max(1.0, abs(a)):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = nll(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = nll(d)
    return 1 / ((a + b) / 2)


def temperature_scale(logits: Tensor, temperature: float) -> Tensor:
    """Calibrated probabilities softmax(logits / T): the same argmax, so the same accuracy, other confidences."""
    if not isinstance(logits, Tensor) or logits.dim() != 2:
        raise ValueError(f"logits must be an (N, C) tensor, got {getattr(logits, 'shape', logits)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return (logits.double() / temperature).softmax(1)


def early_stopping_point(val_acc: list[float] | tuple[float, ...], patience: int) -> tuple[int, int | None]:
    """Where ``fit(..., patience=patience, keep_best=True)`` would act on a validation curve: (best epoch, stopped
    epoch or None), both counted from 0, by fit's own rule (stop once ``patience`` epochs bring no new best)."""
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience must be a positive int, got {patience!r}")
    if len(val_acc) == 0:
        raise ValueError("val_acc must hold at least one epoch's validation accuracy")
    best, best_acc = 0, -1.0
    for epoch, acc in enumerate(val_acc):
        if acc > best_acc:
            best, best_acc = epoch, acc
        if epoch - best >= patience and epoch + 1 < len(val_acc):
            return best, epoch
    return best, None
