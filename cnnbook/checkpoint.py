"""Save a model's weights with what they belong to, and load them back safely (``weights_only=True``)."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from cnnbook.profile import count_params

_FORMAT = "cnnbook-checkpoint-1"


def save_checkpoint(model: nn.Module, path: str | Path, **meta: object) -> Path:
    """Write the model's state dict, its class name and parameter count, and ``meta`` (plain values) to ``path``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"save_checkpoint needs an nn.Module, got {type(model).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({
        "format": _FORMAT,
        "architecture": type(model).__name__,
        "num_params": count_params(model),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": dict(meta),
    }, path)
    return path


def load_checkpoint(model: nn.Module, path: str | Path) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` and return its ``meta``.

    Raises ValueError when the file is not such a checkpoint, was saved from another architecture, or its
    tensors do not fit the model (naming the first mismatches), instead of a half-loaded model.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a checkpoint written by cnnbook.checkpoint.save_checkpoint")
    if saved["architecture"] != type(model).__name__:
        raise ValueError(f"{path} holds a {saved['architecture']} ({saved['num_params']:,} parameters); "
                         f"the model is a {type(model).__name__} ({count_params(model):,} parameters)")
    own, state = model.state_dict(), saved["state_dict"]
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [f"{k}: saved {tuple(state[k].shape)}, model {tuple(own[k].shape)}"
             for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        problems = [f"missing {missing[:3]}" if missing else "", f"unexpected {unexpected[:3]}" if unexpected else "",
                    f"shape mismatch {wrong[:3]}" if wrong else ""]
        raise ValueError(f"{path} does not fit this {type(model).__name__}: " + "; ".join(p for p in problems if p))
    model.load_state_dict(state)
    return saved["meta"]
