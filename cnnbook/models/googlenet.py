"""GoogLeNet / Inception v1 (Szegedy et al., 2014), the same network as torchvision's by default.

Like torchvision, every convolution is conv-BatchNorm-ReLU (the 2014 paper had no BatchNorm) and the
"5x5" branch of each Inception module uses a 3x3 kernel: a known quirk of torchvision's port that its
ImageNet weights depend on. ``branch3_kernel=5`` gives the paper's 5x5 (the weights then no longer fit).
Parameters for 1000 classes: 13,004,888 with the auxiliary classifiers, 6,624,904 without.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.models._checks import check_counts, check_images, check_positive, min_input_size, scaled

torch.fx.wrap("check_images")

# Table 1 of the paper: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
INCEPTION_CFG: dict[str, tuple[int, int, int, int, int, int]] = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training mode with auxiliary classifiers (same order as torchvision)."""

    logits: torch.Tensor
    aux_logits2: Optional[torch.Tensor]
    aux_logits1: Optional[torch.Tensor]


class BasicConv2d(nn.Module):
    """Convolution (no bias) -> BatchNorm (eps 1e-3) -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    """Inception module with 1x1 reductions; the four branches are concatenated along channels.

    branch1: 1x1; branch2: 1x1 -> 3x3; branch3: 1x1 -> k x k (k = ``branch3_kernel``: 3 in torchvision,
    5 in the paper); branch4: 3x3 max-pool -> 1x1. Output channels: ch1x1 + ch3x3 + ch5x5 + pool_proj.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        branch3_kernel: int = 3,
    ) -> None:
        super().__init__()
        check_counts(in_channels=in_channels, ch1x1=ch1x1, ch3x3red=ch3x3red, ch3x3=ch3x3,
                     ch5x5red=ch5x5red, ch5x5=ch5x5, pool_proj=pool_proj)
        if branch3_kernel not in (3, 5):
            raise ValueError(f"branch3_kernel must be 3 (torchvision) or 5 (the paper), got {branch3_kernel!r}")
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=branch3_kernel, padding=branch3_kernel // 2),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class NaiveInception(nn.Module):
    """The naive Inception module: 1x1, 3x3 and k x k convolutions and a 3x3 max-pool, with no 1x1 reduction.

    The pool branch passes all ``in_channels`` through, so the output has ch1x1 + ch3x3 + ch5x5 + in_channels
    channels: stacking these modules makes the width (and the cost) grow at every module.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3: int, ch5x5: int, branch3_kernel: int = 5) -> None:
        super().__init__()
        check_counts(in_channels=in_channels, ch1x1=ch1x1, ch3x3=ch3x3, ch5x5=ch5x5)
        if branch3_kernel not in (3, 5):
            raise ValueError(f"branch3_kernel must be 3 or 5, got {branch3_kernel!r}")
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + in_channels
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = BasicConv2d(in_channels, ch3x3, kernel_size=3, padding=1)
        self.branch3 = BasicConv2d(in_channels, ch5x5, kernel_size=branch3_kernel, padding=branch3_kernel // 2)
        self.branch4 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: 4x4 average pool -> 1x1 conv (128) -> fc (1024) -> ReLU -> dropout -> fc."""

    def __init__(
        self, in_channels: int, num_classes: int, dropout: float = 0.7, conv_channels: int = 128, hidden: int = 1024
    ) -> None:
        super().__init__()
        check_counts(in_channels=in_channels, num_classes=num_classes, conv_channels=conv_channels, hidden=hidden)
        self.conv = BasicConv2d(in_channels, conv_channels, kernel_size=1)
        self.fc1 = nn.Linear(conv_channels * 4 * 4, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = F.relu(self.fc1(torch.flatten(x, 1)), inplace=True)
        return self.fc2(self.dropout(x))


class GoogLeNet(nn.Module):
    """GoogLeNet with torchvision's module names (conv1 ... inception5b, aux1, aux2, fc).

    ``small_input`` replaces the 7x7 stride-2 stem convolution with a 3x3 stride-1 one (32x32 -> 16x16 at
    the first pool instead of 56x56 from 224); ``width`` scales every channel count; ``naive`` builds the
    network from :class:`NaiveInception` modules (same #1x1/#3x3/#5x5, no reductions, no pool projection).
    """

    TORCHVISION_RENAMES: tuple[tuple[str, str], ...] = ()  # module names are torchvision's

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = True,
        transform_input: bool = False,
        init_weights: bool = True,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
        in_channels: int = 3,
        width: float = 1.0,
        small_input: bool = False,
        branch3_kernel: int = 3,
        naive: bool = False,
    ) -> None:
        super().__init__()
        check_counts(num_classes=num_classes, in_channels=in_channels)
        check_positive(width=width)
        if transform_input and in_channels != 3:
            raise ValueError(f"transform_input re-normalises RGB images: needs in_channels=3, got {in_channels}")
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.in_channels = in_channels

        def w(c: int) -> int:
            return scaled(c, width)

        if small_input:
            self.conv1 = BasicConv2d(in_channels, w(64), kernel_size=3, stride=1, padding=1)
        else:
            self.conv1 = BasicConv2d(in_channels, w(64), kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(w(64), w(64), kernel_size=1)
        self.conv3 = BasicConv2d(w(64), w(192), kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        channels = w(192)

        def block(name: str) -> nn.Module:
            nonlocal channels
            c1, c3r, c3, c5r, c5, pp = (w(c) for c in INCEPTION_CFG[name])
            if naive:
                module: nn.Module = NaiveInception(channels, c1, c3, c5, branch3_kernel=branch3_kernel)
            else:
                module = Inception(channels, c1, c3r, c3, c5r, c5, pp, branch3_kernel=branch3_kernel)
            channels = module.out_channels
            return module

        self.inception3a = block("3a")
        self.inception3b = block("3b")
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = block("4a")
        aux1_channels = channels
        self.inception4b = block("4b")
        self.inception4c = block("4c")
        self.inception4d = block("4d")
        aux2_channels = channels
        self.inception4e = block("4e")
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = block("5a")
        self.inception5b = block("5b")

        self.aux1: Optional[InceptionAux] = None
        self.aux2: Optional[InceptionAux] = None
        if aux_logits:
            self.aux1 = InceptionAux(aux1_channels, num_classes, dropout_aux, w(128), w(1024))
            self.aux2 = InceptionAux(aux2_channels, num_classes, dropout_aux, w(128), w(1024))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(channels, num_classes)

        # torchvision's transform_input: turn ImageNet-normalised input into the (x - 0.5) / 0.5 of the port.
        mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
        self.register_buffer("input_scale", (std / 0.5).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_shift", ((mean - 0.5) / 0.5).view(1, 3, 1, 1), persistent=False)

        trunk = [self.conv1.conv, self.maxpool1, self.conv2.conv, self.conv3.conv, self.maxpool2,
                 self.maxpool3, self.maxpool4]
        self.min_size = min_input_size(trunk)
        if init_weights:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """Truncated normal N(0, 0.01) (cut at 2 std) for conv and linear weights, zero linear biases, BN to 1/0."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-0.02, b=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        check_images(x, self.in_channels, self.min_size, "GoogLeNet")
        if self.transform_input:
            x = x * self.input_scale + self.input_shift
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        with_aux = self.training and self.aux1 is not None
        aux1 = self.aux1(x) if with_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if with_aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if with_aux:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(
    num_classes: int = 1000,
    aux_logits: bool = True,
    transform_input: bool = False,
    init_weights: bool = True,
    **kwargs: Any,
) -> GoogLeNet:
    """Build GoogLeNet; with no keywords it is torchvision's ``googlenet(aux_logits=True)``."""
    return GoogLeNet(
        num_classes=num_classes, aux_logits=aux_logits, transform_input=transform_input,
        init_weights=init_weights, **kwargs,
    )


def inception_stack(width: float, naive: bool = False, num_classes: int = 10, stem_stride: int = 2) -> nn.Sequential:
    """GoogLeNet's first three modules on a one-convolution stem, for 32x32 images (chapter 6's ablation).

    Stem: a 3x3 convolution to 32 channels with stride ``stem_stride`` and a 2x2 max-pool, so modules 3a and 3b
    see 8x8 maps (stride 2) or 16x16 (stride 1); a 2x2 max-pool; 4a; global average pool; linear. Module widths
    are the paper's Table 1 times ``width``, with 5x5 kernels; ``naive=True`` uses naive modules (no reductions).
    """
    check_positive(width=width)
    if stem_stride not in (1, 2):
        raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride!r}")

    def w(c: int) -> int:
        return max(1, round(c * width))

    layers: list[nn.Module] = [BasicConv2d(3, 32, kernel_size=3, stride=stem_stride, padding=1), nn.MaxPool2d(2)]
    channels = 32
    for name in ("3a", "3b", "4a"):
        c1, c3r, c3, c5r, c5, pp = (w(c) for c in INCEPTION_CFG[name])
        module = (NaiveInception(channels, c1, c3, c5, branch3_kernel=5) if naive
                  else Inception(channels, c1, c3r, c3, c5r, c5, pp, branch3_kernel=5))
        layers.append(module)
        channels = module.out_channels
        if name == "3b":
            layers.append(nn.MaxPool2d(2))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)
