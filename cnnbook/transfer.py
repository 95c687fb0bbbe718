"""Transfer learning: freezing by stage, a new head, parameter groups, cached features, k-shot subsets,
augmentation as a layer and learning rates scaled per layer.

The helpers work on the book's networks laid out as ``features`` (a Sequential of stages), ``avgpool`` and
``classifier`` (EfficientNet, MobileNet), and ``replace_head`` also on ResNet-style ``fc`` heads.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import TensorDataset

from cnnbook.profile import count_params
from cnnbook.train import ChannelsLast, fit


def set_trainable(module: nn.Module, trainable: bool) -> nn.Module:
    """Switch ``requires_grad`` of all of ``module``'s parameters; returns the module."""
    for p in module.parameters():
        p.requires_grad_(trainable)
    return module


def _stages(model: nn.Module) -> nn.Sequential:
    features = getattr(model, "features", None)
    if not isinstance(features, nn.Sequential):
        raise ValueError(f"{type(model).__name__} has no `features` Sequential of stages (EfficientNet, MobileNet have one)")
    return features


def _head_name(model: nn.Module) -> str:
    for name in ("classifier", "fc", "head"):
        if isinstance(getattr(model, name, None), nn.Module):
            return name
    raise ValueError(f"{type(model).__name__} has no `classifier`, `fc` or `head` to replace")


def head_of(model: nn.Module) -> nn.Module:
    """The model's classification head (``classifier``, ``fc`` or ``head``)."""
    return getattr(model, _head_name(model))


def freeze_stages(model: nn.Module, trainable_stages: int = 0) -> nn.Module:
    """Freeze the whole network except its last ``trainable_stages`` entries of ``features`` and its head."""
    stages = _stages(model)
    if isinstance(trainable_stages, bool) or not isinstance(trainable_stages, int) or not 0 <= trainable_stages <= len(stages):
        raise ValueError(f"trainable_stages must be an int in 0..{len(stages)}, got {trainable_stages!r}")
    set_trainable(model, False)
    for stage in stages[len(stages) - trainable_stages:]:
        set_trainable(stage, True)
    set_trainable(head_of(model), True)
    return model


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """Swap the last Linear layer of the head for a fresh one with ``num_classes`` outputs (trainable)."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    name = _head_name(model)
    head = getattr(model, name)
    if isinstance(head, nn.Linear):
        setattr(model, name, nn.Linear(head.in_features, num_classes))
        return model
    linears = [i for i, m in enumerate(head) if isinstance(m, nn.Linear)] if isinstance(head, nn.Sequential) else []
    if not linears:
        raise ValueError(f"the head `{name}` of {type(model).__name__} has no Linear layer to replace")
    head[linears[-1]] = nn.Linear(head[linears[-1]].in_features, num_classes)
    return model


def trainable_ratio(model: nn.Module) -> float:
    """Trainable parameters as a fraction of all parameters."""
    total = count_params(model)
    if total == 0:
        raise ValueError(f"{type(model).__name__} has no parameters")
    return count_params(model, trainable_only=True) / total


def param_groups(model: nn.Module, head: nn.Module, backbone_lr: float, head_lr: float,
                 weight_decay: float = 0.0) -> list[dict]:
    """Optimizer parameter groups: the trainable parameters of ``head`` at ``head_lr``, the rest at ``backbone_lr``.

    Raises ValueError when nothing is trainable (a frozen model has nothing for an optimizer to do).
    """
    if not backbone_lr > 0 or not head_lr > 0:
        raise ValueError(f"learning rates must be > 0, got backbone_lr={backbone_lr}, head_lr={head_lr}")
    head_ids = {id(p) for p in head.parameters()}
    if not head_ids <= {id(p) for p in model.parameters()}:
        raise ValueError("head must be a part of model")
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError(f"{type(model).__name__} has no trainable parameters: unfreeze a stage or the head first")
    groups = [{"params": [p for p in trainable if id(p) not in head_ids], "lr": backbone_lr, "weight_decay": weight_decay},
              {"params": [p for p in trainable if id(p) in head_ids], "lr": head_lr, "weight_decay": weight_decay}]
    return [g for g in groups if g["params"]]


class KeepBatchNormEval(nn.Module):
    """Wrap a module so its BatchNorm layers stay in eval mode (pretrained statistics) even in ``train()``.

    With ``frozen_only=True`` only the BatchNorm layers whose parameters are all frozen stay in eval mode; the
    trainable part of a partly frozen network keeps updating its statistics as usual.
    """

    def __init__(self, module: nn.Module, frozen_only: bool = False) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise ValueError(f"KeepBatchNormEval wraps an nn.Module, got {type(module).__name__}")
        self.module, self.frozen_only = module, bool(frozen_only)

    def train(self, mode: bool = True) -> KeepBatchNormEval:
        super().train(mode)
        for m in self.module.modules():
            if isinstance(m, _BatchNorm) and not (self.frozen_only and any(p.requires_grad for p in m.parameters())):
                m.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def split_at(model: nn.Module, stage: int) -> tuple[nn.Sequential, nn.Sequential]:
    """Cut the network before ``features[stage]``: (frozen-able trunk, tail = the rest with pooling and head).

    ``tail(trunk(x))`` equals ``model(x)``; the modules are shared, not copied.
    """
    stages = _stages(model)
    if isinstance(stage, bool) or not isinstance(stage, int) or not 0 <= stage <= len(stages):
        raise ValueError(f"stage must be an int in 0..{len(stages)}, got {stage!r}")
    pool = getattr(model, "avgpool", None)
    if pool is None:
        raise ValueError(f"{type(model).__name__} has no `avgpool` between its features and its head")
    trunk = nn.Sequential(*stages[:stage]).train(model.training)
    tail = nn.Sequential(*stages[stage:], pool, nn.Flatten(1), head_of(model)).train(model.training)
    return trunk, tail


@torch.no_grad()
def extract_features(module: nn.Module, images: torch.Tensor | TensorDataset, batch_size: int = 128,
                     preprocess=None) -> torch.Tensor:
    """Run ``module`` once in eval mode over ``images`` (a tensor or a TensorDataset's images) and return the outputs.

    ``preprocess`` (e.g. ``lite0_preprocess``) is applied to each batch first. On the CPU the module runs channels-last
    (:class:`cnnbook.train.ChannelsLast`); the outputs come back in the standard layout. Restores the module's mode.
    """
    if isinstance(images, TensorDataset):
        images = images.tensors[0]
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images must be an (N, C, H, W) tensor or a TensorDataset of them, got "
                         f"{getattr(images, 'shape', type(images).__name__)}")
    modes = [(m, m.training) for m in module.modules()]  # a wrapper may hold submodules in another mode
    module.eval()
    device = next(module.parameters(), torch.empty(0)).device
    outputs = []
    with ChannelsLast(module, device) as layout:
        for start in range(0, len(images), batch_size):
            x = images[start:start + batch_size].to(device)
            outputs.append(module(layout(preprocess(x) if preprocess is not None else x)).contiguous().cpu())
    for m, mode in modes:
        m.training = mode
    return torch.cat(outputs)


def pooled(features: torch.Tensor) -> torch.Tensor:
    """Global average pooling of (N, C, H, W) feature maps to (N, C) vectors."""
    if features.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) feature maps, got shape {tuple(features.shape)}")
    return features.mean(dim=(2, 3))


def few_shot_indices(labels: Sequence[int] | torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """Indices of ``k`` examples per class, drawn without replacement with ``seed`` (sorted by class)."""
    labels = torch.as_tensor(labels)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in torch.unique(labels).tolist():
        members = torch.nonzero(labels == c).flatten()
        if k > len(members):
            raise ValueError(f"k={k} examples per class asked, but class {c} has only {len(members)}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:k]])
    return torch.cat(chosen)


def few_shot(dataset: TensorDataset, k: int, seed: int = 0) -> TensorDataset:
    """The ``k``-examples-per-class subset of a TensorDataset (any tensors: images or cached features)."""
    if not isinstance(dataset, TensorDataset):
        raise ValueError(f"few_shot needs a TensorDataset, got {type(dataset).__name__}")
    index = few_shot_indices(dataset.tensors[-1], k, seed)
    return TensorDataset(*(t[index] for t in dataset.tensors))


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalize(images: torch.Tensor) -> torch.Tensor:
    """torchvision's ImageNet normalisation of [0, 1] RGB images: (x - mean) / std per channel."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std


class Preprocess(nn.Module):
    """Resize [0, 1] images to ``size`` pixels, then apply ``normalize`` (the pretrained weights' own mapping)."""

    def __init__(self, size: int | None, normalize) -> None:
        super().__init__()
        if not callable(normalize):
            raise ValueError(f"normalize must be a function of an image batch, got {type(normalize).__name__}")
        self.size, self.normalize = size, normalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.size is not None and x.shape[-1] != self.size:
            x = nn.functional.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        return self.normalize(x)


def fit_linear_head(train: TensorDataset, num_classes: int, epochs: int = 60, lr: float = 3e-2,
                    weight_decay: float = 1e-2, seed: int = 0) -> nn.Linear:
    """Logistic regression on cached feature vectors: one Linear layer, full-batch AdamW, ``epochs`` steps."""
    x = train.tensors[0]
    if x.ndim != 2:
        raise ValueError(f"fit_linear_head needs (N, D) feature vectors, got shape {tuple(x.shape)}; pool them first")
    torch.manual_seed(seed)
    head = nn.Linear(x.shape[1], num_classes)
    fit(head, train, None, epochs=epochs, lr=lr, optimizer="adamw", weight_decay=weight_decay, batch_size=len(x),
        seed=seed, device="cpu", progress=False)
    return head


class RandomTranslate(nn.Module):
    """Data augmentation as a layer: in training mode, shift each image by up to ``max_shift`` pixels.

    The batch is padded by reflection and each image cropped back at a random offset (torch's global generator,
    so a seeded :func:`~cnnbook.train.fit` repeats exactly). In eval mode, and with ``max_shift=0``, it is the
    identity. It never mirrors an image: on a data set where a mirrored shape is another class, a flip lies.
    """

    def __init__(self, max_shift: int) -> None:
        super().__init__()
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
            raise ValueError(f"max_shift must be a non-negative int, got {max_shift!r}")
        self.max_shift = max_shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"RandomTranslate needs (N, C, H, W) images, got shape {tuple(x.shape)}")
        s = self.max_shift
        if not self.training or s == 0:
            return x
        h, w = x.shape[-2:]
        if s >= min(h, w):
            raise ValueError(f"max_shift {s} must be smaller than the image's sides {h}x{w}")
        padded = nn.functional.pad(x, (s, s, s, s), mode="reflect")
        offsets = torch.randint(0, 2 * s + 1, (len(x), 2)).tolist()
        return torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets)])

    def extra_repr(self) -> str:
        return f"max_shift={self.max_shift}"


def scale_gradients(module: nn.Module, factor: float) -> nn.Module:
    """Multiply the gradients of ``module``'s parameters by ``factor`` in every backward pass; returns the module.

    With SGD (with or without momentum, no weight decay) this is exactly a learning rate ``factor`` times the
    optimizer's for these parameters: a discriminative learning rate that travels with the network.
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
        raise ValueError(f"factor must be a positive number, got {factor!r}")
    params = list(module.parameters())
    if not params:
        raise ValueError(f"{type(module).__name__} has no parameters to scale")
    for p in params:
        p.register_hook(lambda grad, f=float(factor): grad * f)
    return module
