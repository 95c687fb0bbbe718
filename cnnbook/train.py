"""A small, explicit training loop for classification, segmentation and detection: ``fit``, ``evaluate``, ``predict``.

Also the pieces ``fit`` is made of and the tools around it: ``make_optimizer``, ``make_scheduler`` (constant,
step, cosine and one-cycle schedules, with an optional linear warm-up) and ``lr_range_test`` / ``suggest_lr``
(Smith's learning-rate range test).
"""
from __future__ import annotations

import copy
import itertools
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm.auto import tqdm

from cnnbook.data import TensorBatches, make_loader
from cnnbook.env import get_device, set_seed


@dataclass
class History:
    """Per-epoch metrics of one :func:`fit` run."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)  # the learning rate of every step (the first parameter group's)
    best_epoch: int | None = None
    stopped_epoch: int | None = None  # set when early stopping ended the run before `epochs`

    def __len__(self) -> int:
        return len(self.train_loss)

    def last(self) -> dict[str, float]:
        """The final epoch's metrics (rounded for stable printing)."""
        keys = ("train_loss", "train_acc", "val_loss", "val_acc")
        return {k: round(getattr(self, k)[-1], 4) for k in keys if getattr(self, k)}


def _as_loader(data: Dataset | DataLoader, batch_size: int, shuffle: bool, seed: int,
               collate_fn: Callable | None = None) -> DataLoader | TensorBatches:
    if isinstance(data, (DataLoader, TensorBatches)):
        return data
    if collate_fn is not None:  # examples with targets of their own shape (a detection's boxes): batched by collate_fn
        if not isinstance(data, Dataset):
            raise ValueError(f"expected a Dataset or DataLoader, got {type(data).__name__}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(seed),
                          collate_fn=collate_fn)
    if isinstance(data, TensorDataset):  # the same batches as make_loader's, cut from the tensors by indexing
        return TensorBatches(data, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if isinstance(data, Dataset):
        return make_loader(data, batch_size=batch_size, shuffle=shuffle, seed=seed)
    raise ValueError(f"expected a Dataset or DataLoader, got {type(data).__name__}")


def _logits(output) -> torch.Tensor:
    # Networks with auxiliary heads (GoogLeNet) return a tuple in training mode; the first is the main head.
    return output[0] if isinstance(output, (tuple, list)) else output


def _to_device(y, device: torch.device):
    # targets may be a tensor or, batched by a collate_fn, a list of per-example dicts of tensors (boxes, labels)
    if isinstance(y, torch.Tensor):
        return y.to(device)
    if isinstance(y, dict):
        return {k: _to_device(v, device) for k, v in y.items()}
    if isinstance(y, (list, tuple)):
        return type(y)(_to_device(v, device) for v in y)
    return y


def _gather(parts: list):
    # the per-batch predictions or targets of a whole set: tensors concatenated, lists (per-example dicts) joined
    if parts and isinstance(parts[0], torch.Tensor):
        return torch.cat(parts)
    return [item for part in parts for item in part]


def _class_ids(logits: torch.Tensor) -> torch.Tensor:
    return logits.argmax(1)


_SWITCHED: set[int] = set()  # ids of the models an open ChannelsLast has switched (nested ones leave them alone)


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


class ChannelsLast:
    """Run a model on the CPU in the channels-last layout: weights and images stored N, H, W, C in memory.

    Used as ``with ChannelsLast(model, device) as layout:`` around a loop that passes each batch of images through
    ``layout(x)``. At the first 4-d batch it stores the model's 4-d weights channels-last, if the model runs so, and
    from then on stores every batch so; on closing, the weights go back to the standard layout. The values are the
    same, only their order in memory changes, and torch's CPU kernels for convolution, BatchNorm and pooling
    vectorise across channels in this layout: a training step of the book's networks runs 10-50% faster (the small
    CNN's 42 -> 30 ms on one thread). Sums are taken in another order, so the last bits of a result differ from the
    standard layout's; runs still repeat exactly. On other devices, for batches that are not 4-d images, and for a
    model that cannot run channels-last (one that reshapes its maps with ``.view()``: tried on one example in eval
    mode, which draws no random numbers and updates no statistics), nothing changes; a batch the model cannot take
    at all is left for the loop's own call to report.
    """

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        self.model, self.device = model, device
        self.nested = id(model) in _SWITCHED  # an enclosing loop (fit, around its evaluate) switched it already
        self.active: bool | None = True if self.nested else (None if device.type == "cpu" else False)

    def __enter__(self) -> "ChannelsLast":
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.active is None and isinstance(x, torch.Tensor) and x.dim() == 4 and len(x):
            self.active = self._switch(x)
        return _nhwc(x) if self.active and isinstance(x, torch.Tensor) and x.dim() == 4 else x

    def _switch(self, x: torch.Tensor) -> bool:
        self.model.to(memory_format=torch.channels_last)
        _SWITCHED.add(id(self.model))
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                self.model(_nhwc(x[:1]))
            return True
        except Exception:  # not this layout, or not this input at all: the loop's own call reports the latter
            self._restore()
            return False
        finally:
            self.model.train(was_training)

    def _restore(self) -> None:
        _SWITCHED.discard(id(self.model))
        self.model.to(memory_format=torch.contiguous_format)

    def __exit__(self, *exc) -> None:
        if not self.nested and id(self.model) in _SWITCHED:
            self._restore()


@contextmanager
def denormals_as_zero(device: torch.device) -> Iterator[None]:
    """While training on the CPU, treat denormal floats (nonzero magnitudes below 1.2e-38) as zero.

    Once a network fits its training batches almost perfectly, its loss gradients shrink into that range, and x86
    CPUs compute with such numbers many times slower than with normal ones: Lite0's last stage fine-tuned on a few
    images (chapter 15) trains 2.8 times faster with them flushed. No result moves that never met one. On other
    devices nothing changes; on closing, denormals are kept again (torch's default).
    """
    flushing = device.type == "cpu" and torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if flushing:
            torch.set_flush_denormal(False)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Dataset | DataLoader,
    device: str | torch.device | None = None,
    batch_size: int = 256,
    loss_fn: Callable | None = None,
    score_fn: Callable[[torch.Tensor, torch.Tensor], float] | None = None,
    collate_fn: Callable | None = None,
    predict_fn: Callable | None = None,
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``data`` in eval mode.

    With ``score_fn`` the second number is ``score_fn(predicted, targets)`` over the whole set instead (predicted
    class ids, the argmax over dimension 1, and targets on the CPU): mean IoU for segmentation, for example.
    ``predict_fn`` turns a batch's outputs into other predictions (a detector's boxes), ``collate_fn`` batches a
    Dataset's examples (see :func:`fit`).
    """
    device = torch.device(device) if device is not None else get_device()
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    predict_fn = predict_fn or _class_ids
    loader = _as_loader(data, batch_size, shuffle=False, seed=0, collate_fn=collate_fn)
    was_training = model.training
    model.to(device).eval()
    total_loss, correct, count = 0.0, 0, 0
    predicted, targets = [], []
    with ChannelsLast(model, device) as layout:
        for x, y in loader:
            x, y = layout(x.to(device)), _to_device(y, device)
            logits = _logits(model(x))
            total_loss += loss_fn(logits, y).item() * len(x)
            if score_fn is None:
                if not isinstance(y, torch.Tensor):
                    raise ValueError(f"targets of type {type(y).__name__} (not class ids) need a score_fn to be scored")
                correct += (logits.argmax(1) == y).sum().item()
            else:
                predicted.append(_to_device(predict_fn(logits), "cpu"))
                targets.append(_to_device(y, "cpu"))
            count += len(x)
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate() got an empty data set")
    score = correct / count if score_fn is None else float(score_fn(_gather(predicted), _gather(targets)))
    return total_loss / count, score


@torch.no_grad()
def predict(
    model: nn.Module, data: Dataset | DataLoader, device: str | torch.device | None = None, batch_size: int = 256
) -> torch.Tensor:
    """Predicted class of every example, in order, on the CPU."""
    device = torch.device(device) if device is not None else get_device()
    loader = _as_loader(data, batch_size, shuffle=False, seed=0)
    was_training = model.training
    model.to(device).eval()
    with ChannelsLast(model, device) as layout:
        preds = [_logits(model(layout(batch[0].to(device)))).argmax(1).cpu() for batch in loader]
    model.train(was_training)
    return torch.cat(preds)


OPTIMIZERS = ("adam", "adamw", "sgd", "plain_sgd")
"""The names :func:`make_optimizer` (and so :func:`fit`) knows."""


def make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """'adam', 'adamw', 'sgd' (momentum 0.9) or 'plain_sgd' (no momentum) over the trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "plain_sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}, or pass an Optimizer")


SCHEDULERS = (None, "cosine", "step", "onecycle")
"""The learning-rate schedules of :func:`make_scheduler` (and so of :func:`fit`), all stepped once per batch."""


def make_scheduler(
    optimizer: torch.optim.Optimizer, name: str | None, total_steps: int, warmup_steps: int = 0
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """A per-step schedule over ``total_steps``: None (constant), 'cosine' (to zero), 'step' (divided by 10 at half
    and three quarters of the steps) or 'onecycle' (up for 30% of the steps, then down; momentum left alone).

    ``warmup_steps`` first raises the rate linearly, step t using (t + 1) / (warmup_steps + 1) of it, then runs
    the schedule over the remaining steps. Returns None for a constant rate without warm-up.
    """
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {SCHEDULERS}")
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ValueError(f"total_steps must be a positive int, got {total_steps!r}")
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or not 0 <= warmup_steps < total_steps:
        raise ValueError(f"warmup_steps must be an int in [0, total_steps) = [0, {total_steps}), got {warmup_steps!r}")
    if name == "onecycle" and warmup_steps:
        raise ValueError("'onecycle' warms up by itself (its first 30% of steps); use warmup with None, 'cosine' or 'step'")
    if name == "onecycle" and total_steps < 4:
        raise ValueError(f"'onecycle' needs at least 4 steps, got {total_steps}")
    schedulers = torch.optim.lr_scheduler
    warmup = None
    if warmup_steps:  # built first: SequentialLR expects the schedulers in the order they run
        warmup = schedulers.LinearLR(optimizer, start_factor=1 / (warmup_steps + 1), end_factor=1.0,
                                     total_iters=warmup_steps)
    steps = total_steps - warmup_steps
    if name == "cosine":
        main = schedulers.CosineAnnealingLR(optimizer, T_max=steps)
    elif name == "step":
        main = schedulers.MultiStepLR(optimizer, milestones=[steps // 2, (3 * steps) // 4], gamma=0.1)
    elif name == "onecycle":
        main = schedulers.OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
                                     total_steps=steps, cycle_momentum=False)
    else:
        main = None
    if warmup is None or main is None:
        return warmup or main
    return schedulers.SequentialLR(optimizer, [warmup, main], milestones=[warmup_steps])


def fit(
    model: nn.Module,
    train_data: Dataset | DataLoader,
    val_data: Dataset | DataLoader | None = None,
    epochs: int = 5,
    lr: float = 1e-3,
    optimizer: str | torch.optim.Optimizer = "adam",
    batch_size: int = 64,
    weight_decay: float = 0.0,
    scheduler: str | None = None,
    clip_grad: float | None = None,
    loss_fn: Callable | None = None,
    device: str | torch.device | None = None,
    amp: bool = False,
    seed: int | None = 0,
    keep_best: bool = False,
    patience: int | None = None,
    progress: bool = True,
    warmup_epochs: int = 0,
    score_fn: Callable[[torch.Tensor, torch.Tensor], float] | None = None,
    collate_fn: Callable | None = None,
    predict_fn: Callable | None = None,
    score_train: bool = True,
) -> History:
    """Train a classifier (with the hooks below, a segmenter or a detector); return its :class:`History` (loss and
    accuracy per epoch, rate per step).

    ``scheduler`` sets the learning rate of every step (None: constant; 'cosine', 'step', 'onecycle': see
    :func:`make_scheduler`), after a linear warm-up over the first ``warmup_epochs`` epochs; ``clip_grad``
    clips the gradient norm; ``amp`` uses mixed precision on CUDA (ignored elsewhere); ``keep_best`` restores
    the weights of the epoch with the best validation accuracy; ``patience=k`` stops early once k epochs in a
    row bring no better validation accuracy. Labels may be class indices or (N, classes) probabilities (MixUp,
    CutMix). For dense targets (a class per pixel) pass a ``loss_fn`` and a ``score_fn`` (see :func:`evaluate`):
    the history's accuracies are then that score, and ``keep_best`` and ``patience`` follow it. For targets of
    varying size (a detection's boxes) pass a ``collate_fn`` that batches a Dataset's examples, and a
    ``predict_fn`` that turns a batch's outputs into what ``score_fn`` scores (default: class ids, the argmax over
    dimension 1); ``score_train=False`` skips scoring the training batches (the train accuracies are then nan).
    With a seed, CPU runs repeat exactly.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if keep_best and val_data is None:
        raise ValueError("keep_best=True needs val_data")
    if patience is not None:
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 1:
            raise ValueError(f"patience must be a positive int or None, got {patience!r}")
        if val_data is None:
            raise ValueError("patience (early stopping) needs val_data")
    if scheduler not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {scheduler!r}; choose one of {SCHEDULERS}")
    if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) or not 0 <= warmup_epochs < epochs:
        raise ValueError(f"warmup_epochs must be an int in [0, epochs) = [0, {epochs}), got {warmup_epochs!r}")
    for name, hook in (("collate_fn", collate_fn), ("predict_fn", predict_fn)):
        if hook is not None and not callable(hook):
            raise ValueError(f"{name} must be callable or None, got {hook!r}")
    if not isinstance(score_train, bool):
        raise ValueError(f"score_train must be True or False, got {score_train!r}")
    if seed is not None:
        set_seed(seed)
    device = torch.device(device) if device is not None else get_device()
    model.to(device)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    predict_fn = predict_fn or _class_ids
    loader = _as_loader(train_data, batch_size, shuffle=True, seed=seed or 0, collate_fn=collate_fn)
    opt = optimizer if isinstance(optimizer, torch.optim.Optimizer) else make_optimizer(model, optimizer, lr, weight_decay)
    sched = make_scheduler(opt, scheduler, epochs * len(loader), warmup_epochs * len(loader))
    use_amp = amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history, best_acc, best_state = History(), -1.0, None

    bar = tqdm(total=epochs * len(loader), disable=not progress, leave=False, desc="training")
    with ChannelsLast(model, device) as layout, denormals_as_zero(device):
        for epoch in range(epochs):
            start = time.perf_counter()
            model.train()
            total_loss, correct, count = 0.0, 0, 0
            predicted, targets = [], []
            for x, y in loader:
                x, y = layout(x.to(device)), _to_device(y, device)
                history.lrs.append(opt.param_groups[0]["lr"])
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device.type, enabled=use_amp):
                    try:
                        output = model(x)
                    except RuntimeError as err:  # e.g. a shape mismatch deep inside torch
                        raise ValueError(
                            f"{type(model).__name__} cannot run on a batch of shape {tuple(x.shape)}: {err}"
                        ) from err
                    if isinstance(output, (tuple, list)):  # GoogLeNet-style auxiliary heads: weighted 0.3 each
                        loss = loss_fn(output[0], y) + 0.3 * sum(loss_fn(aux, y) for aux in output[1:])
                    else:
                        loss = loss_fn(output, y)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss.item()} in epoch {epoch + 1}; try a lower lr")
                scaler.scale(loss).backward()
                if clip_grad is not None:
                    scaler.unscale_(opt)
                    nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
                scaler.step(opt)
                scaler.update()
                if sched is not None:
                    sched.step()
                logits = _logits(output).detach()
                total_loss += loss.item() * len(x)
                if score_fn is None:
                    if not isinstance(y, torch.Tensor):
                        raise ValueError(f"targets of type {type(y).__name__} (not class ids) need a score_fn to be scored")
                    labels = y.argmax(1) if y.ndim == 2 else y  # soft labels (MixUp, CutMix): their largest share
                    correct += (logits.argmax(1) == labels).sum().item()
                elif score_train:
                    predicted.append(_to_device(predict_fn(logits), "cpu"))
                    targets.append(_to_device(y, "cpu"))
                count += len(x)
                bar.update(1)
            history.train_loss.append(total_loss / count)
            if score_fn is None:
                history.train_acc.append(correct / count)
            else:
                history.train_acc.append(float(score_fn(_gather(predicted), _gather(targets))) if score_train else math.nan)
            if val_data is not None:
                val_loss, val_acc = evaluate(model, val_data, device, loss_fn=loss_fn, score_fn=score_fn,
                                             collate_fn=collate_fn, predict_fn=predict_fn)
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
                if val_acc > best_acc:
                    best_acc, history.best_epoch = val_acc, epoch
                    if keep_best:
                        best_state = copy.deepcopy(model.state_dict())
            history.seconds.append(time.perf_counter() - start)
            if patience is not None and epoch - history.best_epoch >= patience and epoch + 1 < epochs:
                history.stopped_epoch = epoch
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def lr_range_test(
    model: nn.Module,
    data: Dataset | DataLoader,
    lr_min: float = 1e-5,
    lr_max: float = 1.0,
    steps: int = 100,
    optimizer: str = "adam",
    batch_size: int = 64,
    weight_decay: float = 0.0,
    loss_fn: Callable | None = None,
    seed: int = 0,
    stop_factor: float = 4.0,
    device: str | torch.device | None = None,
) -> tuple[list[float], list[float]]:
    """Smith's learning-rate range test: train a copy of ``model`` for up to ``steps`` batches while the rate grows
    geometrically from ``lr_min`` to ``lr_max``; return (rates, losses), one pair per step.

    The test stops early once the loss is not finite or exceeds ``stop_factor`` times the lowest loss so far
    (the rate has become too large). ``model`` itself is left unchanged.
    """
    if not (isinstance(lr_min, (int, float)) and isinstance(lr_max, (int, float)) and 0 < lr_min < lr_max):
        raise ValueError(f"need 0 < lr_min < lr_max, got lr_min={lr_min!r}, lr_max={lr_max!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    if not isinstance(stop_factor, (int, float)) or stop_factor <= 1:
        raise ValueError(f"stop_factor must be a number > 1, got {stop_factor!r}")
    if not isinstance(optimizer, str):
        raise ValueError(f"optimizer must be a name (one of {OPTIMIZERS}): the test builds it for its own copy")
    set_seed(seed)
    device = torch.device(device) if device is not None else get_device()
    trial = copy.deepcopy(model).to(device).train()
    opt = make_optimizer(trial, optimizer, lr_min, weight_decay)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    loader = _as_loader(data, batch_size, shuffle=True, seed=seed)
    if len(loader) == 0:
        raise ValueError("lr_range_test() got an empty data set")
    batches = itertools.chain.from_iterable(iter(loader) for _ in itertools.count())  # as many epochs as it takes
    ratio = lr_max / lr_min
    lrs, losses = [], []
    with ChannelsLast(trial, device) as layout, denormals_as_zero(device):
        for step, (x, y) in zip(range(steps), batches):
            lr = lr_min * ratio ** (step / (steps - 1))
            for group in opt.param_groups:
                group["lr"] = lr
            x, y = layout(x.to(device)), y.to(device)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(_logits(trial(x)), y)
            value = loss.item()
            lrs.append(lr)
            losses.append(value)
            if not math.isfinite(value) or value > stop_factor * min(losses):
                break
            loss.backward()
            opt.step()
    return lrs, losses


def smoothed_losses(losses: list[float], smoothing: float = 0.8) -> list[float]:
    """The losses smoothed by an exponential moving average (``smoothing`` is its memory), bias-corrected for its
    start at zero; up to the first loss that is not finite."""
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
    average, smoothed = 0.0, []
    for i, loss in enumerate(losses):
        if not math.isfinite(loss):
            break
        average = smoothing * average + (1 - smoothing) * loss
        smoothed.append(average / (1 - smoothing ** (i + 1)))
    return smoothed


def suggest_lr(lrs: list[float], losses: list[float], smoothing: float = 0.8, divide: float = 10.0) -> float:
    """A learning rate read off a range test: where the smoothed loss is lowest, divided by ``divide``.

    The losses are smoothed by :func:`smoothed_losses`; at the minimum the rate is already about to become too large, hence the division.
    """
    if len(lrs) != len(losses) or len(lrs) < 2:
        raise ValueError(f"need two lists of the same length >= 2, got {len(lrs)} rates and {len(losses)} losses")
    if not isinstance(divide, (int, float)) or divide < 1:
        raise ValueError(f"divide must be a number >= 1, got {divide!r}")
    smoothed = smoothed_losses(losses, smoothing)
    if not smoothed:
        raise ValueError("the first loss of the range test is not finite: lower lr_min")
    best = min(range(len(smoothed)), key=smoothed.__getitem__)
    return lrs[best] / divide
