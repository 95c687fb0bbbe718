"""Chapter 10's record: compound scaling against scaling one axis, phi = 0, 1, 2, on Shapes10.

A small convolutional base network (three stages, a shortcut around every convolution that keeps the shape) is
scaled by EfficientNet's rule (depth x alpha^phi, width x beta^phi, resolution x gamma^phi) and, at the MACs
that the compound network really costs after rounding, along one axis only. Every resolution shows the same
scenes: Shapes10 is rendered once at the largest size and resized down with an antialiasing filter, as a camera
image is resized for a network's input.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from cnnbook.data import Splits, load_shapes10
from cnnbook.experiments import standardised
from cnnbook.models.mobilenet import ConvNormAct, make_divisible
from cnnbook.profile import macs
from cnnbook.records.core import Arm, Record, register, yardsticks

ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15
"""EfficientNet's depth, width and resolution coefficients (Tan and Le, 2019)."""
BASE_WIDTHS, BASE_LAYERS, BASE_RES = (8, 16, 32), (2, 3, 3), 24
"""The base network: three stages of 8, 16 and 32 channels with 2, 3 and 3 convolutions, on 24x24 images."""
WIDTH_DIVISOR = 2
"""Scaled widths are rounded to multiples of 2 (EfficientNet rounds its much wider layers to multiples of 8)."""

SWEEP: dict[str, dict[int, tuple[float, float, int]]] = {
    "compound": {1: (BETA, ALPHA, 28), 2: (BETA**2, ALPHA**2, 32)},
    "width only": {1: (1.6, 1.0, BASE_RES), 2: (2.2, 1.0, BASE_RES)},
    "depth only": {1: (1.0, 1.7, BASE_RES), 2: (1.0, 3.7, BASE_RES)},
    "resolution only": {1: (1.0, 1.0, 38), 2: (1.0, 1.0, 53)},
}
"""(width, depth, resolution) of each scaled network, by rule and phi. Compound: beta^phi, alpha^phi and
round(24 gamma^phi) px. One axis: the multiplier whose MACs come closest to the compound network's at the same
phi, searched in steps of 0.05 (width), 0.1 (depth) and 1 px (resolution); :func:`closest_single_axis` repeats
the search."""

LIVE_SIZES = dict(n_train=1500, n_val=200, n_test=500)
"""Chapter 10's live run: 1,500 training, 200 validation and 500 test images, rendered at 24 px."""
PAGE_RECIPE = dict(epochs=5, lr=3e-3, batch_size=32, scheduler="cosine")
"""Chapter 10's live recipe for the base: Adam, the data card's learning rate on a cosine schedule, 5 epochs, batches
of 32 (more steps from fewer images)."""
EPOCHS = 10
RECIPE = dict(epochs=EPOCHS, lr=3e-3, scheduler="cosine")
"""The record's recipe for the base and every scaled network: Adam, batches of 64, the data card's learning rate on a
cosine schedule, 10 epochs on the full split (the page's live run takes batches of 32 for more steps from fewer
images)."""


class ResidualConv(nn.Module):
    """A 3x3 convolution and BatchNorm with a shortcut around them, then ReLU: relu(x + bn(conv(x)))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive int, got {channels!r}")
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x + self.bn(self.conv(x)))


def stage_plan(width: float = 1.0, depth: float = 1.0) -> list[tuple[int, int]]:
    """(channels, convolutions) per stage of the scaled base: widths x ``width`` (multiples of 2), layers x
    ``depth`` rounded up, as EfficientNet rounds each stage."""
    for name, value in (("width", width), ("depth", depth)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    return [(make_divisible(w * width, WIDTH_DIVISOR), int(math.ceil(n * depth))) for w, n in zip(BASE_WIDTHS, BASE_LAYERS)]


def scaled_cnn(width: float = 1.0, depth: float = 1.0, num_classes: int = 10) -> nn.Sequential:
    """The base network scaled in width and depth (resolution is the input's): per stage, a Conv3x3-BN-ReLU that
    sets the channels, then :class:`ResidualConv` blocks; 2x2 max-pools between stages, global average pool, linear."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    layers: list[nn.Module] = []
    channels = 3
    for i, (out, n) in enumerate(stage_plan(width, depth)):
        layers.append(ConvNormAct(channels, out, 3))
        layers += [ResidualConv(out) for _ in range(n - 1)]
        channels = out
        if i < len(BASE_WIDTHS) - 1:
            layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))


def scaled_macs(width: float, depth: float, res: int) -> int:
    """Multiply-accumulates of ``scaled_cnn(width, depth)`` on one res x res image (counted on the meta device)."""
    if isinstance(res, bool) or not isinstance(res, int) or res < 4:
        raise ValueError(f"res must be an int of at least 4 pixels (two 2x2 pools), got {res!r}")
    with torch.device("meta"):
        return macs(scaled_cnn(width, depth), (3, res, res))


def closest_single_axis(axis: str, target: int) -> tuple[float, float, int]:
    """(width, depth, res) scaled along ``axis`` ('width', 'depth' or 'resolution') whose MACs come closest
    (in ratio) to ``target``: widths 1-5 in steps of 0.05, depths 1-8 in steps of 0.1, resolutions 24-96 px."""
    grids = {
        "width": [(1 + k / 20, 1.0, BASE_RES) for k in range(81)],
        "depth": [(1.0, 1 + k / 10, BASE_RES) for k in range(71)],
        "resolution": [(1.0, 1.0, r) for r in range(BASE_RES, 4 * BASE_RES + 1)],
    }
    if axis not in grids:
        raise ValueError(f"axis must be 'width', 'depth' or 'resolution', got {axis!r}")
    if isinstance(target, bool) or not isinstance(target, int) or target < 1:
        raise ValueError(f"target must be a positive int of MACs, got {target!r}")
    return min(grids[axis], key=lambda c: abs(math.log(scaled_macs(*c) / target)))


def shapes10_resized(sizes: Sequence[int], n_train: int = 3000, n_val: int = 500, n_test: int = 1000,
                     render: int | None = None) -> dict[int, Splits]:
    """Shapes10 rendered once at ``render`` px (default: the largest size) and resized to each of ``sizes``
    (bilinear with antialiasing): the same scenes at every resolution."""
    sizes = list(sizes)
    if not sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 8 for s in sizes):
        raise ValueError(f"sizes must be a non-empty sequence of ints >= 8, got {sizes!r}")
    render = max(sizes) if render is None else render
    if isinstance(render, bool) or not isinstance(render, int) or render < max(sizes):
        raise ValueError(f"render must be an int at least the largest size {max(sizes)}, got {render!r}")
    raw = load_shapes10(n_train=n_train, n_val=n_val, n_test=n_test, image_size=render)

    def resize(data: TensorDataset, size: int) -> TensorDataset:
        if size == render:
            return TensorDataset(*data.tensors[:2])
        images = F.interpolate(data.tensors[0], size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return TensorDataset(images.clamp(0, 1), data.tensors[1])

    return {s: Splits(*(resize(d, s) for d in raw)) for s in sorted(set(sizes))}


def _record_data(quick: bool) -> Mapping[str, Splits]:
    """The record's data sets: the full split at every resolution of the sweep ('r24', 'r28', ...; 'raw' and 'std'
    at 24 px for the yardsticks) and the page's live split ('live')."""
    sizes = sorted({BASE_RES} | {c[2] for rule in SWEEP.values() for c in rule.values()})
    full = shapes10_resized(sizes, **(dict(n_train=60, n_val=20, n_test=20) if quick else {}))
    data = {f"r{s}": splits for s, splits in full.items()}
    data.update(raw=full[BASE_RES], std=standardised(full[BASE_RES]))
    data["live"] = shapes10_resized((BASE_RES,), **(dict(n_train=40, n_val=20, n_test=20) if quick else LIVE_SIZES))[BASE_RES]
    return data


def _arm_name(rule: str, phi: int, width: float, depth: float, res: int) -> str:
    if rule == "compound":
        what = f"width x{width:.2f}, depth x{depth:.2f}, {res} px"
    elif rule == "width only":
        what = f"width x{width:.2f}"
    elif rule == "depth only":
        what = f"depth x{depth:.1f}"
    else:
        what = f"{res} px"
    return f"{rule}, phi {phi} ({what}), {EPOCHS} epochs"


SCALING = register(Record(
    name="efficientnet_scaling",
    chapter="10_efficientnet",
    claim=("Scaling a small CNN on Shapes10 along one axis (width, depth or resolution) gains less from phi = 1 to 2 "
           "than from 0 to 1 (it saturates), and at phi = 2 compound scaling (depth x 1.2^phi, width x 1.1^phi, "
           "resolution x 1.15^phi) beats the best single axis of the same MACs, as Tan and Le found on ImageNet "
           "(Figures 3 and 8, Table 3)."),
    data=_record_data,
    data_note=("Shapes10 rendered at 53 px and resized (bilinear, antialiased) to 24, 28, 32 and 38 px: 3,000 "
               "training, 500 validation, 1,000 test images; and the page's live split, 1,500 training, 200 validation "
               "and 500 test images rendered at 24 px"),
    arms=(
        Arm(f"base (phi 0), the page's {PAGE_RECIPE['epochs']} epochs on {LIVE_SIZES['n_train']:,} images",
            partial(scaled_cnn, 1.0, 1.0), PAGE_RECIPE, data="live", live=True),
        *yardsticks(EPOCHS, (3, BASE_RES, BASE_RES)),
        Arm(f"base (phi 0), {EPOCHS} epochs", partial(scaled_cnn, 1.0, 1.0), RECIPE, data=f"r{BASE_RES}"),
        *(Arm(_arm_name(rule, phi, *config), partial(scaled_cnn, *config[:2]), RECIPE, data=f"r{config[2]}")
          for rule, by_phi in SWEEP.items() for phi, config in by_phi.items()),
    ),
))

__all__ = ["ALPHA", "BASE_LAYERS", "BASE_RES", "BASE_WIDTHS", "BETA", "EPOCHS", "GAMMA", "LIVE_SIZES", "PAGE_RECIPE",
           "RECIPE", "ResidualConv", "SCALING", "SWEEP", "closest_single_axis", "scaled_cnn", "scaled_macs",
           "shapes10_resized", "stage_plan"]
