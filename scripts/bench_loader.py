"""How much of an epoch goes to batching: fit with a DataLoader against fit with TensorBatches (same batches).

    python scripts/bench_loader.py

One torch thread, Shapes10's 3,000 training images, batch 64, Adam; CPU seconds per epoch (median of 3
epochs) of the MLP, the small CNN and ResNet-20, and a check that both loaders give the same final weights.
"""
from __future__ import annotations

import statistics
import time

import torch

from cnnbook.data import load_shapes10, make_loader
from cnnbook.env import set_seed
from cnnbook.experiments import mlp_model
from cnnbook.models import cifar_resnet, small_cnn
from cnnbook.train import fit


def seconds_per_epoch(build, data, epochs: int = 3) -> tuple[float, torch.Tensor]:
    set_seed(0)
    model = build()
    times = []
    for epoch in range(epochs):  # one fit per epoch, so each is timed on its own CPU clock
        start = time.process_time()
        fit(model, data if not callable(data) else data(epoch), epochs=1, seed=epoch, device="cpu", progress=False)
        times.append(time.process_time() - start)
    return statistics.median(times), torch.cat([p.detach().flatten() for p in model.parameters()])


def main() -> None:
    torch.set_num_threads(1)
    train = load_shapes10().train
    builders = {"MLP (256)": lambda: mlp_model((3, 32, 32), 10, 256), "small CNN": lambda: small_cnn(10),
                "ResNet-20": lambda: cifar_resnet(20)}
    for name, build in builders.items():
        slow, w_slow = seconds_per_epoch(build, lambda epoch: make_loader(train, 64, shuffle=True, seed=epoch))
        fast, w_fast = seconds_per_epoch(build, train)
        same = torch.equal(w_slow, w_fast)
        print(f"{name:10} DataLoader {slow:5.2f} s/epoch   TensorBatches {fast:5.2f} s/epoch   "
              f"{slow / fast:4.2f}x   same weights: {same}", flush=True)
        assert same


if __name__ == "__main__":
    main()
