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
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from cnnbook import distributed as D
from cnnbook.ddp_train import build_model, load_data, measure
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
                          "--data", tmp_path / "data.pt", "--out", tmp_path / "out.pt", "--backend", "gloo",
                          "--measure-batch", "32", "--measure-steps", "2", "--rounds", "1", "--micro-batches", "2",
                          "--checkpoint", tmp_path / "ckpt.pt"], nproc=2)
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
    measured = result["measure"]
    assert len(measured["one_process_s"]) == len(measured["all_processes_s"]) == 1 and measured["allreduce_s"] > 0
    assert measured["allreduces"] == {"one batch": 1, "no_sync": 1, "always sync": 2}
    set_seed(0)
    model = build_model("plain")
    F.cross_entropy(model(data.tensors[0][:32]), data.tensors[1][:32]).backward()
    whole = torch.cat([p.grad.flatten() for p in model.parameters()])
    for name, grad in measured["gradients"].items():  # every rank's 16 images, as 1 or 2 micro-batches, all-reduced
        assert (grad - whole).abs().max() < 1e-6, name
    saved = measured["checkpoint"]
    assert saved["saved_here"] and saved["all_ranks_equal"]
    assert saved["ddp_keys"] == ["module.conv1.weight", "module.conv1.bias"]
    assert saved["file_keys"] == ["conv1.weight", "conv1.bias"]
    build_model("plain").load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=True))  # strict


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


@pytest.fixture
def group_of_one(tmp_path):
    """A one-process gloo group in this process (a file store: no port to find), left again afterwards."""
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        yield
    finally:
        D.destroy_distributed()


def test_ring_allreduce_values():
    assert D.ring_allreduce_values(1000, 1) == 0  # alone: nothing to send
    assert D.ring_allreduce_values(1000, 2) == 1000
    assert D.ring_allreduce_values(1000, 4) == 1500
    assert D.ring_allreduce_values(1000, 1000) == pytest.approx(1998)  # approaches 2N, whatever W
    for bad in [(0, 2), (10, 0), (10.0, 2), (True, 2)]:
        with pytest.raises(ValueError, match="positive int"):
            D.ring_allreduce_values(*bad)


def test_timing_helpers(group_of_one):
    assert 0 < D.time_allreduce(1000, repeats=3) < 1
    with pytest.raises(ValueError, match="repeats must be a positive int"):
        D.time_allreduce(1000, repeats=0)
    data = _data(8)
    assert D.step_seconds(build_model("plain"), *data.tensors, steps=2) > 0
    with pytest.raises(ValueError, match="as many labels as images"):
        D.step_seconds(build_model("plain"), data.tensors[0], data.tensors[1][:3])
    with pytest.raises(ValueError, match="steps must be a positive int"):
        D.step_seconds(build_model("plain"), *data.tensors, steps=0)


def test_time_allreduce_needs_a_group():
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="needs a process group"):
        D.time_allreduce(10)


def _whole_gradient(kind, images, labels):
    set_seed(0)
    model = build_model(kind)
    F.cross_entropy(model(images), labels).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def test_accumulated_gradient_without_a_group():
    images, labels = _data(16).tensors
    whole = _whole_gradient("plain", images, labels)
    set_seed(0)
    grad, calls = D.accumulated_gradient(build_model("plain"), images, labels, 4)
    assert calls == 0 and torch.allclose(grad, whole, rtol=0, atol=1e-7)
    set_seed(0)
    grad_bn, _ = D.accumulated_gradient(build_model("batchnorm"), images, labels, 4)
    assert (grad_bn - _whole_gradient("batchnorm", images, labels)).norm() > 1e-3  # per-micro-batch statistics
    with pytest.raises(ValueError, match="divisible into 3 equal micro-batches"):
        D.accumulated_gradient(build_model("plain"), images, labels, 3)
    with pytest.raises(ValueError, match="micro_batches must be a positive int"):
        D.accumulated_gradient(build_model("plain"), images, labels, 0)


def test_accumulated_gradient_counts_the_allreduces(group_of_one):
    images, labels = _data(16).tensors
    whole = _whole_gradient("plain", images, labels)
    for no_sync, expected_calls in [(True, 1), (False, 4)]:
        set_seed(0)
        grad, calls = D.accumulated_gradient(build_model("plain"), images, labels, 4, no_sync=no_sync)
        assert calls == expected_calls  # one bucket: one all-reduce per synchronised backward
        assert torch.allclose(grad, whole, rtol=0, atol=1e-7)


def test_unwrap_and_save_checkpoint(group_of_one, tmp_path):
    model = build_model("plain")
    wrapped = DistributedDataParallel(model)
    assert D.unwrap(wrapped) is model and D.unwrap(model) is model
    assert next(iter(wrapped.state_dict())).startswith("module.")
    assert D.save_checkpoint(wrapped, tmp_path / "ckpt.pt")  # rank 0 of 1: saves
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert list(state) == list(model.state_dict())  # no "module." prefix
    with pytest.raises(ValueError, match="nn.Module"):
        D.unwrap("model")


def test_save_checkpoint_without_a_group(tmp_path):
    assert D.save_checkpoint(build_model("plain"), tmp_path / "alone.pt")
    assert (tmp_path / "alone.pt").exists()


def test_distributed_mean_counts_the_padding_twice_unless_deduplicated():
    values = torch.tensor([1.0, 0.0, 0.0])
    # two ranks: indices padded to [0, 1, 2, 0]; example 0 counts twice
    assert D.distributed_mean(values, 2) == pytest.approx(0.5)
    assert D.distributed_mean(values, 2, deduplicate=True) == pytest.approx(1 / 3)
    assert D.distributed_mean(values, 3) == pytest.approx(1 / 3)  # divisible: no padding
    assert D.distributed_mean(values, 1) == pytest.approx(1 / 3)
    assert D.distributed_mean(values, 5, deduplicate=True) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="1-D tensor"):
        D.distributed_mean(torch.ones(2, 2), 2)
    with pytest.raises(ValueError, match="1-D tensor"):
        D.distributed_mean([1.0, 0.0], 2)
    with pytest.raises(ValueError, match="world_size must be a positive int"):
        D.distributed_mean(values, 0)


def test_warmup_lr():
    assert [D.warmup_lr(s, 0.4, 4) for s in range(6)] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])
    assert D.warmup_lr(0, 0.4, 0) == 0.4  # no warm-up
    assert D.warmup_lr(0, 0.4, 2, start_lr=0.2) == pytest.approx(0.3)
    for bad in [dict(step=-1), dict(warmup_steps=-1), dict(peak_lr=0.0), dict(start_lr=0.5), dict(step=1.0)]:
        args = {"step": 0, "peak_lr": 0.4, "warmup_steps": 2, **bad}
        with pytest.raises(ValueError):
            D.warmup_lr(**args)


def test_train_sgd():
    data = _data(40, size=16)
    set_seed(0)
    losses = D.train_sgd(build_model("plain", image_size=16), data, 16, 0.05, 3)
    assert len(losses) == 3 * (40 // 16) and all(torch.isfinite(torch.tensor(losses)))
    set_seed(0)
    warm = D.train_sgd(build_model("plain", image_size=16), data, 16, 0.05, 3, warmup_steps=3)
    assert warm[0] == losses[0] and warm[1:] != losses[1:]  # the same start, then a different path
    broken = torch.utils.data.TensorDataset(torch.full((32, 3, 16, 16), float("nan")), data.tensors[1][:32])
    blown = D.train_sgd(build_model("plain", image_size=16), broken, 16, 0.05, 3)
    assert len(blown) == 1 and not torch.isfinite(torch.tensor(blown[0]))  # stops at the first inf/nan
    with pytest.raises(ValueError, match="fewer than one batch"):
        D.train_sgd(build_model("plain", image_size=16), data, 64, 0.05, 1)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        D.train_sgd(build_model("plain", image_size=16), data, 16, 0.05, 0)


def test_measure_checks_its_setting(group_of_one, tmp_path):
    data = _data(16)
    result = measure(data, 8, steps=1, rounds=1, micro_batches=2, checkpoint=str(tmp_path / "m.pt"))
    assert result["allreduces"] == {"one batch": 1, "no_sync": 1, "always sync": 2}
    assert result["checkpoint"]["file_keys"] == ["conv1.weight", "conv1.bias"]
    with pytest.raises(ValueError, match="fewer than one global batch"):
        measure(data, 32)


def test_measure_needs_a_group():
    with pytest.raises(ValueError, match="needs a process group"):
        measure(_data(8), 8)
