"""Shapes10 at a longer budget than a chapter can afford: the small CNN against a full-width ResNet-20.

    python scripts/bench_shapes10.py [--out cnnbook/benchmarks/shapes10_resnet20.json] [--quick]

First the small CNN with exactly the data card's recipe (Adam, lr 3e-3, cosine, 6 epochs, batch 64, seeds 0-2,
one thread, the default split): its accuracies must equal the ones the card computes live, which proves the
record comes from the same data and code. Then both networks with the same recipe at twice the epochs.
About 10 CPU minutes.
``--quick`` trains on a tiny split for one epoch (a smoke test of the script, not a measurement).
"""
from __future__ import annotations

import argparse
import datetime
import platform
import time

import torch

import cnnbook
from cnnbook.data import load_shapes10
from cnnbook.experiments import SEEDS, run_seeds, save_runs
from cnnbook.models import cifar_resnet, small_cnn
from cnnbook.profile import macs

OUT = "cnnbook/benchmarks/shapes10_resnet20.json"
RECIPE = dict(epochs=6, lr=3e-3, scheduler="cosine", device="cpu")  # the data card's small-CNN recipe
LONG = dict(RECIPE, epochs=12)
RUNS = {  # name: (builder, recipe)
    "small CNN (GAP head)": (lambda: small_cnn(10), RECIPE),
    "small CNN, 12 epochs": (lambda: small_cnn(10), LONG),
    "ResNet-20 (width 16), 12 epochs": (lambda: cifar_resnet(20), LONG),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=OUT)
    parser.add_argument("--quick", action="store_true", help="tiny split, one epoch: checks the script runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    splits = load_shapes10(n_train=60, n_val=20, n_test=20) if args.quick else load_shapes10()
    runs, cpu_seconds, model_macs, recipes = [], {}, {}, {}
    for name, (build, recipe) in RUNS.items():
        recipes[name] = recipe = dict(recipe, epochs=1) if args.quick else recipe
        start = time.process_time()
        runs.append(run_seeds(name, build, splits, seeds=SEEDS, **recipe))
        cpu_seconds[name] = round(time.process_time() - start, 1)
        model_macs[name] = macs(build(), (3, 32, 32))
        print(f"{name:24} {runs[-1].summary()}  {cpu_seconds[name]:.0f} CPU s for {len(SEEDS)} seeds", flush=True)
    save_runs(runs, args.out, recipes=recipes, quick=args.quick, cpu_seconds=cpu_seconds, macs=model_macs,
              torch=torch.__version__, cnnbook=cnnbook.__version__, machine=platform.processor() or platform.machine(),
              date=datetime.date.today().isoformat())
    print("wrote", args.out)


if __name__ == "__main__":
    main()
