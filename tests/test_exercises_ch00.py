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
