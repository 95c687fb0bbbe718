"""Copy torchvision weights into the book's own models, strictly and by name."""
from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn


def _renamed(key: str, renames: tuple[tuple[str, str], ...]) -> str:
    for pattern, replacement in renames:
        key = re.sub(pattern, replacement, key)
    return key


def load_torchvision_weights(
    model: nn.Module, source: nn.Module | Mapping[str, torch.Tensor]
) -> nn.Module:
    """Copy every tensor of a torchvision model (or its state_dict) into ``model`` and return ``model``.

    Names are mapped through the model's ``TORCHVISION_RENAMES`` (regex, replacement) pairs where
    ours differ. The copy is strict: a missing, extra or mis-shaped tensor raises ``ValueError``
    naming it, and nothing is copied.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    if isinstance(source, nn.Module):
        state = source.state_dict()
    elif isinstance(source, Mapping):
        state = dict(source)
    else:
        raise ValueError(f"source must be an nn.Module or a state_dict, got {type(source).__name__}")

    renames = tuple(getattr(model, "TORCHVISION_RENAMES", ()))
    mapped: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        ours = _renamed(key, renames)
        if ours in mapped:
            raise ValueError(f"two source tensors map to the same name {ours!r} (the second is {key!r})")
        mapped[ours] = tensor

    target = model.state_dict()
    missing = sorted(set(target) - set(mapped))
    extra = sorted(set(mapped) - set(target))
    wrong = [
        f"{k}: model expects {tuple(target[k].shape)}, source has {tuple(mapped[k].shape)}"
        for k in target
        if k in mapped and target[k].shape != mapped[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing from source ({len(missing)}): {', '.join(missing[:8])}")
    if extra:
        problems.append(f"not in model ({len(extra)}): {', '.join(extra[:8])}")
    if wrong:
        problems.append(f"shape mismatch ({len(wrong)}): {'; '.join(wrong[:8])}")
    if problems:
        raise ValueError(
            f"cannot load weights into {type(model).__name__}: " + " | ".join(problems)
        )
    model.load_state_dict(mapped, strict=True)
    return model


@torch.no_grad()
def calibrate_batchnorm(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Set every BatchNorm's running statistics to those of the batch ``x`` and return ``model`` in eval mode.

    Equality tests need realistic statistics: drawn at random (mean ~0, variance ~1), they shrink a deep
    network's signal stage by stage until its logits hardly depend on the input, and any two networks agree.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise ValueError(f"{type(model).__name__} has no BatchNorm layer to calibrate")
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 1.0  # the next training-mode batch replaces the running statistics
    try:
        model.train()(x)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
    return model.eval()
