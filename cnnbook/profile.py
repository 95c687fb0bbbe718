"""Measuring networks: parameters, MACs and FLOPs, latency, and a per-layer summary.

A multiply-accumulate (MAC) is one multiplication plus one addition, so FLOPs = 2 x MACs.
Many published tables (torchvision's "GFLOPS" column included) actually count MACs.

Attention is counted too: torch's FlopCounterMode has no formula for the CPU kernel of
``F.scaled_dot_product_attention`` nor for ``nn.MultiheadAttention``'s fused inference "fast path", which
would count as zero (torchvision's ViT-B/16: 11.27 G MACs instead of 17.56 G). :func:`flops` turns the fast
path off while counting and adds formulas for the attention kernels torch leaves out.
"""
from __future__ import annotations

import math
import time
import weakref
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry

_aten = torch.ops.aten


def _attention_flops(query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    """Scaled dot-product attention on (..., L, d) queries and (..., S, d), (..., S, d_v) keys and values:
    ``q @ k^T`` is L*S*d MACs and ``weights @ v`` L*S*d_v, per batch entry and head (softmax not counted)."""
    *batch, length, depth = query_shape
    keys, value_depth = value_shape[-2], value_shape[-1]
    return 2 * math.prod(batch) * length * keys * (depth + value_depth)


def _fused_multi_head_attention_flops(query_shape, key_shape, value_shape, embed_dim, num_heads, *args,
                                      **kwargs) -> int:
    """``torch._native_multi_head_attention`` (nn.MultiheadAttention's fast path) on batch-first inputs:
    the q, k, v projections, the attention itself and the output projection."""
    *batch, length, _ = query_shape
    keys = key_shape[-2]
    n = math.prod(batch)
    projections = n * (2 * length + 2 * keys) * embed_dim * embed_dim  # q and out over L tokens, k and v over S
    return 2 * projections + _attention_flops((n, length, embed_dim), (n, keys, embed_dim), (n, keys, embed_dim))


def _extra_formulas() -> dict:
    """Formulas for the attention kernels FlopCounterMode leaves out (which ones exist depends on torch's version)."""
    wanted = {
        "_scaled_dot_product_flash_attention_for_cpu": _attention_flops,
        "_scaled_dot_product_attention_math_for_mps": _attention_flops,
        "_scaled_dot_product_fused_attention_overrideable": _attention_flops,
        "_native_multi_head_attention": _fused_multi_head_attention_flops,
    }
    ops = {getattr(_aten, name): formula for name, formula in wanted.items() if hasattr(_aten, name)}
    return {op: formula for op, formula in ops.items() if op not in flop_registry}


_EXTRA_FORMULAS = _extra_formulas()


@contextmanager
def _attention_fast_path_off():
    """Make nn.MultiheadAttention and nn.TransformerEncoder(Layer) run their plain, countable ops."""
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)


def _check_model(model: nn.Module) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")


def _example_input(model: nn.Module, input_size: Sequence[int], device: torch.device | None = None) -> torch.Tensor:
    if isinstance(input_size, int) or not all(isinstance(s, int) and s > 0 for s in input_size):
        raise ValueError(
            f"input_size must be the shape of one input without the batch dimension, "
            f"e.g. (3, 224, 224); got {input_size!r}"
        )
    param = next(model.parameters(), None)
    if device is None:
        device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    return torch.randn(1, *input_size, device=device, dtype=dtype)


def _forward(model: nn.Module, x: torch.Tensor) -> None:
    """Run the model once, turning a shape error deep inside torch into a ValueError about input_size."""
    try:
        model(x)
    except (RuntimeError, ValueError) as err:
        raise ValueError(
            f"{type(model).__name__} cannot run on an input of shape {tuple(x.shape[1:])} "
            f"(input_size, without the batch dimension): {err}"
        ) from err


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared tensors counted once); only those with requires_grad if asked."""
    _check_model(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def flops(model: nn.Module, input_size: Sequence[int]) -> int:
    """Floating-point operations of one forward pass on one input (torch's FlopCounterMode, attention included).

    Works on a model on the meta device too (no memory, no compute: ``with torch.device("meta"): m = ...``).
    """
    _check_model(model)
    x = _example_input(model, input_size)
    was_training = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False, custom_mapping=_EXTRA_FORMULAS)
        with _attention_fast_path_off(), counter, torch.no_grad():
            _forward(model, x)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def macs(model: nn.Module, input_size: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass on one input: ``flops(...) // 2``."""
    return flops(model, input_size) // 2


def latency(
    model: nn.Module,
    input_size: Sequence[int],
    device: str | torch.device | None = None,
    batch_size: int = 1,
    warmup: int = 3,
    repeats: int = 10,
) -> float:
    """Median wall time of one forward pass in milliseconds, after ``warmup`` untimed passes."""
    _check_model(model)
    if batch_size < 1 or warmup < 0 or repeats < 1:
        raise ValueError(f"need batch_size >= 1, warmup >= 0, repeats >= 1; got {batch_size}, {warmup}, {repeats}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(device).eval()
    x = _example_input(model, input_size, device).expand(batch_size, *input_size).contiguous()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            sync()
            start = time.perf_counter()
            _forward(model, x)
            sync()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    times.sort()
    return 1000 * times[len(times) // 2]


class ForwardTrace(TorchDispatchMode):
    """Inside ``with ForwardTrace(start_bytes) as t:``, count the operators torch runs (``t.operators``) and the
    bytes of the tensors they create while alive (``t.live``), keeping the largest total (``t.peak``).

    ``start_bytes`` are already alive when the trace starts (the input, held by the caller). A view or an
    in-place result allocates nothing and is not counted; a new tensor counts until Python frees it.
    Works on the meta device, where nothing is computed.
    """

    def __init__(self, start_bytes: int = 0) -> None:
        if isinstance(start_bytes, bool) or not isinstance(start_bytes, int) or start_bytes < 0:
            raise ValueError(f"start_bytes must be a whole number of bytes >= 0, got {start_bytes!r}")
        super().__init__()
        self.operators, self.live, self.peak = 0, start_bytes, start_bytes

    def _free(self, nbytes: int) -> None:
        self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.operators += 1
        results = out if isinstance(out, (tuple, list)) else (out,)
        for tensor, returned in zip(results, func._schema.returns):
            if isinstance(tensor, torch.Tensor) and returned.alias_info is None:  # new memory: no view, not in place
                nbytes = tensor.numel() * tensor.element_size()
                self.live += nbytes
                weakref.finalize(tensor, self._free, nbytes)  # runs when Python frees the tensor
        self.peak = max(self.peak, self.live)
        return out


def trace_forward(model: nn.Module, input_size: Sequence[int], batch_size: int = 1) -> ForwardTrace:
    """One inference pass (eval mode, no gradients) under a :class:`ForwardTrace`, the input counted as alive.

    The input is made on the model's device: build the model on the meta device to trace without computing.
    """
    _check_model(model)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    one = _example_input(model, input_size)  # on the model's device, the meta device included
    x = one.expand(batch_size, *one.shape[1:]).contiguous()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), ForwardTrace(start_bytes=x.numel() * x.element_size()) as trace:
            _forward(model, x)
    finally:
        model.train(was_training)
    return trace


@dataclass
class LayerRow:
    """One row of :func:`summary`: a leaf module, its output shape and its own parameter count."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int


class Summary(list):
    """The rows of :func:`summary`, printed as an aligned table."""

    def __str__(self) -> str:
        header = ("layer", "type", "output shape", "params")
        lines = [(r.name, r.kind, "x".join(map(str, r.output_shape)), f"{r.params:,}") for r in self]
        widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
        fmt = "  ".join(f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths))
        total = sum(r.params for r in self)
        out = [fmt.format(*header), "-" * (sum(widths) + 6)]
        out += [fmt.format(*line) for line in lines]
        out.append(f"total parameters in listed layers: {total:,}")
        return "\n".join(out)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython display
        printer.text(str(self))


def summary(model: nn.Module, input_size: Sequence[int], depth: int | None = None) -> Summary:
    """Output shape (without batch) and parameter count of every leaf module, in execution order.

    ``depth`` limits the names to that many dotted levels (modules below are folded into their parent).
    A module called several times gets one row per call.
    """
    _check_model(model)
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be >= 1 or None, got {depth}")
    x = _example_input(model, input_size)
    names = {m: n for n, m in model.named_modules()}
    rows = Summary()
    hooks = []

    def selected(name: str, module: nn.Module) -> bool:
        level = name.count(".") + 1 if name else 0
        if depth is None:
            return name != "" and not any(True for _ in module.children())
        return level == depth or (0 < level < depth and not any(True for _ in module.children()))

    def hook(module: nn.Module, _inputs, output) -> None:
        out = output[0] if isinstance(output, (tuple, list)) else output
        shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else ()
        rows.append(LayerRow(names[module], type(module).__name__, shape, count_params(module)))

    for name, module in model.named_modules():
        if selected(name, module):
            hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            _forward(model, x)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return rows
