"""Experiments that hold up: the same model trained over several seeds, baselines, and honest comparisons.

A claim "A beats B" is only as good as its spread over seeds. ``run_seeds`` trains a model once per
seed (initialisation and data order change, the data do not), ``baselines`` adds the linear and MLP
reference points every results table carries, and ``compare`` says in words whether a difference is
larger than the spread, so the prose cannot claim more than the numbers show.
"""
from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook.data import Splits
from cnnbook.env import set_seed
from cnnbook.models.simple_cnn import small_cnn
from cnnbook.profile import count_params
from cnnbook.train import History, evaluate, fit

SEEDS = (0, 1, 2)
"""The seeds every comparison in the book runs over."""


@dataclass
class SeedRuns:
    """Test accuracy (and training history) of one model configuration, once per seed."""

    name: str
    seeds: list[int] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    histories: list[History] = field(default_factory=list)
    params: int = 0
    extra: dict = field(default_factory=dict)  # what a record keeps beside the accuracies (recipe, MACs, seconds)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.test_acc)

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds (0 for a single seed)."""
        return statistics.stdev(self.test_acc) if len(self.test_acc) > 1 else 0.0

    @property
    def low(self) -> float:
        return min(self.test_acc)

    @property
    def high(self) -> float:
        return max(self.test_acc)

    def summary(self) -> str:
        """'0.812 ± 0.011 (0.801-0.824, 3 seeds)'."""
        return f"{self.mean:.3f} ± {self.std:.3f} ({self.low:.3f}-{self.high:.3f}, {len(self.test_acc)} seeds)"


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty sequence of non-negative ints, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds!r}")
    return seeds


def run_seeds(
    name: str,
    build: Callable[[], nn.Module],
    splits: Splits,
    seeds: Sequence[int] = SEEDS,
    **fit_kwargs,
) -> SeedRuns:
    """Build and train a fresh model per seed (``build`` is called after seeding) and test each one.

    ``fit_kwargs`` go to :func:`cnnbook.train.fit` (epochs, lr, ...); progress bars are off by default.
    """
    seeds = _check_seeds(seeds)
    if not callable(build):
        raise ValueError(f"build must be a function that returns a fresh nn.Module, got {type(build).__name__}")
    fit_kwargs.setdefault("progress", False)
    runs = SeedRuns(name)
    for seed in seeds:
        set_seed(seed)
        model = build()
        if not isinstance(model, nn.Module):
            raise ValueError(f"build() must return an nn.Module, got {type(model).__name__}")
        history = fit(model, splits.train, splits.val, seed=seed, **fit_kwargs)
        runs.seeds.append(seed)
        runs.histories.append(history)
        runs.test_acc.append(evaluate(model, splits.test, device=next(model.parameters()).device)[1])
        runs.params = count_params(model)
    return runs


_CURVES = ("train_loss", "train_acc", "val_loss", "val_acc")


def _history_json(h: History) -> dict:
    return {k: [round(v, 5) for v in getattr(h, k)] for k in _CURVES}


def save_runs(runs: Sequence[SeedRuns], path: str | Path, **meta: object) -> None:
    """Write runs (name, parameters, seeds, test accuracies and, where kept, per-epoch curves) and ``meta`` to JSON.

    Each run's ``extra`` dictionary (its recipe, MACs, CPU seconds: whatever the writer keeps) is written too.
    """
    if not runs or not all(isinstance(r, SeedRuns) for r in runs):
        raise ValueError("runs must be a non-empty sequence of SeedRuns")
    rows = []
    for r in runs:
        row = {"name": r.name, "params": r.params, "seeds": r.seeds, "test_acc": r.test_acc, **r.extra}
        if r.histories:
            row["histories"] = [_history_json(h) for h in r.histories]
        rows.append(row)
    text = json.dumps({"meta": meta, "runs": rows}, indent=1, default=str)
    # one line per list of numbers (a curve, a row of a confusion matrix): short files, readable diffs
    text = re.sub(r"\[\s+([-+.\deE,\s]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    Path(path).write_text(text + "\n")


def load_runs(path: str | Path) -> tuple[list[SeedRuns], dict]:
    """Read what :func:`save_runs` wrote: the runs (with their curves, where kept) and the meta dictionary."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read {path} as a file written by save_runs: {err}") from None
    try:
        runs = []
        for r in record["runs"]:
            extra = {k: v for k, v in r.items() if k not in ("name", "params", "seeds", "test_acc", "histories")}
            histories = [History(**{k: list(h[k]) for k in _CURVES}) for h in r.get("histories", [])]
            runs.append(SeedRuns(r["name"], list(r["seeds"]), list(r["test_acc"]), histories, r["params"], extra))
        meta = dict(record["meta"])
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{path} is not a file written by save_runs: {err!r}") from None
    if any(len(r.seeds) != len(r.test_acc) or not r.seeds for r in runs):
        raise ValueError(f"{path}: every run needs one test accuracy per seed")
    if any(r.histories and len(r.histories) != len(r.seeds) for r in runs):
        raise ValueError(f"{path}: a run that keeps curves needs one per seed")
    return runs, meta


def standardised(splits: Splits) -> Splits:
    """Every split standardised per channel with the mean and standard deviation of the *training* images."""
    x = splits.train.tensors[0]
    if x.ndim != 4:
        raise ValueError(f"standardised needs (N, C, H, W) images, got shape {tuple(x.shape)}")
    mean, std = x.mean((0, 2, 3), keepdim=True), x.std((0, 2, 3), keepdim=True)
    return Splits(*(TensorDataset((d.tensors[0] - mean) / std, *d.tensors[1:]) for d in splits))


def linear_model(input_shape: Sequence[int], num_classes: int) -> nn.Module:
    """Multinomial logistic regression on the raw pixels: flatten, then one linear layer."""
    features = _numel(input_shape)
    return nn.Sequential(nn.Flatten(), nn.Linear(features, num_classes))


def mlp_model(input_shape: Sequence[int], num_classes: int, hidden: int = 256) -> nn.Module:
    """A one-hidden-layer perceptron on the raw pixels (flatten, linear, ReLU, linear)."""
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise ValueError(f"hidden must be a positive int, got {hidden!r}")
    return nn.Sequential(nn.Flatten(), nn.Linear(_numel(input_shape), hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


def _check_positive(**counts: object) -> None:
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def pixel_linear(in_channels: int, num_classes: int) -> nn.Module:
    """Logistic regression on each pixel's channels alone (a 1x1 convolution): the linear segmentation yardstick."""
    _check_positive(in_channels=in_channels, num_classes=num_classes)
    return nn.Conv2d(in_channels, num_classes, 1)


def pixel_mlp(in_channels: int, num_classes: int, hidden: int = 256) -> nn.Module:
    """A one-hidden-layer perceptron on each pixel's channels alone (1x1 convolutions): the MLP segmentation yardstick."""
    _check_positive(in_channels=in_channels, num_classes=num_classes, hidden=hidden)
    return nn.Sequential(nn.Conv2d(in_channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, num_classes, 1))


def _numel(input_shape: Sequence[int]) -> int:
    shape = tuple(input_shape)
    if not shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape):
        raise ValueError(f"input_shape must be a tuple of positive ints such as (3, 32, 32), got {input_shape!r}")
    return int(torch.Size(shape).numel())


def baselines(
    splits: Splits,
    num_classes: int,
    seeds: Sequence[int] = SEEDS,
    epochs: int = 10,
    lr: float = 1e-3,
    hidden: int = 256,
) -> dict[str, SeedRuns]:
    """The linear and MLP baselines of every results table, trained with Adam on the same split."""
    input_shape = tuple(splits.train[0][0].shape)
    common = dict(seeds=seeds, epochs=epochs, lr=lr, batch_size=64, device="cpu")
    return {
        "linear": run_seeds("linear (logistic regression)", lambda: linear_model(input_shape, num_classes), splits, **common),
        "mlp": run_seeds(f"MLP ({hidden} hidden)", lambda: mlp_model(input_shape, num_classes, hidden), splits, **common),
    }


def yardstick_runs(
    splits: Splits,
    epochs: int,
    cnn_epochs: int,
    num_classes: int = 10,
    seeds: Sequence[int] | None = None,
    hidden: int = 256,
) -> list[SeedRuns]:
    """The three yardsticks of every live results table, over ``seeds`` (default: ``SEEDS``): [linear, MLP, small CNN].

    The linear model and the MLP train on standardised pixels (:func:`standardised`) with Adam at 1e-3 for
    ``epochs``; the data card's small CNN trains on ``splits`` as they are with its recipe (Adam, lr 3e-3,
    cosine, batch 64) for ``cnn_epochs``. The reference runs carry the same three arms
    (:func:`cnnbook.records.yardsticks`).
    """
    seeds = SEEDS if seeds is None else seeds
    channels = splits.train.tensors[0].shape[1]
    base = baselines(standardised(splits), num_classes, seeds=seeds, epochs=epochs, hidden=hidden)
    cnn = run_seeds(f"small CNN, {cnn_epochs} epoch" + ("s" if cnn_epochs != 1 else ""), lambda: small_cnn(num_classes, in_channels=channels), splits,
                    seeds=seeds, epochs=cnn_epochs, lr=3e-3, scheduler="cosine", batch_size=64, device="cpu")
    return [replace(base["linear"], name="linear (standardised pixels)"),
            replace(base["mlp"], name=f"MLP, {hidden} hidden (standardised pixels)"), cnn]


def separated(a: SeedRuns, b: SeedRuns) -> bool:
    """True if every seed of ``a`` scored above every seed of ``b`` (the gap exceeds the spread)."""
    if not a.test_acc or not b.test_acc:
        raise ValueError("both runs need at least one seed")
    return a.low > b.high


def compare(a: SeedRuns, b: SeedRuns) -> str:
    """One honest sentence about ``a`` against ``b``: a clear win, a clear loss, or within the spread."""
    gap = a.mean - b.mean
    if separated(a, b):
        return f"{a.name} beats {b.name} on every seed: {a.mean:.3f} vs {b.mean:.3f} (gap {gap:+.3f}, worst {a.name} seed {a.low:.3f} > best {b.name} seed {b.high:.3f})"
    if separated(b, a):
        return f"{b.name} beats {a.name} on every seed: {b.mean:.3f} vs {a.mean:.3f} (gap {-gap:+.3f}, worst {b.name} seed {b.low:.3f} > best {a.name} seed {a.high:.3f})"
    return (f"{a.name} vs {b.name}: {a.mean:.3f} vs {b.mean:.3f} (gap {gap:+.3f}); the seed ranges "
            f"{a.low:.3f}-{a.high:.3f} and {b.low:.3f}-{b.high:.3f} overlap, so this run cannot order them")


def results_table(runs: Sequence[SeedRuns], metric: str = "test accuracy") -> str:
    """A Markdown table: model, parameters, mean ± std of ``metric`` (what ``test_acc`` holds), min-max over seeds."""
    if not runs:
        raise ValueError("results_table needs at least one SeedRuns")
    lines = [f"| model | parameters | {metric} (mean ± std) | min-max over seeds | seeds |",
             "|---|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(f"| {r.name} | {r.params:,} | {r.mean:.3f} ± {r.std:.3f} | {r.low:.3f}-{r.high:.3f} | {len(r.seeds)} |")
    return "\n".join(lines)


def plot_runs(runs: Sequence[SeedRuns], ax: plt.Axes | None = None, title: str | None = None) -> Figure:
    """Mean test accuracy per model as a bar, each seed as a dot, the min-max range as an error bar."""
    if not runs:
        raise ValueError("plot_runs needs at least one SeedRuns")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(runs)), 3.2))
    for i, r in enumerate(runs):
        ax.bar(i, r.mean, color=f"C{i}", alpha=0.6)
        # max(0, ...): with identical seeds, mean - low can come out as -1e-17 in floating point
        ax.errorbar(i, r.mean, yerr=[[max(0.0, r.mean - r.low)], [max(0.0, r.high - r.mean)]], color="k", capsize=4)
        ax.scatter([i] * len(r.test_acc), r.test_acc, color="k", s=12, zorder=3)
    ax.set_xticks(range(len(runs)), [r.name for r in runs], rotation=20, ha="right", fontsize=9)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure


def plot_curves(runs: Sequence[SeedRuns], metric: str = "train_loss", ax: plt.Axes | None = None,
                title: str | None = None, log: bool = False) -> Figure:
    """Learning curves: per run the mean over seeds of a per-epoch metric, with a band from the lowest to the
    highest seed ('train_loss', 'train_acc', 'val_loss' or 'val_acc')."""
    if metric not in _CURVES:
        raise ValueError(f"metric must be one of {_CURVES}, got {metric!r}")
    if not runs or any(not r.histories for r in runs):
        raise ValueError("plot_curves needs runs that keep their per-epoch histories")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.4))
    for i, r in enumerate(runs):
        values = torch.tensor([getattr(h, metric) for h in r.histories])
        epochs = range(1, values.shape[1] + 1)
        ax.plot(epochs, values.mean(0), color=f"C{i}", label=f"{r.name} ({len(r.histories)} seeds)")
        ax.fill_between(epochs, values.min(0).values, values.max(0).values, color=f"C{i}", alpha=0.2, lw=0)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " ").replace("acc", "accuracy").replace("val", "validation"))
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    ax.figure.tight_layout()
    return ax.figure
