"""MobileNet V1-V3 (Howard et al., 2017, arXiv:1704.04861; Sandler et al., 2018; Howard et al., 2019).

V2 and V3 load torchvision's weights and give identical outputs; our blocks name their parts
(``expand``, ``depthwise``, ``se``, ``project``) where torchvision numbers them, and each model carries the
``TORCHVISION_RENAMES`` that map one to the other. V1 has no torchvision twin: its 4.2 M parameters and
569 M mult-adds at 224x224 match the paper's Table 4.

Shared building blocks for the efficient networks of Part IV live here too: ``make_divisible`` (the
channel rounding every MobileNet and EfficientNet uses) and ``ConvNormAct`` (convolution, norm, activation).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import Tensor, nn

from cnnbook.models._checks import check_counts, check_images, check_positive, check_probability
from cnnbook.models.resnet import SqueezeExcitation

torch.fx.wrap("check_images")

NormLayer = Callable[[int], nn.Module]
ActLayer = Callable[[], nn.Module]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of ``divisor`` without losing more than 10% of it.

    Hardware runs channel counts that are multiples of 8 fastest, so MobileNet and EfficientNet round
    every width. Rounding to the nearest multiple can fall well below ``value`` (e.g. 12 -> 8, a third
    less), so when the result is under 90% of ``value`` one more ``divisor`` is added. Never returns less
    than ``min_value`` (default: ``divisor``).
    """
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < 1:
        raise ValueError(f"divisor must be an integer >= 1, got {divisor!r}")
    if not value > 0:
        raise ValueError(f"value must be > 0, got {value!r}")
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvNormAct(nn.Sequential):
    """Convolution -> norm -> activation, "same" padded for odd kernels; the norm makes the conv bias-free.

    Children are numbered 0, 1, 2 like torchvision's ``Conv2dNormActivation``, so weights load by name.
    ``norm_layer=None`` or ``activation=None`` leaves that child out (a linear projection has no activation).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm_layer: NormLayer | None = nn.BatchNorm2d,
        activation: ActLayer | None = nn.ReLU,
        dilation: int = 1,
    ) -> None:
        padding = (kernel_size - 1) // 2 * dilation
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation,
                      groups=groups, bias=norm_layer is None)
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation is not None:
            layers.append(activation())
        super().__init__(*layers)
        self.out_channels = out_channels


# ----------------------------------------------------------------------------------------------------------
# Blocks


class DepthwiseSeparable(nn.Module):
    """MobileNetV1's block: a 3x3 depthwise conv (one filter per channel) then a 1x1 pointwise conv, each BN-ReLU.

    Replaces a 3x3 convolution of ``9 * C_in * C_out`` weights by ``9 * C_in + C_in * C_out``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        norm_layer: NormLayer | None = nn.BatchNorm2d,
        activation: ActLayer | None = nn.ReLU,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        check_counts(in_channels=in_channels, out_channels=out_channels, stride=stride, kernel_size=kernel_size)
        activation = _inplace(activation) if activation is not None else None
        self.depthwise = ConvNormAct(in_channels, in_channels, kernel_size, stride, groups=in_channels,
                                     norm_layer=norm_layer, activation=activation)
        self.pointwise = ConvNormAct(in_channels, out_channels, 1, norm_layer=norm_layer, activation=activation)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


class InvertedResidual(nn.Module):
    """MobileNetV2/V3's block: 1x1 expand -> k x k depthwise -> [SE] -> 1x1 *linear* projection, + x if shapes match.

    V2: ``expanded_channels = round(t * in_channels)``, ReLU6, no SE. V3: a searched kernel size and width,
    ReLU or hard-swish, and optionally squeeze-and-excitation with a hard sigmoid gate. The projection has
    no activation (the "linear bottleneck"); the expansion is left out when it would not widen.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        expanded_channels: int,
        kernel_size: int = 3,
        activation: ActLayer = nn.ReLU6,
        use_se: bool = False,
        norm_layer: NormLayer = nn.BatchNorm2d,
        dilation: int = 1,
        se_channels: int | None = None,
    ) -> None:
        super().__init__()
        check_counts(in_channels=in_channels, out_channels=out_channels, expanded_channels=expanded_channels,
                     kernel_size=kernel_size, dilation=dilation)
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride!r}")
        self.use_res_connect = stride == 1 and in_channels == out_channels
        activation = _inplace(activation)
        self.expand = (ConvNormAct(in_channels, expanded_channels, 1, norm_layer=norm_layer, activation=activation)
                       if expanded_channels != in_channels else None)
        self.depthwise = ConvNormAct(expanded_channels, expanded_channels, kernel_size,
                                     1 if dilation > 1 else stride, groups=expanded_channels,
                                     norm_layer=norm_layer, activation=activation, dilation=dilation)
        self.se = None
        if use_se:
            squeeze = se_channels if se_channels is not None else make_divisible(expanded_channels // 4, 8)
            self.se = SqueezeExcitation(expanded_channels, squeeze_channels=squeeze, scale_activation=nn.Hardsigmoid)
        self.project = ConvNormAct(expanded_channels, out_channels, 1, norm_layer=norm_layer, activation=None)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = x if self.expand is None else self.expand(x)
        out = self.depthwise(out)
        if self.se is not None:
            out = self.se(out)
        out = self.project(out)
        return out + x if self.use_res_connect else out

    def torchvision_names(self, prefix: str, container: str) -> list[tuple[str, str]]:
        """(regex, replacement) pairs from torchvision's positional names (``prefix.conv.0...``) to ours."""
        src = re.escape(f"{prefix}.{container}.")
        dst = f"{prefix}."
        pairs: list[tuple[str, str]] = []
        i = 0
        for name in ("expand", "depthwise", "se"):
            if getattr(self, name) is not None:
                pairs.append((f"^{src}{i}\\.", f"{dst}{name}."))
                i += 1
        if container == "conv":  # V2: the projection conv and its BN are two siblings, not one ConvNormAct
            pairs += [(f"^{src}{i}\\.", f"{dst}project.0."), (f"^{src}{i + 1}\\.", f"{dst}project.1.")]
        else:
            pairs.append((f"^{src}{i}\\.", f"{dst}project."))
        return pairs


# ----------------------------------------------------------------------------------------------------------
# Networks

# MobileNetV1 (Howard et al., 2017, Table 1): (output channels, stride) of the 13 depthwise separable blocks.
MOBILENET_V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)

# MobileNetV2 (Sandler et al., 2018, Table 2): expansion t, output channels c, repeats n, first stride s.
MOBILENET_V2_SETTING: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)

# MobileNetV3 (Howard et al., 2019, Tables 1-2): kernel, expanded width, output channels, SE, activation
# ("RE" ReLU, "HS" hard-swish), stride. The input of each block is the previous block's output.
MOBILENET_V3_LARGE: tuple[tuple[int, int, int, bool, str, int], ...] = (
    (3, 16, 16, False, "RE", 1), (3, 64, 24, False, "RE", 2), (3, 72, 24, False, "RE", 1),
    (5, 72, 40, True, "RE", 2), (5, 120, 40, True, "RE", 1), (5, 120, 40, True, "RE", 1),
    (3, 240, 80, False, "HS", 2), (3, 200, 80, False, "HS", 1), (3, 184, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1), (3, 480, 112, True, "HS", 1), (3, 672, 112, True, "HS", 1),
    (5, 672, 160, True, "HS", 2), (5, 960, 160, True, "HS", 1), (5, 960, 160, True, "HS", 1),
)
MOBILENET_V3_SMALL: tuple[tuple[int, int, int, bool, str, int], ...] = (
    (3, 16, 16, True, "RE", 2), (3, 72, 24, False, "RE", 2), (3, 88, 24, False, "RE", 1),
    (5, 96, 40, True, "HS", 2), (5, 240, 40, True, "HS", 1), (5, 240, 40, True, "HS", 1),
    (5, 120, 48, True, "HS", 1), (5, 144, 48, True, "HS", 1), (5, 288, 96, True, "HS", 2),
    (5, 576, 96, True, "HS", 1), (5, 576, 96, True, "HS", 1),
)
_V3_HIDDEN = {"large": 1280, "small": 1024}  # width of the classifier's hidden layer


def _inplace(activation: ActLayer) -> ActLayer:
    """ReLU, ReLU6 and hard-swish made in-place (as torchvision's are): no extra tensor per activation."""
    if isinstance(activation, type) and activation in (nn.ReLU, nn.ReLU6, nn.Hardswish):
        return partial(activation, inplace=True)
    return activation


def _normal_001(linear: nn.Linear) -> None:
    nn.init.normal_(linear.weight, 0, 0.01)


def init_weights(model: nn.Module, linear_init: Callable[[nn.Linear], None] = _normal_001) -> None:
    """torchvision's initialisation of the efficient networks: He-normal (fan-out) convolutions, unit norms,
    zero biases, and ``linear_init`` for the classifier's weights (MobileNet: N(0, 0.01))."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            linear_init(m)
            nn.init.zeros_(m.bias)


class _MobileNet(nn.Module):
    """Shared forward: ``features`` -> global average pool -> ``classifier``, with an input check.

    Images smaller than the network's total stride (32; 16 when the last stage is dilated) are refused: the last
    stride-2 layers would only see zero padding around a single pixel.
    """

    in_channels = 3
    total_stride = 32

    @property
    def min_input_size(self) -> int:
        """Smallest accepted image side: the product of all strides."""
        return self.total_stride

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.in_channels, self.min_input_size, type(self).__name__)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class MobileNetV1(_MobileNet):
    """MobileNetV1: a 3x3/2 conv, 13 depthwise separable blocks, global pool, linear classifier (Table 1)."""

    def __init__(
        self,
        num_classes: int = 1000,
        width_mult: float = 1.0,
        dropout: float = 0.0,
        norm_layer: NormLayer | None = None,
        round_nearest: int = 8,
        block_setting: Sequence[tuple[int, int]] | None = None,
        *,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        check_counts(num_classes=num_classes, in_channels=in_channels, round_nearest=round_nearest)
        check_positive(width_mult=width_mult)
        check_probability(dropout=dropout)
        norm_layer = norm_layer or nn.BatchNorm2d
        setting = MOBILENET_V1_BLOCKS if block_setting is None else tuple(block_setting)
        self.in_channels = in_channels
        self.total_stride = 2 * math.prod(s for _, s in setting)
        width = make_divisible(32 * width_mult, round_nearest)
        layers: list[nn.Module] = [ConvNormAct(in_channels, width, 3, 2, norm_layer=norm_layer,
                                               activation=_inplace(nn.ReLU))]
        for channels, stride in setting:
            out = make_divisible(channels * width_mult, round_nearest)
            layers.append(DepthwiseSeparable(width, out, stride, norm_layer=norm_layer))
            width = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, num_classes))
        init_weights(self)


class MobileNetV2(_MobileNet):
    """MobileNetV2: a 3x3/2 conv to 32, the (t, c, n, s) stages of inverted residuals, 1x1 conv to 1280, classifier.

    A custom ``block`` is called as ``block(in_channels, out_channels, stride, expanded_channels, norm_layer=...)``
    (torchvision passes the expansion ratio instead of the expanded width).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        width_mult: float = 1.0,
        inverted_residual_setting: Sequence[Sequence[int]] | None = None,
        round_nearest: int = 8,
        block: Callable[..., nn.Module] | None = None,
        norm_layer: NormLayer | None = None,
        dropout: float = 0.2,
        *,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        check_counts(num_classes=num_classes, in_channels=in_channels, round_nearest=round_nearest)
        check_positive(width_mult=width_mult)
        check_probability(dropout=dropout)
        setting = MOBILENET_V2_SETTING if inverted_residual_setting is None else inverted_residual_setting
        if len(setting) == 0 or any(len(row) != 4 for row in setting):
            raise ValueError(f"inverted_residual_setting must be a non-empty list of (t, c, n, s) rows, got {setting!r}")
        block = block or InvertedResidual
        norm_layer = norm_layer or nn.BatchNorm2d
        self.in_channels = in_channels
        self.total_stride = 2 * math.prod(s for *_, s in setting)
        width = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        relu6 = _inplace(nn.ReLU6)
        layers: list[nn.Module] = [ConvNormAct(in_channels, width, 3, 2, norm_layer=norm_layer, activation=relu6)]
        for t, c, n, s in setting:
            out = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                layers.append(block(width, out, s if i == 0 else 1, int(round(width * t)), norm_layer=norm_layer))
                width = out
        layers.append(ConvNormAct(width, self.last_channel, 1, norm_layer=norm_layer, activation=relu6))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.last_channel, num_classes))
        init_weights(self)
        self.TORCHVISION_RENAMES = tuple(
            pair for i, m in enumerate(self.features) if isinstance(m, InvertedResidual)
            for pair in m.torchvision_names(f"features.{i}", "conv")
        )


class MobileNetV3(_MobileNet):
    """MobileNetV3: 3x3/2 conv to 16 (hard-swish), searched inverted residuals, 1x1 conv, pool, two-layer head."""

    def __init__(
        self,
        inverted_residual_setting: Sequence[tuple[int, int, int, bool, str, int]],
        last_channel: int,
        num_classes: int = 1000,
        block: Callable[..., nn.Module] | None = None,
        norm_layer: NormLayer | None = None,
        dropout: float = 0.2,
        *,
        width_mult: float = 1.0,
        dilation: Sequence[int] | None = None,
        stem_channels: int = 16,
        last_conv_channels: int | None = None,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        check_counts(num_classes=num_classes, in_channels=in_channels, last_channel=last_channel)
        check_positive(width_mult=width_mult)
        check_probability(dropout=dropout)
        if len(inverted_residual_setting) == 0:
            raise ValueError("inverted_residual_setting must list at least one block")
        block = block or InvertedResidual
        norm_layer = norm_layer or partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        dilation = dilation or [1] * len(inverted_residual_setting)
        self.in_channels = in_channels
        self.total_stride = 2 * math.prod(s for (*_, s), d in zip(inverted_residual_setting, dilation) if d == 1)
        width = make_divisible(stem_channels * width_mult, 8)
        hswish = _inplace(nn.Hardswish)
        layers: list[nn.Module] = [ConvNormAct(in_channels, width, 3, 2, norm_layer=norm_layer, activation=hswish)]
        for (k, exp, out, se, act, s), d in zip(inverted_residual_setting, dilation):
            if act not in ("RE", "HS"):
                raise ValueError(f"activation must be 'RE' (ReLU) or 'HS' (hard-swish), got {act!r}")
            out = make_divisible(out * width_mult, 8)
            layers.append(block(width, out, s, make_divisible(exp * width_mult, 8), kernel_size=k,
                                activation=nn.Hardswish if act == "HS" else nn.ReLU, use_se=se,
                                norm_layer=norm_layer, dilation=d))
            width = out
        last_conv = last_conv_channels or 6 * width
        layers.append(ConvNormAct(width, last_conv, 1, norm_layer=norm_layer, activation=hswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(last_conv, last_channel), nn.Hardswish(inplace=True), nn.Dropout(dropout), nn.Linear(last_channel, num_classes)
        )
        init_weights(self)
        self.TORCHVISION_RENAMES = tuple(
            pair for i, m in enumerate(self.features) if isinstance(m, InvertedResidual)
            for pair in m.torchvision_names(f"features.{i}", "block")
        )


def mobilenet_v1(num_classes: int = 1000, width_mult: float = 1.0, **kwargs) -> MobileNetV1:
    """MobileNetV1 (Howard et al., 2017): 4.2 M parameters and 569 M mult-adds at 224x224 (Table 4).

    No torchvision twin; other keyword arguments (``dropout``, ``norm_layer``, ``round_nearest``) go to the class.
    """
    return MobileNetV1(num_classes, width_mult, **kwargs)


def mobilenet_v2(num_classes: int = 1000, width_mult: float = 1.0, **kwargs) -> MobileNetV2:
    """MobileNetV2 (Sandler et al., 2018): 3,504,872 parameters at width 1.0, as torchvision's."""
    return MobileNetV2(num_classes, width_mult, **kwargs)


def _v3(arch: str, num_classes: int, width_mult: float, reduced_tail: bool, dilated: bool,
        **kwargs) -> MobileNetV3:
    check_positive(width_mult=width_mult)
    setting = list(MOBILENET_V3_LARGE if arch == "large" else MOBILENET_V3_SMALL)
    tail = 3  # the last stage (stride-2 block and what follows): torchvision's reduced_tail / dilated switch
    if reduced_tail:  # halve the last stage's widths (for detection and segmentation backbones)
        k, e, c, se, a, s = setting[-tail]
        setting[-tail] = (k, e, c // 2, se, a, s)
        setting[-tail + 1:] = [(k, e // 2, c // 2, se, a, s) for k, e, c, se, a, s in setting[-tail + 1:]]
    dilation = [1] * (len(setting) - tail) + [2 if dilated else 1] * tail
    hidden = _V3_HIDDEN[arch] // (2 if reduced_tail else 1)
    return MobileNetV3(setting, make_divisible(hidden * width_mult, 8), num_classes,
                       width_mult=width_mult, dilation=dilation, **kwargs)


def mobilenet_v3_large(num_classes: int = 1000, width_mult: float = 1.0, reduced_tail: bool = False,
                       dilated: bool = False, **kwargs) -> MobileNetV3:
    """MobileNetV3-Large (Howard et al., 2019): 5,483,032 parameters, as torchvision's."""
    return _v3("large", num_classes, width_mult, reduced_tail, dilated, **kwargs)


def mobilenet_v3_small(num_classes: int = 1000, width_mult: float = 1.0, reduced_tail: bool = False,
                       dilated: bool = False, **kwargs) -> MobileNetV3:
    """MobileNetV3-Small (Howard et al., 2019): 2,542,856 parameters, as torchvision's."""
    return _v3("small", num_classes, width_mult, reduced_tail, dilated, **kwargs)
