"""Initialisation measured: how the scale of the signal and of the gradient changes from layer to layer.

``layer_stats`` runs one forward and one backward pass and reads, for every convolution and linear layer, the
standard deviation of its output and of the gradient that reaches that output. ``plain_stack`` builds the deep
plain network (3x3 convolutions and ReLUs, no normalisation, no shortcuts) on which the chapter compares PyTorch's
default initialisation with Glorot's and He's (:func:`cnnbook.models.alexnet.init_weights` draws them).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class LayerStats:
    """Per weighted layer, in the order of the forward pass: its name, the standard deviation of its output, and
    that of the gradient of the loss with respect to that output."""

    names: list[str]
    activation_std: list[float]
    gradient_std: list[float]

    def __len__(self) -> int:
        return len(self.names)


def layer_stats(model: nn.Module, x: Tensor, target: Tensor | None = None,
                layers: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear), seed: int = 0) -> LayerStats:
    """Standard deviation of every ``layers`` module's output in one forward pass on ``x``, and of the gradient
    with respect to that output in one backward pass.

    The backward pass starts from the cross-entropy with ``target`` if given, otherwise from a gradient of
    independent N(0, 1) values on the model's output (drawn with ``seed``), the setting of Glorot's and He's
    analyses. The model runs in its current mode; its parameters and their ``.grad`` are left as they were.
    """
    if not isinstance(x, Tensor) or x.dim() < 2 or not x.is_floating_point():
        raise ValueError(f"x must be a floating-point batch tensor (N, ...), got {getattr(x, 'shape', type(x).__name__)}")
    if target is not None and (not isinstance(target, Tensor) or target.shape[:1] != x.shape[:1]):
        raise ValueError(f"target must be a tensor of {x.shape[0]} class indices, got "
                         f"{getattr(target, 'shape', type(target).__name__)}")
    names, outputs = [], []
    grads: dict[int, Tensor] = {}

    def record(index: int):
        def keep(grad: Tensor) -> None:
            grads[index] = grad.detach()
        return keep

    def hook(module: nn.Module, inputs, output: Tensor) -> None:
        index = len(outputs)
        outputs.append(output.detach().std().item())
        if output.requires_grad:
            output.register_hook(record(index))  # fires with d(loss)/d(output), even if a later ReLU works in place

    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, layers):
            names.append(name)
            hooks.append(module.register_forward_hook(hook))
    if not hooks:
        raise ValueError(f"{type(model).__name__} has no {', '.join(t.__name__ for t in layers)} layer to measure")
    saved = {p: p.grad for p in model.parameters()}
    for p in saved:
        p.grad = None  # the backward pass below must not add into the caller's gradients
    try:
        out = model(x.detach().clone().requires_grad_(True))
        if target is not None:
            F.cross_entropy(out, target).backward()
        else:
            g = torch.Generator(device=out.device).manual_seed(seed)
            out.backward(torch.randn(out.shape, generator=g, device=out.device, dtype=out.dtype))
    finally:
        for h in hooks:
            h.remove()
        for p, grad in saved.items():
            p.grad = grad
    if len(outputs) != len(names):
        raise ValueError(f"each of the {len(names)} measured layers must run exactly once per forward pass; "
                         f"{len(outputs)} outputs were seen")
    gradient_std = [grads[i].std().item() if i in grads else 0.0 for i in range(len(outputs))]
    return LayerStats(names, outputs, gradient_std)


def plain_stack(depth: int, width: int = 32, in_channels: int = 3, num_classes: int = 10) -> nn.Sequential:
    """``depth`` 3x3 convolutions of ``width`` channels (padding 1, with biases), each followed by a ReLU, then global
    average pooling and a linear layer: a deep plain network without normalisation or shortcuts."""
    for label, value in (("depth", depth), ("width", width), ("in_channels", in_channels), ("num_classes", num_classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive int, got {value!r}")
    layers: list[nn.Module] = []
    c_in = in_channels
    for _ in range(depth):
        layers += [nn.Conv2d(c_in, width, 3, padding=1), nn.ReLU()]
        c_in = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))
