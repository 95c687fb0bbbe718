"""Chapter 12's inductive-bias experiment: the small ViT against a CNN of equal parameters on 10%, 30% and
100% of Shapes10's training images, 3 seeds each, with the linear and MLP baselines.

    python scripts/bench_vit_data.py [--out cnnbook/benchmarks/shapes10_vit_data.json] [--quick]

Every run takes the same number of optimiser steps whatever its share of the data (epochs scale as 1/share),
so a smaller training set is not also a shorter training. Images are standardised with the statistics of the
images a run trains on. The chapter's own live runs (small CNN, 3 epochs; small ViT, 6 epochs; all 3,000
images) are repeated first: their accuracies must equal the chapter's, seed for seed, which proves the record
comes from the same data, recipe and code. About 5 CPU minutes on one thread.
``--quick`` trains on a tiny split for one epoch (a smoke test of the script, not a measurement).
"""
from __future__ import annotations

import argparse
import datetime
import platform
import time

import torch
from torch.utils.data import TensorDataset

import cnnbook
from cnnbook.data import Splits, load_shapes10, subset
from cnnbook.experiments import SEEDS, baselines, run_seeds, save_runs
from cnnbook.models import small_cnn, small_vit
from cnnbook.profile import count_params

OUT = "cnnbook/benchmarks/shapes10_vit_data.json"
SHARES = (0.1, 0.3, 1.0)
VIT = dict(patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128)  # chapter 12's small ViT
CNN_WIDTHS = (16, 32, 64, 96)  # small_cnn widened to the ViT's parameter count
RECIPE = dict(lr=2e-3, optimizer="adam", scheduler="cosine", batch_size=64, device="cpu")  # chapter 12's
CNN_EPOCHS, VIT_EPOCHS, BASELINE_EPOCHS = 3, 6, 3  # at the full training set, as in chapter 12


def standardised(splits: Splits) -> Splits:
    """Standardise every split with the channel statistics of the training images (as chapter 12 does)."""
    x = splits.train.tensors[0]
    mean, std = x.mean((0, 2, 3), keepdim=True), x.std((0, 2, 3), keepdim=True)
    return Splits(*(TensorDataset((d.tensors[0] - mean) / std, d.tensors[1]) for d in splits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=OUT)
    parser.add_argument("--quick", action="store_true", help="tiny split, one epoch: checks the script runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    raw = load_shapes10(n_train=60, n_val=20, n_test=20) if args.quick else load_shapes10()
    epochs = (lambda e, share: 1) if args.quick else (lambda e, share: round(e / share))
    runs, cpu_seconds, recipes = [], {}, {}

    def record(name: str, build, splits: Splits, n_epochs: int) -> None:
        start = time.process_time()
        runs.append(run_seeds(name, build, splits, seeds=SEEDS, epochs=n_epochs, **RECIPE))
        cpu_seconds[name], recipes[name] = round(time.process_time() - start, 1), dict(RECIPE, epochs=n_epochs)
        print(f"{name:44} {runs[-1].summary()}  {cpu_seconds[name]:.0f} CPU s", flush=True)

    full = standardised(raw)
    record("fingerprint: small CNN, chapter 12's run", small_cnn, full, epochs(CNN_EPOCHS, 1.0))
    record("fingerprint: small ViT, chapter 12's run", lambda: small_vit(**VIT), full, epochs(VIT_EPOCHS, 1.0))
    for share in SHARES:
        n = round(share * len(raw.train))
        train = raw.train if share == 1.0 else subset(raw.train, n, seed=0)
        splits = standardised(Splits(train, raw.val, raw.test))
        tag = f"{n} images"
        for kind, run in baselines(splits, num_classes=10, epochs=epochs(BASELINE_EPOCHS, share), hidden=128).items():
            run.name = f"{run.name}, {tag}"
            runs.append(run)
            print(f"{run.name:44} {run.summary()}", flush=True)
        record(f"CNN {'-'.join(map(str, CNN_WIDTHS))}, {tag}", lambda: small_cnn(widths=CNN_WIDTHS), splits,
               epochs(CNN_EPOCHS, share))
        record(f"small ViT, {tag}", lambda: small_vit(**VIT), splits, epochs(VIT_EPOCHS, share))
    save_runs(runs, args.out, shares=SHARES, recipes=recipes, quick=args.quick, cpu_seconds=cpu_seconds,
              params={"cnn": count_params(small_cnn(widths=CNN_WIDTHS)), "vit": count_params(small_vit(**VIT))},
              torch=torch.__version__, cnnbook=cnnbook.__version__, machine=platform.processor() or platform.machine(),
              date=datetime.date.today().isoformat())
    print("wrote", args.out)


if __name__ == "__main__":
    main()
