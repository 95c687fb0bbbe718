"""Receptive fields: the chain recursion, the field of any network's units, gradient probes and the ERF.

Conventions. A layer's output unit ``u`` (per axis) sees the input pixels
``u * stride - padding`` to ``u * stride - padding + size - 1``: ``size`` is the receptive field,
``stride`` the effective stride (the "jump", product of the strides so far) and ``padding`` the
effective padding (how far unit 0's field starts before pixel 0). Each is an int when both axes
agree and an ``(height, width)`` pair otherwise.

How `receptive_field_of` reads a network. It runs one forward pass (on "meta" tensors when it can,
so no arithmetic is done) and follows every torch function call, so modules and functional code
(``F.relu``, ``torch.cat``, ``x + y``, slicing, ``F.pad``, permutes) both count.

- Merges (``+``, ``*``, ``torch.cat``) take the union of the incoming fields: in real networks the paths
  are centred on each other, so this is the largest path, never the sum of all layers. Paths reaching
  a merge with different effective strides raise ValueError (their fields do not line up unit by unit),
  except on a 1x1 map.
- Global pooling (output 1x1), reductions over H and W, flattening and fully connected layers end the
  spatial map: every later unit sees the whole input, and the field reported for the model's output is
  that of the last spatial map (ResNet's ``layer4``). Adaptive pooling with uneven windows ends it too.
- Gates computed from a globally pooled tensor (squeeze-and-excitation) are ignored at the merge: the
  field describes the convolutional path. Normalisation layers count as point-wise.
- Operations it cannot describe by one size/stride/padding (upsampling, transposed convolution, roll,
  pixel shuffle, ...) raise ValueError naming the module they ran in.
"""
from __future__ import annotations

import contextlib
import copy
import math
import weakref
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from cnnbook.conv import _is_int, _pair

__all__ = [
    "ReceptiveField",
    "RFRow",
    "LayerField",
    "receptive_field",
    "receptive_field_table",
    "receptive_field_of",
    "receptive_field_layers",
    "gradient_support",
    "receptive_field_probe",
    "effective_receptive_field",
    "erf_on_images",
    "erf_std",
    "erf_radius",
]


class ReceptiveField(NamedTuple):
    """Receptive field of a layer's units, in input pixels (ints, or (h, w) pairs when the axes differ)."""

    size: Any
    stride: Any
    padding: Any

    def bounds(self, unit: int | tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """Input pixels seen by output unit (row, col): ((top, bottom), (left, right)), inclusive, unclipped."""
        row, col = _pair(unit, "unit", minimum=None)
        out = []
        for u, size, stride, pad in zip((row, col), _pair(self.size, "size"), _pair(self.stride, "stride"),
                                                 _pair(self.padding, "padding")):
            start = u * stride - pad
            out.append((start, start + size - 1))
        return out[0], out[1]


class RFRow(NamedTuple):
    """One row of `receptive_field_table`: the layer's own hyper-parameters, then the field after it."""

    layer: int
    kernel: Any
    stride: Any
    padding: Any
    dilation: Any
    size: Any
    jump: Any
    effective_padding: Any


class LayerField(NamedTuple):
    """One module's output in `receptive_field_layers`: its name, class, spatial size (h, w) and field."""

    name: str
    kind: str
    out_size: tuple[int, int]
    field: ReceptiveField


class _Axis(NamedTuple):
    size: int
    jump: int
    pad: int


_INPUT_AXIS = _Axis(1, 1, 0)


# ----------------------------------------------------------------------------------------------
# Small validators and conversions


def _squash(pair: tuple[Any, Any]) -> Any:
    return pair[0] if pair[0] == pair[1] else (pair[0], pair[1])


def _field(axes: tuple[_Axis, _Axis]) -> ReceptiveField:
    h, w = axes
    return ReceptiveField(_squash((h.size, w.size)), _squash((h.jump, w.jump)), _squash((h.pad, w.pad)))


def _step(axis: _Axis, kernel: int, stride: int, padding: int, dilation: int = 1) -> _Axis:
    """The recursion: r += (d(k-1)+1 - 1) j,  j *= s,  p += p_layer j."""
    effective_kernel = dilation * (kernel - 1) + 1
    return _Axis(axis.size + (effective_kernel - 1) * axis.jump, axis.jump * stride, axis.pad + padding * axis.jump)


def _check_input_size(input_size: Any) -> tuple[int, int, int]:
    if isinstance(input_size, torch.Size):
        input_size = tuple(input_size)
    if (
        not isinstance(input_size, (tuple, list))
        or len(input_size) != 3
        or not all(_is_int(v) and v > 0 for v in input_size)
    ):
        raise ValueError(f"input_size must be one input's shape (C, H, W) of positive ints, got {input_size!r}")
    return tuple(input_size)


def _check_model(model: Any) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            return tensor.device, tensor.dtype
    return torch.device("cpu"), torch.get_default_dtype()


# ----------------------------------------------------------------------------------------------
# The chain recursion on a list of layers


def _parse_layer(layer: Any, index: int) -> tuple[tuple[int, int], ...]:
    if not isinstance(layer, (tuple, list)) or not 2 <= len(layer) <= 4:
        raise ValueError(
            f"layer {index} must be a tuple (kernel, stride[, padding[, dilation]]), got {layer!r}"
        )
    kernel, stride, padding, dilation = (*layer, *(0, 1)[len(layer) - 2 :])
    return (
        _pair(kernel, f"layer {index} kernel", minimum=1),
        _pair(stride, f"layer {index} stride", minimum=1),
        _pair(padding, f"layer {index} padding", minimum=0),
        _pair(dilation, f"layer {index} dilation", minimum=1),
    )


def receptive_field_table(layers: Sequence[Sequence[Any]]) -> list[RFRow]:
    """Apply the recursion layer by layer; one `RFRow` per layer (layer numbers start at 1).

    Each layer is ``(kernel, stride[, padding[, dilation]])``; every entry an int or an (h, w) pair.
    """
    if not isinstance(layers, (tuple, list)):
        raise ValueError(f"layers must be a list of (kernel, stride[, padding[, dilation]]) tuples, got {layers!r}")
    axes = (_INPUT_AXIS, _INPUT_AXIS)
    rows = []
    for index, layer in enumerate(layers, start=1):
        kernel, stride, padding, dilation = _parse_layer(layer, index)
        axes = tuple(_step(a, k, s, p, d) for a, k, s, p, d in zip(axes, kernel, stride, padding, dilation))
        field = _field(axes)
        rows.append(RFRow(index, _squash(kernel), _squash(stride), _squash(padding), _squash(dilation), *field))
    return rows


def receptive_field(layers: Sequence[Sequence[Any]]) -> ReceptiveField:
    """Receptive field (size, effective stride, effective padding) of the last layer of a plain chain.

    Each layer is ``(kernel, stride[, padding[, dilation]])``. An empty chain is the input itself: (1, 1, 0).
    """
    rows = receptive_field_table(layers)
    if not rows:
        return ReceptiveField(1, 1, 0)
    return ReceptiveField(rows[-1].size, rows[-1].jump, rows[-1].effective_padding)


# ----------------------------------------------------------------------------------------------
# Following a real network: every torch function call is intercepted, and each tensor derived from the
# input carries either a _Local field (it still has an H and a W axis, at negative positions `dims`)
# or a _Global one (its spatial layout was pooled or flattened away; `carry` is the field of the last
# spatial map it came from).


class _Local(NamedTuple):
    dims: tuple[int, int]
    axes: tuple[_Axis, _Axis]


class _Global(NamedTuple):
    carry: tuple[_Axis, _Axis]


class _Unsupported(Exception):
    pass


_POINTWISE = frozenset(
    """
    relu relu6 hardtanh elu selu celu leaky_relu prelu rrelu gelu silu mish hardswish hardsigmoid sigmoid
    tanh softplus softsign tanhshrink threshold logsigmoid hardshrink softshrink exp log log1p expm1 sqrt
    rsqrt abs neg negative reciprocal square sign sin cos erf floor ceil round trunc frac clamp clip
    clamp_min clamp_max pow add sub subtract mul multiply div divide true_divide truediv floordiv
    floor_divide remainder fmod mod maximum minimum fmax fmin addcmul addcdiv lerp where masked_fill copy
    gt lt ge le eq ne and or xor invert logical_not logical_and logical_or
    dropout dropout1d dropout2d dropout3d alpha_dropout feature_alpha_dropout native_dropout
    batch_norm instance_norm group_norm layer_norm local_response_norm rms_norm
    contiguous clone detach to float double half bfloat16 type type_as cpu cuda requires_grad
    data real expand expand_as channel_shuffle native_channel_shuffle
    """.split()
)
_UNTRACKED = frozenset(
    "zeros_like ones_like empty_like full_like rand_like randn_like randint_like new_zeros new_ones "
    "new_empty new_full new_tensor grad".split()
)
_RESHAPE = frozenset("view reshape flatten unflatten squeeze unsqueeze view_as reshape_as _unsafe_view".split())
_REDUCE = frozenset(
    "mean sum nansum nanmean amax amin max min std var logsumexp prod median nanmedian argmax argmin "
    "var_mean std_mean count_nonzero all any mode norm".split()
)
_ALONG_DIM = frozenset("softmax log_softmax softmin normalize cumsum cumprod logcumsumexp sort argsort".split())
_NOT_SUPPORTED = {
    "conv_transpose1d": "transposed convolution",
    "conv_transpose2d": "transposed convolution",
    "conv_transpose3d": "transposed convolution",
    "interpolate": "upsampling",
    "upsample": "upsampling",
    "upsample_nearest": "upsampling",
    "upsample_bilinear": "upsampling",
    "grid_sample": "grid sampling",
    "pixel_shuffle": "pixel shuffle",
    "pixel_unshuffle": "pixel unshuffle",
    "max_unpool2d": "max unpooling",
    "fold": "fold",
    "unfold": "unfold",
    "roll": "roll",
    "flip": "flip",
    "conv1d": "a 1-D convolution on a spatial map",
    "conv3d": "a 3-D convolution on a spatial map",
    "lp_pool2d": "power-average pooling",
    "fractional_max_pool2d": "fractional max pooling",
}
_SWAP = {"transpose", "swapaxes", "swapdims"}
_SPLIT = {"chunk", "split", "tensor_split", "split_with_sizes", "unbind"}


def _func_name(func: Any) -> str:
    name = getattr(func, "__name__", "") or repr(func)
    if name == "__get__":
        return getattr(getattr(func, "__self__", None), "__name__", name)
    if name.startswith("__") and name.endswith("__"):
        core = name[2:-2]
        if core[:1] in ("i", "r") and core[1:] in {
            "add", "sub", "mul", "truediv", "div", "pow", "floordiv", "mod", "and", "or", "xor", "matmul"
        }:
            core = core[1:]
        return core
    if name.endswith("_") and not name.startswith("_"):
        return name[:-1]
    return name


def _tensors(tree: Any) -> list[torch.Tensor]:
    found: list[torch.Tensor] = []
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            found.append(item)
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
    return found


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _union(axes: list[_Axis], units: int, what: str) -> _Axis:
    """Smallest field covering every path's field (= the largest one when the paths are centred)."""
    jumps = {a.jump for a in axes}
    if len(jumps) > 1 and units > 1:
        raise _Unsupported(
            f"`{what}` merges paths with different effective strides {sorted(jumps)}; their fields do not "
            "line up unit by unit"
        )
    pad = max(a.pad for a in axes)
    return _Axis(max(a.size - a.pad for a in axes) + pad, max(jumps), pad)


def _merge_global(infos: list[_Global]) -> _Global:
    return _Global(tuple(_union([g.carry[i] for g in infos], 1, "merge") for i in range(2)))


def _norm_dim(dim: int, ndim: int) -> int:
    """Any dim index as a negative position."""
    if not -ndim <= dim < max(ndim, 1):
        raise _Unsupported(f"dim {dim} out of range for a {ndim}-d tensor")
    return dim - ndim if dim >= 0 else dim


def _after_removing(dims: tuple[int, ...], removed: list[int]) -> tuple[int, ...]:
    """Negative positions of `dims` after the (negative) dims in `removed` disappear."""
    return tuple(d + sum(1 for r in removed if r > d) for d in dims)


class _Tracer(TorchFunctionMode):
    """Follows the field of every tensor derived from the input through one forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self._info: dict[int, tuple[weakref.ref, Any]] = {}
        self.stack: list[tuple[str, str]] = []

    def lookup(self, tensor: torch.Tensor) -> Any:
        entry = self._info.get(id(tensor))
        if entry is not None and entry[0]() is tensor:
            return entry[1]
        return None

    def store(self, tensor: torch.Tensor, info: Any) -> None:
        self._info[id(tensor)] = (weakref.ref(tensor), info)

    def where(self) -> str:
        if not self.stack:
            return "in the model's forward"
        name, kind = self.stack[-1]
        return f"in module '{name or '(model)'}' ({kind})"

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        ins = []
        for tensor in _tensors((args, kwargs)):
            info = self.lookup(tensor)
            if info is not None:
                ins.append((tensor, info, tuple(tensor.shape)))
        out = func(*args, **kwargs)
        if not ins:
            return out
        outs = _tensors(out)
        if not outs:
            return out
        name = _func_name(func)
        if all(isinstance(info, _Global) for _, info, _ in ins):
            merged = _merge_global([info for _, info, _ in ins])
            new = [None if name in _UNTRACKED else merged] * len(outs)
        else:
            try:
                new = _rule(name, args, kwargs, ins, outs)
            except _Unsupported as err:
                raise ValueError(f"receptive_field_of: {err}, {self.where()}") from None
        for tensor, info in zip(outs, new):
            if info is not None:
                self.store(tensor, info)
        return out


def _pointwise(name: str, ins: list, outs: list, dims_override: dict | None = None) -> list:
    """Element-wise ops and merges: the union of the local inputs' fields, the global ones ignored."""
    locals_ = [(t, info, shape) for t, info, shape in ins if isinstance(info, _Local)]
    dims_override = dims_override or {}
    result = []
    for out in outs:
        dims = None
        axes_lists: tuple[list, list] = ([], [])
        for tensor, info, shape in locals_:
            in_dims = info.dims
            out_dims = dims_override.get(id(tensor), in_dims)
            if dims is None:
                dims = out_dims
            elif out_dims != dims:
                raise _Unsupported(f"`{name}` combines maps whose spatial axes are at different positions")
            for i, (d_in, d_out) in enumerate(zip(in_dims, out_dims)):
                if -d_out > out.ndim or out.shape[d_out] != shape[d_in]:
                    raise _Unsupported(
                        f"`{name}` changes the spatial size from {shape[d_in]} to "
                        f"{out.shape[d_out] if -d_out <= out.ndim else 'nothing'}"
                    )
                axes_lists[i].append(info.axes[i])
        units = [out.shape[d] for d in dims]
        result.append(_Local(dims, tuple(_union(a, n, name) for a, n in zip(axes_lists, units))))
    return result


def _single_local(name: str, ins: list, args: tuple, kwargs: dict, arg_name: str = "input") -> tuple:
    first = _arg(args, kwargs, 0, arg_name)
    for tensor, info, shape in ins:
        if tensor is first and isinstance(info, _Local):
            return tensor, info, shape
        if isinstance(info, _Local):
            raise _Unsupported(f"`{name}` uses a spatial map as something other than its input")
    raise _Unsupported(f"`{name}` has no spatial input")


def _window_op(name: str, ins: list, outs: list, kernel: Any, stride: Any, padding: Any, dilation: Any, args, kwargs):
    tensor, info, shape = _single_local(name, ins, args, kwargs)
    if info.dims != (-2, -1):
        raise _Unsupported(f"`{name}` runs over axes that are not the spatial ones")
    kernel = _pair(tuple(kernel) if isinstance(kernel, (list, tuple)) else kernel, f"{name} kernel", 1)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else stride
    stride = _pair(tuple(stride) if isinstance(stride, (list, tuple)) else stride, f"{name} stride", 1)
    dilation = _pair(tuple(dilation) if isinstance(dilation, (list, tuple)) else dilation, f"{name} dilation", 1)
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
        else:
            raise _Unsupported(f"`{name}` with padding={padding!r}")
    padding = _pair(tuple(padding) if isinstance(padding, (list, tuple)) else padding, f"{name} padding", 0)
    axes = tuple(_step(a, k, s, p, d) for a, k, s, p, d in zip(info.axes, kernel, stride, padding, dilation))
    return [_Local((-2, -1), axes)] * len(outs)


def _adaptive(name: str, ins: list, outs: list, args, kwargs) -> list:
    tensor, info, shape = _single_local(name, ins, args, kwargs)
    if info.dims != (-2, -1):
        raise _Unsupported(f"`{name}` runs over axes that are not the spatial ones")
    sizes_in = shape[-2:]
    sizes_out = tuple(outs[0].shape[-2:])
    if all(o == 1 for o in sizes_out) and any(i > 1 for i in sizes_in):
        return [_Global(info.axes)] * len(outs)  # global pooling: stop at the last spatial map
    axes = []
    for axis, n_in, n_out in zip(info.axes, sizes_in, sizes_out):
        if n_in % n_out:
            return [_Global(info.axes)] * len(outs)  # uneven windows: no single stride describes them
        k = n_in // n_out
        axes.append(_step(axis, k, k, 0))
    return [_Local((-2, -1), tuple(axes))] * len(outs)


def _reduce(name: str, ins: list, outs: list, args, kwargs) -> list:
    if name in ("max", "min") and isinstance(_arg(args, kwargs, 1, "other"), torch.Tensor):
        return _pointwise(name, ins, outs)
    tensor, info, shape = _single_local(name, ins, args, kwargs)
    dim = _arg(args, kwargs, 2, "dim") if name == "norm" else _arg(args, kwargs, 1, "dim")
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return [_Global(info.axes)] * len(outs)
    dims = [_norm_dim(d, len(shape)) for d in (dim if isinstance(dim, (list, tuple)) else [dim])]
    hit = [d for d in info.dims if d in dims]
    if len(hit) == 2:
        return [_Global(info.axes)] * len(outs)
    if hit:
        raise _Unsupported(f"`{name}` reduces one spatial axis only")
    result = []
    for out in outs:
        keep = out.ndim == len(shape)
        result.append(_Local(info.dims if keep else _after_removing(info.dims, dims), info.axes))
    return result


def _reshape(name: str, ins: list, outs: list, args, kwargs) -> list:
    tensor, info, shape = _single_local(name, ins, args, kwargs)
    out_shape = tuple(outs[0].shape)
    n_in, n_out = len(shape), len(out_shape)
    new_dims = []
    for d in info.dims:
        pos = n_in + d
        prefix, size = math.prod(shape[:pos]), shape[pos]
        candidates = [q for q in range(n_out) if out_shape[q] == size and math.prod(out_shape[:q]) == prefix]
        if not candidates:
            new_dims.append(None)
            continue
        same = pos - n_in + n_out
        new_dims.append((same if same in candidates else candidates[0]) - n_out)
    if all(d is None for d in new_dims):
        return [_Global(info.axes)]  # the spatial axes were flattened into one
    if any(d is None for d in new_dims) or new_dims[0] >= new_dims[1]:
        raise _Unsupported(f"`{name}` reshapes one spatial axis into another shape ({shape} -> {out_shape})")
    return [_Local(tuple(new_dims), info.axes)]


def _permute(name: str, ins: list, outs: list, args, kwargs) -> list:
    tensor, info, shape = _single_local(name, ins, args, kwargs)
    n = len(shape)
    if name == "permute":
        perm = _arg(args, kwargs, 1, "dims")
        if _is_int(perm):
            perm = args[1:]
        perm = [d % n for d in perm]
    elif name in _SWAP:
        a, b = (_arg(args, kwargs, 1, "dim0") % n, _arg(args, kwargs, 2, "dim1") % n)
        perm = list(range(n))
        perm[a], perm[b] = perm[b], perm[a]
    else:  # movedim / moveaxis
        src, dst = _arg(args, kwargs, 1, "source"), _arg(args, kwargs, 2, "destination")
        src = [s % n for s in (src if isinstance(src, (list, tuple)) else [src])]
        dst = [d % n for d in (dst if isinstance(dst, (list, tuple)) else [dst])]
        perm = [None] * n
        for s, d in zip(src, dst):
            perm[d] = s
        rest = iter(d for d in range(n) if d not in src)
        perm = [p if p is not None else next(rest) for p in perm]
    new = tuple(perm.index(n + d) - n for d in info.dims)
    if new[0] > new[1]:
        raise _Unsupported(f"`{name}` swaps the height and width axes")
    return [_Local(new, info.axes)]


def _getitem(ins: list, outs: list, args) -> list:
    tensor, info, shape = _single_local("indexing", ins, args, {})
    index = args[1] if isinstance(args[1], tuple) else (args[1],)
    if any(not (item is None or item is Ellipsis or _is_int(item) or isinstance(item, slice)) for item in index):
        raise _Unsupported("advanced indexing of a spatial map")
    n = len(shape)
    consumed = sum(1 for item in index if item is not Ellipsis and item is not None)
    expanded = []
    for item in index:
        expanded.extend([slice(None)] * (n - consumed) if item is Ellipsis else [item])
    expanded.extend([slice(None)] * (n - sum(1 for i in expanded if i is not None)))
    spatial = {n + d: i for i, d in enumerate(info.dims)}
    axes, new_pos = list(info.axes), [None, None]
    pos_in = pos_out = 0
    for item in expanded:
        if item is None:
            pos_out += 1
            continue
        if pos_in in spatial:
            i = spatial[pos_in]
            if not isinstance(item, slice):
                raise _Unsupported("indexing picks a single row or column of a spatial map")
            start, _, step = item.indices(shape[pos_in])
            a = axes[i]
            axes[i] = _Axis(a.size, a.jump * step, a.pad - start * a.jump)
            new_pos[i] = pos_out
        pos_in += 1
        if isinstance(item, slice):
            pos_out += 1
    return [_Local(tuple(p - pos_out for p in new_pos), tuple(axes))]


def _pad(ins: list, outs: list, args, kwargs) -> list:
    tensor, info, shape = _single_local("pad", ins, args, kwargs)
    pad = list(_arg(args, kwargs, 1, "pad"))
    axes = list(info.axes)
    for i, d in enumerate(info.dims):
        k = 2 * (-d - 1)
        if len(pad) > k:
            a = axes[i]
            axes[i] = _Axis(a.size, a.jump, a.pad + pad[k] * a.jump)
    return [_Local(info.dims, tuple(axes))]


def _rule(name: str, args: tuple, kwargs: dict, ins: list, outs: list) -> list:
    """The field of each output of one torch call, given its inputs' fields (at least one local)."""
    if name in _UNTRACKED:
        return [None] * len(outs)
    if name in _POINTWISE:
        return _pointwise(name, ins, outs)
    if name == "conv2d":
        weight = _arg(args, kwargs, 1, "weight")
        return _window_op(
            name, ins, outs, tuple(weight.shape[-2:]), _arg(args, kwargs, 3, "stride", 1),
            _arg(args, kwargs, 4, "padding", 0), _arg(args, kwargs, 5, "dilation", 1), args, kwargs,
        )
    if name in ("max_pool2d", "max_pool2d_with_indices", "avg_pool2d"):
        if name == "avg_pool2d":
            dilation = 1
        else:
            dilation = _arg(args, kwargs, 4, "dilation", 1)
        return _window_op(
            name, ins, outs, _arg(args, kwargs, 1, "kernel_size"), _arg(args, kwargs, 2, "stride", None),
            _arg(args, kwargs, 3, "padding", 0), dilation, args, kwargs,
        )
    if name in ("adaptive_avg_pool2d", "adaptive_max_pool2d", "adaptive_max_pool2d_with_indices"):
        return _adaptive(name, ins, outs, args, kwargs)
    if name in _REDUCE:
        return _reduce(name, ins, outs, args, kwargs)
    if name in _ALONG_DIM:
        tensor, info, shape = _single_local(name, ins, args, kwargs)
        dim = _arg(args, kwargs, 2 if name == "normalize" else 1, "dim", 1 if name == "normalize" else None)
        if dim is None or _norm_dim(dim, len(shape)) in info.dims:
            raise _Unsupported(f"`{name}` over a spatial axis")
        return _pointwise(name, ins, outs)
    if name == "linear":
        tensor, info, shape = _single_local(name, ins, args, kwargs)
        if -1 in info.dims:
            return [_Global(info.axes)]  # a fully connected layer over the width axis
        return _pointwise(name, ins, outs)
    if name in ("cat", "concat", "concatenate", "stack"):
        dim = _arg(args, kwargs, 1, "dim", 0)
        if name == "stack":
            n_out = outs[0].ndim
            d = dim % n_out
            override = {}
            for tensor, info, shape in ins:
                if isinstance(info, _Local):
                    positions = [len(shape) + k for k in info.dims]
                    override[id(tensor)] = tuple(p + (1 if d <= p else 0) - n_out for p in positions)
            return _pointwise(name, ins, outs, override)
        d = _norm_dim(dim, outs[0].ndim)
        if any(isinstance(info, _Local) and d in info.dims for _, info, _ in ins):
            raise _Unsupported(f"`{name}` concatenates along a spatial axis")
        return _pointwise(name, ins, outs)
    if name in _RESHAPE:
        return _reshape(name, ins, outs, args, kwargs)
    if name in ("permute", "movedim", "moveaxis") or name in _SWAP:
        return _permute(name, ins, outs, args, kwargs)
    if name == "getitem":
        return _getitem(ins, outs, args)
    if name == "pad":
        return _pad(ins, outs, args, kwargs)
    if name in _SPLIT:
        tensor, info, shape = _single_local(name, ins, args, kwargs)
        dim = _arg(args, kwargs, 1 if name == "unbind" else 2, "dim", 0)
        d = _norm_dim(dim, len(shape))
        if d in info.dims:
            raise _Unsupported(f"`{name}` splits a spatial axis")
        dims = _after_removing(info.dims, [d]) if name == "unbind" else info.dims
        return [_Local(dims, info.axes)] * len(outs)
    if name in _NOT_SUPPORTED:
        raise _Unsupported(f"{_NOT_SUPPORTED[name]} (`{name}`) is not supported")
    raise _Unsupported(f"cannot follow the receptive field through `{name}` on a spatial map")


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """Put every module in eval mode for the duration, then restore each module's own flag."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, mode in modes.items():
            module.training = mode


class _Trace(NamedTuple):
    output: Any
    calls: list[tuple[str, str, Any, tuple[int, ...]]]  # (module name, class name, field info, output shape)


def _trace(model: nn.Module, input_size: tuple[int, int, int]) -> _Trace:
    """Run the model once on a random input, in eval mode, recording the field of each module's output."""
    tracer = _Tracer()
    calls: list = []
    handles = []

    def pre_hook(name: str):
        def hook(module, inputs):
            tracer.stack.append((name, type(module).__name__))
        return hook

    def post_hook(name: str):
        def hook(module, inputs, output):
            if tracer.stack:
                tracer.stack.pop()
            for tensor in _tensors(output):
                info = tracer.lookup(tensor)
                if info is not None:
                    calls.append((name, type(module).__name__, info, tuple(tensor.shape)))
                    break
        return hook

    device, dtype = _model_device_dtype(model)
    try:
        for name, module in model.named_modules():
            handles.append(module.register_forward_pre_hook(pre_hook(name)))
            handles.append(module.register_forward_hook(post_hook(name)))
        for meta in (True, False):
            # Shapes are all we need: first try tensors on the "meta" device, which skip the arithmetic;
            # models that look at values (or mix devices) run again on real tensors.
            tracer.stack.clear()
            calls.clear()
            x = torch.randn((1, *input_size), generator=torch.Generator().manual_seed(0), dtype=dtype)
            x = x.to("meta" if meta else device)
            tracer.store(x, _Local((-2, -1), (_INPUT_AXIS, _INPUT_AXIS)))
            try:
                with torch.no_grad(), _eval_mode(model), tracer:
                    if meta:
                        state = {
                            name: torch.empty_like(t, device="meta")
                            for name, t in (*model.named_parameters(), *model.named_buffers())
                        }
                        output = torch.func.functional_call(model, state, (x,))
                    else:
                        output = model(x)
                break
            except ValueError:
                raise
            except Exception as err:
                if meta:
                    continue
                raise ValueError(
                    f"the model could not run on an input of size {tuple(input_size)}: {err}"
                ) from err
        outputs = _tensors(output)
        info = tracer.lookup(outputs[0]) if outputs else None
    finally:
        for handle in handles:
            handle.remove()
    return _Trace(info, calls)


def _last_calls(trace: _Trace) -> dict[str, tuple[str, Any, tuple[int, ...]]]:
    last: dict = {}
    for name, kind, info, shape in trace.calls:
        last[name] = (kind, info, shape)
    return last


def _layer_info(model: nn.Module, trace: _Trace, layer: str) -> tuple[_Local, tuple[int, ...]]:
    names = dict(model.named_modules())
    if not isinstance(layer, str) or layer not in names:
        close = [n for n in names if n and isinstance(layer, str) and layer.split(".")[-1] in n][:8]
        hint = f"; did you mean one of {close}?" if close else ""
        raise ValueError(f"layer must name a module of the model (see model.named_modules()), got {layer!r}{hint}")
    last = _last_calls(trace)
    if layer not in last:
        raise ValueError(f"module {layer!r} was not called on the input, or its output does not depend on it")
    kind, info, shape = last[layer]
    if isinstance(info, _Global):
        raise ValueError(
            f"the output of {layer!r} ({kind}) has no spatial layout (after global pooling or flattening each "
            "unit sees the whole input); ask for an earlier layer"
        )
    return info, shape


def receptive_field_of(model: nn.Module, input_size: Sequence[int], layer: str | None = None) -> ReceptiveField:
    """Field of the units of the model's output (or of module `layer`'s output), read from the network.

    `input_size` is one input's shape (C, H, W). Branches merge by the largest path; after global
    pooling or flattening the field of the last spatial map is reported (see the module docstring).
    """
    _check_model(model)
    input_size = _check_input_size(input_size)
    trace = _trace(model, input_size)
    if layer is not None:
        info, _ = _layer_info(model, trace, layer)
        return _field(info.axes)
    info = trace.output
    if info is None:
        raise ValueError("the model's output does not depend on its input")
    return _field(info.axes if isinstance(info, _Local) else info.carry)


def receptive_field_layers(model: nn.Module, input_size: Sequence[int]) -> list[LayerField]:
    """The field of every named module whose output is still a spatial map, in call order (a module called
    twice, like torchvision's shared ReLU, is listed at its last call; the model itself is left out)."""
    _check_model(model)
    input_size = _check_input_size(input_size)
    trace = _trace(model, input_size)
    rows = []
    for name, (kind, info, shape) in _last_calls(trace).items():
        if name and isinstance(info, _Local):
            out_size = (shape[info.dims[0]], shape[info.dims[1]])
            rows.append(LayerField(name, kind, out_size, _field(info.axes)))
    order = {name: i for i, (name, *_) in enumerate(trace.calls)}
    rows.sort(key=lambda row: order[row.name])
    return rows


# ----------------------------------------------------------------------------------------------
# Brute force: which input pixels have a non-zero gradient


class _MaxToAvg(TorchFunctionMode):
    """Max pooling sends its gradient to one pixel per window; average pooling reaches them all."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = _func_name(func)
        if name in ("max_pool2d", "max_pool2d_with_indices"):
            if _arg(args, kwargs, 6, "return_indices", False) or name == "max_pool2d_with_indices":
                raise ValueError("gradient probe: max pooling with return_indices is not supported")
            kernel = _arg(args, kwargs, 1, "kernel_size")
            stride = _arg(args, kwargs, 2, "stride", None)
            padding = _arg(args, kwargs, 3, "padding", 0)
            dilation = _pair(_arg(args, kwargs, 4, "dilation", 1), "dilation", 1)
            ceil_mode = _arg(args, kwargs, 5, "ceil_mode", False)
            x = args[0] if args else kwargs["input"]
            stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) else stride
            if dilation == (1, 1):
                return torch.nn.functional.avg_pool2d(x, kernel, stride, padding, ceil_mode)
            if ceil_mode:
                raise ValueError("gradient probe: dilated max pooling with ceil_mode is not supported")
            kh, kw = _pair(tuple(kernel) if isinstance(kernel, list) else kernel, "kernel")
            weight = torch.ones(x.shape[-3], 1, kh, kw, dtype=x.dtype, device=x.device) / (kh * kw)
            return torch.nn.functional.conv2d(x, weight, None, stride, padding, dilation, x.shape[-3])
        if name == "adaptive_max_pool2d_with_indices":
            raise ValueError("gradient probe: max pooling with return_indices is not supported")
        if name == "adaptive_max_pool2d":
            return torch.nn.functional.adaptive_avg_pool2d(args[0], _arg(args, kwargs, 1, "output_size"))
        return func(*args, **kwargs)


def _positive_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Float64 stand-ins for the weights that keep every activation positive on a positive input, so no
    gradient cancels: weights 1/fan-in, biases 0, norm scales 1, running statistics 0 and 1.

    They are broadcast views of single numbers, so the probe costs no copy of the model.
    """
    state = {}
    for name, param in model.named_parameters():
        if name.endswith("bias"):
            value = 0.0
        else:
            value = param.shape[0] / param.numel() if param.ndim >= 2 else 1.0
        state[name] = torch.tensor(value, dtype=torch.float64, device=param.device).expand(param.shape)
    for name, buffer in model.named_buffers():
        if buffer.is_floating_point():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("running_mean", "running_var"):
                value = 0.0 if leaf == "running_mean" else 1.0
                state[name] = torch.tensor(value, dtype=torch.float64, device=buffer.device).expand(buffer.shape)
            else:
                state[name] = buffer.double()
    return state


class _Stop(Exception):
    pass


def _target(
    model: nn.Module, x: torch.Tensor, layer: str | None, stop: bool = False, state: dict | None = None
) -> torch.Tensor:
    """Forward `x` (with the weights in `state` if given), returning the model's or module `layer`'s output.

    With `stop`, the forward pass ends right after `layer` (enough for gradients of its units).
    """
    captured = []
    handle = None
    if layer is not None:
        names = dict(model.named_modules())
        if not isinstance(layer, str) or layer not in names:
            raise ValueError(f"layer must name a module of the model (see model.named_modules()), got {layer!r}")

        def hook(module, inputs, output):
            captured.append(_tensors(output)[0])
            if stop:
                raise _Stop

        handle = names[layer].register_forward_hook(hook)
    try:
        output = model(x) if state is None else torch.func.functional_call(model, state, (x,))
    except _Stop:
        output = None
    except (RuntimeError, TypeError, IndexError) as err:
        raise ValueError(f"the model could not run on an input of size {tuple(x.shape[1:])}: {err}") from err
    finally:
        if handle is not None:
            handle.remove()
    if layer is not None and not captured:
        raise ValueError(f"module {layer!r} was not called in the forward pass")
    target = captured[-1] if captured else _tensors(output)[0]
    if target.ndim != 4:
        where = f"module {layer!r}" if layer else "the model"
        raise ValueError(
            f"the output of {where} must be an (N, C, H, W) map, got shape {tuple(target.shape)}; "
            "pass layer= to pick a spatial layer"
        )
    return target


def _check_unit(unit: Any, out_size: tuple[int, int]) -> tuple[int, int]:
    row, col = _pair(unit, "unit", minimum=0)
    if row >= out_size[0] or col >= out_size[1]:
        raise ValueError(f"unit must lie inside the output map of size {tuple(out_size)}, got {unit!r}")
    return row, col


def _supports(model, input_size, choose_units, layer, count) -> tuple[list, list, tuple[int, int]]:
    """Gradient support boxes of the `count` units that `choose_units(out_size)` picks, one per sample."""
    # A small positive input keeps bounded activations (ReLU6, sigmoid) far from their flat parts.
    x = torch.full((count, *input_size), 1e-4, dtype=torch.float64, device=_model_device_dtype(model)[0])
    x.requires_grad_(True)
    with _eval_mode(model), _MaxToAvg():
        target = _target(model, x, layer, stop=True, state=_positive_state(model))
    out_size = tuple(target.shape[-2:])
    units = [_check_unit(unit, out_size) for unit in choose_units(out_size)]
    objective = sum(target[b, :, row, col].sum() for b, (row, col) in enumerate(units))
    (grad,) = torch.autograd.grad(objective, x)
    boxes = []
    for b in range(len(units)):
        mask = grad[b].abs().sum(0) > 0
        rows = torch.nonzero(mask.any(1)).flatten()
        cols = torch.nonzero(mask.any(0)).flatten()
        boxes.append(None if len(rows) == 0 else (int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])))
    return boxes, units, out_size


def gradient_support(
    model: nn.Module, input_size: Sequence[int], unit: int | tuple[int, int], layer: str | None = None
) -> tuple[int, int, int, int] | None:
    """Brute force: (top, bottom, left, right), inclusive, of the input pixels with a non-zero gradient for
    output unit (row, col) of the model or of module `layer` (clipped to the input; None if none)."""
    _check_model(model)
    input_size = _check_input_size(input_size)
    boxes, _, _ = _supports(model, input_size, lambda out_size: [unit], layer, 1)
    return boxes[0]


def receptive_field_probe(
    model: nn.Module, input_size: Sequence[int], layer: str | None = None, unit: tuple[int, int] | None = None
) -> ReceptiveField:
    """Measure size, stride and padding from the gradients of `unit` (default: the centre) and a neighbour.

    Uses positive stand-in weights and max pooling as average pooling, so every path shows; raises
    ValueError when the field touches the input border (use a larger input). Not for LayerNorm/GroupNorm nets.
    """
    _check_model(model)
    input_size = _check_input_size(input_size)

    def choose(out_size: tuple[int, int]) -> list:
        if min(out_size) < 2:
            raise ValueError(f"the probed map is {out_size}; need at least 2x2 units to measure a stride")
        centre = _check_unit(unit if unit is not None else (out_size[0] // 2, out_size[1] // 2), out_size)
        return [centre, tuple(u + 1 if u + 1 < n else u - 1 for u, n in zip(centre, out_size))]

    boxes, (centre, other), _ = _supports(model, input_size, choose, layer, 2)
    if boxes[0] is None or boxes[1] is None:
        raise ValueError("no input pixel reaches the probed unit")
    sizes, strides, pads = [], [], []
    for axis in range(2):
        first, last = boxes[0][2 * axis], boxes[0][2 * axis + 1]
        if first == 0 or last == input_size[1 + axis] - 1:
            raise ValueError(
                f"the field of unit {centre} touches the input border (pixels {first}..{last}); use a larger input"
            )
        stride = (boxes[1][2 * axis] - first) // (other[axis] - centre[axis])
        sizes.append(last - first + 1)
        strides.append(stride)
        pads.append(centre[axis] * stride - first)
    return ReceptiveField(_squash(tuple(sizes)), _squash(tuple(strides)), _squash(tuple(pads)))


# ----------------------------------------------------------------------------------------------
# The effective receptive field (Luo et al., 2016)


def _reinitialise(model: nn.Module) -> None:
    for module in model.modules():
        if module is not model and hasattr(module, "reset_parameters"):
            module.reset_parameters()


def _unit_input_grad(model: nn.Module, x: torch.Tensor, layer: str | None, unit: Any, channel: int | None) -> torch.Tensor:
    """d (unit of ``layer``, summed over its channels or only ``channel``) / d x, for every image of the batch x."""
    target = _target(model, x, layer, stop=True)
    out_size = tuple(target.shape[-2:])
    row, col = _check_unit(unit if unit is not None else (out_size[0] // 2, out_size[1] // 2), out_size)
    if channel is not None and channel >= target.shape[1]:
        raise ValueError(f"channel must be < {target.shape[1]} (the map's channels), got {channel}")
    picked = target[:, :, row, col] if channel is None else target[:, channel, row, col]
    (grad,) = torch.autograd.grad(picked.sum(), x)
    return grad.detach()


def effective_receptive_field(
    model: nn.Module,
    input_size: Sequence[int],
    layer: str | None = None,
    *,
    unit: tuple[int, int] | None = None,
    channel: int | None = None,
    n_samples: int = 1,
    reinit: bool = False,
    seed: int = 0,
) -> torch.Tensor:
    """ERF map (H, W): |d output unit / d input| summed over input channels, averaged over `n_samples`.

    The unit is `unit` (default: the centre of the map) of the model's output or of module `layer`,
    summed over its channels (or only `channel`). Inputs are N(0, 1) noise; with `reinit=True` each
    sample also gets fresh random weights (reset_parameters). Eval mode; deterministic given `seed`.
    """
    _check_model(model)
    input_size = _check_input_size(input_size)
    if not _is_int(n_samples) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if channel is not None and (not _is_int(channel) or channel < 0):
        raise ValueError(f"channel must be None or a non-negative int, got {channel!r}")
    device, dtype = _model_device_dtype(model)
    total = torch.zeros(input_size[1:], dtype=torch.float64)
    with _eval_mode(model):
        for sample in range(n_samples):
            net = model
            if reinit:
                net = copy.deepcopy(model)
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed * 7919 + sample)
                    _reinitialise(net)
            generator = torch.Generator().manual_seed(seed * 7919 + sample)
            x = torch.randn((1, *input_size), generator=generator, dtype=dtype).to(device).requires_grad_(True)
            total += _unit_input_grad(net, x, layer, unit, channel)[0].abs().sum(0).double().cpu()
    return (total / n_samples).to(torch.float32)


def erf_on_images(
    model: nn.Module,
    images: torch.Tensor,
    layer: str | None = None,
    *,
    unit: tuple[int, int] | None = None,
    channel: int | None = None,
    batch_size: int = 128,
) -> torch.Tensor:
    """ERF map (H, W) measured on real images: |d output unit / d image| summed over the image's channels,
    averaged over the (N, C, H, W) batch `images`.

    The unit and `channel` are chosen as in `effective_receptive_field`; unlike it, the weights stay as they are
    (trained or not) and the inputs are the images given, not noise. Eval mode (so BatchNorm uses its running
    statistics and each image's gradient is its own), `batch_size` images per backward pass.
    """
    _check_model(model)
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a floating-point (N, C, H, W) tensor, got {shape}")
    if images.shape[0] == 0 or min(images.shape[1:]) < 1:
        raise ValueError(f"images must hold at least one image, got shape {tuple(images.shape)}")
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if channel is not None and (not _is_int(channel) or channel < 0):
        raise ValueError(f"channel must be None or a non-negative int, got {channel!r}")
    device, dtype = _model_device_dtype(model)
    total = torch.zeros(images.shape[2:], dtype=torch.float64)
    with _eval_mode(model), torch.enable_grad():
        for start in range(0, images.shape[0], batch_size):
            x = images[start : start + batch_size].detach().to(device=device, dtype=dtype).requires_grad_(True)
            total += _unit_input_grad(model, x, layer, unit, channel).abs().sum(1).sum(0).double().cpu()
    return (total / images.shape[0]).to(torch.float32)


def _check_map(erf: Any) -> torch.Tensor:
    erf = torch.as_tensor(erf, dtype=torch.float64)
    if erf.ndim != 2 or erf.numel() == 0:
        raise ValueError(f"erf must be a 2-D map (H, W), got shape {tuple(erf.shape)}")
    if bool((erf < 0).any()) or not bool(erf.sum() > 0) or not bool(torch.isfinite(erf).all()):
        raise ValueError("erf must be finite, non-negative and not all zero")
    return erf


def _centre_of_mass(erf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    mass = erf / erf.sum()
    ys = torch.arange(erf.shape[0], dtype=torch.float64)[:, None]
    xs = torch.arange(erf.shape[1], dtype=torch.float64)[None, :]
    return ys, xs, float((mass * ys).sum()), float((mass * xs).sum())


def erf_std(erf: Any) -> float:
    """Spread of an ERF map: the standard deviation (pixels) of its mass about its centre, averaged over axes."""
    erf = _check_map(erf)
    ys, xs, cy, cx = _centre_of_mass(erf)
    mass = erf / erf.sum()
    var = float((mass * (ys - cy) ** 2).sum() + (mass * (xs - cx) ** 2).sum()) / 2
    return math.sqrt(var)


def erf_radius(erf: Any, fraction: float = 0.95) -> float:
    """Half-width of the smallest square about the ERF's centre of mass that holds `fraction` of its mass.

    Comparable with a theoretical field of size r, whose half-width is (r - 1) / 2.
    """
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be a number in (0, 1], got {fraction!r}")
    erf = _check_map(erf)
    ys, xs, cy, cx = _centre_of_mass(erf)
    distance = torch.maximum((ys - cy).abs(), (xs - cx).abs()).expand_as(erf).flatten()
    order = torch.argsort(distance)
    cumulative = torch.cumsum(erf.flatten()[order], 0) / erf.sum()
    index = int(torch.searchsorted(cumulative, torch.tensor([fraction - 1e-12], dtype=torch.float64)))
    return round(float(distance[order][min(index, len(order) - 1)]), 6)  # hide rounding of the centre
