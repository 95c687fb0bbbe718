"""Train the book's small CNN for a few steps with DistributedDataParallel, one process per CPU share or GPU.

    torchrun --nproc_per_node 2 -m cnnbook.ddp_train --steps 5 --global-batch 32 --out run.pt
    python -m torch.distributed.run --standalone --nproc_per_node 2 -m cnnbook.ddp_train ...

The same command runs on several GPUs: the backend is ``nccl`` when CUDA is available and ``gloo`` on the
CPU. Rank 0 saves the final parameters of each model (``--models``) and seed (``--seeds``), one vector each,
so they can be compared with a single process that took the same steps with the whole batch.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.distributed as dist
from torch import nn

from cnnbook.distributed import convert_sync_batchnorm, destroy_distributed, init_distributed, train_steps
from cnnbook.env import set_seed

MODELS = ("plain", "batchnorm", "syncbn", "groupnorm")


def build_model(kind: str, image_size: int = 32) -> torch.nn.Module:
    """The chapter-1 CNN on RGB images: without normalization, with BatchNorm, SyncBatchNorm or GroupNorm."""
    from cnnbook.models.simple_cnn import simple_cnn

    if kind not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {kind!r}")
    model = simple_cnn(num_classes=10, in_channels=3, image_size=image_size, channels=(8, 16), hidden=32,
                       batch_norm=kind != "plain")
    if kind == "groupnorm":  # normalizes each example on its own: no statistics shared across the batch
        model.bn1, model.bn2 = nn.GroupNorm(4, model.channels[0]), nn.GroupNorm(4, model.channels[1])
    return convert_sync_batchnorm(model) if kind == "syncbn" else model


def load_data(path: str | None, n: int, image_size: int) -> torch.utils.data.TensorDataset:
    """The tensors saved at ``path`` (keys ``images``, ``labels``), or ``n`` freshly generated Shapes10 images."""
    if path is not None:
        saved = torch.load(path, weights_only=True)
        return torch.utils.data.TensorDataset(saved["images"], saved["labels"])
    from cnnbook.data import make_shapes10

    data = make_shapes10(n, image_size=image_size, seed=0)
    return torch.utils.data.TensorDataset(data.images, data.labels)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["plain"], choices=MODELS)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--global-batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed (initial weights, shuffle)")
    parser.add_argument("--data", default=None, help="a .pt file with images and labels (default: generate Shapes10)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--backend", default=None, choices=["gloo", "nccl"], help="default: nccl on GPUs, else gloo")
    parser.add_argument("--out", default=None, help="where rank 0 saves the parameters")
    parser.add_argument("--no-tf32", action="store_true", help="full float32 on GPUs (for exact comparisons)")
    args = parser.parse_args(argv)
    if args.no_tf32:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False

    env = init_distributed(args.backend)
    device = torch.device(f"cuda:{env.local_rank}") if dist.get_backend() == "nccl" else torch.device("cpu")
    try:
        data = load_data(args.data, args.steps * args.global_batch, args.image_size)
        result = {"world_size": env.world_size, "backend": dist.get_backend(), "device": str(device),
                  "global_batch": args.global_batch, "steps": args.steps, "seeds": args.seeds,
                  "params": {}, "seconds": {}}
        for kind in args.models:
            result["params"][kind], start = [], time.perf_counter()
            for seed in args.seeds:
                set_seed(seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
                model = build_model(kind, args.image_size)
                result["params"][kind].append(train_steps(model, data, args.global_batch, args.steps, args.lr,
                                                          seed=seed, device=device))
            result["seconds"][kind] = time.perf_counter() - start
        if env.rank == 0:
            print(f"world size {env.world_size}, backend {result['backend']}, device {device}: trained "
                  f"{', '.join(args.models)} for {args.steps} steps of {args.global_batch} examples")
            if args.out:
                torch.save(result, args.out)
    finally:
        destroy_distributed()


if __name__ == "__main__":
    main()
