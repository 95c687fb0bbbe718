"""U-Net (Ronneberger, Fischer and Brox, 2015): an encoder that halves, a decoder that doubles, and skips between.

``unet(padding=False)`` is the 2015 network: valid 3x3 convolutions (each shrinks a map by 2 pixels), so the
encoder's maps are centre-cropped before they join the decoder, and a 572 x 572 input gives a 388 x 388 map.
``unet(padding=True)`` keeps the input size. ``unet_sizes`` does the size arithmetic without a network.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnbook.models._checks import check_counts, check_images

UPSAMPLE_MODES = ("transpose", "resize")


@dataclass(frozen=True)
class UNetSizes:
    """Map sides through a U-Net: ``encoder[i]`` after level i's double conv, ``bottom`` after the deepest,
    ``decoder`` as (upsampled, after double conv) from the deepest level up, ``crops`` as (encoder map,
    cropped to) in encoder order, and ``output``."""

    input: int
    encoder: tuple[int, ...]
    bottom: int
    decoder: tuple[tuple[int, int], ...]
    crops: tuple[tuple[int, int], ...]
    output: int


def _walk(size: int, depth: int, padding: bool) -> UNetSizes | None:
    """The sizes for one input side, or None when a map is odd before a pool or shrinks below 1 pixel."""
    shrink = 0 if padding else 4  # two 3x3 convolutions, valid or padded
    encoder, side = [], size
    for _ in range(depth):
        side -= shrink
        if side < 1 or side % 2:
            return None
        encoder.append(side)
        side //= 2
    bottom = side - shrink
    if bottom < 1:
        return None
    decoder, side = [], bottom
    for _ in range(depth):
        up = 2 * side
        side = up - shrink
        if side < 1:
            return None
        decoder.append((up, side))
    crops = tuple((encoder[i], decoder[depth - 1 - i][0]) for i in range(depth))
    return UNetSizes(size, tuple(encoder), bottom, tuple(decoder), crops, side)


def nearest_valid_sizes(size: int, depth: int = 4, padding: bool = False) -> tuple[int | None, int]:
    """The largest valid input side below ``size`` (None if there is none) and the smallest above it."""
    below = next((s for s in range(size - 1, 0, -1) if _walk(s, depth, padding)), None)
    above = next(s for s in range(max(size + 1, 1), size + 2 ** (depth + 3) + 8 * 2**depth)
                 if _walk(s, depth, padding))
    return below, above


def _valid_rule(depth: int, padding: bool) -> str:
    step = 2**depth
    if padding:
        return f"multiples of {step}"
    offset = 4 * (2 ** (depth + 1) - 1)  # the encoder's total shrink seen from the input
    smallest = next(s for s in range(1, 10 * step + offset) if _walk(s, depth, padding))
    return f"{step}k + {offset} with k >= {(smallest - offset) // step} (k is the bottom map's side)"


def unet_sizes(input_size: int, depth: int = 4, padding: bool = False) -> UNetSizes:
    """Map sides through a ``depth``-level U-Net for one input side; ValueError naming the nearest valid sides."""
    check_counts(input_size=input_size, depth=depth)
    sizes = _walk(input_size, depth, padding)
    if sizes is None:
        below, above = nearest_valid_sizes(input_size, depth, padding)
        nearest = f"{below} or {above}" if below is not None else f"{above}"
        raise ValueError(
            f"unet: input side {input_size} cannot be halved evenly by a depth-{depth} U-Net "
            f"{'with' if padding else 'without'} padding; valid sides are {_valid_rule(depth, padding)}; "
            f"nearest: {nearest}"
        )
    return sizes


def center_crop(x: Tensor, height: int, width: int) -> Tensor:
    """The central ``height`` x ``width`` window of an (N, C, H, W) map (the 2015 skip's crop)."""
    h, w = x.shape[-2:]
    if height > h or width > w:
        raise ValueError(f"center_crop: cannot crop {h}x{w} to {height}x{width}")
    top, left = (h - height) // 2, (w - width) // 2
    return x[..., top : top + height, left : left + width]


def _check_input(x: Tensor, in_channels: int, depth: int, padding: bool) -> None:
    """ValueError unless ``x`` is (N, in_channels, H, W) with H and W valid sides (see ``unet_sizes``)."""
    check_images(x, in_channels, 1, "unet")
    for side in dict.fromkeys(x.shape[-2:]):
        unet_sizes(int(side), depth, padding)


torch.fx.wrap("_check_input")
torch.fx.wrap("center_crop")


class DoubleConv(nn.Sequential):
    """Two 3x3 convolutions, each followed by ReLU (and ``norm_layer`` before it, if given); valid unless
    ``padding``."""

    def __init__(self, in_channels: int, out_channels: int, padding: bool = False,
                 norm_layer: Callable[[int], nn.Module] | None = None) -> None:
        check_counts(in_channels=in_channels, out_channels=out_channels)
        pad, bias = int(padding), norm_layer is None
        layers: list[tuple[str, nn.Module]] = []
        for i, channels in ((1, in_channels), (2, out_channels)):
            layers.append((f"conv{i}", nn.Conv2d(channels, out_channels, 3, padding=pad, bias=bias)))
            if norm_layer is not None:
                layers.append((f"norm{i}", norm_layer(out_channels)))
            layers.append((f"relu{i}", nn.ReLU(inplace=True)))
        super().__init__(OrderedDict(layers))


class Down(nn.Module):
    """2x2 max-pool (halves the map) then a DoubleConv."""

    def __init__(self, in_channels: int, out_channels: int, padding: bool = False,
                 norm_layer: Callable[[int], nn.Module] | None = None) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.conv = DoubleConv(in_channels, out_channels, padding, norm_layer)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.pool(x))


class Up(nn.Module):
    """Double the map and halve the channels (2x2 transposed conv, or nearest resize + 3x3 conv), join the
    centre-cropped encoder map (``skip_channels`` of them; 0 for none), then a DoubleConv."""

    def __init__(self, in_channels: int, out_channels: int, skip_channels: int, padding: bool = False,
                 upsample: str = "transpose", norm_layer: Callable[[int], nn.Module] | None = None) -> None:
        super().__init__()
        check_counts(in_channels=in_channels, out_channels=out_channels)
        if isinstance(skip_channels, bool) or not isinstance(skip_channels, int) or skip_channels < 0:
            raise ValueError(f"skip_channels must be an integer >= 0, got {skip_channels!r}")
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {upsample!r}")
        half = max(1, in_channels // 2)
        if upsample == "transpose":
            self.up: nn.Module = nn.ConvTranspose2d(in_channels, half, kernel_size=2, stride=2)
        else:  # resize-convolution (Odena et al., 2016): no uneven kernel overlap, so no checkerboard
            self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                    nn.Conv2d(in_channels, half, kernel_size=3, padding=1))
        self.skip_channels = skip_channels
        self.conv = DoubleConv(half + skip_channels, out_channels, padding, norm_layer)

    def forward(self, x: Tensor, skip: Tensor | None = None) -> Tensor:
        x = self.up(x)
        if self.skip_channels:
            if skip is None:
                raise ValueError("Up: this block joins an encoder map, but none was given")
            x = torch.cat([center_crop(skip, x.shape[-2], x.shape[-1]), x], dim=1)
        return self.conv(x)


class UNet(nn.Module):
    """``first`` DoubleConv, ``downs`` (depth x Down), ``ups`` (depth x Up, deepest first), 1x1 ``head``.

    Channels double at each level from ``base_channels``; ``skips=False`` drops the encoder-decoder joins.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        padding: bool = False,
        base_channels: int = 64,
        depth: int = 4,
        upsample: str = "transpose",
        skips: bool = True,
        norm_layer: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        check_counts(in_channels=in_channels, num_classes=num_classes, base_channels=base_channels, depth=depth)
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {upsample!r}")
        self.in_channels, self.num_classes, self.depth = in_channels, num_classes, depth
        self.padding, self.skips, self.upsample = bool(padding), bool(skips), upsample
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.first = DoubleConv(in_channels, widths[0], padding, norm_layer)
        self.downs = nn.ModuleList(Down(widths[i], widths[i + 1], padding, norm_layer) for i in range(depth))
        self.ups = nn.ModuleList(
            Up(widths[i + 1], widths[i], widths[i] if skips else 0, padding, upsample, norm_layer)
            for i in reversed(range(depth))
        )
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def sizes(self, input_size: int) -> UNetSizes:
        """Map sides through this network for one input side (ValueError if it does not fit)."""
        return unet_sizes(input_size, self.depth, self.padding)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self.in_channels, self.depth, self.padding)
        x = self.first(x)
        features = [x]
        for down in self.downs:
            x = down(x)
            features.append(x)
        features.pop()  # the bottom map is not a skip
        for up in self.ups:
            x = up(x, features.pop() if self.skips else None)
        return self.head(x)


def unet(
    in_channels: int = 1,
    num_classes: int = 2,
    padding: bool = False,
    base_channels: int = 64,
    depth: int = 4,
    upsample: str = "transpose",
    skips: bool = True,
    norm_layer: Callable[[int], nn.Module] | None = None,
) -> UNet:
    """A U-Net; the defaults are the 2015 network (31,030,658 parameters, 572 -> 388)."""
    return UNet(in_channels, num_classes, padding, base_channels, depth, upsample, skips, norm_layer)


def overlap_tile_predict(model: UNet, image: Tensor, tile: int) -> Tensor:
    """The paper's overlap-tile strategy: logits (N, classes, H, W) for an image of any size, from output tiles
    of side ``tile`` (an output side of ``model``), each seen with its context mirrored at the borders."""
    if not isinstance(model, UNet):
        raise ValueError(f"overlap_tile_predict needs a UNet, got {type(model).__name__}")
    check_images(image, model.in_channels, 1, "overlap_tile_predict")
    step = 2**model.depth
    inputs = [s for s in range(1, 64 * step) if _walk(s, model.depth, model.padding)]
    by_output = {_walk(s, model.depth, model.padding).output: s for s in inputs}
    if tile not in by_output:
        raise ValueError(f"tile {tile} is no output side of this U-Net; e.g. {sorted(by_output)[:6]}")
    margin = (by_output[tile] - tile) // 2
    n, _, h, w = image.shape
    rows, cols = -(-h // tile), -(-w // tile)
    pad_h, pad_w = rows * tile - h, cols * tile - w
    padded = image
    # Mirror the context in as many reflections as needed (reflect padding is limited to the map's size).
    need = [(margin, margin + pad_w), (margin, margin + pad_h)]
    while any(a or b for a, b in need):
        lw, rw = min(need[0][0], padded.shape[-1] - 1), min(need[0][1], padded.shape[-1] - 1)
        th, bh = min(need[1][0], padded.shape[-2] - 1), min(need[1][1], padded.shape[-2] - 1)
        padded = F.pad(padded, (lw, rw, th, bh), mode="reflect")
        need = [(need[0][0] - lw, need[0][1] - rw), (need[1][0] - th, need[1][1] - bh)]
    out = image.new_empty(n, model.num_classes, rows * tile, cols * tile)
    side = by_output[tile]
    for r in range(rows):
        for c in range(cols):
            window = padded[..., r * tile : r * tile + side, c * tile : c * tile + side]
            out[..., r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] = model(window)
    return out[..., :h, :w]
