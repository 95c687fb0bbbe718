"""ConvNeXt (Liu et al., 2022, "A ConvNet for the 2020s"): a ResNet modernised step by step.

A patchify stem (4x4 conv, stride 4, LayerNorm), four stages of ConvNeXt blocks (7x7 depthwise conv,
LayerNorm, 1x1 expand 4x, GELU, 1x1 project, layer scale, stochastic depth), separate downsampling layers
(LayerNorm, 2x2 conv, stride 2) between stages, and a head of global average pool, LayerNorm and a linear layer.
Our module names are our own (stem, stage1, downsample2, ..., norm, head); ``ConvNeXt.TORCHVISION_RENAMES``
maps torchvision's (features.0 ... features.7, classifier) onto them, so its weights load by name.
``convnext_ladder`` rebuilds the paper's path from ResNet-50 to ConvNeXt-T as rungs of one configurable network.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnbook.models._checks import check_images, check_probability, min_input_size
from cnnbook.models.efficientnet import StochasticDepth

torch.fx.wrap("check_images")

NormLayer = Callable[[int], nn.Module]

# (depths, dims, default stochastic_depth_prob) of torchvision's four sizes.
CONFIGS: dict[str, tuple[tuple[int, ...], tuple[int, ...], float]] = {
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768), 0.1),
    "small": ((3, 3, 27, 3), (96, 192, 384, 768), 0.4),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024), 0.5),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536), 0.5),
}


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _check_stages(depths: Sequence[int], dims: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    for name, values in (("depths", depths), ("dims", dims)):
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"{name} must be a non-empty sequence of integers, got {values!r}")
        for v in values:
            _positive_int(f"every entry of {name}", v)
    if len(depths) != len(dims):
        raise ValueError(
            f"depths and dims need one entry per stage, got {len(depths)} depths {list(depths)} "
            f"and {len(dims)} dims {list(dims)}"
        )
    return tuple(depths), tuple(dims)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) map: each pixel's C values get mean 0 and variance 1.

    Not ``GroupNorm(1, C)``, which pools its statistics over (C, H, W) of the whole image. Default eps 1e-6,
    the paper's. State-dict keys (weight, bias) are nn.LayerNorm's.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6, elementwise_affine: bool = True, bias: bool = True) -> None:
        super().__init__(num_channels, eps=eps, elementwise_affine=elementwise_affine, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.normalized_shape[0]:
            raise ValueError(
                f"LayerNorm2d: expected (N, {self.normalized_shape[0]}, H, W), got shape {tuple(x.shape)}"
            )
        x = x.permute(0, 2, 3, 1)  # channels last, so layer_norm normalises over them
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    """ConvNeXt block: x + drop_path(gamma * pwconv2(GELU(pwconv1(LN(dwconv7x7(x)))))).

    The 1x1 convolutions are nn.Linear layers on channels-last tensors (as in the paper's code and
    torchvision's: the same function, faster on the CPU). ``layer_scale`` is gamma's initial value per channel
    (None: no gamma). ``norm_layer`` acts on channels-last input (default nn.LayerNorm, eps 1e-6).
    """

    def __init__(
        self,
        dim: int,
        layer_scale: float | None = 1e-6,
        stochastic_depth_prob: float = 0.0,
        norm_layer: NormLayer | None = None,
        *,
        kernel_size: int = 7,
        expansion: int = 4,
    ) -> None:
        super().__init__()
        _positive_int("dim", dim)
        _positive_int("expansion", expansion)
        if _positive_int("kernel_size", kernel_size) % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep the size, got {kernel_size}")
        if layer_scale is not None and (isinstance(layer_scale, bool) or not layer_scale > 0):
            raise ValueError(f"layer_scale must be a number > 0 or None, got {layer_scale!r}")
        norm_layer = norm_layer or partial(nn.LayerNorm, eps=1e-6)
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = norm_layer(dim)
        self.pwconv1 = nn.Linear(dim, expansion * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(expansion * dim, dim)
        self.layer_scale = None if layer_scale is None else nn.Parameter(torch.full((dim, 1, 1), float(layer_scale)))
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob)

    def forward(self, x: Tensor) -> Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)  # (N, H, W, C)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        y = y.permute(0, 3, 1, 2)
        if self.layer_scale is not None:
            y = self.layer_scale * y
        return x + self.stochastic_depth(y)


class ConvNeXtStem(nn.Module):
    """Patchify stem: a ``patch_size`` x ``patch_size`` conv with the same stride (non-overlapping patches), then a norm.

    ImageNet uses 4 (224 px -> 56 x 56). For 32 px images (Shapes10, CIFAR) ``patch_size=2`` keeps 16 x 16 for
    the first stage; ``patch_size=1`` keeps 32 x 32 (a per-pixel linear map, 4x the compute of 2).
    """

    def __init__(self, in_channels: int, out_channels: int, patch_size: int = 4, norm_layer: NormLayer | None = None) -> None:
        super().__init__()
        _positive_int("in_channels", in_channels)
        _positive_int("out_channels", out_channels)
        _positive_int("patch_size", patch_size)
        self.conv = nn.Conv2d(in_channels, out_channels, patch_size, stride=patch_size)
        self.norm = (norm_layer or LayerNorm2d)(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.conv(x))


class ConvNeXtDownsample(nn.Module):
    """Separate downsampling layer between stages: norm, then a 2x2 conv with stride 2 (halves H and W)."""

    def __init__(self, in_channels: int, out_channels: int, norm_layer: NormLayer | None = None) -> None:
        super().__init__()
        self.norm = (norm_layer or LayerNorm2d)(in_channels)
        self.conv = nn.Conv2d(in_channels, out_channels, 2, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.norm(x))


def _torchvision_renames(max_stages: int = 8) -> tuple[tuple[str, str], ...]:
    pairs = [(r"^features\.0\.0\.", "stem.conv."), (r"^features\.0\.1\.", "stem.norm.")]
    for k in range(1, max_stages + 1):
        pairs.append((rf"^features\.{2 * k - 1}\.", f"stage{k}."))
        pairs.append((rf"^features\.{2 * k}\.0\.", f"downsample{k + 1}.norm."))
        pairs.append((rf"^features\.{2 * k}\.1\.", f"downsample{k + 1}.conv."))
    blocks = {"0": "dwconv", "2": "norm", "3": "pwconv1", "5": "pwconv2"}
    pairs += [(rf"^(stage\d+\.\d+\.)block\.{i}\.", rf"\g<1>{name}.") for i, name in blocks.items()]
    pairs += [(r"^classifier\.0\.", "norm."), (r"^classifier\.2\.", "head.")]
    return tuple(pairs)


class ConvNeXt(nn.Module):
    """ConvNeXt: ``stem``, then ``stage1``, ``downsample2``, ``stage2``, ... of CNBlocks, then pool, ``norm``, ``head``.

    Stage i has ``depths[i]`` blocks of width ``dims[i]``. Stochastic depth grows linearly from 0 (first block)
    to ``stochastic_depth_prob`` (last). ``norm_layer`` is for stem, downsampling layers and head (default
    LayerNorm2d). ``small_input=True`` is a 2x2 stride-2 stem (``patch_size=2``) for 32 px images.
    """

    TORCHVISION_RENAMES: tuple[tuple[str, str], ...] = _torchvision_renames()

    def __init__(
        self,
        depths: Sequence[int],
        dims: Sequence[int],
        stochastic_depth_prob: float = 0.0,
        layer_scale: float | None = 1e-6,
        num_classes: int = 1000,
        norm_layer: NormLayer | None = None,
        *,
        in_channels: int = 3,
        small_input: bool = False,
        patch_size: int | None = None,
        kernel_size: int = 7,
    ) -> None:
        super().__init__()
        depths, dims = _check_stages(depths, dims)
        check_probability(stochastic_depth_prob=stochastic_depth_prob)
        _positive_int("num_classes", num_classes)
        _positive_int("in_channels", in_channels)
        if patch_size is None:
            patch_size = 2 if small_input else 4
        elif small_input and patch_size != 2:
            raise ValueError(f"small_input=True means patch_size=2; got patch_size={patch_size}")
        norm_layer = norm_layer or LayerNorm2d
        self.in_channels = in_channels
        self.depths, self.dims = depths, dims

        self.stem = ConvNeXtStem(in_channels, dims[0], patch_size, norm_layer)
        total, index = sum(depths), 0
        self._stage_names: list[str] = []
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            if i > 0:
                self.add_module(f"downsample{i + 1}", ConvNeXtDownsample(dims[i - 1], dim, norm_layer))
                self._stage_names.append(f"downsample{i + 1}")
            blocks = []
            for _ in range(depth):
                p = stochastic_depth_prob * index / max(total - 1, 1)
                blocks.append(CNBlock(dim, layer_scale, p, kernel_size=kernel_size))
                index += 1
            self.add_module(f"stage{i + 1}", nn.Sequential(*blocks))
            self._stage_names.append(f"stage{i + 1}")
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.norm = norm_layer(dims[-1])
        self.head = nn.Linear(dims[-1], num_classes)
        strided = [self.stem.conv] + [getattr(self, f"downsample{i}").conv for i in range(2, len(dims) + 1)]
        self.min_size = min_input_size(strided)

        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """The feature map before pooling: (N, dims[-1], H / (patch_size * 2**(stages-1)), ...)."""
        check_images(x, self.in_channels, self.min_size, type(self).__name__)
        x = self.stem(x)
        for name in self._stage_names:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(self.avgpool(self.forward_features(x)))
        return self.head(torch.flatten(x, 1))


def _convnext(size: str, kwargs: dict) -> ConvNeXt:
    depths, dims, sd_prob = CONFIGS[size]
    kwargs.setdefault("stochastic_depth_prob", sd_prob)
    return ConvNeXt(depths, dims, **kwargs)


def convnext_tiny(**kwargs) -> ConvNeXt:
    """ConvNeXt-T: depths (3, 3, 9, 3), dims 96..768; 28.6 M parameters, stochastic depth 0.1 (torchvision's)."""
    return _convnext("tiny", kwargs)


def convnext_small(**kwargs) -> ConvNeXt:
    """ConvNeXt-S: depths (3, 3, 27, 3), dims 96..768; 50.2 M parameters, stochastic depth 0.4."""
    return _convnext("small", kwargs)


def convnext_base(**kwargs) -> ConvNeXt:
    """ConvNeXt-B: depths (3, 3, 27, 3), dims 128..1024; 88.6 M parameters, stochastic depth 0.5."""
    return _convnext("base", kwargs)


def convnext_large(**kwargs) -> ConvNeXt:
    """ConvNeXt-L: depths (3, 3, 27, 3), dims 192..1536; 197.8 M parameters, stochastic depth 0.5."""
    return _convnext("large", kwargs)


def convnext_mini(
    depths: Sequence[int] = (2, 2, 2),
    dims: Sequence[int] = (32, 64, 128),
    num_classes: int = 10,
    *,
    patch_size: int = 2,
    **kwargs,
) -> ConvNeXt:
    """A small ConvNeXt for 32 px experiments: any ``depths``/``dims``, 2x2 stem by default (32 -> 16 -> 8 -> 4)."""
    return ConvNeXt(depths, dims, num_classes=num_classes, patch_size=patch_size, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# The ladder: the paper's path from ResNet-50 to ConvNeXt-T, each step a configuration of one network.
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LadderConfig:
    """One rung of the ladder. Defaults are ResNet-50 (torchvision's, 25,557,032 parameters).

    ``dims``: the residual stream's width per stage (a block's output); ``hidden``: the block's inner width.
    ``spatial_first``: the kxk conv comes first (on ``dims``, depthwise) instead of between the 1x1s.
    ``activations``/``norms``: "all" (after every conv but the last, plus ReLU after the addition) or "one"
    (activation between the two 1x1s only; one norm, after the first conv). ``downsampling``: "block" (stride 2
    in each stage's first block, 1x1 projection shortcut) or "separate" (norm + 2x2/2 conv between stages).
    """

    depths: tuple[int, ...] = (3, 4, 6, 3)
    dims: tuple[int, ...] = (256, 512, 1024, 2048)
    hidden: tuple[int, ...] = (64, 128, 256, 512)
    stem: str = "resnet"  # "resnet": 7x7/2 conv, norm, act, 3x3/2 max-pool; "patchify": 4x4/4 conv, norm
    stem_width: int = 64
    depthwise: bool = False
    spatial_first: bool = False
    kernel_size: int = 3
    activation: str = "relu"  # or "gelu"
    activations: str = "all"  # or "one"
    norms: str = "all"  # or "one"
    norm: str = "batch"  # or "layer" (LayerNorm2d over channels)
    downsampling: str = "block"  # or "separate"
    head_norm: bool = False
    layer_scale: float | None = None

    def __post_init__(self) -> None:
        _check_stages(self.depths, self.dims)
        _check_stages(self.depths, self.hidden)
        choices = {"stem": ("resnet", "patchify"), "activation": ("relu", "gelu"), "activations": ("all", "one"),
                   "norms": ("all", "one"), "norm": ("batch", "layer"), "downsampling": ("block", "separate")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        _positive_int("stem_width", self.stem_width)
        if _positive_int("kernel_size", self.kernel_size) % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        if self.spatial_first and not self.depthwise:
            raise ValueError("spatial_first needs depthwise=True (a dense kxk conv first would be a different design)")
        if self.layer_scale is not None and not self.layer_scale > 0:
            raise ValueError(f"layer_scale must be > 0 or None, got {self.layer_scale!r}")


def _ladder_norm(config: LadderConfig, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if config.norm == "batch" else LayerNorm2d(channels)


def _ladder_act(config: LadderConfig) -> nn.Module:
    return nn.ReLU() if config.activation == "relu" else nn.GELU()


def _has_bias(config: LadderConfig, normed: bool) -> bool:
    """A conv followed by BatchNorm needs no bias (BN's shift replaces it); ConvNeXt keeps every bias with LN."""
    return config.norm == "layer" or not normed


class LadderBlock(nn.Module):
    """A residual block between a ResNet bottleneck and a ConvNeXt block, as ``config`` says.

    conv1 -> [norm1, act1] -> conv2 -> [norm2, act2] -> conv3 -> [norm3] -> layer scale -> drop path -> + shortcut
    -> [act]. Without ``spatial_first``: 1x1 (in -> hidden), kxk (hidden, stride), 1x1 (hidden -> out). With it:
    kxk depthwise (in, stride), 1x1 (in -> hidden), 1x1 (hidden -> out).
    """

    def __init__(self, config: LadderConfig, in_dim: int, dim: int, hidden: int, stride: int = 1,
                 stochastic_depth_prob: float = 0.0) -> None:
        super().__init__()
        k, pad = config.kernel_size, config.kernel_size // 2
        all_norms, all_acts = config.norms == "all", config.activations == "all"
        if config.spatial_first:
            shapes = [(in_dim, in_dim, k, stride, pad, in_dim), (in_dim, hidden, 1, 1, 0, 1), (hidden, dim, 1, 1, 0, 1)]
        else:
            groups = hidden if config.depthwise else 1
            shapes = [(in_dim, hidden, 1, 1, 0, 1), (hidden, hidden, k, stride, pad, groups), (hidden, dim, 1, 1, 0, 1)]
        normed = [True, all_norms, all_norms]
        for i, ((c_in, c_out, kernel, s, p, g), has_norm) in enumerate(zip(shapes, normed), start=1):
            self.add_module(f"conv{i}", nn.Conv2d(c_in, c_out, kernel, s, p, groups=g,
                                                  bias=_has_bias(config, has_norm)))
            self.add_module(f"norm{i}", _ladder_norm(config, c_out) if has_norm else nn.Identity())
        self.act1 = _ladder_act(config) if all_acts else nn.Identity()
        self.act2 = _ladder_act(config)
        self.layer_scale = (None if config.layer_scale is None
                            else nn.Parameter(torch.full((dim, 1, 1), float(config.layer_scale))))
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_dim != dim:
            self.shortcut = nn.Sequential(nn.Conv2d(in_dim, dim, 1, stride, bias=_has_bias(config, True)),
                                          _ladder_norm(config, dim))
        self.act = _ladder_act(config) if all_acts else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = self.act1(self.norm1(self.conv1(x)))
        y = self.act2(self.norm2(self.conv2(y)))
        y = self.norm3(self.conv3(y))
        if self.layer_scale is not None:
            y = self.layer_scale * y
        return self.act(self.shortcut(x) + self.stochastic_depth(y))


class LadderNet(nn.Module):
    """One configurable network spanning ResNet-50 (the default config) to ConvNeXt-T (the last rung).

    ``width_scale`` multiplies every width (rounded, at least 1) and ``depths`` replaces the block counts, for
    small experiments. ``small_input`` makes both stems stride 2 (a 3x3/2 conv without max-pool, or a 2x2/2
    patchify), so 32 px images keep 16 x 16 in the first stage.
    """

    def __init__(
        self,
        config: LadderConfig = LadderConfig(),
        num_classes: int = 1000,
        stochastic_depth_prob: float = 0.0,
        *,
        in_channels: int = 3,
        width_scale: float = 1.0,
        depths: Sequence[int] | None = None,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(config, LadderConfig):
            raise ValueError(f"config must be a LadderConfig, got {type(config).__name__}")
        _positive_int("num_classes", num_classes)
        _positive_int("in_channels", in_channels)
        check_probability(stochastic_depth_prob=stochastic_depth_prob)
        if isinstance(width_scale, bool) or not isinstance(width_scale, (int, float)) or not width_scale > 0:
            raise ValueError(f"width_scale must be a number > 0, got {width_scale!r}")
        if depths is not None:
            if isinstance(depths, (str, bytes)) or not isinstance(depths, Sequence) or len(depths) != len(config.depths):
                raise ValueError(f"depths must have {len(config.depths)} entries (one per stage), got {depths!r}")
            config = replace(config, depths=tuple(depths))
        scale = lambda c: max(1, round(c * width_scale))  # noqa: E731
        dims, hidden = [scale(c) for c in config.dims], [scale(c) for c in config.hidden]
        stem_width = scale(config.stem_width)
        self.config, self.in_channels = config, in_channels

        if config.stem == "resnet":
            conv = (nn.Conv2d(in_channels, stem_width, 3, 2, 1, bias=_has_bias(config, True)) if small_input
                    else nn.Conv2d(in_channels, stem_width, 7, 2, 3, bias=_has_bias(config, True)))
            layers = [conv, _ladder_norm(config, stem_width), _ladder_act(config)]
            if not small_input:
                layers.append(nn.MaxPool2d(3, 2, 1))
            self.stem = nn.Sequential(*layers)
        else:
            patch = 2 if small_input else 4
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, stem_width, patch, patch, bias=_has_bias(config, True)),
                _ladder_norm(config, stem_width),
            )
        total, index, in_dim = sum(config.depths), 0, stem_width
        strided: list[nn.Module] = list(self.stem)
        self._stage_names: list[str] = []
        for i, (depth, dim, width) in enumerate(zip(config.depths, dims, hidden)):
            stride = 1 if i == 0 else 2
            if config.downsampling == "separate" and (i > 0 or in_dim != dim):
                down = (nn.Sequential(_ladder_norm(config, in_dim), nn.Conv2d(in_dim, dim, 2, 2)) if i > 0
                        else nn.Sequential(nn.Conv2d(in_dim, dim, 1), _ladder_norm(config, dim)))
                self.add_module(f"downsample{i + 1}", down)
                self._stage_names.append(f"downsample{i + 1}")
                strided.extend(down)
                in_dim, stride = dim, 1
            blocks = []
            for j in range(depth):
                p = stochastic_depth_prob * index / max(total - 1, 1)
                blocks.append(LadderBlock(config, in_dim if j == 0 else dim, dim, width, stride if j == 0 else 1, p))
                index += 1
            strided.append(blocks[0].conv1 if config.spatial_first else blocks[0].conv2)
            self.add_module(f"stage{i + 1}", nn.Sequential(*blocks))
            self._stage_names.append(f"stage{i + 1}")
            in_dim = dim
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.norm = _ladder_norm(config, in_dim) if config.head_norm else nn.Identity()
        self.head = nn.Linear(in_dim, num_classes)
        self.min_size = min_input_size(strided)

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.in_channels, self.min_size, type(self).__name__)
        x = self.stem(x)
        for name in self._stage_names:
            x = getattr(self, name)(x)
        x = self.norm(self.avgpool(x))
        return self.head(torch.flatten(x, 1))


def ladder_configs() -> list[tuple[str, LadderConfig]]:
    """The paper's modernisation steps in order, as (step name, the rung's LadderConfig)."""
    steps: list[tuple[str, dict]] = [
        ("ResNet-50", {}),
        ("training recipe (layer scale)", {"layer_scale": 1e-6}),
        ("stage ratio (3, 3, 9, 3)", {"depths": (3, 3, 9, 3)}),
        ("patchify stem", {"stem": "patchify"}),
        ("depthwise conv, width 96 (ResNeXt-ify)", {"depthwise": True, "stem_width": 96,
                                                     "dims": (384, 768, 1536, 3072), "hidden": (96, 192, 384, 768)}),
        ("inverted bottleneck", {"dims": (96, 192, 384, 768), "hidden": (384, 768, 1536, 3072)}),
        ("depthwise conv moved up", {"spatial_first": True}),
        ("7x7 kernel", {"kernel_size": 7}),
        ("ReLU -> GELU", {"activation": "gelu"}),
        ("fewer activations", {"activations": "one"}),
        ("fewer norms", {"norms": "one"}),
        ("BatchNorm -> LayerNorm", {"norm": "layer"}),
        ("separate downsampling layers", {"downsampling": "separate", "head_norm": True}),
    ]
    config, out = LadderConfig(), []
    for name, change in steps:
        config = replace(config, **change)
        out.append((name, config))
    return out


def convnext_ladder() -> list[tuple[str, Callable[..., LadderNet]]]:
    """The paper's modernisation steps in order, as (step name, builder); each rung adds one change to the last.

    The first rung has ResNet-50's parameters (25,557,032), the last ConvNeXt-T's (28,589,128) and computes
    the same function. A builder takes LadderNet's keywords (num_classes, width_scale, depths, small_input, ...).
    """
    return [(name, partial(LadderNet, config)) for name, config in ladder_configs()]
