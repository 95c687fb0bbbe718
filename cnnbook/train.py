"""A small, explicit training loop for classification: ``fit``, ``evaluate``, ``predict``."""
from __future__ import annotations

import copy
import time
from collections.abc import Callable
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
    best_epoch: int | None = None
    stopped_epoch: int | None = None  # set when early stopping ended the run before `epochs`

    def __len__(self) -> int:
        return len(self.train_loss)

    def last(self) -> dict[str, float]:
        """The final epoch's metrics (rounded for stable printing)."""
        keys = ("train_loss", "train_acc", "val_loss", "val_acc")
        return {k: round(getattr(self, k)[-1], 4) for k in keys if getattr(self, k)}


def _as_loader(data: Dataset | DataLoader, batch_size: int, shuffle: bool, seed: int) -> DataLoader | TensorBatches:
    if isinstance(data, (DataLoader, TensorBatches)):
        return data
    if isinstance(data, TensorDataset):  # the same batches as make_loader's, cut from the tensors by indexing
        return TensorBatches(data, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if isinstance(data, Dataset):
        return make_loader(data, batch_size=batch_size, shuffle=shuffle, seed=seed)
    raise ValueError(f"expected a Dataset or DataLoader, got {type(data).__name__}")


def _logits(output) -> torch.Tensor:
    # Networks with auxiliary heads (GoogLeNet) return a tuple in training mode; the first is the main head.
    return output[0] if isinstance(output, (tuple, list)) else output


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Dataset | DataLoader,
    device: str | torch.device | None = None,
    batch_size: int = 256,
    loss_fn: Callable | None = None,
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``data`` in eval mode."""
    device = torch.device(device) if device is not None else get_device()
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    loader = _as_loader(data, batch_size, shuffle=False, seed=0)
    was_training = model.training
    model.to(device).eval()
    total_loss, correct, count = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = _logits(model(x))
        total_loss += loss_fn(logits, y).item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        count += len(y)
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate() got an empty data set")
    return total_loss / count, correct / count


@torch.no_grad()
def predict(
    model: nn.Module, data: Dataset | DataLoader, device: str | torch.device | None = None, batch_size: int = 256
) -> torch.Tensor:
    """Predicted class of every example, in order, on the CPU."""
    device = torch.device(device) if device is not None else get_device()
    loader = _as_loader(data, batch_size, shuffle=False, seed=0)
    was_training = model.training
    model.to(device).eval()
    preds = [_logits(model(batch[0].to(device))).argmax(1).cpu() for batch in loader]
    model.train(was_training)
    return torch.cat(preds)


def make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """'adam', 'adamw' or 'sgd' (momentum 0.9) over the trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose 'adam', 'adamw' or 'sgd', or pass an Optimizer")


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
) -> History:
    """Train a classifier and return its :class:`History` (loss and accuracy per epoch).

    ``scheduler='cosine'`` anneals the learning rate to zero over all steps; ``clip_grad`` clips the
    gradient norm; ``amp`` uses mixed precision on CUDA (ignored elsewhere); ``keep_best`` restores the
    weights of the epoch with the best validation accuracy; ``patience=k`` stops early once k epochs in a
    row bring no better validation accuracy. With a seed, CPU runs repeat exactly.
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
    if seed is not None:
        set_seed(seed)
    device = torch.device(device) if device is not None else get_device()
    model.to(device)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    loader = _as_loader(train_data, batch_size, shuffle=True, seed=seed or 0)
    opt = optimizer if isinstance(optimizer, torch.optim.Optimizer) else make_optimizer(model, optimizer, lr, weight_decay)
    if scheduler not in (None, "cosine"):
        raise ValueError(f"unknown scheduler {scheduler!r}; choose None or 'cosine'")
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader)) if scheduler else None
    use_amp = amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history, best_acc, best_state = History(), -1.0, None

    bar = tqdm(total=epochs * len(loader), disable=not progress, leave=False, desc="training")
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        total_loss, correct, count = 0.0, 0, 0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
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
            total_loss += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            count += len(y)
            bar.update(1)
        history.train_loss.append(total_loss / count)
        history.train_acc.append(correct / count)
        if val_data is not None:
            val_loss, val_acc = evaluate(model, val_data, device, loss_fn=loss_fn)
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
