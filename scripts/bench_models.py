"""Compare the CPU forward time of each cnnbook model with torchvision's (budget: at most 5% slower).

    python scripts/bench_models.py [--size 224] [--repeats 15] [--threads 1] [--only vit_b_16 ...]

Both models get the same weights; runs alternate between the two so that machine noise hits both alike.
The ratio printed is our median time over torchvision's.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
import torchvision

from cnnbook import models

PAIRS = {
    "alexnet": {}, "vgg11_bn": {}, "vgg16": {}, "googlenet": {"aux_logits": False, "init_weights": False},
    "resnet18": {}, "resnet50": {}, "resnext50_32x4d": {}, "densenet121": {},
    "mobilenet_v2": {}, "mobilenet_v3_large": {}, "efficientnet_b0": {}, "convnext_tiny": {}, "vit_b_16": {},
}


def timed(model: torch.nn.Module, x: torch.Tensor) -> float:
    start = time.perf_counter()
    model(x)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", choices=sorted(PAIRS), help="time only these models")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x = torch.randn(1, 3, args.size, args.size)
    print(f"{'model':<18} {'ours ms':>8} {'tv ms':>8} {'ratio':>6}  budget (<= 1.05)")
    worst = 0.0
    with torch.no_grad():
        for name, kwargs in PAIRS.items():
            if args.only and name not in args.only:
                continue
            theirs = getattr(torchvision.models, name)(weights=None, **kwargs).eval()
            ours = models.load_torchvision_weights(getattr(models, name)(**kwargs), theirs).eval()
            for _ in range(2):
                ours(x), theirs(x)
            t_ours, t_theirs = [], []
            for _ in range(args.repeats):
                t_ours.append(timed(ours, x))
                t_theirs.append(timed(theirs, x))
            a, b = statistics.median(t_ours), statistics.median(t_theirs)
            worst = max(worst, a / b)
            print(f"{name:<18} {1000 * a:8.1f} {1000 * b:8.1f} {a / b:6.3f}  {'ok' if a / b <= 1.05 else 'OVER'}")
    return 0 if worst <= 1.05 else 1


if __name__ == "__main__":
    sys.exit(main())
