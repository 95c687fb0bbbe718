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
"""What `make` sets for the tests, benchmark and records: torch's own kernels, MKL and oneDNN all use AVX2 code.

This narrows the differences between CPUs but does not remove them: MKL follows the pin only on Intel CPUs (on
others it keeps its own choice), and oneDNN's convolutions sum in an order that can depend on the processor, so
an AMD EPYC and an Intel Xeon, both pinned, round the same training differently."""


def cpu_model() -> str:
    """The processor: its model name and, on x86 Linux, vendor, family and model number (empty parts left out)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if not line.strip():
                    break  # the first processor describes them all
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    detail = " ".join(f"{label} {fields[key]}" if label else fields[key]
                      for key, label in (("vendor_id", ""), ("cpu family", "family"), ("model", "model"))
                      if fields.get(key))
    return f"{name} ({detail})" if detail else name


TRAINING_LAYOUT = "channels-last"
"""How :mod:`cnnbook.train` stores a convolutional network's weights and images on the CPU
(:class:`cnnbook.train.ChannelsLast`): it decides the order of the sums, so it is part of the code path."""
TRAINING_DENORMALS = "denormals-as-zero"
"""How :mod:`cnnbook.train` trains on the CPU with numbers below float32's normal range
(:func:`cnnbook.train.denormals_as_zero`): where a run meets them, its results depend on it."""


def cpu_numerics() -> str:
    """The CPU code path this process computes with: torch's vector instructions, the MKL/oneDNN pins, the layout
    :mod:`cnnbook.train` trains in and its handling of denormal numbers, the CPU.

    Two processes with the same torch and the same string add floating-point numbers in the same order. A
    different string (AVX512 against AVX2, or another processor) may round differently, and training amplifies
    the difference: the same seed then reaches other accuracies.
    """
    pins = [f"{k}={os.environ[k]}" for k in ("MKL_CBWR", "ONEDNN_MAX_CPU_ISA") if os.environ.get(k)]
    return " ".join([torch.backends.cpu.get_cpu_capability(), *pins, TRAINING_LAYOUT, TRAINING_DENORMALS, "on",
                     cpu_model()])


def executed_with() -> str:
    """What a notebook's committed outputs depend on: the torch version and the CPU code path."""
    return f"torch {torch.__version__.split('+')[0]}, {cpu_numerics()}"


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
