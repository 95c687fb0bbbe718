"""DenseNet (Huang et al., 2017): every layer receives the feature maps of all layers before it.

This is DenseNet-BC: bottleneck dense layers (BN-ReLU-1x1 to bn_size*k, BN-ReLU-3x3 to k) and compressing
transitions. Module names equal torchvision's (features.denseblock1.denselayer1.norm1, ..., classifier),
so its weights load unchanged.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from torch import Tensor, nn

from cnnbook.models._checks import check_images

torch.fx.wrap("check_images")


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _min_input_size(small_input: bool, num_transitions: int) -> int:
    """Smallest square side that leaves at least 1x1 after the stem and every 2x2/2 transition pool."""
    side = 1
    while True:
        size = side if small_input else -(-(-(-side // 2)) // 2)  # ceil twice: 7x7/2 conv, 3x3/2 max-pool
        if size >= 2**num_transitions:
            return side
        side += 1


class DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (to bn_size * growth_rate) - BN-ReLU-3x3 conv (to growth_rate), optional dropout.

    Takes the list of all earlier feature maps and concatenates them first. With ``memory_efficient`` the
    concatenation and the 1x1 bottleneck are recomputed in the backward pass instead of being stored.
    """

    def __init__(
        self,
        num_input_features: int,
        growth_rate: int,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        _positive_int("num_input_features", num_input_features)
        _positive_int("growth_rate", growth_rate)
        _positive_int("bn_size", bn_size)
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate!r}")
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient

    def bottleneck(self, inputs: list[Tensor]) -> Tensor:
        """Concatenate the earlier feature maps and apply BN-ReLU-1x1 conv."""
        return self.conv1(self.relu1(self.norm1(torch.cat(inputs, 1))))

    def _checkpointed_bottleneck(self, inputs: list[Tensor]) -> Tensor:
        calls = 0

        def run(*tensors: Tensor) -> Tensor:
            nonlocal calls
            calls += 1
            x = torch.cat(tensors, 1)
            norm = self.norm1
            if calls == 1 or not norm.training or norm.running_mean is None:
                x = norm(x)
            else:
                # The backward pass recomputes this: same batch statistics, but the running statistics must
                # not be updated twice per step, so update throw-away copies.
                x = F.batch_norm(x, norm.running_mean.clone(), norm.running_var.clone(), norm.weight, norm.bias,
                                 True, 0.0, norm.eps)
            return self.conv1(self.relu1(x))

        return cp.checkpoint(run, *inputs, use_reentrant=False)

    def forward(self, inputs: Tensor | list[Tensor]) -> Tensor:
        if not isinstance(inputs, (list, tuple)):  # one tensor (or an fx Proxy standing for one)
            inputs = [inputs]
        if self.memory_efficient and torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
            out = self._checkpointed_bottleneck(inputs)
        else:
            out = self.bottleneck(inputs)
        out = self.conv2(self.relu2(self.norm2(out)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        return out


class DenseBlock(nn.Module):
    """``num_layers`` DenseLayers; layer l sees num_input_features + (l-1) * growth_rate channels.

    The output concatenates the input and all new maps: ``out_channels = num_input_features + num_layers * k``.
    """

    def __init__(
        self,
        num_layers: int,
        num_input_features: int,
        growth_rate: int,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        _positive_int("num_layers", num_layers)
        for i in range(num_layers):
            layer = DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate,
                               memory_efficient)
            self.add_module(f"denselayer{i + 1}", layer)
        self.out_channels = num_input_features + num_layers * growth_rate

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.children():
            features.append(layer(features))
        return torch.cat(features, 1)


def reuse_map(block: DenseBlock) -> Tensor:
    """How much each layer of a dense block reads from each earlier source: the mean |weight| per source.

    Row l is layer l + 1; column 0 is the block's input, column s the maps of layer s. The value is the mean
    absolute weight of the layer's first convolution over the input channels that source contributes (NaN
    above the diagonal, where there is no connection). Huang et al. draw this map in their Figure 5.
    """
    layers = list(block.children())
    k0 = layers[0].norm1.num_features
    k = (layers[1].norm1.num_features - k0) if len(layers) > 1 else 0
    grid = torch.full((len(layers), len(layers)), float("nan"))
    for row, layer in enumerate(layers):
        per_channel = layer.conv1.weight.detach().abs().mean(dim=(0, 2, 3))
        grid[row, 0] = per_channel[:k0].mean()
        for source in range(1, row + 1):
            grid[row, source] = per_channel[k0 + (source - 1) * k: k0 + source * k].mean()
    return grid


class Transition(nn.Sequential):
    """Between dense blocks: BN-ReLU-1x1 conv (compressing the channels), then 2x2 average pooling."""

    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        _positive_int("num_input_features", num_input_features)
        _positive_int("num_output_features", num_output_features)
        super().__init__(OrderedDict([
            ("norm", nn.BatchNorm2d(num_input_features)),
            ("relu", nn.ReLU(inplace=True)),
            ("conv", nn.Conv2d(num_input_features, num_output_features, 1, bias=False)),
            ("pool", nn.AvgPool2d(2, stride=2)),
        ]))


class DenseNet(nn.Module):
    """DenseNet-BC: stem, dense blocks separated by transitions, BN (``norm5``), ReLU, global pool, classifier.

    Each transition keeps ``floor(compression * C)`` of its C channels. ``small_input`` replaces the
    7x7/2 conv and max-pool stem with a 3x3/1 conv (for 28x28-32x32 images).
    """

    TORCHVISION_RENAMES: tuple[tuple[str, str], ...] = ()

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: Sequence[int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        num_classes: int = 1000,
        memory_efficient: bool = False,
        *,
        compression: float = 0.5,
        small_input: bool = False,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        for name, value in [("growth_rate", growth_rate), ("num_init_features", num_init_features),
                            ("bn_size", bn_size), ("num_classes", num_classes), ("in_channels", in_channels)]:
            _positive_int(name, value)
        if isinstance(block_config, (str, bytes)) or not isinstance(block_config, Sequence) or not block_config:
            raise ValueError(f"block_config must be a non-empty sequence of layer counts, got {block_config!r}")
        for count in block_config:
            _positive_int("every entry of block_config", count)
        if not 0.0 < compression <= 1.0:
            raise ValueError(f"compression must be in (0, 1], got {compression!r}")
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate!r}")
        self.in_channels = in_channels

        if small_input:
            stem = [("conv0", nn.Conv2d(in_channels, num_init_features, 3, stride=1, padding=1, bias=False)),
                    ("norm0", nn.BatchNorm2d(num_init_features)),
                    ("relu0", nn.ReLU(inplace=True))]
        else:
            stem = [("conv0", nn.Conv2d(in_channels, num_init_features, 7, stride=2, padding=3, bias=False)),
                    ("norm0", nn.BatchNorm2d(num_init_features)),
                    ("relu0", nn.ReLU(inplace=True)),
                    ("pool0", nn.MaxPool2d(3, stride=2, padding=1))]
        self.features = nn.Sequential(OrderedDict(stem))

        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, growth_rate, bn_size, drop_rate, memory_efficient)
            self.features.add_module(f"denseblock{i + 1}", block)
            channels = block.out_channels
            if i != len(block_config) - 1:
                reduced = max(1, int(channels * compression))
                self.features.add_module(f"transition{i + 1}", Transition(channels, reduced))
                channels = reduced
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.min_input_size = _min_input_size(small_input, len(block_config) - 1)
        self.classifier = nn.Linear(channels, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.in_channels, self.min_input_size, type(self).__name__)
        out = F.relu(self.features(x), inplace=True)
        out = torch.flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1)
        return self.classifier(out)


def densenet121(num_classes: int = 1000, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                num_init_features: int = 64, **kwargs) -> DenseNet:
    """DenseNet-121 (k=32, blocks 6-12-24-16); 8.0 M parameters. Other keyword arguments go to :class:`DenseNet`."""
    return DenseNet(growth_rate, block_config, num_init_features, num_classes=num_classes, **kwargs)


def densenet161(num_classes: int = 1000, growth_rate: int = 48, block_config: Sequence[int] = (6, 12, 36, 24),
                num_init_features: int = 96, **kwargs) -> DenseNet:
    """DenseNet-161 (k=48, blocks 6-12-36-24, 96 stem channels); 28.7 M parameters."""
    return DenseNet(growth_rate, block_config, num_init_features, num_classes=num_classes, **kwargs)


def densenet169(num_classes: int = 1000, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 32, 32),
                num_init_features: int = 64, **kwargs) -> DenseNet:
    """DenseNet-169 (k=32, blocks 6-12-32-32); 14.1 M parameters."""
    return DenseNet(growth_rate, block_config, num_init_features, num_classes=num_classes, **kwargs)


def densenet201(num_classes: int = 1000, growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 48, 32),
                num_init_features: int = 64, **kwargs) -> DenseNet:
    """DenseNet-201 (k=32, blocks 6-12-48-32); 20.0 M parameters."""
    return DenseNet(growth_rate, block_config, num_init_features, num_classes=num_classes, **kwargs)
