"""Train the book's small CNN for a few steps with DistributedDataParallel, one process per CPU share or GPU.

    torchrun --nproc_per_node 2 -m cnnbook.ddp_train --steps 5 --global-batch 32 --out run.pt
    python -m torch.distributed.run --standalone --nproc_per_node 2 -m cnnbook.ddp_train ...

The same command runs on several GPUs: the backend is ``nccl`` when CUDA is available and ``gloo`` on the
CPU. Rank 0 saves the final parameters of each model (``--models``) and seed (``--seeds``), one vector each,
so they can be compared with a single process that took the same steps with the whole batch.

With ``--measure-batch G`` the workers then measure what data parallelism costs and buys (:func:`measure`):
images per second of one process with the whole global batch G against all processes with a share each,
the time of one all-reduce of the gradient, gradient accumulation with and without ``no_sync``, and a
rank-0 checkpoint (``--checkpoint``) that every rank loads back.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from cnnbook.distributed import (
    accumulated_gradient,
    convert_sync_batchnorm,
    destroy_distributed,
    init_distributed,
    per_rank_batch,
    save_checkpoint,
    step_seconds,
    time_allreduce,
    train_steps,
    unwrap,
)
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


def measure(data: torch.utils.data.TensorDataset, global_batch: int, steps: int = 10, rounds: int = 3,
            micro_batches: int = 4, checkpoint: str | None = None, seed: int = 0) -> dict:
    """In a gloo process group: speed of one process against all, all-reduce time, accumulation, checkpoint.

    Each round first times rank 0 alone on the whole global batch (the others wait), then every rank on its
    share under DDP, so the two are measured close together in time on the same machine.
    """
    if not dist.is_initialized():
        raise ValueError("measure needs a process group: start the script with torchrun")
    if dist.get_backend() != "gloo":
        raise ValueError(f"measure times CPU processes: it needs the gloo backend, got {dist.get_backend()!r}")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    local = per_rank_batch(global_batch, world_size)
    images, labels = data.tensors[0][:global_batch], data.tensors[1][:global_batch]
    if len(images) < global_batch:
        raise ValueError(f"the data set has {len(images)} examples, fewer than one global batch of {global_batch}")
    mine = slice(rank * local, (rank + 1) * local)
    set_seed(seed)
    alone = build_model("plain")
    set_seed(seed)
    ddp = DistributedDataParallel(build_model("plain"))
    one, every = [], []
    for _ in range(rounds):
        dist.barrier()
        if rank == 0:
            one.append(step_seconds(alone, images, labels, steps))
        dist.barrier()
        every.append(step_seconds(ddp, images[mine], labels[mine], steps))
    numel = sum(p.numel() for p in alone.parameters())
    allreduce_s = time_allreduce(numel)
    grads = {}
    for name, k, no_sync in [("one batch", 1, True), ("no_sync", micro_batches, True),
                             ("always sync", micro_batches, False)]:
        set_seed(seed)
        grads[name] = accumulated_gradient(build_model("plain"), images[mine], labels[mine], k, no_sync=no_sync)
    saved = {}
    if checkpoint is not None:
        saved["saved_here"] = save_checkpoint(ddp, checkpoint)
        state = torch.load(checkpoint, weights_only=True)  # after the barrier: the file is complete
        fresh = build_model("plain")
        fresh.load_state_dict(state)  # strict: the keys must match a plain model's
        same = torch.tensor(float(all(torch.equal(a, b) for a, b in zip(fresh.parameters(), unwrap(ddp).parameters()))))
        dist.all_reduce(same, op=dist.ReduceOp.MIN)
        saved.update(ddp_keys=list(ddp.state_dict())[:2], file_keys=list(state)[:2], all_ranks_equal=bool(same))
    return {"global_batch": global_batch, "steps": steps, "one_process_s": one, "all_processes_s": every,
            "numel": numel, "allreduce_s": allreduce_s, "micro_batches": micro_batches,
            "gradients": {k: g for k, (g, _) in grads.items()}, "allreduces": {k: n for k, (_, n) in grads.items()},
            "checkpoint": saved}


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
    parser.add_argument("--measure-batch", type=int, default=0, help="global batch of the measurements (0: none)")
    parser.add_argument("--measure-steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of one process, then all, alternating")
    parser.add_argument("--micro-batches", type=int, default=4, help="micro-batches of the accumulation check")
    parser.add_argument("--checkpoint", default=None, help="where rank 0 saves the measured model's state_dict")
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
        if args.measure_batch:
            result["measure"] = measure(data, args.measure_batch, args.measure_steps, args.rounds, args.micro_batches,
                                        args.checkpoint)
        if env.rank == 0:
            print(f"world size {env.world_size}, backend {result['backend']}, device {device}: trained "
                  f"{', '.join(args.models)} for {args.steps} steps of {args.global_batch} examples")
            if args.out:
                torch.save(result, args.out)
    finally:
        destroy_distributed()


if __name__ == "__main__":
    main()
