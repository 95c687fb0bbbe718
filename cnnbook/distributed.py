"""Data-parallel training with PyTorch's own engine: small helpers around ``torch.distributed``.

Nothing here re-implements the engine. ``torchrun`` starts the processes and sets their environment,
``torch.distributed`` connects them (``gloo`` on the CPU, ``nccl`` on GPUs), ``DistributedDataParallel``
all-reduces the gradients and ``DistributedSampler`` gives each process its share of the data. The helpers
read that environment with clear errors, do the batch arithmetic, and train a few steps so that one
process with the whole batch and several with a share of it can be compared parameter by parameter.
``training_step_ms`` times one training step in float32, bfloat16 or float16 (``torch.autocast``), with or
without the ``channels_last`` layout: the per-GPU side of going faster.

The cost of communication (``ring_allreduce_values``, ``time_allreduce``, ``step_seconds``), gradient
accumulation under ``no_sync`` (``accumulated_gradient``), rank-0 checkpoints (``save_checkpoint``), the bias
that the sampler's padding puts into a distributed metric (``distributed_mean``), and SGD with the linear
warm-up of the large-batch recipe (``warmup_lr``, ``train_sgd``) complete the chapter's toolkit.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook
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


# --- The cost of communication -------------------------------------------------------------------------------


def ring_allreduce_values(numel: int, world_size: int) -> float:
    """Values each worker sends (and receives) in one ring all-reduce of ``numel`` values: 2 (W - 1) / W * N."""
    _positive_int(numel, "numel")
    _positive_int(world_size, "world_size")
    return 2 * (world_size - 1) / world_size * numel


def _require_group(what: str) -> None:
    if not (dist.is_available() and dist.is_initialized()):
        raise ValueError(f"{what} needs a process group: call init_distributed() (or dist.init_process_group) first")


def time_allreduce(numel: int, repeats: int = 20) -> float:
    """Median seconds of one ``dist.all_reduce`` of ``numel`` float32 values in the current process group."""
    _positive_int(numel, "numel")
    _positive_int(repeats, "repeats")
    _require_group("time_allreduce")
    tensor, times = torch.ones(numel), []
    dist.all_reduce(tensor)  # the first call sets up the connections: leave it out
    for _ in range(repeats):
        dist.barrier()  # start together, so that one rank does not time the other's lateness
        start = time.perf_counter()
        dist.all_reduce(tensor)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def step_seconds(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, steps: int = 10,
                 lr: float = 0.01) -> float:
    """Median seconds of one SGD step (forward, backward, update) of ``net`` on the given batch."""
    _positive_int(steps, "steps")
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"need as many labels as images, and at least one; got {len(images)} and {len(labels)}")
    optimizer, times = torch.optim.SGD(net.parameters(), lr=lr), []
    net.train()
    for i in range(steps + 1):  # the first step allocates buffers: leave it out
        start = time.perf_counter()
        loss = F.cross_entropy(net(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i:
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def accumulated_gradient(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, micro_batches: int,
                         no_sync: bool = True) -> tuple[torch.Tensor, int]:
    """The gradient of ``micro_batches`` accumulated micro-batches of this rank's ``images``, and the all-reduces.

    In a process group the model is wrapped in ``DistributedDataParallel``; with ``no_sync`` every backward but
    the last skips the all-reduce. Each micro-batch loss is divided by ``micro_batches``, so the result is the
    gradient of the mean loss over all ranks' images. Outside a group there is no all-reduce (count 0).
    """
    _positive_int(micro_batches, "micro_batches")
    if len(images) != len(labels) or len(images) % micro_batches:
        raise ValueError(f"need as many labels as images ({len(images)}, {len(labels)}), divisible into "
                         f"{micro_batches} equal micro-batches")
    distributed = dist.is_available() and dist.is_initialized()
    calls = [0]
    net = model
    if distributed:
        net = DistributedDataParallel(model)

        def counting_hook(state, bucket):  # no annotations: DDP checks them, and this module's are strings
            calls[0] += 1  # called once per bucket that DDP all-reduces
            return allreduce_hook(state, bucket)

        net.register_comm_hook(dist.group.WORLD, counting_hook)
    net.train()
    model.zero_grad()
    for i, (x, y) in enumerate(zip(images.chunk(micro_batches), labels.chunk(micro_batches))):
        last = i == micro_batches - 1
        context = net.no_sync() if distributed and no_sync and not last else nullcontext()
        with context:
            (F.cross_entropy(net(x), y) / micro_batches).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()]).detach().clone(), calls[0]


# --- DDP hygiene: checkpoints and evaluation ------------------------------------------------------------------


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside ``DistributedDataParallel`` (``model.module``), or ``model`` itself."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    return model.module if isinstance(model, DistributedDataParallel) else model


def save_checkpoint(model: nn.Module, path: str | Path) -> bool:
    """Save the unwrapped model's state_dict on rank 0 only, then wait for every rank; True on the saving rank.

    The keys carry no ``module.`` prefix, so the file loads into a plain model; the barrier keeps other ranks
    from reading the file before rank 0 has finished writing it.
    """
    state = unwrap(model).state_dict()
    distributed = dist.is_available() and dist.is_initialized()
    saving = not distributed or dist.get_rank() == 0
    if saving:
        torch.save(state, path)
    if distributed:
        dist.barrier()
    return saving


def distributed_mean(values: torch.Tensor, world_size: int, deduplicate: bool = False) -> float:
    """The mean of per-example ``values`` as ``world_size`` ranks compute it from ``DistributedSampler`` shares.

    Every rank takes its padded share (``shuffle=False``); the shares are gathered as ``all_gather`` would,
    with the example indices. Without ``deduplicate`` the padded repeats count twice (a biased mean); with it,
    each index counts once and the mean is exact.
    """
    _positive_int(world_size, "world_size")
    if not isinstance(values, torch.Tensor) or values.ndim != 1 or len(values) == 0:
        raise ValueError(f"values must be a non-empty 1-D tensor (one value per example), got "
                         f"{getattr(values, 'shape', type(values).__name__)}")
    data = torch.utils.data.TensorDataset(values)
    gathered = [i for r in range(world_size)
                for i in DistributedSampler(data, num_replicas=world_size, rank=r, shuffle=False)]
    if deduplicate:
        gathered = sorted(set(gathered))
    return values[torch.tensor(gathered)].double().mean().item()


# --- The learning rate for a larger batch ---------------------------------------------------------------------


def warmup_lr(step: int, peak_lr: float, warmup_steps: int, start_lr: float = 0.0) -> float:
    """The learning rate of ``step`` (0-based): a straight line from ``start_lr`` up to ``peak_lr``, then flat."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be a non-negative int, got {warmup_steps!r}")
    if not 0 <= start_lr <= peak_lr or peak_lr <= 0:
        raise ValueError(f"need 0 <= start_lr <= peak_lr and peak_lr > 0, got start_lr={start_lr}, peak_lr={peak_lr}")
    if step >= warmup_steps:
        return float(peak_lr)
    return start_lr + (peak_lr - start_lr) * (step + 1) / warmup_steps


def train_sgd(model: nn.Module, dataset: torch.utils.data.TensorDataset, batch_size: int, lr: float, epochs: int,
              warmup_steps: int = 0, momentum: float = 0.9, seed: int = 0) -> list[float]:
    """SGD with momentum and an optional linear warm-up from 0; return the loss of every step (one process).

    Each epoch takes a fresh seeded shuffle in batches of ``batch_size`` (the last incomplete one dropped). A
    loss that stops being finite ends the run, and is the last entry.
    """
    _positive_int(batch_size, "batch_size")
    _positive_int(epochs, "epochs")
    images, labels = dataset.tensors[:2]
    if len(images) < batch_size:
        raise ValueError(f"the data set has {len(images)} examples, fewer than one batch of {batch_size}")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    generator, losses = torch.Generator().manual_seed(seed), []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images) - batch_size + 1, batch_size):
            batch = order[start:start + batch_size]
            for group in optimizer.param_groups:
                group["lr"] = warmup_lr(len(losses), lr, warmup_steps)
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            losses.append(loss.item())
            if not torch.isfinite(loss):
                return losses
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return losses
