"""LeNet-5 (LeCun et al., 1998), as in the paper and as usually re-implemented today.

Layers keep the paper's names: C1 conv, S2 subsampling, C3 conv, S4 subsampling, C5 conv, F6 and
the output layer. Shapes for a 32x32 image: 1 -> 6@28x28 -> 6@14x14 -> 16@10x10 -> 16@5x5 -> 120 -> 84 -> 10.

Parameter counts (10 classes, one input channel):
- ``variant="modern"`` (full C3, ReLU, max pooling, linear output): 61,706.
- ``variant="historical"``: C1 156 + S2 12 + C3 1,516 + S4 32 + C5 48,120 + F6 10,164 = 60,000 trainable
  parameters, plus the RBF output's 84 x 10 = 840 fixed centres (a buffer, not a parameter).
  With ``output="linear"`` instead of RBF units the historical variant has 60,850.

``paper_input`` scales digits as the paper fed them to the scaled tanh: background -0.1, ink 1.175, 32x32.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.models._checks import check_counts, check_images

torch.fx.wrap("check_images")

# Table I of the paper: the S2 maps (0-5) that each of the 16 C3 maps reads.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

VARIANTS: dict[str, dict[str, str]] = {
    "modern": {"activation": "relu", "pooling": "max", "c3": "full", "output": "linear"},
    "historical": {"activation": "scaled_tanh", "pooling": "trainable", "c3": "partial", "output": "rbf"},
}
_CHOICES = {
    "activation": ("relu", "tanh", "scaled_tanh"),
    "pooling": ("max", "avg", "trainable"),
    "c3": ("full", "partial"),
    "output": ("linear", "rbf"),
}


# Section II.A of the paper: the background (white) is fed as -0.1 and the ink (black) as 1.175.
PAPER_BACKGROUND, PAPER_INK = -0.1, 1.175


def paper_input(images: torch.Tensor, size: int = 32) -> torch.Tensor:
    """Digits as the paper fed them: ink intensities in [0, 1] (0 background, 1 ink, as MNIST stores them)
    mapped linearly onto ``PAPER_BACKGROUND``..``PAPER_INK``, then padded with the background value to
    ``size`` x ``size`` (the paper's 32x32 field; ``size`` equal to the image's side pads nothing).
    """
    if not isinstance(images, torch.Tensor) or images.ndim < 2 or not images.is_floating_point():
        raise ValueError(f"images must be a float tensor (..., H, W), got {getattr(images, 'shape', type(images).__name__)}")
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"images must hold ink intensities in [0, 1], got values in "
                         f"[{images.min().item():.3g}, {images.max().item():.3g}]")
    h, w = images.shape[-2:]
    if isinstance(size, bool) or not isinstance(size, int) or size < max(h, w) or (size - h) % 2 or (size - w) % 2:
        raise ValueError(f"size must be an int >= the image side that pads it evenly, got {size!r} for {h}x{w} images")
    scaled = PAPER_BACKGROUND + (PAPER_INK - PAPER_BACKGROUND) * images
    ph, pw = (size - h) // 2, (size - w) // 2
    return F.pad(scaled, (pw, pw, ph, ph), value=PAPER_BACKGROUND)


class ScaledTanh(nn.Module):
    """LeCun's squashing function ``1.7159 * tanh(2a / 3)`` (Appendix A of the paper)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Subsampling(nn.Module):
    """Trainable subsampling: each 2x2 block is summed, times a per-map coefficient, plus a per-map bias."""

    def __init__(self, channels: int, kernel_size: int = 2) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        # The coefficient starts at 1/4, so the layer starts out as plain average pooling.
        self.weight = nn.Parameter(torch.full((channels,), 1.0 / kernel_size**2))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        summed = F.avg_pool2d(x, self.kernel_size, divisor_override=1)
        return summed * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, kernel_size={self.kernel_size}"


class PartialConv2d(nn.Module):
    """A convolution whose output map ``j`` reads only the input maps ``table[j]`` (LeNet-5's C3).

    It holds one k x k kernel per connection (``weight``: connections x k x k) and scatters them into a
    dense weight, zero for the missing connections, for ``F.conv2d``: exactly the connected weights are
    parameters, and the convolution runs as fast as a full one.
    """

    def __init__(self, table: Sequence[Sequence[int]], kernel_size: int, in_channels: int | None = None) -> None:
        super().__init__()
        if len(table) == 0 or any(len(row) == 0 for row in table):
            raise ValueError("table must list at least one input map for every output map")
        used = [c for row in table for c in row]
        if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in used):
            raise ValueError(f"table entries must be input map indices >= 0, got {[list(r) for r in table]}")
        if any(len(set(row)) != len(row) for row in table):
            raise ValueError("an output map lists the same input map twice")
        self.in_channels = max(used) + 1 if in_channels is None else in_channels
        if max(used) >= self.in_channels:
            raise ValueError(f"table uses input map {max(used)}, but there are only {self.in_channels}")
        self.out_channels = len(table)
        self.kernel_size = kernel_size
        self.table = tuple(tuple(row) for row in table)

        slots = [j * self.in_channels + i for j, row in enumerate(self.table) for i in row]
        self.register_buffer("slots", torch.tensor(slots, dtype=torch.long), persistent=False)
        self.weight = nn.Parameter(torch.empty(len(slots), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(self.out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default conv initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with each map's own fan-in."""
        fan_in = torch.tensor([len(row) * self.kernel_size**2 for row in self.table], dtype=torch.float)
        bound = fan_in.rsqrt()
        per_connection = torch.cat([bound[j].repeat(len(row)) for j, row in enumerate(self.table)])
        with torch.no_grad():
            self.weight.uniform_(-1, 1).mul_(per_connection.view(-1, 1, 1))
            self.bias.uniform_(-1, 1).mul_(bound)

    def dense_weight(self) -> torch.Tensor:
        """The equivalent full ``(out, in, k, k)`` weight, zero where the table has no connection."""
        k = self.kernel_size
        dense = self.weight.new_zeros(self.out_channels * self.in_channels, k, k)
        return dense.index_copy(0, self.slots, self.weight).view(self.out_channels, self.in_channels, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"connections={self.weight.shape[0]}"
        )


class RBFOutput(nn.Module):
    """Euclidean RBF output units, returned negated: ``y_i = -||x - c_i||^2``, so argmax is the nearest centre.

    The paper fixed the centres to +-1 codes (drawn bitmaps of the characters); we draw random +-1 codes
    and keep them fixed (a buffer), so they are not counted as trainable parameters.
    """

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        codes = torch.randint(0, 2, (num_classes, in_features)).float() * 2 - 1
        self.register_buffer("centres", codes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -(x.unsqueeze(1) - self.centres).pow(2).sum(dim=2)

    def extra_repr(self) -> str:
        return f"in_features={self.centres.shape[1]}, num_classes={self.centres.shape[0]}"


def _activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "tanh":
        return nn.Tanh()
    return ScaledTanh()


def _pool(name: str, channels: int) -> nn.Module:
    if name == "max":
        return nn.MaxPool2d(2)
    if name == "avg":
        return nn.AvgPool2d(2)
    return Subsampling(channels)


class LeNet5(nn.Module):
    """LeNet-5. ``variant`` picks the defaults; ``activation``, ``pooling``, ``c3`` and ``output`` override them.

    ``input_size`` is 32 (the paper's padded digits) or 28 (MNIST as it comes: C1 then pads by 2).
    Trainable subsampling is a neuron of its own, so it is followed by the activation as in the paper;
    plain max/avg pooling is not. Weights start from PyTorch's default initialisation (the paper drew
    them from U(-2.4/F, 2.4/F), F the fan-in).
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        variant: str = "modern",
        input_size: int = 32,
        activation: str | None = None,
        pooling: str | None = None,
        c3: str | None = None,
        output: str | None = None,
    ) -> None:
        super().__init__()
        check_counts(num_classes=num_classes, in_channels=in_channels)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
        if input_size not in (28, 32):
            raise ValueError(f"input_size must be 32 (the paper) or 28 (MNIST, padded by C1), got {input_size!r}")
        chosen = dict(VARIANTS[variant])
        for key, value in (("activation", activation), ("pooling", pooling), ("c3", c3), ("output", output)):
            if value is not None:
                if value not in _CHOICES[key]:
                    raise ValueError(f"{key} must be one of {_CHOICES[key]}, got {value!r}")
                chosen[key] = value
        self.variant = variant
        self.config = chosen
        self.in_channels = in_channels
        self.input_size = input_size
        self.pool_activation = chosen["pooling"] == "trainable"

        self.c1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=(32 - input_size) // 2)
        self.s2 = _pool(chosen["pooling"], 6)
        self.c3 = PartialConv2d(C3_TABLE, 5) if chosen["c3"] == "partial" else nn.Conv2d(6, 16, 5)
        self.s4 = _pool(chosen["pooling"], 16)
        self.c5 = nn.Conv2d(16, 120, kernel_size=5)  # on a 5x5 map this is a fully connected layer
        self.f6 = nn.Linear(120, 84)
        self.output = RBFOutput(84, num_classes) if chosen["output"] == "rbf" else nn.Linear(84, num_classes)
        self.act = _activation(chosen["activation"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.in_channels, self.input_size, "LeNet5", exact=True)
        x = self.s2(self.act(self.c1(x)))
        if self.pool_activation:
            x = self.act(x)
        x = self.s4(self.act(self.c3(x)))
        if self.pool_activation:
            x = self.act(x)
        x = torch.flatten(self.act(self.c5(x)), 1)
        x = self.act(self.f6(x))
        return self.output(x)


def lenet5(num_classes: int = 10, in_channels: int = 1, variant: str = "modern", **kwargs: Any) -> LeNet5:
    """Build LeNet-5 (``variant="modern"`` or ``"historical"``); other keywords go to :class:`LeNet5`."""
    return LeNet5(num_classes=num_classes, in_channels=in_channels, variant=variant, **kwargs)
