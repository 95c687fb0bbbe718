"""Reference runs: a claim tested at the budget it needs, recorded once, and tied to the page that shows it.

A chapter page may spend a minute of CPU; some claims need twenty. A :class:`Record` names the claim in one
sentence and lists its *arms* (a network, its data and its training recipe). :func:`run_record` trains every
arm on every seed, one torch thread per run and the runs spread over the machine's cores, and writes
``cnnbook/benchmarks/NAME.json``: for each arm and seed the final test accuracy and the per-epoch curves, and
the record's provenance. Some arms repeat the page's live experiment exactly, so the page can check that its
own numbers equal the recorded ones seed for seed (:meth:`Reference.fingerprint`): the record then provably
comes from the same data, recipe and code.
"""
from __future__ import annotations

import datetime
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib.resources import files
from pathlib import Path

import torch
from torch import nn

import cnnbook
from cnnbook.data import Splits, load_shapes10
from cnnbook.detection import collate_boxes, mean_average_precision
from cnnbook.env import cpu_model, cpu_numerics, set_seed
from cnnbook.experiments import SeedRuns, linear_model, load_runs, mlp_model, save_runs, standardised
from cnnbook.models import small_cnn
from cnnbook.models.yolo import SCENE_ANCHORS, YOLOLoss, decode_predictions
from cnnbook.profile import count_params, macs
from cnnbook.evaluate import confusion_matrix
from cnnbook.segmentation import foreground_miou, segmentation_loss
from cnnbook.train import History, evaluate, fit, predict

RECORD_SEEDS = (0, 1, 2, 3, 4)
"""Seeds of every arm of a record: 5 against 5 seeds 'separate' by chance once in 252 comparisons."""
QUICK_SEEDS = (0, 1)
META_KEYS = ("claim", "command", "cnnbook", "torch", "cpu", "threads", "seconds", "date")
YARDSTICKS = ("linear", "MLP", "small CNN")
"""Name prefixes of the three yardstick arms every record carries, in order (see :func:`yardsticks`)."""
SCENE_SIZE = 64
"""The image size of a detection record's scenes: its loss and decoder code boxes for 64 px and SCENE_ANCHORS."""
TASKS: dict[str, tuple[Callable | None, Callable | None]] = {
    "classify": (None, None),
    "segment": (segmentation_loss, foreground_miou),
    "detect": (YOLOLoss(SCENE_ANCHORS, SCENE_SIZE), mean_average_precision),
}
"""What a record's networks learn, and the (loss_fn, score_fn) :func:`fit` trains and scores them with: a class per
image (cross-entropy, accuracy), a class per pixel (cross-entropy plus soft Dice, foreground mean IoU) or a box and
a class per object (the YOLO loss on the 64 px scenes' anchors, mAP@0.5 of the decoded detections)."""
TASK_HOOKS: dict[str, dict[str, Callable]] = {
    "detect": {"collate_fn": collate_boxes,
               "predict_fn": partial(decode_predictions, anchors=torch.tensor(SCENE_ANCHORS), image_size=SCENE_SIZE,
                                     score_threshold=0.05)},
}
"""The further :func:`fit` and :func:`evaluate` keywords of a task: detection batches its boxes as lists
(``collate_boxes``) and decodes the raw outputs into scored boxes (score >= 0.05, NMS per class) for the mAP."""
_FIT_KEYS = {"epochs", "lr", "optimizer", "batch_size", "weight_decay", "scheduler", "clip_grad", "loss_fn",
             "warmup_epochs"}


@dataclass(frozen=True)
class Arm:
    """One configuration of a record: a network builder, the data it trains on and its :func:`fit` recipe.

    ``build`` is called after seeding and returns a fresh network; ``data`` names one of the record's data
    sets; ``live`` marks an arm that repeats the page's live experiment exactly (its fingerprint);
    ``yardstick`` marks the linear, MLP and small-CNN arms of every results table; ``probe``, if given, is
    called with each trained network and its JSON-ready answer is kept per seed (``extra["probe"]``).
    """

    name: str
    build: Callable[[], nn.Module]
    recipe: Mapping[str, object]
    data: str = "raw"
    live: bool = False
    yardstick: bool = False
    probe: Callable[[nn.Module], object] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.recipe) - _FIT_KEYS
        if unknown:
            raise ValueError(f"arm {self.name!r}: unknown recipe keys {sorted(unknown)}; allowed: {sorted(_FIT_KEYS)}")
        if not isinstance(self.recipe.get("epochs"), int):
            raise ValueError(f"arm {self.name!r}: the recipe must give epochs as an int")


@dataclass(frozen=True)
class Record:
    """A named reference run: its claim, its data sets (full and quick), its arms and its task (:data:`TASKS`).

    The recorded "test accuracy" of a segmentation record is the test set's foreground mean IoU, of a detection
    record the test set's mAP@0.5. ``baselines``, if given, scores what needs no training (a detector that looks
    at no image) from the data sets; its {name: score} is kept with the record's provenance.

    ``yardsticks_from`` names another record, on the same data sets, whose three yardstick arms serve this one's
    table too: a claim too costly for one record's budget is split in two, and the yardsticks are trained once.
    """

    name: str
    chapter: str
    claim: str
    data: Callable[[bool], Mapping[str, Splits]]  # quick -> {"raw": splits, "std": standardised splits, ...}
    data_note: str
    arms: tuple[Arm, ...]
    seeds: tuple[int, ...] = RECORD_SEEDS
    task: str = "classify"
    baselines: Callable[[Mapping[str, Splits]], Mapping[str, float]] | None = None
    yardsticks_from: str | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"record {self.name!r}: task must be one of {sorted(TASKS)}, got {self.task!r}")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"record {self.name!r}: arm names must be distinct, got {names}")
        marked = [a.name for a in self.arms if a.yardstick]
        if self.yardsticks_from is not None:
            if marked or self.yardsticks_from == self.name:
                raise ValueError(f"record {self.name!r} borrows its yardsticks from {self.yardsticks_from!r}, so it "
                                 f"marks none of its own and names another record; marked: {marked}")
        elif len(marked) != len(YARDSTICKS) or not all(n.startswith(y) for n, y in zip(marked, YARDSTICKS)):
            raise ValueError(f"record {self.name!r} needs three yardstick arms, a linear model, an MLP and the small "
                             f"CNN in that order (add yardsticks(...)); marked: {marked}")
        if len(self.seeds) < 5:
            raise ValueError(f"record {self.name!r}: a record needs at least 5 seeds per arm, got {self.seeds}")

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise ValueError(f"record {self.name!r} has no arm {name!r}; its arms: {[a.name for a in self.arms]}")


def shapes10_data(quick: bool, transform: Callable[[Splits], Splits] | None = None) -> dict[str, Splits]:
    """Shapes10's default split (tiny when ``quick``), as is ("raw") and standardised ("std")."""
    raw = load_shapes10(n_train=60, n_val=20, n_test=20) if quick else load_shapes10()
    if transform is not None:
        raw = transform(raw)
    return {"raw": raw, "std": standardised(raw)}


def yardsticks(epochs: int, input_shape: Sequence[int] = (3, 32, 32)) -> tuple[Arm, ...]:
    """The three arms of every results table: linear and MLP on standardised pixels, and the small CNN.

    The pixel models train with Adam (lr 1e-3); the small CNN with the data card's recipe (Adam, lr 3e-3,
    cosine), each for ``epochs`` epochs.
    """
    shape = tuple(input_shape)
    pixels = dict(epochs=epochs, lr=1e-3)
    return (
        Arm("linear (standardised pixels)", lambda: linear_model(shape, 10), pixels, data="std", yardstick=True),
        Arm("MLP, 256 hidden (standardised pixels)", lambda: mlp_model(shape, 10, 256), pixels, data="std",
            yardstick=True),
        Arm(f"small CNN, {epochs} epochs", lambda: small_cnn(10, in_channels=shape[0]),
            dict(epochs=epochs, lr=3e-3, scheduler="cosine"), yardstick=True),
    )


# ------------------------------------------------------------------------------------------------
# Running a record: one process per core, one torch thread per process, a task per (arm, seed).

_REGISTRY: dict[str, Record] = {}
_DATA_CACHE: dict[tuple[str, bool], Mapping[str, Splits]] = {}


def register(record: Record) -> Record:
    """Add a record to the book's registry (its name must be new)."""
    if record.name in _REGISTRY:
        raise ValueError(f"a record named {record.name!r} is already registered")
    _REGISTRY[record.name] = record
    return record


def registry() -> dict[str, Record]:
    """Every registered record, by name."""
    return dict(_REGISTRY)


def get_record(name: str) -> Record:
    """The registered record called ``name``, or a ValueError that lists the names there are."""
    if name not in _REGISTRY:
        raise ValueError(f"no record named {name!r}; the records are: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def _datasets(record: Record, quick: bool) -> Mapping[str, Splits]:
    key = (record.name, quick)
    if key not in _DATA_CACHE:
        _DATA_CACHE[key] = record.data(quick)
    return _DATA_CACHE[key]


def train_arm(record: Record, arm: Arm, seed: int, quick: bool = False) -> dict:
    """Train one arm on one seed exactly as :func:`cnnbook.experiments.run_seeds` does; return its results."""
    torch.set_num_threads(1)
    splits = _datasets(record, quick)[arm.data]
    recipe = dict(arm.recipe)
    if quick:  # one epoch of four small batches: enough steps for every schedule, one-cycle included, no warm-up
        recipe.update(epochs=1, batch_size=16, **({"warmup_epochs": 0} if "warmup_epochs" in recipe else {}))
    loss_fn, score_fn = TASKS[record.task]
    task_fns = {"loss_fn": loss_fn, "score_fn": score_fn} if loss_fn is not None else {}
    task_fns.update(TASK_HOOKS.get(record.task, {}))
    # decoding a detector's every training batch into boxes would cost more than the training: score only val/test
    train_score = {"score_train": False} if record.task == "detect" else {}
    start = time.process_time()
    set_seed(seed)
    model = arm.build()
    history = fit(model, splits.train, splits.val, seed=seed, device="cpu", progress=False, **task_fns, **train_score,
                  **recipe)
    test_acc = evaluate(model, splits.test, device="cpu", **task_fns)[1]
    confusion = None
    if record.task != "detect":  # a detector's boxes have no confusion matrix
        labels = splits.test.tensors[1].flatten()
        predicted = predict(model, splits.test, device="cpu").flatten()  # a segmentation's pixels count one by one
        confusion = confusion_matrix(predicted, labels, int(torch.cat([predicted, labels]).max()) + 1).tolist()
    result = {"arm": arm.name, "seed": seed, "test_acc": test_acc, "history": history, "confusion": confusion,
              "cpu_seconds": time.process_time() - start, "params": count_params(model)}
    if arm.probe is not None:
        result["probe"] = arm.probe(model.eval())
    return result


def _task(args: tuple[str, int, int, bool]) -> dict:
    name, arm_index, seed, quick = args
    record = get_record(name)
    return train_arm(record, record.arms[arm_index], seed, quick)


def default_path(name: str) -> Path:
    """Where a record lives: ``cnnbook/benchmarks/NAME.json`` (package data, so Colab has it too)."""
    return Path(str(files("cnnbook.benchmarks"))) / f"{name}.json"


def run_record(name: str, quick: bool = False, out: str | Path | None = None, jobs: int | None = None,
               log: Callable[[str], None] = print) -> Path:
    """Train every arm of record ``name`` on every seed and write the record; return its path.

    ``quick`` trains each arm for one epoch on a tiny split with two seeds (a check that the record runs,
    written to a temporary folder unless ``out`` says where, never over the real record). ``jobs`` processes
    run side by side (default: one per core), each on one torch thread.
    """
    record = get_record(name)
    if out is None:
        out = Path(tempfile.gettempdir()) / "cnnbook-records" / f"{name}.json" if quick else default_path(name)
    out = Path(out)
    if quick and out.resolve() == default_path(name).resolve():
        raise ValueError(f"a --quick run must not overwrite the real record {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    seeds = QUICK_SEEDS if quick else record.seeds
    jobs = jobs or os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    # The costliest tasks first, so that no core idles at the end waiting for one long run.
    cost = {}
    for a in record.arms:
        shape = tuple(_datasets(record, quick)[a.data].train[0][0].shape)  # one input's shape
        with torch.device("meta"):
            cost[a.name] = macs(a.build(), shape) * a.recipe["epochs"]
    tasks = sorted(((name, i, s, quick) for i, a in enumerate(record.arms) for s in seeds),
                   key=lambda t: -cost[record.arms[t[1]].name])
    baselines = None if record.baselines is None else dict(record.baselines(_datasets(record, quick)))
    wall = time.perf_counter()
    results: list[dict] = []
    if jobs == 1:
        for t in tasks:
            results.append(_task(t))
            log(_progress(results[-1], len(results), len(tasks)))
    else:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            for result in pool.imap_unordered(_task, tasks):
                results.append(result)
                log(_progress(result, len(results), len(tasks)))
    wall = time.perf_counter() - wall
    runs = []
    for a in record.arms:
        mine = sorted((r for r in results if r["arm"] == a.name), key=lambda r: r["seed"])
        recipe = dict(a.recipe, epochs=1) if quick else dict(a.recipe)
        extra = {"data": a.data, "recipe": recipe, "live": a.live, "macs": cost[a.name] // a.recipe["epochs"],
                 "cpu_seconds": [round(r["cpu_seconds"], 1) for r in mine], "confusion": [r["confusion"] for r in mine]}
        if a.probe is not None:
            extra["probe"] = [r["probe"] for r in mine]
        runs.append(SeedRuns(a.name, [r["seed"] for r in mine], [r["test_acc"] for r in mine],
                             [r["history"] for r in mine], mine[0]["params"], extra=extra))
    save_runs(runs, out, claim=record.claim, chapter=record.chapter, data=record.data_note, seeds=list(seeds),
              quick=quick, command=f"make record NAME={name}", cnnbook=cnnbook.__version__,
              torch=torch.__version__.split("+")[0], cpu=cpu_model(), numerics=cpu_numerics(), threads=1, jobs=jobs,
              seconds=round(sum(r["cpu_seconds"] for r in results), 1), wall_seconds=round(wall, 1),
              date=datetime.date.today().isoformat(), **({"baselines": baselines} if baselines is not None else {}))
    log(f"wrote {out}: {sum(r['cpu_seconds'] for r in results) / 60:.1f} CPU minutes, {wall / 60:.1f} minutes wall")
    return out


def _progress(result: dict, done: int, total: int) -> str:
    return (f"[{done:>3}/{total}] {result['arm']:44.44} seed {result['seed']}  test {result['test_acc']:.3f}  "
            f"train loss {result['history'].train_loss[-1]:.3f}  {result['cpu_seconds']:6.1f} CPU s")


# ------------------------------------------------------------------------------------------------
# Reading a record back.

@dataclass
class Reference:
    """A record read back: its arms' :class:`SeedRuns` (with curves) by name, and its metadata."""

    name: str
    runs: list[SeedRuns]
    meta: dict
    by_name: dict[str, SeedRuns] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {r.name: r for r in self.runs}

    def __getitem__(self, arm: str) -> SeedRuns:
        if arm not in self.by_name:
            raise ValueError(f"record {self.name!r} has no arm {arm!r}; its arms: {list(self.by_name)}")
        return self.by_name[arm]

    @property
    def claim(self) -> str:
        return self.meta["claim"]

    @property
    def baselines(self) -> dict[str, float]:
        """The scores of the record's untrained baselines, by name (empty if it has none)."""
        return dict(self.meta.get("baselines", {}))

    def yardsticks(self) -> list[SeedRuns]:
        """The linear, MLP and small-CNN arms (the registry marks them), in that order: this record's own, or those
        of the record it borrows them from (:attr:`Record.yardsticks_from`)."""
        record = get_record(self.name)
        if record.yardsticks_from is not None:
            return load_record(record.yardsticks_from).yardsticks()
        return [self[a.name] for a in record.arms if a.yardstick]

    def provenance(self) -> str:
        """One line: when, with what, on what, at what cost, and the command that regenerates it."""
        m = self.meta
        numerics = m.get("numerics", "")  # the code path; records made before it named the CPU give both
        cpu = numerics if " on " in numerics else ", ".join(filter(None, (m["cpu"], numerics)))
        return (f"Recorded {m['date']} with cnnbook {m['cnnbook']} and torch {m['torch']} on {m['threads']} thread per "
                f"run ({cpu}): {len(m['seeds'])} seeds per arm, {m['seconds'] / 60:.0f} CPU minutes in all. "
                f"Regenerate it with `{m['command']}`.")

    @property
    def same_code_path(self) -> bool:
        """Whether this process computes as the record did: the same torch and CPU code path
        (:func:`cnnbook.env.cpu_numerics`). Only then must a page's live runs repeat the record's bit for bit."""
        return (self.meta["torch"], self.meta.get("numerics")) == (torch.__version__.split("+")[0], cpu_numerics())

    def fingerprint(self, arm: str, live: SeedRuns) -> str:
        """Check the page's live runs against the record's repeat of them, seed for seed, and say so.

        Equal accuracies prove the record came from the same data, recipe and code. With another torch version
        or CPU code path (:func:`cnnbook.env.cpu_numerics`) the sums round differently and the accuracies may
        differ, and the sentence says so; with the record's own torch and code path a mismatch raises a
        ValueError, because then the record no longer matches the code.
        """
        recorded = dict(zip(self[arm].seeds, self[arm].test_acc))
        missing = [s for s in live.seeds if s not in recorded]
        if missing:
            raise ValueError(f"record {self.name!r}, arm {arm!r} has no seed(s) {missing}")
        if all(recorded[s] == a for s, a in zip(live.seeds, live.test_acc)):
            return (f"The record's repeat of this page's run ({arm}) equals it on seeds "
                    f"{', '.join(map(str, live.seeds))}: same data, recipe and code.")
        theirs = [recorded[s] for s in live.seeds]
        here = (torch.__version__.split("+")[0], cpu_numerics())
        made = (self.meta["torch"], self.meta.get("numerics", "an unrecorded code path"))
        if self.same_code_path:
            raise ValueError(f"record {self.name!r}: its {arm!r} accuracies {theirs} differ from the page's "
                             f"{live.test_acc} with the record's own torch and CPU code path: the code changed since "
                             f"it was recorded; rerun `{self.meta['command']}`")
        return (f"The record's repeat of this page's run ({arm}) gives {theirs} on seeds "
                f"{', '.join(map(str, live.seeds))}, this page {live.test_acc}: the record was computed with torch "
                f"{made[0]} and {made[1]}, this page with torch {here[0]} and {here[1]}. Another CPU code path rounds "
                "floating-point sums differently and training amplifies the difference, so here this check cannot tie "
                f"the record to the code (`{self.meta['command']}` on this machine would): compare with care.")


def load_record(name: str, path: str | Path | None = None) -> Reference:
    """Read a record (by default the package's ``cnnbook/benchmarks/NAME.json``)."""
    path = Path(path) if path is not None else default_path(name)
    if not path.exists():
        raise ValueError(f"no record file {path}; create it with `make record NAME={name}`")
    runs, meta = load_runs(path)
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise ValueError(f"{path} lacks the provenance key(s) {missing}")
    return Reference(name, runs, meta)


def check_record(name: str, path: str | Path | None = None) -> Reference:
    """Check that a record is complete and was made by its registered recipe; return it.

    Complete: every arm of the registry's record, in order, each with its recipe, data and every seed, a test
    accuracy and one curve per epoch per seed; all provenance keys; not a quick run. A record whose recipe
    no longer matches the code must be rerun.
    """
    record = get_record(name)
    ref = load_record(name, path)
    problems = []
    if ref.meta.get("quick") is not False:
        problems.append("it is a --quick run")
    if ref.meta["claim"] != record.claim:
        problems.append("its claim differs from the registry's")
    if record.baselines is not None and not ref.meta.get("baselines"):
        problems.append("it lacks its baselines' scores")
    if record.yardsticks_from is not None:
        lender = get_record(record.yardsticks_from)
        if lender.data is not record.data or lender.yardsticks_from is not None:
            problems.append(f"it borrows its yardsticks from {lender.name!r}, which trains on other data or borrows "
                            "them too")
    names = [r.name for r in ref.runs]
    if names != [a.name for a in record.arms]:
        problems.append(f"its arms {names} are not the registry's {[a.name for a in record.arms]}")
    for arm in record.arms:
        run = ref.by_name.get(arm.name)
        if run is None:
            continue
        if run.seeds != list(record.seeds):
            problems.append(f"{arm.name}: seeds {run.seeds}, expected {list(record.seeds)}")
        if run.extra.get("recipe") != dict(arm.recipe) or run.extra.get("data") != arm.data:
            problems.append(f"{arm.name}: recorded recipe {run.extra.get('recipe')} on {run.extra.get('data')!r} data, "
                            f"the registry's is {dict(arm.recipe)} on {arm.data!r}")
        if len(run.histories) != len(run.seeds) or any(len(h) != arm.recipe["epochs"] or len(h.val_acc) != len(h)
                                                       for h in run.histories):
            problems.append(f"{arm.name}: needs one train/validation curve of {arm.recipe['epochs']} epochs per seed")
    if problems:
        raise ValueError(f"record {name!r} is incomplete or stale ({'; '.join(problems)}); "
                         f"rerun `make record NAME={name}`")
    return ref


def curves(runs: Sequence[SeedRuns], metric: str = "train_loss") -> dict[str, torch.Tensor]:
    """Per run, a (seeds, epochs) tensor of one per-epoch metric ('train_loss', 'train_acc', 'val_loss', 'val_acc')."""
    if metric not in ("train_loss", "train_acc", "val_loss", "val_acc"):
        raise ValueError(f"metric must be train_loss, train_acc, val_loss or val_acc, got {metric!r}")
    out = {}
    for r in runs:
        if not r.histories:
            raise ValueError(f"{r.name!r} keeps no per-epoch curves")
        out[r.name] = torch.tensor([getattr(h, metric) for h in r.histories])
    return out


__all__ = ["Arm", "History", "Record", "Reference", "RECORD_SEEDS", "TASKS", "TASK_HOOKS", "YARDSTICKS", "check_record",
           "curves", "default_path", "get_record", "load_record", "register", "registry", "run_record", "shapes10_data",
           "train_arm", "yardsticks"]
