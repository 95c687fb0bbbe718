"""VGG (Simonyan and Zisserman, 2014): the configurations of the paper's Table 1 and a ``make_layers`` builder.

A configuration is a list read left to right: an int is a 3x3 convolution with that many output
channels, ``(channels, kernel)`` a convolution with another kernel (config C's 1x1 layers), ``"M"`` a 2x2
max-pool and ``"LRN"`` the local response normalisation of config A-LRN. Module names are torchvision's,
so ``vgg11`` ... ``vgg19_bn`` load torchvision weights without renames.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import torch
from torch import nn

from cnnbook.models._checks import check_counts, check_images, check_positive, min_input_size, scaled
from cnnbook.models.alexnet import paper_lrn

torch.fx.wrap("check_images")

LayerSpec = Union[int, str, tuple[int, int]]

cfgs: dict[str, list[LayerSpec]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M", 512, 512, (512, 1), "M", 512, 512, (512, 1), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def _config(cfg: str | Sequence[LayerSpec]) -> list[LayerSpec]:
    if isinstance(cfg, str):
        if cfg not in cfgs:
            raise ValueError(f"unknown VGG configuration {cfg!r}; expected one of {sorted(cfgs)}")
        return cfgs[cfg]
    return list(cfg)


def make_layers(
    cfg: str | Sequence[LayerSpec], batch_norm: bool = False, in_channels: int = 3, width: float = 1.0
) -> nn.Sequential:
    """Build the convolutional part of a VGG from a configuration (a name of ``cfgs`` or a list).

    Each convolution is followed by BatchNorm (if ``batch_norm``) and ReLU; ``width`` scales the channels.
    """
    check_counts(in_channels=in_channels)
    check_positive(width=width)
    layers: list[nn.Module] = []
    channels = in_channels
    for spec in _config(cfg):
        if spec == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        if spec == "LRN":
            layers.append(paper_lrn())
            continue
        if isinstance(spec, tuple) and len(spec) == 2:
            out, kernel = spec
        else:
            out, kernel = spec, 3
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in (out, kernel)):
            raise ValueError(f"a VGG layer is an int, (channels, kernel), 'M' or 'LRN'; got {spec!r}")
        out = scaled(out, width)
        layers.append(nn.Conv2d(channels, out, kernel_size=kernel, padding=kernel // 2))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU(inplace=True))
        channels = out
    if not any(isinstance(m, nn.Conv2d) for m in layers):
        raise ValueError("a VGG configuration needs at least one convolution")
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """A VGG network: ``features`` (from :func:`make_layers`), adaptive average pooling, a 3-layer ``classifier``.

    The classifier's input size follows from the last convolution of ``features`` and ``pool_size``.
    """

    TORCHVISION_RENAMES: tuple[tuple[str, str], ...] = ()  # module names are torchvision's

    def __init__(
        self,
        features: nn.Sequential,
        num_classes: int = 1000,
        init_weights: bool = True,
        dropout: float = 0.5,
        pool_size: int = 7,
        hidden: int = 4096,
    ) -> None:
        super().__init__()
        check_counts(num_classes=num_classes, pool_size=pool_size, hidden=hidden)
        convs = [m for m in features.modules() if isinstance(m, nn.Conv2d)]
        if not convs:
            raise ValueError("features must contain at least one nn.Conv2d")
        self.in_channels = convs[0].in_channels
        self.min_size = min_input_size(features.modules())
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Linear(convs[-1].out_channels * pool_size * pool_size, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        if init_weights:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """He (fan-out) normal initialisation for convolutions, N(0, 0.01) for linear layers, zero biases."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.in_channels, self.min_size, "VGG")
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def vgg(
    cfg: str | Sequence[LayerSpec],
    batch_norm: bool = False,
    num_classes: int = 1000,
    dropout: float = 0.5,
    init_weights: bool = True,
    in_channels: int = 3,
    width: float = 1.0,
    small_input: bool = False,
) -> VGG:
    """Build a VGG from a configuration name ("A" ... "E") or list.

    ``small_input`` pools the features to 1x1 and shrinks the hidden layers to the last conv's width
    (512 * ``width``), the usual head for 32x32 images; inputs must still be at least 32x32.
    """
    features = make_layers(cfg, batch_norm=batch_norm, in_channels=in_channels, width=width)
    if small_input:
        last = [m for m in features if isinstance(m, nn.Conv2d)][-1].out_channels
        return VGG(features, num_classes, init_weights, dropout, pool_size=1, hidden=last)
    return VGG(features, num_classes, init_weights, dropout, pool_size=7, hidden=scaled(4096, width))


def vgg11(**kwargs: Any) -> VGG:
    """VGG-11, configuration A (keywords as for :func:`vgg`)."""
    return vgg("A", batch_norm=False, **kwargs)


def vgg11_bn(**kwargs: Any) -> VGG:
    """VGG-11 with BatchNorm, configuration A (keywords as for :func:`vgg`)."""
    return vgg("A", batch_norm=True, **kwargs)


def vgg13(**kwargs: Any) -> VGG:
    """VGG-13, configuration B (keywords as for :func:`vgg`)."""
    return vgg("B", batch_norm=False, **kwargs)


def vgg13_bn(**kwargs: Any) -> VGG:
    """VGG-13 with BatchNorm, configuration B (keywords as for :func:`vgg`)."""
    return vgg("B", batch_norm=True, **kwargs)


def vgg16(**kwargs: Any) -> VGG:
    """VGG-16, configuration D (keywords as for :func:`vgg`)."""
    return vgg("D", batch_norm=False, **kwargs)


def vgg16_bn(**kwargs: Any) -> VGG:
    """VGG-16 with BatchNorm, configuration D (keywords as for :func:`vgg`)."""
    return vgg("D", batch_norm=True, **kwargs)


def vgg19(**kwargs: Any) -> VGG:
    """VGG-19, configuration E (keywords as for :func:`vgg`)."""
    return vgg("E", batch_norm=False, **kwargs)


def vgg19_bn(**kwargs: Any) -> VGG:
    """VGG-19 with BatchNorm, configuration E (keywords as for :func:`vgg`)."""
    return vgg("E", batch_norm=True, **kwargs)
