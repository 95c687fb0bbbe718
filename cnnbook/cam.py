"""Where does a classifier look? Grad-CAM (Selvaraju et al. 2017) from one layer's activations and gradients,
and a brute-force occlusion map (Zeiler and Fergus 2014) to check it against.

Both return one (H, W) map per image at the input's resolution, scaled to [0, 1] per image, with larger values
where the evidence for the target class lies.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _check_images(model: nn.Module, images: Tensor) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(images, Tensor) or images.dim() != 4 or not images.dtype.is_floating_point:
        raise ValueError(f"images must be a float (N, C, H, W) tensor, got {getattr(images, 'shape', type(images).__name__)}")


def _logits(model: nn.Module, x: Tensor) -> Tensor:
    out = model(x)
    return out[0] if isinstance(out, (tuple, list)) else out


def _targets(target: Tensor | int | None, logits: Tensor) -> Tensor:
    n, c = logits.shape
    if target is None:
        return logits.argmax(1)
    target = torch.as_tensor(target, dtype=torch.long).flatten()
    if target.numel() == 1:
        target = target.expand(n)
    if target.numel() != n:
        raise ValueError(f"target must be one class or one per image ({n}), got {target.numel()}")
    if int(target.min()) < 0 or int(target.max()) >= c:
        raise ValueError(f"target classes must be in [0, {c - 1}], got {target.tolist()}")
    return target


def _normalise(maps: Tensor) -> Tensor:
    """Scale each (H, W) map to [0, 1] by its maximum; an all-zero map stays zero."""
    top = maps.flatten(1).max(1).values.clamp(min=1e-12)
    return maps / top[:, None, None]


def grad_cam(model: nn.Module, images: Tensor, layer: nn.Module, target: Tensor | int | None = None,
             upsample: bool = True) -> Tensor:
    """Grad-CAM of ``target`` (default: the predicted class) at ``layer``, an (N, H, W) map in [0, 1].

    A forward hook keeps the layer's output A (N, K, h, w); the gradient of the class score with respect to A,
    averaged over positions, weighs the K channels; the weighted sum goes through a ReLU and is upsampled
    bilinearly to the image size. The model runs in eval mode; its mode and hooks are restored afterwards.
    """
    _check_images(model, images)
    if not isinstance(layer, nn.Module) or not any(m is layer for m in model.modules()):
        raise ValueError(f"layer must be a submodule of the model, got {type(layer).__name__} that is not in it")
    kept: list[Tensor] = []

    def hook(module: nn.Module, inputs: tuple, output: Tensor) -> Tensor:
        if not isinstance(output, Tensor) or output.dim() != 4:
            raise ValueError(f"Grad-CAM needs a layer with (N, K, h, w) output, {type(module).__name__} gave "
                             f"{getattr(output, 'shape', type(output).__name__)}")
        kept.append(output)
        return output.clone()  # later in-place ops (ReLU(inplace=True)) then leave the kept activation intact

    was_training = model.training
    handle = layer.register_forward_hook(hook)
    try:
        model.eval()
        with torch.enable_grad():
            x = images.detach().clone().requires_grad_(True)  # a graph even when the weights are frozen
            logits = _logits(model, x)
            cls = _targets(target, logits)
            if not kept:
                raise ValueError(f"layer {type(layer).__name__} was not used in the forward pass")
            activation = kept[-1]
            score = logits.gather(1, cls.to(logits.device)[:, None]).sum()
            (grad,) = torch.autograd.grad(score, activation)
    finally:
        handle.remove()
        model.train(was_training)
    weights = grad.mean((2, 3), keepdim=True)
    cam = F.relu((weights * activation).sum(1)).detach()
    if upsample:
        cam = F.interpolate(cam[:, None], size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return _normalise(cam.cpu())


@torch.no_grad()
def occlusion_map(model: nn.Module, images: Tensor, target: Tensor | int | None = None, patch: int = 4,
                  stride: int = 2, fill: float | None = None, batch_size: int = 256, normalise: bool = True) -> Tensor:
    """Brute-force evidence map: slide a ``patch`` x ``patch`` square of ``fill`` (default: the image's mean colour)
    over each image with ``stride``, record how much the target class's probability drops, and give every pixel
    the mean drop of the patches that covered it. Negative drops count as zero. Returns (N, H, W) in [0, 1], each
    map scaled by its maximum, or with ``normalise=False`` the mean drops themselves (in probability)."""
    _check_images(model, images)
    if not isinstance(normalise, bool):
        raise ValueError(f"normalise must be True or False, got {normalise!r}")
    n, c, h, w = images.shape
    for name, value in (("patch", patch), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if patch > min(h, w):
        raise ValueError(f"patch ({patch}) must fit in the {h}x{w} images")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        base = _logits(model, images.to(device)).softmax(1)
        cls = _targets(target, base).to(device)
        base_p = base.gather(1, cls[:, None])[:, 0]
        ys = list(range(0, h - patch + 1, stride))
        xs = list(range(0, w - patch + 1, stride))
        if ys[-1] != h - patch:
            ys.append(h - patch)
        if xs[-1] != w - patch:
            xs.append(w - patch)
        positions = [(y, x) for y in ys for x in xs]
        heat = torch.zeros(n, h, w, dtype=torch.double)
        cover = torch.zeros(h, w, dtype=torch.double)
        for y, x in positions:
            cover[y:y + patch, x:x + patch] += 1
        for i in range(n):
            img = images[i].to(device)
            colour = img.mean((1, 2), keepdim=True) if fill is None else torch.full((c, 1, 1), float(fill), device=device)
            for start in range(0, len(positions), batch_size):
                chunk = positions[start:start + batch_size]
                batch = img.expand(len(chunk), c, h, w).clone()
                for j, (y, x) in enumerate(chunk):
                    batch[j, :, y:y + patch, x:x + patch] = colour
                p = _logits(model, batch).softmax(1)[:, cls[i]]
                drop = (base_p[i] - p).clamp(min=0).double().cpu()
                for j, (y, x) in enumerate(chunk):
                    heat[i, y:y + patch, x:x + patch] += drop[j]
    finally:
        model.train(was_training)
    heat = (heat / cover).float()
    return _normalise(heat) if normalise else heat


def agreement(a: Tensor, b: Tensor) -> dict[str, float]:
    """How two (H, W) maps agree: Pearson correlation, and the distance in pixels between their peaks."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor) or a.dim() != 2 or a.shape != b.shape:
        raise ValueError(f"expected two (H, W) maps of the same shape, got {getattr(a, 'shape', a)} and {getattr(b, 'shape', b)}")
    fa, fb = a.flatten().double(), b.flatten().double()
    fa, fb = fa - fa.mean(), fb - fb.mean()
    denom = (fa.norm() * fb.norm()).item()
    corr = float((fa @ fb) / denom) if denom > 0 else float("nan")
    w = a.shape[1]
    pa, pb = int(a.flatten().argmax()), int(b.flatten().argmax())
    dist = ((pa // w - pb // w) ** 2 + (pa % w - pb % w) ** 2) ** 0.5
    return {"correlation": corr, "peak_distance": float(dist)}
