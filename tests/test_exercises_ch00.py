"""Chapter 0's exercise checkers: right answers pass, wrong ones and None fail; each answer found a second way."""
import math
import random
from fractions import Fraction

from cnnbook.exercises import ch00


def test_ex1_separation_by_chance_matches_a_simulation():
    rng = random.Random(0)
    trials, hits = 200_000, 0
    for _ in range(trials):
        runs = [rng.random() for _ in range(10)]
        hits += min(runs[:5]) > max(runs[5:])
    assert abs(hits / trials - 1 / 252) < 0.001
    assert ch00.ex1(1 / math.comb(10, 5)) and ch00.ex1(Fraction(1, 252))
    assert not ch00.ex1(1 / 20) and not ch00.ex1(None) and not ch00.ex1(True)


def test_ex2_only_the_ell_changes_class_in_a_mirror():
    assert ch00.mirror_changes_class() == {"ell"}
    assert ch00.ex2({"ell"}) and ch00.ex2("ell")
    assert not ch00.ex2({"ell", "arrow"})  # an arrow is symmetric about its shaft
    assert not ch00.ex2({"dragon"}) and not ch00.ex2(None)


def test_ex3_range_holds_the_measured_accuracy():
    import torch

    torch.set_num_threads(1)
    measured = ch00.half_resolution_accuracy(seed=0)
    low, high = ch00.EX3_RANGE
    assert low + 0.02 <= measured <= high - 0.02 and high - low <= 0.15 + 1e-9
    assert ch00.ex3(measured)
    assert not ch00.ex3(0.62 + 0.1) and not ch00.ex3(0.3)  # the 32x32 accuracy plus a bit, or a broken run
    assert not ch00.ex3(None) and not ch00.ex3(1.5) and not ch00.ex3("0.5") and not ch00.ex3(True)


def test_shapes10_visibility_replays_the_test_split_exactly():
    import torch

    from cnnbook.data import make_shapes10

    vis = ch00.shapes10_visibility(n=60, seed=20_000)  # raises if the replay misses the generator's coverage
    plain = make_shapes10(60, seed=20_000)
    assert torch.equal(vis.images, plain.images) and torch.equal(vis.labels, plain.labels)
    fraction = vis.visible_fraction
    assert fraction.shape == (60,) and ((fraction > 0) & (fraction <= 1 + 1e-6)).all()
    assert (fraction[~vis.occluded] > 0.8).all()  # without a bar only the image border can cut a shape
    assert fraction[vis.occluded].mean() < fraction[~vis.occluded].mean()
    assert 5 <= vis.occluded.sum() <= 25  # a bar in about a quarter of the images
    assert ((vis.contrast > 0) & (vis.contrast < 3**0.5)).all()


def test_shapes10_visibility_is_one_for_a_whole_object():
    import numpy as np
    import torch

    from cnnbook import data

    # The replay draws the whole outline on a canvas three times as large: the same samples, shifted.
    inside = data._Painter(32).coverage("star", 16.0, 16.0, 9.0, 0.3, 1.1)
    large = data._Painter(96).coverage("star", 48.0, 48.0, 9.0, 0.3, 1.1)
    assert np.array_equal(large[32:64, 32:64], inside) and large.sum() == inside.sum()
    vis = ch00.shapes10_visibility(n=60, seed=20_000)
    coverage = data.make_shapes10(60, seed=20_000).coverage
    border = torch.cat([coverage[:, 0], coverage[:, -1], coverage[:, :, 0], coverage[:, :, -1]], 1).amax(1) > 0
    whole = ~vis.occluded & ~border
    assert whole.sum() > 20 and torch.allclose(vis.visible_fraction[whole], torch.ones(int(whole.sum())))
    assert (vis.visible_fraction <= 1 + 1e-6).all() and (vis.visible_fraction[vis.occluded] < 0.99).sum() >= 5
