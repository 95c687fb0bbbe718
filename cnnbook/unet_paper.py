"""The U-Net paper's two training tricks: a per-pixel loss weight that separates touching objects, and elastic
deformation of image and mask.

Ronneberger et al. (2015) weight each pixel's cross-entropy by

    w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))^2 / (2 sigma^2)),

with d1 and d2 the distances from pixel x to the nearest and the second-nearest object. Here the border term is
given to background pixels only (the thin gaps between objects), distances are exact Euclidean distances between
pixel centres, and w_c balances background against foreground (see ``border_weight_map``). Their augmentation
draws random displacements on a coarse 3x3 grid (10 pixels standard deviation) and interpolates them bicubically
to every pixel; ``elastic_field`` does exactly that, for any grid size.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

_CHUNK = 1 << 22  # at most this many pixel-to-pixel distances in memory at once


def _check_instances(instances: Tensor) -> Tensor:
    """Return ``instances`` as (N, H, W) int64, or raise a ValueError saying what was expected."""
    if not isinstance(instances, Tensor):
        raise ValueError(f"instances must be a torch.Tensor, got {type(instances).__name__}")
    if instances.dim() not in (2, 3) or instances.dtype.is_floating_point or instances.dtype.is_complex \
            or instances.dtype == torch.bool:
        raise ValueError(f"instances must be an (H, W) or (N, H, W) tensor of integer instance ids, "
                         f"got shape {tuple(instances.shape)} {instances.dtype}")
    if instances.numel() == 0:
        raise ValueError(f"instances must not be empty, got shape {tuple(instances.shape)}")
    if int(instances.min()) < 0:
        raise ValueError(f"instance ids must be >= 0 (0 = no object), got {int(instances.min())}")
    return (instances[None] if instances.dim() == 2 else instances).long()


def _check_number(name: str, value: object, low: float, strict: bool) -> float:
    """A finite real number >= low (> low if strict), as a float."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= low if strict else value < low):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {low:g}, got {value!r}")
    return float(value)


def _boundary(region: Tensor) -> Tensor:
    """Pixels of a (H, W) bool region with a 4-neighbour inside the image that lies outside the region."""
    padded = F.pad(region[None, None].float(), (1, 1, 1, 1), mode="replicate")[0, 0]  # the image edge is no boundary
    outside = ((padded[:-2, 1:-1] == 0) | (padded[2:, 1:-1] == 0) | (padded[1:-1, :-2] == 0) | (padded[1:-1, 2:] == 0))
    return region & outside


def _distance_to(region: Tensor, coords: Tensor) -> Tensor:
    """Exact distance from every pixel centre to the nearest pixel of ``region`` (0 inside it), flat (H * W,)."""
    # The nearest pixel of a region, seen from outside it, lies on its boundary: a pixel with all in-image
    # 4-neighbours in the region has a neighbour that is nearer (one step towards the query pixel).
    targets = coords[_boundary(region).flatten()]
    best = torch.full((coords.shape[0],), math.inf, dtype=torch.float64)
    if len(targets):
        step = max(1, _CHUNK // len(targets))
        for start in range(0, coords.shape[0], step):
            chunk = coords[start:start + step]
            best[start:start + step] = torch.cdist(chunk, targets, compute_mode="donot_use_mm_for_euclid_dist").amin(1)
    return best.masked_fill(region.flatten(), 0.0)


def nearest_instance_distances(instances: Tensor) -> tuple[Tensor, Tensor]:
    """(d1, d2): exact Euclidean distances from each pixel centre to the nearest and the second-nearest object.

    ``instances`` is (H, W) or (N, H, W) integer ids, 0 for no object; a pixel of an object is at distance 0 from
    it. Both results are float64 of the input's shape; inf where an image has fewer than one (two) objects.
    """
    batch = _check_instances(instances)
    n, h, w = batch.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    coords = torch.stack([ys.flatten(), xs.flatten()], 1)
    d1 = torch.full((n, h * w), math.inf, dtype=torch.float64)
    d2 = d1.clone()
    for i in range(n):
        ids = [int(k) for k in batch[i].unique() if k > 0]
        if not ids:
            continue
        dist = torch.stack([_distance_to(batch[i] == k, coords) for k in ids])  # (objects, H * W)
        if len(ids) == 1:
            d1[i] = dist[0]
        else:
            two = dist.topk(2, dim=0, largest=False).values
            d1[i], d2[i] = two[0], two[1]
    return d1.reshape(instances.shape), d2.reshape(instances.shape)


def class_balance_weights(instances: Tensor) -> Tensor:
    """w_c per pixel: 1 / (2 f), f the share of the pixel's class (background or object) in its own image.

    Each of the two classes then carries half the image's total weight and the mean weight is 1; an image with
    one class only gets 1 everywhere. Float32, the input's shape.
    """
    batch = _check_instances(instances)
    fg = batch > 0
    share_fg = fg.flatten(1).double().mean(1)[:, None, None]
    share = torch.where(fg, share_fg, 1 - share_fg)
    one_class = (share_fg == 0) | (share_fg == 1)
    weights = torch.where(one_class, torch.ones_like(share), 1 / (2 * share))
    return weights.float().reshape(instances.shape)


def border_weight_map(instances: Tensor, w0: float = 10.0, sigma: float = 5.0,
                      class_weights: Sequence[float] | None = None) -> Tensor:
    """The U-Net paper's loss weight w_c(x) + w0 exp(-(d1 + d2)^2 / (2 sigma^2)), the second term on background only.

    ``instances``: (H, W) or (N, H, W) integer ids, 0 = background. ``class_weights``: None for
    ``class_balance_weights``, or a pair (background, object) of fixed positive weights. Float32, the input's shape.
    """
    batch = _check_instances(instances)
    w0 = _check_number("w0", w0, 0.0, strict=False)
    sigma = _check_number("sigma", sigma, 0.0, strict=True)
    if class_weights is None:
        wc = class_balance_weights(batch).double()
    else:
        pair_like = isinstance(class_weights, Sequence) and not isinstance(class_weights, (str, bytes))
        if not pair_like or len(class_weights) != 2:
            raise ValueError(f"class_weights must be None or a pair (background, object), got {class_weights!r}")
        pair = [_check_number("each of class_weights", v, 0.0, strict=True) for v in class_weights]
        wc = torch.where(batch > 0, pair[1], pair[0]).double()
    d1, d2 = nearest_instance_distances(batch)
    border = w0 * torch.exp(-((d1 + d2) ** 2) / (2 * sigma**2))  # exp(-inf) = 0 with fewer than two objects
    weights = wc + torch.where(batch == 0, border, torch.zeros_like(border))
    return weights.float().reshape(instances.shape)


def weighted_cross_entropy(logits: Tensor, target: Tensor, weights: Tensor) -> Tensor:
    """Mean over pixels of weight x cross-entropy; with all weights 1 it equals ``F.cross_entropy``.

    ``logits`` (N, C, H, W), ``target`` (N, H, W) class ids in [0, C), ``weights`` (N, H, W), non-negative.
    """
    if not isinstance(logits, Tensor) or logits.dim() != 4 or not logits.dtype.is_floating_point:
        raise ValueError(f"logits must be a floating (N, C, H, W) tensor, got "
                         f"{tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__}")
    n, c, h, w = logits.shape
    if not isinstance(target, Tensor) or target.dtype.is_floating_point or target.dtype == torch.bool \
            or tuple(target.shape) != (n, h, w):
        raise ValueError(f"target must be ({n}, {h}, {w}) integer class ids, got "
                         f"{tuple(target.shape) if isinstance(target, Tensor) else type(target).__name__}")
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= c):
        raise ValueError(f"target has class ids in [{int(target.min())}, {int(target.max())}], expected [0, {c - 1}]")
    if not isinstance(weights, Tensor) or tuple(weights.shape) != (n, h, w) or not weights.dtype.is_floating_point:
        raise ValueError(f"weights must be a floating ({n}, {h}, {w}) tensor, got "
                         f"{tuple(weights.shape) if isinstance(weights, Tensor) else type(weights).__name__}")
    if not torch.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("weights must be finite and non-negative")
    per_pixel = F.cross_entropy(logits, target.long(), reduction="none")
    return (weights.to(per_pixel.dtype) * per_pixel).mean()


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def elastic_field(height: int, width: int, alpha: float = 10.0, grid: int = 3, seed: int = 0) -> Tensor:
    """A smooth random displacement field (2, height, width), float64: rows 0/1 move down/right, in pixels.

    Displacements ~ N(0, alpha^2) on a ``grid`` x ``grid`` lattice spanning the image (corners included),
    interpolated bicubically to every pixel: the paper's recipe with alpha = 10, grid = 3.
    """
    height, width = _check_int("height", height, 2), _check_int("width", width, 2)
    alpha = _check_number("alpha", alpha, 0.0, strict=False)
    grid, seed = _check_int("grid", grid, 2), _check_int("seed", seed, 0)
    coarse = torch.randn(1, 2, grid, grid, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return F.interpolate(coarse * alpha, size=(height, width), mode="bicubic", align_corners=True)[0]


def elastic_deform(image: Tensor, mask: Tensor | None = None, alpha: float = 10.0, grid: int = 3,
                   seed: int = 0) -> tuple[Tensor, Tensor | None]:
    """Warp a (C, H, W) image (bilinear) and its (H, W) integer mask (nearest) by the same ``elastic_field``.

    Pixels that the field fetches from outside the image are mirrored back in. Returns (image, mask), the mask
    None if none was given; its values are a subset of the input mask's.
    """
    if not isinstance(image, Tensor) or image.dim() != 3 or not image.dtype.is_floating_point:
        raise ValueError(f"image must be a floating (C, H, W) tensor, got "
                         f"{tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__}")
    _, h, w = image.shape
    if mask is not None and (not isinstance(mask, Tensor) or tuple(mask.shape) != (h, w)
                             or mask.dtype.is_floating_point or mask.dtype == torch.bool):
        raise ValueError(f"mask must be None or a ({h}, {w}) integer tensor, got "
                         f"{tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__}"
                         f"{' ' + str(mask.dtype) if isinstance(mask, Tensor) else ''}")
    if h < 2 or w < 2:
        raise ValueError(f"image must be at least 2x2 pixels, got {h}x{w}")
    field = elastic_field(h, w, alpha, grid, seed)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    # grid_sample wants (x, y) in [-1, 1]; with align_corners=True, -1 and 1 are the centres of the edge pixels.
    where = torch.stack([2 * (xs + field[1]) / (w - 1) - 1, 2 * (ys + field[0]) / (h - 1) - 1], -1)[None]
    warped = F.grid_sample(image[None].double(), where, mode="bilinear", padding_mode="reflection",
                           align_corners=True)[0].to(image.dtype)
    if mask is None:
        return warped, None
    ids = F.grid_sample(mask[None, None].double(), where, mode="nearest", padding_mode="reflection",
                        align_corners=True)[0, 0]
    return warped, ids.round().to(mask.dtype)
