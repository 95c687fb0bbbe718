"""Convolution arithmetic (output sizes, parameter counts) and a loop-based reference conv2d.

Sizes, kernels, strides, paddings and dilations are either one int (the same for height and width) or a
(height, width) pair. A result is an int when every size-like argument is an int, else a (height, width) tuple.
"""
from __future__ import annotations

from numbers import Integral
from typing import Union

import torch
import torch.nn.functional as F

IntOrPair = Union[int, tuple[int, int]]
Padding = Union[int, tuple[int, int], str]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_DIMS = ("height", "width")


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _pair(value: object, name: str, minimum: int | None = None) -> tuple[int, int]:
    """Turn an int or a (height, width) pair into a pair of ints (>= minimum if given), or raise ValueError."""
    bound = {None: "", 0: "non-negative ", 1: "positive "}.get(minimum, f">= {minimum} ")
    expected = f"{name} must be a {bound}int or a (height, width) pair of {bound}ints"
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list, torch.Size)) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{expected}, got {value!r}")
    if minimum is not None and min(pair) < minimum:
        raise ValueError(f"{expected}, got {value!r}")
    return pair


def _like(result: tuple[int, int], *arguments: object) -> IntOrPair:
    """An int if every size-like argument was an int (the square case), else the (height, width) tuple."""
    if all(_is_int(a) or isinstance(a, str) for a in arguments):
        return result[0]
    return result


def padding_same(kernel_size: IntOrPair, dilation: IntOrPair = 1) -> tuple:
    """Padding that keeps the size at stride 1, split as torch splits it: (before, after), the extra cell after.

    An int kernel gives (before, after); a pair gives ((top, bottom), (left, right)).
    """
    kernels = _pair(kernel_size, "kernel_size", 1)
    dilations = _pair(dilation, "dilation", 1)
    splits = []
    for k, d in zip(kernels, dilations):
        total = d * (k - 1)
        splits.append((total // 2, total - total // 2))
    return _like(tuple(splits), kernel_size, dilation)


def _resolve_padding(
    padding: Padding, kernels: tuple[int, int], dilations: tuple[int, int], strides: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) for an int, a pair, "valid" or "same" (stride 1 only, as in torch)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if strides != (1, 1):
                raise ValueError(f"padding='same' needs stride 1 (as in torch), got stride={strides}")
            return padding_same(kernels, dilations)
        raise ValueError(f"padding as a string must be 'same' or 'valid', got {padding!r}")
    pads = _pair(padding, "padding", 0)
    return (pads[0], pads[0]), (pads[1], pads[1])


def conv_output_size(
    size: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: Padding = 0,
    dilation: IntOrPair = 1,
) -> IntOrPair:
    """Spatial output size of a convolution: floor((H + 2P - D(K-1) - 1) / S + 1) per dimension.

    padding may also be "same" (stride 1 only) or "valid", as in torch.nn.Conv2d.
    """
    sizes = _pair(size, "size", 1)
    kernels = _pair(kernel_size, "kernel_size", 1)
    strides = _pair(stride, "stride", 1)
    dilations = _pair(dilation, "dilation", 1)
    pads = _resolve_padding(padding, kernels, dilations, strides)
    result = []
    for dim, h, k, s, (p_before, p_after), d in zip(_DIMS, sizes, kernels, strides, pads, dilations):
        span = d * (k - 1) + 1
        padded = h + p_before + p_after
        if span > padded:
            raise ValueError(
                f"the kernel spans {span} cells in {dim} (dilation {d} * (kernel {k} - 1) + 1), more than "
                f"the padded input's {padded} (size {h} + padding {p_before} + {p_after})"
            )
        result.append((padded - span) // s + 1)
    return _like(tuple(result), size, kernel_size, stride, padding, dilation)


def pool_output_size(
    size: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
) -> IntOrPair:
    """Spatial output size of max/average pooling with PyTorch's rules (stride defaults to kernel_size).

    With ceil_mode=True the division rounds up, but a last window starting beyond the input and its left
    padding is dropped. Padding must be at most half the kernel size, as torch requires.
    """
    if stride is None:
        stride = kernel_size
    if not isinstance(ceil_mode, bool):
        raise ValueError(f"ceil_mode must be True or False, got {ceil_mode!r}")
    sizes = _pair(size, "size", 1)
    kernels = _pair(kernel_size, "kernel_size", 1)
    strides = _pair(stride, "stride", 1)
    pads = _pair(padding, "padding", 0)
    dilations = _pair(dilation, "dilation", 1)
    result = []
    for dim, h, k, s, p, d in zip(_DIMS, sizes, kernels, strides, pads, dilations):
        if p > k // 2:
            raise ValueError(
                f"pooling padding must be at most half the kernel size (as torch requires): "
                f"got padding {p} > kernel {k} // 2 = {k // 2} in {dim}"
            )
        span = d * (k - 1) + 1
        out = (h + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= h + p:
            out -= 1  # the last window would start in the right padding only
        if out < 1:
            raise ValueError(
                f"pooling output would be {out} in {dim}: size {h}, padding {p}, kernel {k}, "
                f"dilation {d} (window spans {span}), stride {s}"
            )
        result.append(out)
    return _like(tuple(result), size, kernel_size, stride, padding, dilation)


def conv_transpose_output_size(
    size: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> IntOrPair:
    """Spatial output size of a transposed convolution: (H-1)S - 2P + D(K-1) + output_padding + 1.

    output_padding must be smaller than the stride or the dilation, as torch requires.
    """
    sizes = _pair(size, "size", 1)
    kernels = _pair(kernel_size, "kernel_size", 1)
    strides = _pair(stride, "stride", 1)
    pads = _pair(padding, "padding", 0)
    extras = _pair(output_padding, "output_padding", 0)
    dilations = _pair(dilation, "dilation", 1)
    result = []
    for dim, h, k, s, p, op, d in zip(_DIMS, sizes, kernels, strides, pads, extras, dilations):
        if op >= s and op >= d:
            raise ValueError(
                f"output_padding must be smaller than the stride or the dilation (as torch requires): "
                f"got output_padding {op}, stride {s}, dilation {d} in {dim}"
            )
        out = (h - 1) * s - 2 * p + d * (k - 1) + op + 1
        if out < 1:
            raise ValueError(
                f"transposed conv output would be {out} in {dim}: (size {h} - 1) * stride {s} - 2 * padding {p}"
                f" + dilation {d} * (kernel {k} - 1) + output_padding {op} + 1"
            )
        result.append(out)
    return _like(tuple(result), size, kernel_size, stride, padding, output_padding, dilation)


def conv_params(
    in_channels: int, out_channels: int, kernel_size: IntOrPair, groups: int = 1, bias: bool = True
) -> int:
    """Number of parameters of a Conv2d: K_H * K_W * (C_in / groups) * C_out weights, plus C_out biases."""
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not isinstance(bias, bool):
        raise ValueError(f"bias must be True or False, got {bias!r}")
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups must divide both channel counts, got in_channels={in_channels}, "
            f"out_channels={out_channels}, groups={groups}"
        )
    return kh * kw * (in_channels // groups) * out_channels + (out_channels if bias else 0)


def _pad(x: torch.Tensor, pads: tuple[tuple[int, int], tuple[int, int]], mode: str) -> torch.Tensor:
    """Pad the last two dimensions of x (N, C, H, W) by ((top, bottom), (left, right))."""
    (top, bottom), (left, right) = pads
    n, c, h, w = x.shape
    if mode == "zeros":
        padded = x.new_zeros((n, c, h + top + bottom, w + left + right))
        padded[:, :, top : top + h, left : left + w] = x
        return padded
    for dim, size, before, after in (("height", h, top, bottom), ("width", w, left, right)):
        too_big = max(before, after) >= size if mode == "reflect" else max(before, after) > size
        if mode != "replicate" and too_big:
            limit = "smaller than" if mode == "reflect" else "at most"
            raise ValueError(
                f"padding_mode={mode!r} needs padding {limit} the input {dim} {size}, got ({before}, {after})"
            )
    return F.pad(x, (left, right, top, bottom), mode=mode)


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return repr(value) if value is None else f"{type(value).__name__} {value!r}"


def _check_conv2d_args(x: object, weight: object, bias: object, groups: object, padding_mode: object) -> None:
    """Raise ValueError unless the tensors of conv2d_naive fit together (x may be batched or not)."""
    if not isinstance(x, torch.Tensor) or x.ndim not in (3, 4):
        raise ValueError(f"x must be a (C, H, W) or (N, C, H, W) tensor, got {_describe(x)}")
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4:
        raise ValueError(f"weight must be a (C_out, C_in/groups, K_H, K_W) tensor, got {_describe(weight)}")
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
    c_in, c_out, c_in_per_group = x.shape[-3], weight.shape[0], weight.shape[1]
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"groups must divide both channel counts, got C_in={c_in}, C_out={c_out}, groups={groups}"
        )
    if c_in_per_group != c_in // groups:
        raise ValueError(
            f"weight expects {c_in_per_group} input channels per group, but x has C_in={c_in} "
            f"and groups={groups}, i.e. {c_in // groups} per group"
        )
    if bias is not None and (not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (c_out,)):
        raise ValueError(f"bias must be None or a tensor of shape ({c_out},), got {_describe(bias)}")


def conv2d_naive(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntOrPair = 1,
    padding: Padding = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """Reference 2-D convolution (cross-correlation) written as a loop over output positions.

    x is (C, H, W) or (N, C, H, W), weight (C_out, C_in / groups, K_H, K_W); gives what F.conv2d gives.
    """
    _check_conv2d_args(x, weight, bias, groups, padding_mode)
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    n, c_in, h, w = x.shape
    c_out, c_in_per_group, kh, kw = weight.shape
    sh, sw = _pair(stride, "stride", 1)
    dh, dw = _pair(dilation, "dilation", 1)
    out_h, out_w = conv_output_size((h, w), (kh, kw), (sh, sw), padding, (dh, dw))
    dtype = torch.result_type(x, weight)
    if bias is not None:
        dtype = torch.promote_types(dtype, bias.dtype)

    xp = _pad(x.to(dtype), _resolve_padding(padding, (kh, kw), (dh, dw), (sh, sw)), padding_mode)
    # Split the channels into groups: each group of kernels only sees its own slice of the input channels.
    kernels = weight.to(dtype).reshape(groups, c_out // groups, c_in_per_group, kh, kw)
    out = xp.new_zeros((n, c_out, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * sh, j * sw
            # The input cells this output position reads: a K_H x K_W grid, `dilation` apart.
            window = xp[:, :, top : top + dh * (kh - 1) + 1 : dh, left : left + dw * (kw - 1) + 1 : dw]
            window = window.reshape(n, groups, 1, c_in_per_group, kh, kw)
            # Element-wise product of the window with every kernel of its group, then the sum.
            products = window * kernels  # (N, groups, C_out/groups, C_in/groups, K_H, K_W)
            out[:, :, i, j] = products.sum(dim=(3, 4, 5)).reshape(n, c_out)
    if bias is not None:
        out = out + bias.to(dtype).reshape(1, c_out, 1, 1)
    return out[0] if unbatched else out
