"""Execute each chapter notebook in a fresh kernel and report its wall time and peak memory.

    python scripts/bench_notebooks.py [--write] [notebooks/NN_name.ipynb ...]

With --write the executed notebook is saved in place: that is how chapters are committed executed.
A fixed one-thread workload is timed before and after (:func:`reference_step_ms`): this VM's speed drifts by
15-20% over hours. It is a rough gauge: two benches of one commit differed by 19% while it read about the same,
so compare benches of one commit before reading a difference between two commits.
Budgets (BOOK_GUIDE): 60 s and 4 GB per notebook, 15 minutes for the whole book, on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
import torch
from nbclient import NotebookClient

from cnnbook.distributed import step_seconds
from cnnbook.env import executed_with
from cnnbook.models import small_cnn

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S, BUDGET_GB, BOOK_BUDGET_S = 60.0, 4.0, 15 * 60.0


def _watch_peak(client: NotebookClient, stop: threading.Event, peak: list[int], cpu: list[float]) -> None:
    """Track the kernel's peak memory and its CPU seconds (user + system, finished and running children included)."""
    while not stop.is_set():
        pid = getattr(getattr(client, "km", None), "provisioner", None)
        pid = getattr(getattr(pid, "process", None), "pid", None)
        if pid:
            try:
                proc = psutil.Process(pid)
                procs = [proc, *proc.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in procs))
                # children_*: processes already finished and reaped (a torchrun launch), which `procs` no longer lists
                cpu[0] = max(cpu[0], sum(sum(p.cpu_times()[:4]) for p in procs))
            except psutil.Error:
                pass
        time.sleep(0.2)


KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
"""The kernel every chapter is saved with: the one ipykernel installs into the book's .venv."""


def run(path: Path, write: bool) -> tuple[float, float, float]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    stop, peak, cpu = threading.Event(), [0], [0.0]
    watcher = threading.Thread(target=_watch_peak, args=(client, stop, peak, cpu), daemon=True)
    watcher.start()
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        stop.set()
    seconds = time.perf_counter() - start
    watcher.join()
    if write:
        nb.metadata["kernelspec"] = KERNELSPEC  # as JupyterLab names the kernel: the notebook opens unmodified
        nb.metadata.setdefault("cnnbook", {})["executed_with"] = executed_with()  # see tests/nbval_machine.py
        nbformat.write(nb, path)
    return seconds, peak[0] / 2**30, cpu[0]


def reference_step_ms() -> float:
    """Milliseconds of a fixed workload on one thread: the median SGD step of the small CNN on a batch of 64 random
    32x32 images. Printed before and after the notebooks, it shows how fast this machine ran at the time, so that
    benches from different days (or a machine whose speed drifts) can be compared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        images, labels = torch.randn(64, 3, 32, 32, generator=gen), torch.randint(0, 10, (64,), generator=gen)
        torch.manual_seed(0)
        return 1e3 * step_seconds(small_cnn(10), images, labels, steps=40)
    finally:
        torch.set_num_threads(threads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--write", action="store_true", help="save the executed notebooks in place")
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    total, failed = 0.0, False
    # CPU seconds barely depend on what else the machine runs; on a one-thread notebook they approach the wall
    # time of a quiet machine, so they are the number to check while the machine is busy.
    before = reference_step_ms()
    print(f"{'notebook':<40} {'seconds':>8} {'cpu s':>8} {'peak GB':>8}  budget (wall)")
    for path in paths:
        seconds, gb, cpu = run(path, args.write)
        total += seconds
        ok = seconds <= BUDGET_S and gb <= BUDGET_GB
        failed |= not ok
        print(f"{path.name:<40} {seconds:8.1f} {cpu:8.1f} {gb:8.2f}  {'ok' if ok else 'OVER'}")
    print(f"{'whole book':<40} {total:8.1f} {'':>8}  {'ok' if total <= BOOK_BUDGET_S else 'OVER'}")
    print(f"reference workload (median small-CNN training step, one thread): {before:.1f} ms before the notebooks, "
          f"{reference_step_ms():.1f} ms after")
    return 1 if failed or total > BOOK_BUDGET_S else 0


if __name__ == "__main__":
    sys.exit(main())
