"""Batch normalisation written out in a few lines, and equal to ``torch.nn.BatchNorm2d``.

``BatchNorm2d`` normalises each channel with the batch's mean and variance in training mode and with running
estimates of them in evaluation mode, exactly as PyTorch's layer does (same buffers, same ``state_dict`` keys,
same numbers). ``replace_batchnorm`` swaps the BatchNorms of a network for this one, for PyTorch's, or for
nothing at all, to see what the layer buys.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class BatchNorm2d(nn.Module):
    """Normalise each channel of an (N, C, H, W) batch over N, H and W, then scale and shift it (Ioffe and Szegedy, 2015).

    Training mode uses the batch's mean and (biased) variance and moves the running estimates towards them by
    ``momentum`` (None: their plain average over all batches so far), the variance estimate unbiased: times
    n / (n - 1) for n values per channel. Evaluation mode uses the running estimates. ``affine=False`` drops the
    learned scale and shift.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"num_features must be a positive int, got {num_features!r}")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
            raise ValueError(f"eps must be a number > 0, got {eps!r}")
        if momentum is not None and (isinstance(momentum, bool) or not isinstance(momentum, (int, float))
                                     or not 0 <= momentum <= 1):
            raise ValueError(f"momentum must be a number in [0, 1] or None (cumulative average), got {momentum!r}")
        if not isinstance(affine, bool):
            raise ValueError(f"affine must be True or False, got {affine!r}")
        self.num_features, self.eps, self.momentum, self.affine = num_features, float(eps), momentum, affine
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d({self.num_features}) expects an (N, {self.num_features}, H, W) tensor, "
                             f"got {tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
        if self.training:
            n = x.numel() // self.num_features  # values per channel: N * H * W
            if n < 2:
                raise ValueError(f"BatchNorm2d needs more than one value per channel in training mode, got shape "
                                 f"{tuple(x.shape)}")
            mean = x.mean(dim=(0, 2, 3))
            var = x.var(dim=(0, 2, 3), unbiased=False)  # normalise with the biased variance ...
            with torch.no_grad():
                self.num_batches_tracked += 1
                f = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - f).add_(f * mean)
                self.running_var.mul_(1 - f).add_(f * var * n / (n - 1))  # ... but estimate it unbiased
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.eps)
        if self.affine:
            return x_hat * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return x_hat

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


_REPLACEMENTS = ("ours", "torch", "none")


def replace_batchnorm(model: nn.Module, by: str = "ours") -> nn.Module:
    """Swap every 2-D BatchNorm of ``model`` in place and return it: for :class:`BatchNorm2d` ('ours', state
    copied), for ``torch.nn.BatchNorm2d`` ('torch', state copied) or for nothing ('none').

    With 'none', a bias-free convolution right before a removed BatchNorm (in an ``nn.Sequential``) gets a bias,
    drawn as PyTorch draws a convolution's bias, since the BatchNorm's shift no longer stands in for it.
    """
    if by not in _REPLACEMENTS:
        raise ValueError(f"by must be one of {_REPLACEMENTS}, got {by!r}")
    norms = (nn.BatchNorm2d, BatchNorm2d)
    found = 0
    for parent in list(model.modules()):
        children = list(parent.named_children())
        for i, (name, child) in enumerate(children):
            if not isinstance(child, norms):
                continue
            found += 1
            if by == "none":
                new: nn.Module = nn.Identity()
                before = children[i - 1][1] if i > 0 and isinstance(parent, nn.Sequential) else None
                if isinstance(before, nn.Conv2d) and before.bias is None:
                    _add_conv_bias(before)
            else:
                if isinstance(child, nn.BatchNorm2d) and not child.track_running_stats:
                    raise ValueError(f"{name}: a BatchNorm2d without running statistics cannot be copied")
                cls = BatchNorm2d if by == "ours" else nn.BatchNorm2d
                new = cls(child.num_features, eps=child.eps, momentum=child.momentum, affine=child.affine)
                new.load_state_dict(child.state_dict())
                new.to(child.running_mean.device)
                new.train(child.training)
            setattr(parent, name, new)
    if not found:
        raise ValueError(f"{type(model).__name__} has no BatchNorm2d to replace")
    return model


def _add_conv_bias(conv: nn.Conv2d) -> None:
    fan_in = conv.weight[0].numel()
    bound = 1 / math.sqrt(fan_in)
    conv.bias = nn.Parameter(torch.empty(conv.out_channels, device=conv.weight.device).uniform_(-bound, bound))


@torch.no_grad()
def recompute_batchnorm(model: nn.Module, data, batch_size: int = 256) -> nn.Module:
    """Replace the running estimates of every BatchNorm of ``model`` by the plain average of its batch statistics
    over ``data`` (a Dataset or DataLoader of (image, label) pairs) with the current weights; return it in eval mode.

    Only the BatchNorms run in training mode during that pass (dropout is off) and no weight changes. This is
    what evaluation should use after training: running estimates forget their starting values only slowly.
    """
    from cnnbook.train import _as_loader

    norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm2d, BatchNorm2d))]
    if not norms:
        raise ValueError(f"{type(model).__name__} has no BatchNorm2d to recompute")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise ValueError(f"batch_size must be an int >= 2, got {batch_size!r}")
    loader = _as_loader(data, batch_size, shuffle=False, seed=0)
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
        else:
            m.running_mean.zero_()
            m.running_var.fill_(1.0)
            m.num_batches_tracked.zero_()
        m.momentum = None
        m.train()
    device = norms[0].running_mean.device
    try:
        seen = 0
        for batch in loader:
            model(batch[0].to(device))
            seen += 1
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.eval()
    if seen == 0:
        raise ValueError("recompute_batchnorm() got an empty data set")
    return model
