"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012), the same network as torchvision's by default.

Defaults give torchvision's AlexNet (the single-tower 64-192-384-256-256 version of Krizhevsky's
"one weird trick" paper, 61,100,840 parameters), so ImageNet weights load without renames. Keywords give
the 2012 paper's form (``channels=PAPER_CHANNELS, groups=2, lrn=True``: 60,965,224 parameters) and a
small-image variant (``small_input=True, width=...``) that trains on 28x28 or 32x32 images in seconds.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cnnbook.models._checks import check_counts, check_images, check_positive, min_input_size, scaled

torch.fx.wrap("check_images")

TORCHVISION_CHANNELS: tuple[int, ...] = (64, 192, 384, 256, 256)
PAPER_CHANNELS: tuple[int, ...] = (96, 256, 384, 384, 256)


def paper_lrn() -> nn.LocalResponseNorm:
    """Local response normalisation as in the paper: b = a / (k + alpha * sum of a^2 over n maps)^beta.

    The paper uses k=2, n=5, alpha=1e-4, beta=0.75. PyTorch divides alpha by n, so it gets alpha * n.
    """
    return nn.LocalResponseNorm(size=5, alpha=1e-4 * 5, beta=0.75, k=2.0)


def _activation(name: str) -> nn.Module:
    return nn.ReLU(inplace=True) if name == "relu" else nn.Tanh()


class AlexNet(nn.Module):
    """AlexNet: five convolutions (``features``), adaptive average pooling, three linear layers (``classifier``).

    ``small_input`` swaps the 11x11 stride-4 stem for a 3x3 stride-1 one and pads the overlapping 3x3
    max-pools, so 32x32 -> 16 -> 8 -> 4, and pools the head to 4x4 instead of 6x6. ``width`` scales every
    convolution and the 4096-unit hidden layers. ``groups`` splits conv2, conv4 and conv5 as the paper's
    two GPUs did. ``lrn`` adds the paper's response normalisation after the first two ReLUs.
    """

    TORCHVISION_RENAMES: tuple[tuple[str, str], ...] = ()  # module names are torchvision's

    def __init__(
        self,
        num_classes: int = 1000,
        dropout: float = 0.5,
        in_channels: int = 3,
        channels: Sequence[int] = TORCHVISION_CHANNELS,
        width: float = 1.0,
        small_input: bool = False,
        activation: str = "relu",
        lrn: bool = False,
        groups: int = 1,
    ) -> None:
        super().__init__()
        check_counts(num_classes=num_classes, in_channels=in_channels, groups=groups)
        check_positive(width=width)
        if activation not in ("relu", "tanh"):
            raise ValueError(f"activation must be 'relu' or 'tanh', got {activation!r}")
        if len(channels) != 5:
            raise ValueError(f"channels must list 5 convolution widths, got {len(channels)}: {tuple(channels)}")
        check_counts(**{f"channels[{i}]": c for i, c in enumerate(channels)})
        if any(c % groups for c in channels):
            raise ValueError(f"every entry of channels must be divisible by groups={groups}, got {tuple(channels)}")
        c1, c2, c3, c4, c5 = (scaled(c, width, groups) for c in channels)
        hidden = scaled(4096, width)
        self.in_channels = in_channels
        self.channels = (c1, c2, c3, c4, c5)

        if small_input:
            stem = nn.Conv2d(in_channels, c1, kernel_size=3, stride=1, padding=1)
            pool_padding, pool_size = 1, 4
        else:
            stem = nn.Conv2d(in_channels, c1, kernel_size=11, stride=4, padding=2)
            pool_padding, pool_size = 0, 6
        layers: list[nn.Module] = [stem, _activation(activation)]
        if lrn:
            layers.append(paper_lrn())
        layers += [
            nn.MaxPool2d(kernel_size=3, stride=2, padding=pool_padding),
            nn.Conv2d(c1, c2, kernel_size=5, padding=2, groups=groups),
            _activation(activation),
        ]
        if lrn:
            layers.append(paper_lrn())
        layers += [
            nn.MaxPool2d(kernel_size=3, stride=2, padding=pool_padding),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1),  # the layer where the paper's two GPUs talk
            _activation(activation),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1, groups=groups),
            _activation(activation),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1, groups=groups),
            _activation(activation),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=pool_padding),
        ]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(c5 * pool_size * pool_size, hidden),
            _activation(activation),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            _activation(activation),
            nn.Linear(hidden, num_classes),
        )
        self.min_size = min_input_size(self.features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.in_channels, self.min_size, "AlexNet")
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def alexnet(num_classes: int = 1000, dropout: float = 0.5, **kwargs: Any) -> AlexNet:
    """Build AlexNet; with no keywords it is torchvision's ``alexnet()``. Other keywords go to :class:`AlexNet`."""
    return AlexNet(num_classes=num_classes, dropout=dropout, **kwargs)


FOUR_LAYER_WIDTHS: tuple[int, ...] = (32, 32, 64)
"""Channels of the three convolutions of the paper's Figure 1 network (cuda-convnet's CIFAR-10 layers)."""
INITS = ("he", "xavier", "default")


def init_weights(net: nn.Module, init: str) -> nn.Module:
    """Re-draw every convolution and linear layer of ``net`` in place, biases zero; return ``net``.

    ``"he"``: N(0, 2 / fan_in), which keeps the signal's scale through ReLU layers (He et al. 2015);
    ``"xavier"``: N(0, 2 / (fan_in + fan_out)), Glorot and Bengio's scheme for units like tanh that are
    linear near zero; ``"default"``: leave PyTorch's initialisation as it is.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if init == "default":
        return net
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if init == "he":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:
                nn.init.xavier_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


def four_layer_cnn(activation: str = "relu", init: str = "he", num_classes: int = 10, in_channels: int = 3,
                   widths: Sequence[int] = FOUR_LAYER_WIDTHS) -> nn.Sequential:
    """The four-layer CNN of the paper's ReLU-versus-tanh experiment (its Figure 1), for 32x32 images.

    Three 5x5 convolutions (``widths`` channels), each followed by the unit (``"relu"`` or ``"tanh"``) and a
    2x2 max-pool (32 -> 16 -> 8 -> 4), then one linear layer. ``init`` is ``"he"``, ``"xavier"`` or
    ``"default"`` (see :func:`init_weights`).
    """
    check_counts(num_classes=num_classes, in_channels=in_channels)
    if activation not in ("relu", "tanh"):
        raise ValueError(f"activation must be 'relu' or 'tanh', got {activation!r}")
    if len(widths) != 3:
        raise ValueError(f"widths must list 3 convolution widths, got {len(widths)}: {tuple(widths)}")
    check_counts(**{f"widths[{i}]": w for i, w in enumerate(widths)})
    layers: list[nn.Module] = []
    c_in = in_channels
    for w in widths:
        layers += [nn.Conv2d(c_in, w, kernel_size=5, padding=2), _activation(activation), nn.MaxPool2d(2)]
        c_in = w
    net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in * 4 * 4, num_classes))
    return init_weights(net, init)
