"""Data-parallel training with PyTorch's own engine: small helpers around ``torch.distributed``.

Nothing here re-implements the engine. ``torchrun`` starts the processes and sets their environment,
``torch.distributed`` connects them (``gloo`` on the CPU, ``nccl`` on GPUs), ``DistributedDataParallel``
all-reduces the gradients and ``DistributedSampler`` gives each process its share of the data. The helpers
read that environment with clear errors, do the batch arithmetic, and train a few steps so that one
process with the whole batch and several with a share of it can be compared parameter by parameter.
``training_step_ms`` times one training step in float32, bfloat16 or float16 (``torch.autocast``), with or
without the ``channels_last`` layout: the per-GPU side of going faster.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.nn.utils import parameters_to_vector
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

BACKENDS = ("gloo", "nccl")
ENV_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits: its global rank, its rank on this machine, and how many processes there are."""

    rank: int
    local_rank: int
    world_size: int


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def read_env(environ: dict[str, str] | None = None) -> DistEnv:
    """Read the rank, local rank and world size that ``torchrun`` puts in each worker's environment."""
    environ = os.environ if environ is None else environ
    missing = [name for name in ENV_VARS if name not in environ]
    if missing:
        raise ValueError(f"missing environment variables {missing}: start this process with torchrun "
                         f"(e.g. `torchrun --nproc_per_node 2 -m cnnbook.ddp_train`), which sets {list(ENV_VARS)}")
    try:
        rank, local_rank, world_size = (int(environ[k]) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))
    except ValueError as err:
        raise ValueError(f"RANK, LOCAL_RANK and WORLD_SIZE must be integers, got "
                         f"{[environ[k] for k in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE')]}") from err
    if world_size < 1 or not 0 <= rank < world_size or local_rank < 0:
        raise ValueError(f"need 0 <= RANK < WORLD_SIZE and LOCAL_RANK >= 0, got RANK={rank}, "
                         f"LOCAL_RANK={local_rank}, WORLD_SIZE={world_size}")
    return DistEnv(rank, local_rank, world_size)


def default_backend() -> str:
    """``nccl`` when CUDA is available (one GPU per process), otherwise ``gloo`` (the CPU)."""
    return "nccl" if torch.cuda.is_available() else "gloo"


def check_backend(backend: str) -> str:
    """Return ``backend`` if it is one this book uses and the machine can run, else raise ValueError."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "nccl" and not torch.cuda.is_available():
        raise ValueError("backend 'nccl' needs CUDA GPUs and none is available here; use 'gloo' on the CPU")
    return backend


def init_distributed(backend: str | None = None) -> DistEnv:
    """Join the process group that ``torchrun`` set up (``backend`` None: :func:`default_backend`)."""
    backend = check_backend(default_backend() if backend is None else backend)
    env = read_env()
    if backend == "nccl":
        torch.cuda.set_device(env.local_rank)  # one GPU per process, chosen by its rank on this machine
    dist.init_process_group(backend, rank=env.rank, world_size=env.world_size)
    return env


def destroy_distributed() -> None:
    """Leave the process group (a no-op when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def per_rank_batch(global_batch: int, world_size: int) -> int:
    """Each process's batch size when ``world_size`` processes share a global batch of ``global_batch``."""
    _positive_int(global_batch, "global_batch")
    _positive_int(world_size, "world_size")
    if global_batch % world_size:
        lower = global_batch - global_batch % world_size
        raise ValueError(f"the global batch ({global_batch}) must be divisible by the world size ({world_size}), "
                         f"so that every process gets the same number of examples; try {lower} or {lower + world_size}")
    return global_batch // world_size


def scaled_lr(base_lr: float, global_batch: int, base_batch: int = 256) -> float:
    """The linear scaling rule of Goyal et al. (2017): the learning rate grows with the global batch."""
    if isinstance(base_lr, bool) or not isinstance(base_lr, (int, float)) or not base_lr > 0:
        raise ValueError(f"base_lr must be a positive number, got {base_lr!r}")
    _positive_int(global_batch, "global_batch")
    _positive_int(base_batch, "base_batch")
    return base_lr * global_batch / base_batch


def convert_sync_batchnorm(model: nn.Module) -> nn.Module:
    """Replace every BatchNorm layer by ``nn.SyncBatchNorm`` (statistics over the global batch; CUDA only)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise ValueError(f"{type(model).__name__} has no BatchNorm layer to convert")
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


def rank_batches(dataset: Dataset, global_batch: int, world_size: int, rank: int, seed: int = 0,
                 epoch: int = 0) -> DataLoader:
    """This rank's batches of one epoch: a ``DistributedSampler`` share, in per-rank batches."""
    local = per_rank_batch(global_batch, world_size)
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True)
    sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
    return DataLoader(dataset, batch_size=local, sampler=sampler, drop_last=True)


def train_steps(model: nn.Module, dataset: Dataset, global_batch: int, steps: int, lr: float, seed: int = 0,
                device: torch.device | str | None = None) -> torch.Tensor:
    """Train ``steps`` SGD steps on global batches of ``global_batch``; return the parameters as one vector.

    Inside a process group the model is wrapped in ``DistributedDataParallel`` and each rank sees its
    ``DistributedSampler`` share; outside one it is a single process with the whole batch.
    """
    _positive_int(steps, "steps")
    distributed = dist.is_available() and dist.is_initialized()
    world_size, rank = (dist.get_world_size(), dist.get_rank()) if distributed else (1, 0)
    per_rank_batch(global_batch, world_size)
    if len(dataset) < global_batch:
        raise ValueError(f"the data set has {len(dataset)} examples, fewer than one global batch of {global_batch}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    model = model.to(device)
    net = model
    if distributed:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    net.train()
    done, epoch = 0, 0
    while done < steps:
        for x, y in rank_batches(dataset, global_batch, world_size, rank, seed=seed, epoch=epoch):
            loss = F.cross_entropy(net(x.to(device)), y.to(device))  # the mean over this rank's share
            optimizer.zero_grad()
            loss.backward()  # DDP averages the gradients over the ranks here: the mean over the global batch
            optimizer.step()
            done += 1
            if done == steps:
                break
        epoch += 1
    return parameters_to_vector(model.parameters()).detach().cpu()


def run_torchrun(script_args: list[str], nproc: int = 2, module: str = "cnnbook.ddp_train",
                 timeout: float = 300.0, threads: int = 1) -> dict:
    """Launch ``python -m torch.distributed.run --standalone --nproc_per_node nproc -m module *script_args``.

    Returns the wall time and the launcher's and workers' CPU seconds; raises RuntimeError with the
    workers' output when the run fails.
    """
    _positive_int(nproc, "nproc")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", module, *map(str, script_args)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    before, start = os.times(), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    wall, after = time.perf_counter() - start, os.times()
    if done.returncode:
        raise RuntimeError(f"torchrun exited with {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"wall_s": wall, "cpu_s": cpu, "stdout": done.stdout, "stderr": done.stderr}


PRECISIONS = ("fp32", "bf16", "fp16")


def training_step_ms(model: nn.Module, input_size: tuple[int, int, int], batch_size: int = 64,
                     precision: str = "fp32", channels_last: bool = False, device: torch.device | str | None = None,
                     warmup: int = 2, repeats: int = 5, num_classes: int = 10) -> float:
    """Median milliseconds of one SGD step (forward, backward, update) on random data.

    ``precision``: ``fp32``; ``bf16`` (``torch.autocast`` with bfloat16); ``fp16`` (autocast with float16 and a
    ``GradScaler`` that keeps small gradients from underflowing). ``channels_last`` stores images and weights
    as NHWC, the layout that GPU tensor cores prefer.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    _positive_int(batch_size, "batch_size")
    _positive_int(repeats, "repeats")
    if len(input_size) != 3:
        raise ValueError(f"input_size must be (channels, height, width), got {input_size!r}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format).train()
    x = torch.randn(batch_size, *input_size, device=device).contiguous(memory_format=memory_format)
    y = torch.randint(0, num_classes, (batch_size,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    for i in range(warmup + repeats):
        sync()
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]
