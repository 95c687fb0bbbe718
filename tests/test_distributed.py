"""cnnbook.distributed and cnnbook.ddp_train: batch arithmetic, environment errors, and the DDP step itself.

The central test launches two real processes with torchrun on the gloo backend and checks that they end
where one process with the whole batch ends (about 10-15 s of CPU, most of it the workers importing torch).
"""
from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
from torch import nn

from cnnbook import distributed as D
from cnnbook.ddp_train import build_model, load_data
from cnnbook.env import set_seed


def test_per_rank_batch_divides_and_rejects_what_does_not():
    assert D.per_rank_batch(256, 8) == 32
    assert D.per_rank_batch(7, 1) == 7
    with pytest.raises(ValueError, match=r"global batch \(30\) must be divisible by the world size \(4\).*28 or 32"):
        D.per_rank_batch(30, 4)
    for bad in [(0, 2), (32, 0), (32.0, 2), (True, 1), (-8, 2)]:
        with pytest.raises(ValueError, match="positive int"):
            D.per_rank_batch(*bad)


def test_scaled_lr_is_linear_in_the_global_batch():
    assert D.scaled_lr(0.1, 256) == pytest.approx(0.1)
    assert D.scaled_lr(0.1, 8192) == pytest.approx(3.2)  # Goyal et al.: 32 x 256 images, lr 0.1 x 32
    assert D.scaled_lr(0.05, 64, base_batch=32) == pytest.approx(0.1)
    for bad in [(0, 256), (-0.1, 256), ("0.1", 256), (0.1, 0)]:
        with pytest.raises(ValueError):
            D.scaled_lr(*bad)


def test_read_env_names_the_missing_variables_and_checks_values():
    good = {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    assert D.read_env(good) == D.DistEnv(rank=1, local_rank=1, world_size=2)
    with pytest.raises(ValueError, match=r"missing environment variables \['WORLD_SIZE', 'MASTER_PORT'\].*torchrun"):
        D.read_env({k: v for k, v in good.items() if k not in ("WORLD_SIZE", "MASTER_PORT")})
    with pytest.raises(ValueError, match="must be integers"):
        D.read_env({**good, "RANK": "one"})
    with pytest.raises(ValueError, match="0 <= RANK < WORLD_SIZE"):
        D.read_env({**good, "RANK": "2"})


def test_backends(monkeypatch):
    assert D.check_backend("gloo") == "gloo"
    with pytest.raises(ValueError, match=r"backend must be one of \('gloo', 'nccl'\), got 'mpi'"):
        D.check_backend("mpi")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert D.default_backend() == "gloo"
    with pytest.raises(ValueError, match="nccl' needs CUDA"):
        D.check_backend("nccl")


def test_init_distributed_without_torchrun_is_a_clear_error(monkeypatch):
    for name in D.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="start this process with torchrun"):
        D.init_distributed("gloo")
    with pytest.raises(ValueError, match="backend must be one of"):
        D.init_distributed("tcp")
    assert not dist.is_initialized()


def test_rank_batches_split_each_global_batch_between_the_ranks():
    data = torch.utils.data.TensorDataset(torch.arange(50))
    whole = [b[0].tolist() for b in D.rank_batches(data, 12, 1, 0, seed=3, epoch=1)]
    shares = [[b[0].tolist() for b in D.rank_batches(data, 12, 3, r, seed=3, epoch=1)] for r in range(3)]
    assert len(whole) == 4 and all(len(s) == 4 for s in shares)  # 50 // 12 global batches of 4 + 4 + 4
    for step, batch in enumerate(whole):
        assert sorted(batch) == sorted(sum((s[step] for s in shares), []))  # the ranks share exactly that batch
    everything = sum(whole, [])
    assert len(set(everything)) == 48 and everything != sorted(everything)  # shuffled, no example twice


def test_convert_sync_batchnorm():
    model = D.convert_sync_batchnorm(build_model("batchnorm"))
    assert sum(isinstance(m, nn.SyncBatchNorm) for m in model.modules()) == 2
    assert not any(type(m) is nn.BatchNorm2d for m in model.modules())
    with pytest.raises(ValueError, match="no BatchNorm layer"):
        D.convert_sync_batchnorm(build_model("plain"))
    with pytest.raises(TypeError, match="nn.Module"):
        D.convert_sync_batchnorm("resnet")
    grouped = build_model("groupnorm")
    assert sum(isinstance(m, nn.GroupNorm) for m in grouped.modules()) == 2
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in grouped.modules())
    with pytest.raises(ValueError, match="model must be one of"):
        build_model("layernorm")


def _data(n=64, size=32):
    g = torch.Generator().manual_seed(0)
    images, labels = torch.rand(n, 3, size, size, generator=g), torch.randint(0, 10, (n,), generator=g)
    return torch.utils.data.TensorDataset(images, labels)


def test_train_steps_checks_its_input():
    data = _data(8)
    with pytest.raises(ValueError, match="fewer than one global batch"):
        D.train_steps(build_model("plain"), data, 16, 1, 0.1)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        D.train_steps(build_model("plain"), data, 4, 0, 0.1)


def test_train_steps_in_a_group_of_one_equals_no_group(monkeypatch):
    """DDP with one process takes exactly the plain step; more steps than one epoch reshuffle the same way."""
    data = _data(40)
    set_seed(0)
    alone = D.train_steps(build_model("batchnorm"), data, 16, 3, 0.05)  # 2 batches per epoch: 3 steps span 2 epochs
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert D.init_distributed("gloo") == D.DistEnv(0, 0, 1)
    try:
        set_seed(0)
        grouped = D.train_steps(build_model("batchnorm"), data, 16, 3, 0.05)
    finally:
        D.destroy_distributed()
    assert not dist.is_initialized()
    assert torch.allclose(alone, grouped, rtol=0, atol=1e-6)


def test_two_gloo_processes_take_the_single_process_step(tmp_path):
    data = _data(96)
    torch.save({"images": data.tensors[0], "labels": data.tensors[1]}, tmp_path / "data.pt")
    run = D.run_torchrun(["--models", "plain", "batchnorm", "groupnorm", "--steps", "3", "--global-batch", "32",
                          "--data", tmp_path / "data.pt", "--out", tmp_path / "out.pt", "--backend", "gloo"], nproc=2)
    assert "world size 2, backend gloo" in run["stdout"]
    result = torch.load(tmp_path / "out.pt", weights_only=True)
    assert result["world_size"] == 2 and result["backend"] == "gloo"
    same_data = load_data(str(tmp_path / "data.pt"), 0, 32)
    for kind in ("plain", "batchnorm", "groupnorm"):
        set_seed(0)
        single = D.train_steps(build_model(kind), same_data, 32, 3, 0.05)
        gap = (single - result["params"][kind][0]).abs().max().item()
        if kind != "batchnorm":
            assert gap < 1e-6  # the same step, up to the order in which float32 sums the gradients
        else:
            assert gap > 1e-4  # per-rank BatchNorm statistics: a different step


def test_run_torchrun_reports_a_failing_worker(monkeypatch):
    import subprocess

    failed = subprocess.CompletedProcess([], 1, stdout="", stderr="FileNotFoundError: missing.pt")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: failed)  # a real failing launch costs ~14 s
    with pytest.raises(RuntimeError, match=r"torchrun exited with 1:(.|\n)*missing.pt"):
        D.run_torchrun(["--data", "missing.pt"], nproc=1)
    with pytest.raises(ValueError, match="nproc must be a positive int"):
        D.run_torchrun([], nproc=0)


def test_training_step_ms_precisions():
    model = build_model("batchnorm")
    assert D.training_step_ms(model, (3, 32, 32), batch_size=4, precision="bf16", channels_last=True,
                              device="cpu", warmup=0, repeats=1) > 0
    with pytest.raises(ValueError, match="precision must be one of"):
        D.training_step_ms(model, (3, 32, 32), precision="int8")
    with pytest.raises(ValueError, match="input_size"):
        D.training_step_ms(model, (32, 32))
