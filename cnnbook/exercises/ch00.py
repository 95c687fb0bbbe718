"""Checkers for the exercises of chapter 0, "Shapes10: the book's benchmark".

Exercise 2's answer is found by mirroring each class's outline and searching every rotation; exercise 3's range
is the measured accuracy (seed 0, one CPU thread; tests/test_exercises_ch00.py repeats it) with a margin for
another machine. ``shapes10_visibility`` measures how much of each object an image shows, for the data card's
audit of its hardest images.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cnnbook import data as _data
from cnnbook.data import SHAPES10_CLASSES, SHAPES10_SEED_OFFSETS, Splits, _inside_shape, half_resolution, load_shapes10
from cnnbook.datacache import bypass
from cnnbook.env import set_seed
from cnnbook.exercises import check, check_range, say
from cnnbook.models import small_cnn
from cnnbook.train import evaluate, fit

EX1_SEEDS = 5  # seeds per model in a reference run
EX3_EPOCHS, EX3_SEED = 6, 0
EX3_RANGE = (0.50, 0.65)  # seeds 0, 1, 2 measured 0.559, 0.607, 0.567 (one CPU thread), with a margin


def separation_by_chance(seeds: int) -> float:
    """P(every run of A beats every run of B) when all 2 * ``seeds`` runs are exchangeable.

    Every choice of which ``seeds`` of the 2 * ``seeds`` ranks are A's is equally likely; one puts A on top.
    """
    return 1 / math.comb(2 * seeds, seeds)


def ex1(answer: Any) -> bool:
    """The chance that 5 seeds of A all beat 5 seeds of B when A and B are in truth equally good."""
    if answer is not None and isinstance(answer, numbers.Real) and not isinstance(answer, bool):
        answer = float(answer)  # a Fraction is a fine answer too
    return check(answer, separation_by_chance(EX1_SEEDS), name="Exercise 1", rel_tol=1e-3,
                 hint="rank all ten runs; how many of the ways to choose which five are A's put A's five on top?")


@lru_cache(maxsize=1)
def mirror_changes_class() -> frozenset[str]:
    """Classes whose mirror image matches no rotation of the original outline (on an 81x81 grid, every 2 degrees:
    each symmetric class then overlaps its mirror by at least 0.99, the ell by about 0.54)."""
    v, u = np.mgrid[-1.2:1.2:81j, -1.2:1.2:81j]
    changed = set()
    for kind in SHAPES10_CLASSES:
        mirrored = _inside_shape(kind, -u, v)
        best = 0.0
        for angle in np.deg2rad(np.arange(0, 360, 2.0)):
            c, s = np.cos(angle), np.sin(angle)
            rotated = _inside_shape(kind, c * u + s * v, -s * u + c * v)
            best = max(best, (rotated & mirrored).sum() / (rotated | mirrored).sum())
        if best < 0.97:
            changed.add(kind)
    return frozenset(changed)


def ex2(answer: Iterable[str] | str | None) -> bool:
    """The classes whose mirrored object is no longer a member of its class (any rotation allowed)."""
    if answer is None:
        return check(None, None, name="Exercise 2")
    names = {answer} if isinstance(answer, str) else set(answer)
    unknown = names - set(SHAPES10_CLASSES)
    if unknown:
        say("Exercise 2", "not class names: {unknown}; the classes are {classes}.", unknown=sorted(unknown), classes=SHAPES10_CLASSES)
        return False
    return check(names, set(mirror_changes_class()), name="Exercise 2",
                 hint="a shape survives a mirror if some rotation undoes it: look for a line of symmetry.")


def half_resolution_accuracy(seed: int = EX3_SEED) -> float:
    """Test accuracy of the small CNN on Shapes10 averaged down to 16x16, with the data card's recipe."""
    splits = Splits(*(half_resolution(part) for part in load_shapes10()))
    set_seed(seed)
    model = small_cnn(10)
    fit(model, splits.train, splits.val, epochs=EX3_EPOCHS, lr=3e-3, scheduler="cosine", device="cpu", seed=seed,
        progress=False)
    return evaluate(model, splits.test, device="cpu")[1]


def ex3(answer: Any) -> bool:
    """The reader's measured test accuracy of the small CNN at 16x16 (seed 0), within the stated range."""
    return check_range(answer, *EX3_RANGE, name="Exercise 3", quantity="the test accuracy",
                       hint=f"Splits(*(half_resolution(p) for p in splits)), small_cnn(10), the data card's recipe for "
                            f"{EX3_EPOCHS} epochs, seed {EX3_SEED}.")


@dataclass(frozen=True)
class Visibility:
    """Per image of a Shapes10 set: the image, its label, and how well its object shows."""

    images: torch.Tensor  # (N, 3, H, W), exactly the images make_shapes10 returns
    labels: torch.Tensor  # (N,)
    visible_fraction: torch.Tensor  # (N,) share of the object's whole area inside the frame and not under the bar
    occluded: torch.Tensor  # (N,) bool: an occluding bar was drawn over the object (it may only graze it)
    contrast: torch.Tensor  # (N,) RGB distance between the object's visible pixels and a 2-pixel band around it


@contextmanager
def _recording_generator(calls: list) -> Iterator[None]:
    """Make ``make_shapes10`` log every shape it paints, and mark where each image's backdrop starts and ends.

    Only observes: the painter paints exactly as before and no random number is drawn, so the images are unchanged.
    """
    painter, background = _data._Painter, _data._background

    class RecordingPainter(painter):
        def paint(self, canvas, kind, cy, cx, radius, angle, aspect, colour, shade=0.0):
            calls.append((kind, cy, cx, radius, angle, aspect))
            return super().paint(canvas, kind, cy, cx, radius, angle, aspect, colour, shade)

    def recording_background(*args, **kwargs):
        calls.append("backdrop")
        canvas = background(*args, **kwargs)  # its clutter is logged between the two marks
        calls.append("object")
        return canvas

    _data._Painter, _data._background = RecordingPainter, recording_background
    try:
        yield
    finally:
        _data._Painter, _data._background = painter, background


def shapes10_visibility(n: int = 1000, image_size: int = 32, seed: int = SHAPES10_SEED_OFFSETS["test"]) -> Visibility:
    """Generate ``make_shapes10(n, image_size, seed)`` (default: the test split) and measure each object.

    ``make_shapes10`` keeps the visible coverage of each object, not its whole outline, so the generator is
    replayed while its painter is watched: the object's parameters give its full area, drawn on a canvas large
    enough that the image border cuts nothing off, and the bar's give what it hides. Raises ``RuntimeError`` if
    the replay does not reproduce the generator's own coverage exactly.
    """
    calls: list = []
    with _recording_generator(calls), bypass():  # the painter must really paint, not a cached set be read
        shapes = _data.make_shapes10(n, image_size, seed)
    starts = [i for i, c in enumerate(calls) if c == "object"]
    ends = [i for i, c in enumerate(calls) if c == "backdrop"][1:] + [len(calls)]
    frame, whole = _data._Painter(image_size), _data._Painter(3 * image_size)
    visible, area, occluded, object_alpha = [], [], [], []
    for k, (start, end) in enumerate(zip(starts, ends)):
        (kind, cy, cx, radius, angle, aspect), *bar = calls[start + 1 : end]
        alpha = frame.coverage(kind, cy, cx, radius, angle, aspect)
        coverage = alpha * (1 - frame.coverage(*bar[0])) if bar else alpha
        if kind != shapes.classes[shapes.labels[k]] or not np.array_equal(coverage, shapes.coverage[k].numpy()):
            raise RuntimeError(f"replaying make_shapes10 did not reproduce image {k}: has the generator changed?")
        area.append(whole.coverage(kind, cy + image_size, cx + image_size, radius, angle, aspect).sum())
        visible.append(coverage.sum())
        occluded.append(bool(bar))
        object_alpha.append(alpha)
    outline = torch.from_numpy(np.stack(object_alpha)) > 0
    band = (F.max_pool2d(outline[:, None].float(), 5, stride=1, padding=2)[:, 0] > 0) & ~outline
    shown = shapes.coverage >= 0.75

    def mean_colour(mask: torch.Tensor) -> torch.Tensor:
        return (shapes.images * mask[:, None]).sum((2, 3)) / mask.sum((1, 2)).clamp(min=1)[:, None]

    return Visibility(shapes.images, shapes.labels, torch.tensor(visible) / torch.tensor(area),
                      torch.tensor(occluded), (mean_colour(shown) - mean_colour(band)).norm(dim=1))
