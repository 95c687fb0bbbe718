"""The book's first small CNN (chapter 1): two convolution blocks, then two linear layers.

Each block is Conv -> BatchNorm -> ReLU -> 2x2 max-pool, with "same" padding, so a 28x28 image becomes
16@14x14, then 32@7x7, then 1,568 features -> 64 hidden units -> the class scores.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnbook.models._checks import check_counts, check_images

torch.fx.wrap("check_images")


class SimpleCNN(nn.Module):
    """conv1-bn1-relu-pool, conv2-bn2-relu-pool, flatten, fc1-relu-dropout, fc2.

    ``channels`` are the two convolutions' widths, ``hidden`` the units of fc1. ``batch_norm=False``
    gives plain Conv -> ReLU -> Pool blocks (the convolutions then have biases). The input must be
    ``image_size`` x ``image_size``, because fc1's size depends on it.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: int = 28,
        channels: Sequence[int] = (16, 32),
        hidden: int = 64,
        kernel_size: int = 3,
        batch_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_counts(num_classes=num_classes, in_channels=in_channels, image_size=image_size, hidden=hidden)
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) or len(channels) != 2:
            raise ValueError(f"channels must be a pair (conv1 width, conv2 width), got {channels!r}")
        check_counts(**{f"channels[{i}]": c for i, c in enumerate(channels)})
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd int >= 1 (so padding keeps the size), got {kernel_size!r}")
        if image_size < 4:
            raise ValueError(f"image_size must be at least 4 (two 2x2 poolings), got {image_size}")
        if not isinstance(batch_norm, bool):
            raise ValueError(f"batch_norm must be True or False, got {batch_norm!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        c1, c2 = int(channels[0]), int(channels[1])
        self.in_channels = in_channels
        self.image_size = image_size
        self.channels = (c1, c2)
        pad = kernel_size // 2

        # BatchNorm has its own shift, so a bias in the convolution before it would be redundant.
        self.conv1 = nn.Conv2d(in_channels, c1, kernel_size, padding=pad, bias=not batch_norm)
        self.bn1 = nn.BatchNorm2d(c1) if batch_norm else nn.Identity()
        self.conv2 = nn.Conv2d(c1, c2, kernel_size, padding=pad, bias=not batch_norm)
        self.bn2 = nn.BatchNorm2d(c2) if batch_norm else nn.Identity()
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)
        side = image_size // 2 // 2
        self.fc1 = nn.Linear(c2 * side * side, hidden)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.in_channels, self.image_size, "SimpleCNN")
        if x.shape[2] != self.image_size or x.shape[3] != self.image_size:
            raise ValueError(
                f"SimpleCNN: expected {self.image_size}x{self.image_size} images (set image_size to change it), "
                f"got {x.shape[2]}x{x.shape[3]}"
            )
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        x = self.pool(self.relu(self.bn2(self.conv2(x))))
        x = torch.flatten(x, 1)
        x = self.dropout(self.relu(self.fc1(x)))
        return self.fc2(x)


def simple_cnn(num_classes: int = 10, in_channels: int = 1, image_size: int = 28, **kwargs) -> SimpleCNN:
    """Build the chapter-1 CNN for ``image_size`` x ``image_size`` inputs; other keywords go to :class:`SimpleCNN`."""
    return SimpleCNN(num_classes=num_classes, in_channels=in_channels, image_size=image_size, **kwargs)


class SmallCNN(nn.Module):
    """The book's reference "small CNN" for Shapes10: ``len(widths)`` Conv3x3-BN-ReLU blocks, a 2x2 max-pool
    after each but the last, then global average pooling and one linear layer.

    Unlike :class:`SimpleCNN`, whose fully connected head ties each weight to one position, the
    global-average-pool head lets the same detector fire anywhere in the image.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, widths: Sequence[int] = (16, 32, 64, 64)) -> None:
        super().__init__()
        check_counts(num_classes=num_classes, in_channels=in_channels)
        if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or len(widths) < 1:
            raise ValueError(f"widths must be a non-empty sequence of channel counts, got {widths!r}")
        check_counts(**{f"widths[{i}]": w for i, w in enumerate(widths)})
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        previous = in_channels
        for i, width in enumerate(widths):
            layers += [nn.Conv2d(previous, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            previous = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(previous, num_classes)
        self.min_size = 2 ** (len(widths) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.in_channels, self.min_size, "SmallCNN")
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def small_cnn(num_classes: int = 10, in_channels: int = 3, **kwargs) -> SmallCNN:
    """Build the reference small CNN of the Shapes10 results tables; keywords go to :class:`SmallCNN`."""
    return SmallCNN(num_classes=num_classes, in_channels=in_channels, **kwargs)


class SmallFCN(nn.Module):
    """The small CNN turned into a segmenter without a decoder: its convolutional trunk (the map shrinks by
    2^(len(widths) - 1)), a 1x1 convolution that scores every class at each cell of that coarse map, and bilinear
    up-sampling of the scores to the input size, as the coarsest fully convolutional network (FCN-32s) does.
    """

    def __init__(self, num_classes: int = 4, in_channels: int = 3, widths: Sequence[int] = (16, 32, 64, 64)) -> None:
        super().__init__()
        trunk = SmallCNN(num_classes, in_channels, widths)
        self.in_channels, self.min_size = in_channels, trunk.min_size
        self.features = trunk.features
        self.classifier = nn.Conv2d(widths[-1], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.in_channels, self.min_size, "SmallFCN")
        if x.shape[-2] % self.min_size or x.shape[-1] % self.min_size:
            raise ValueError(f"SmallFCN: height and width must be multiples of {self.min_size}, got {tuple(x.shape[-2:])}")
        scores = self.classifier(self.features(x))
        return nn.functional.interpolate(scores, size=x.shape[-2:], mode="bilinear", align_corners=False)


def small_fcn(num_classes: int = 4, in_channels: int = 3, **kwargs) -> SmallFCN:
    """Build the small CNN as a segmenter (:class:`SmallFCN`): the yardstick CNN of the segmentation tables."""
    return SmallFCN(num_classes=num_classes, in_channels=in_channels, **kwargs)
