"""Environment helpers: versions, device choice and seeding."""
from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch


def get_device() -> torch.device:
    """Return the best available device: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


NUMERICS_PINS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
"""What `make` sets for the tests, benchmark and records: torch's own kernels, MKL and oneDNN all use AVX2 code,
so that an x86 CPU with AVX-512 rounds as one without it does and the committed numbers repeat on both."""


def cpu_numerics() -> str:
    """The CPU code path this process computes with: torch's vector instructions and any MKL/oneDNN pins.

    Two machines with the same torch and the same string add floating-point numbers in the same order; a
    different string (say AVX512 against AVX2) rounds differently, and training amplifies the difference.
    """
    pins = [f"{k}={os.environ[k]}" for k in ("MKL_CBWR", "ONEDNN_MAX_CPU_ISA") if os.environ.get(k)]
    return " ".join([torch.backends.cpu.get_cpu_capability(), *pins])


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (all devices) so that runs repeat exactly on the CPU."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def env_report(show: bool = True) -> dict[str, str]:
    """Collect (and by default print) the Python, torch, torchvision and cnnbook versions and the device."""
    import torchvision

    from cnnbook import __version__

    device = get_device()
    report = {
        "python": platform.python_version(),
        "torch": torch.__version__.split("+")[0],
        "torchvision": torchvision.__version__.split("+")[0],
        "cnnbook": __version__,
        "device": str(device) if device.type != "cuda" else f"cuda ({torch.cuda.get_device_name(0)})",
    }
    if show:
        print("  ".join(f"{k}={v}" for k, v in report.items()))
    return report
