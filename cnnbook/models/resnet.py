"""ResNet (He et al., 2015) and its variants: pre-activation, ResNeXt, squeeze-and-excitation, plain.

Module names equal torchvision's (conv1, bn1, layer1..layer4, fc, ...), so its weights load unchanged.
The Bottleneck puts the stride on its 3x3 convolution, as torchvision's "ResNet v1.5" does; the
paper put it on the first 1x1 convolution (same parameters and shapes; NVIDIA's ResNet-50 v1.5 notes
report about 0.5% better top-1 for v1.5, at somewhat more compute).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnbook.models._checks import check_images

torch.fx.wrap("check_images")

NormLayer = Callable[[int], nn.Module]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution without bias (a BatchNorm follows), padded to keep the size at stride 1."""
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=dilation, groups=groups,
                     dilation=dilation, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias: a per-pixel linear map between channels."""
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2018): rescale each channel by a gate computed from all channels.

    Global average pool -> 1x1 conv to ``squeeze_channels`` (default ``channels // reduction``) ->
    ``activation`` -> 1x1 conv back -> ``scale_activation`` -> multiply. Adds 2*C*S + S + C parameters.
    ResNet uses ReLU and a sigmoid; MobileNetV3 a hard sigmoid; EfficientNet SiLU and a sigmoid, with S
    taken from the block's input rather than from ``channels``.
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        *,
        squeeze_channels: int | None = None,
        activation: Callable[[], nn.Module] = nn.ReLU,
        scale_activation: Callable[[], nn.Module] = nn.Sigmoid,
    ) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"channels and reduction must be >= 1, got channels={channels}, reduction={reduction}")
        if squeeze_channels is not None and (isinstance(squeeze_channels, bool) or squeeze_channels < 1):
            raise ValueError(f"squeeze_channels must be >= 1, got {squeeze_channels!r}")
        squeezed = squeeze_channels if squeeze_channels is not None else max(1, channels // reduction)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.activation = activation()
        self.fc2 = nn.Conv2d(squeezed, channels, 1)
        self.scale_activation = scale_activation()

    def forward(self, x: Tensor) -> Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return x * scale


class ZeroPadShortcut(nn.Module):
    """Parameter-free shortcut ("option A" of He et al.): subsample by ``stride``, append zero channels."""

    def __init__(self, stride: int, extra_channels: int) -> None:
        super().__init__()
        if stride < 1 or extra_channels < 0:
            raise ValueError(f"need stride >= 1 and extra_channels >= 0, got {stride} and {extra_channels}")
        self.stride = stride
        self.extra_channels = extra_channels

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))


def _check_basic(groups: int, base_width: int, dilation: int, name: str) -> None:
    if groups != 1 or base_width != 64:
        raise ValueError(f"{name} supports only groups=1 and width_per_group=64, got {groups} and {base_width}")
    if dilation > 1:
        raise ValueError(f"{name} does not support dilation > 1 (got {dilation}); use a bottleneck block")


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers plus the shortcut: out = ReLU(F(x) + x) (ResNet-18/34)."""

    expansion = 1
    num_layers = 2  # weighted layers on the residual path (for the 6n+2 depth rule)
    residual = True

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: NormLayer | None = None,
        se_reduction: int | None = None,
    ) -> None:
        super().__init__()
        _check_basic(groups, base_width, dilation, type(self).__name__)
        norm_layer = norm_layer or nn.BatchNorm2d
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.se = SqueezeExcitation(planes, se_reduction) if se_reduction else None
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.se is not None:
            out = self.se(out)
        out += identity
        return self.relu(out)

    def zero_init_last(self) -> None:
        """Zero the last BN's scale so that the block starts as the identity (Goyal et al., 2017)."""
        nn.init.zeros_(self.bn2.weight)


class PlainBlock(BasicBlock):
    """BasicBlock without the shortcut: out = ReLU(F(x)). The 'plain' network of He et al., Section 4."""

    residual = False

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: NormLayer | None = None,
        se_reduction: int | None = None,
    ) -> None:
        if downsample is not None:
            raise ValueError("a PlainBlock has no shortcut, so it takes no downsample module")
        super().__init__(inplanes, planes, stride, None, groups, base_width, dilation, norm_layer, se_reduction)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.se is not None:
            out = self.se(out)
        return self.relu(out)

    def zero_init_last(self) -> None:
        """Refuse: zeroing the last BN of a plain block would cut the signal path."""
        raise ValueError("zero_init_residual needs residual blocks; a plain block has no shortcut")


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (stride here: "v1.5") -> 1x1 expand to 4x planes, plus the shortcut (ResNet-50+).

    ``groups`` > 1 and ``base_width`` give ResNeXt: the 3x3 conv has groups * int(planes * base_width / 64)
    channels split into ``groups`` groups (the cardinality).
    """

    expansion = 4
    num_layers = 3
    residual = True

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: NormLayer | None = None,
        se_reduction: int | None = None,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.se = SqueezeExcitation(planes * self.expansion, se_reduction) if se_reduction else None
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.se is not None:
            out = self.se(out)
        out += identity
        return self.relu(out)

    def zero_init_last(self) -> None:
        """Zero the last BN's scale so that the block starts as the identity."""
        nn.init.zeros_(self.bn3.weight)


class PreActBasicBlock(nn.Module):
    """Pre-activation block (He et al., 2016, "Identity mappings"): BN-ReLU-conv, BN-ReLU-conv, then + x.

    Nothing follows the addition, so the shortcut path is a pure identity from block to block. A projection
    shortcut (a bare 1x1 conv) takes the pre-activated input, as in the paper's code.
    """

    expansion = 1
    num_layers = 2
    preact = True

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: NormLayer | None = None,
        se_reduction: int | None = None,
    ) -> None:
        super().__init__()
        _check_basic(groups, base_width, dilation, type(self).__name__)
        norm_layer = norm_layer or nn.BatchNorm2d
        self.bn1 = norm_layer(inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes)
        self.se = SqueezeExcitation(planes, se_reduction) if se_reduction else None
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(x))
        identity = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        if self.se is not None:
            out = self.se(out)
        return out + identity

    def zero_init_last(self) -> None:
        """Zero the last conv so that the block starts as the identity."""
        nn.init.zeros_(self.conv2.weight)


class PreActBottleneck(nn.Module):
    """Pre-activation bottleneck: BN-ReLU-1x1, BN-ReLU-3x3 (stride), BN-ReLU-1x1 to 4x planes, then + x."""

    expansion = 4
    num_layers = 3
    preact = True

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: NormLayer | None = None,
        se_reduction: int | None = None,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.bn1 = norm_layer(inplanes)
        self.conv1 = conv1x1(inplanes, width)
        self.bn2 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn3 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.se = SqueezeExcitation(planes * self.expansion, se_reduction) if se_reduction else None
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(x))
        identity = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        if self.se is not None:
            out = self.se(out)
        return out + identity

    def zero_init_last(self) -> None:
        """Zero the last conv so that the block starts as the identity."""
        nn.init.zeros_(self.conv3.weight)


BLOCKS: dict[str, type[nn.Module]] = {
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
    "plain": PlainBlock,
    "preact_basic": PreActBasicBlock,
    "preact_bottleneck": PreActBottleneck,
}


def _resolve_block(block: str | type[nn.Module]) -> type[nn.Module]:
    if isinstance(block, str):
        if block not in BLOCKS:
            raise ValueError(f"unknown block {block!r}; expected one of {sorted(BLOCKS)} or a block class")
        return BLOCKS[block]
    if isinstance(block, type) and issubclass(block, nn.Module) and isinstance(getattr(block, "expansion", None), int):
        return block
    raise ValueError(
        f"unknown block {block!r}; expected one of {sorted(BLOCKS)} or an nn.Module class "
        "with an integer 'expansion' attribute"
    )


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


class ResNet(nn.Module):
    """A ResNet: stem, stages ``layer1..layerK`` of residual blocks, global average pool, ``fc``.

    Stage i has ``width * 2**i`` planes (times the block's expansion at its output); every stage but the
    first halves the resolution in its first block. ``small_input`` swaps the 7x7/2 stem and max-pool for a
    3x3/1 conv (for 28x28-32x32 images). ``shortcut`` is "projection" (1x1 conv + BN where the shape
    changes, torchvision's) or "pad" (parameter-free subsample + zero channels, He et al.'s CIFAR option A).
    """

    TORCHVISION_RENAMES: tuple[tuple[str, str], ...] = ()

    def __init__(
        self,
        block: str | type[nn.Module],
        layers: Sequence[int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        replace_stride_with_dilation: Sequence[bool] | None = None,
        norm_layer: NormLayer | None = None,
        *,
        in_channels: int = 3,
        small_input: bool = False,
        width: int = 64,
        se_reduction: int | None = None,
        shortcut: str = "projection",
    ) -> None:
        super().__init__()
        block = _resolve_block(block)
        if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or len(layers) == 0:
            raise ValueError(f"layers must be a non-empty sequence of block counts, got {layers!r}")
        for count in layers:
            _positive_int("every entry of layers", count)
        for name, value in [("num_classes", num_classes), ("groups", groups),
                            ("width_per_group", width_per_group), ("in_channels", in_channels), ("width", width)]:
            _positive_int(name, value)
        if se_reduction is not None:
            _positive_int("se_reduction", se_reduction)
        if shortcut not in ("projection", "pad"):
            raise ValueError(f"shortcut must be 'projection' or 'pad', got {shortcut!r}")
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False] * (len(layers) - 1)
        if len(replace_stride_with_dilation) != len(layers) - 1:
            raise ValueError(
                f"replace_stride_with_dilation needs {len(layers) - 1} entries (one per stage after the first), "
                f"got {list(replace_stride_with_dilation)}"
            )
        if zero_init_residual and not getattr(block, "residual", True):
            raise ValueError("zero_init_residual needs residual blocks; a plain block has no shortcut")

        self._norm_layer = norm_layer or nn.BatchNorm2d
        self.in_channels = in_channels
        self.inplanes = width
        self.dilation = 1
        self.groups = groups
        self.base_width = width_per_group
        self.se_reduction = se_reduction
        self.shortcut = shortcut

        if small_input:
            self.conv1 = nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False)
            self.maxpool: nn.Module = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.bn1 = self._norm_layer(width)
        self.relu = nn.ReLU(inplace=True)

        self._stage_names: list[str] = []
        for i, count in enumerate(layers):
            stride = 1 if i == 0 else 2
            dilate = False if i == 0 else bool(replace_stride_with_dilation[i - 1])
            name = f"layer{i + 1}"
            self.add_module(name, self._make_layer(block, width * 2**i, count, stride, dilate))
            self._stage_names.append(name)
        out_channels = width * 2 ** (len(layers) - 1) * block.expansion
        # Pre-activation blocks end with a conv, so the network adds the last BN-ReLU itself. The stem keeps its
        # BN-ReLU (the paper's ImageNet models do too), so the first block normalises an activated input again.
        self.final_bn = self._norm_layer(out_channels) if getattr(block, "preact", False) else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(out_channels, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, block) and hasattr(m, "zero_init_last"):
                    m.zero_init_last()

    def _make_layer(self, block: type[nn.Module], planes: int, blocks: int, stride: int, dilate: bool) -> nn.Sequential:
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        out_planes = planes * block.expansion
        downsample = None
        if getattr(block, "residual", True) and (stride != 1 or self.inplanes != out_planes):
            if self.shortcut == "pad":
                downsample = ZeroPadShortcut(stride, out_planes - self.inplanes)
            elif getattr(block, "preact", False):  # the next block normalises, so no BN here
                downsample = nn.Sequential(conv1x1(self.inplanes, out_planes, stride))
            else:
                downsample = nn.Sequential(conv1x1(self.inplanes, out_planes, stride), self._norm_layer(out_planes))
        extra = {} if self.se_reduction is None else {"se_reduction": self.se_reduction}
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, self._norm_layer, **extra)]
        self.inplanes = out_planes
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation, norm_layer=self._norm_layer, **extra))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.in_channels, 1, type(self).__name__)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in self._stage_names:
            x = getattr(self, name)(x)
        if self.final_bn is not None:
            x = self.relu(self.final_bn(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def _resnet(default_block: str | type[nn.Module], layers: list[int], num_classes: int, kwargs: dict) -> ResNet:
    block = kwargs.pop("block", default_block)
    return ResNet(block, layers, num_classes, **kwargs)


def resnet18(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-18: BasicBlocks (2, 2, 2, 2); 11.7 M parameters. Keyword arguments go to :class:`ResNet`."""
    return _resnet(BasicBlock, [2, 2, 2, 2], num_classes, kwargs)


def resnet34(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-34: BasicBlocks (3, 4, 6, 3); 21.8 M parameters. Keyword arguments go to :class:`ResNet`."""
    return _resnet(BasicBlock, [3, 4, 6, 3], num_classes, kwargs)


def resnet50(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-50: Bottlenecks (3, 4, 6, 3); 25.6 M parameters. Keyword arguments go to :class:`ResNet`."""
    return _resnet(Bottleneck, [3, 4, 6, 3], num_classes, kwargs)


def resnet101(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-101: Bottlenecks (3, 4, 23, 3); 44.5 M parameters. Keyword arguments go to :class:`ResNet`."""
    return _resnet(Bottleneck, [3, 4, 23, 3], num_classes, kwargs)


def resnet152(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-152: Bottlenecks (3, 8, 36, 3); 60.2 M parameters. Keyword arguments go to :class:`ResNet`."""
    return _resnet(Bottleneck, [3, 8, 36, 3], num_classes, kwargs)


def resnext50_32x4d(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNeXt-50 (32x4d): ResNet-50 with cardinality 32 and 4 channels per group; 25.0 M parameters."""
    kwargs.setdefault("groups", 32)
    kwargs.setdefault("width_per_group", 4)
    return _resnet(Bottleneck, [3, 4, 6, 3], num_classes, kwargs)


def cifar_resnet(
    depth: int = 20,
    plain: bool = False,
    num_classes: int = 10,
    in_channels: int = 3,
    width: int = 16,
    *,
    block: str | type[nn.Module] | None = None,
    shortcut: str = "pad",
    **kwargs,
) -> ResNet:
    """The CIFAR ResNet of He et al. (Section 4.2): 3x3 stem, three stages of width/2w/4w channels, n blocks each.

    ``depth`` = 6n+2 for two-layer blocks (9n+2 for bottlenecks). ``plain=True`` drops every shortcut; with
    the default parameter-free "pad" shortcuts the plain and residual networks have equal parameter counts.
    """
    if plain and block is not None:
        raise ValueError("give either plain=True or a block, not both")
    chosen = _resolve_block(block if block is not None else ("plain" if plain else "basic"))
    per_block = getattr(chosen, "num_layers", 2)
    step = 3 * per_block
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < step + 2 or (depth - 2) % step:
        examples = ", ".join(str(step * n + 2) for n in (1, 2, 3, 5, 9, 18))
        raise ValueError(
            f"depth must be {step}n+2 for {chosen.__name__} ({examples}, ...), got {depth!r}"
        )
    n = (depth - 2) // step
    return ResNet(chosen, [n, n, n], num_classes, in_channels=in_channels, small_input=True, width=width,
                  shortcut=shortcut, **kwargs)
