"""Checkers of the chapter "Training a CNN": right answers (derived by hand) pass, wrong ones and None fail."""
import math

from cnnbook.exercises import training


def test_ex1_he_standard_deviation():
    assert training.ex1(math.sqrt(2 / (3 * 3 * 64)))
    assert training.ex1(0.0589)
    assert not training.ex1(math.sqrt(2 / (3 * 3 * 128)))  # fan-out instead of fan-in
    assert not training.ex1(2 / (3 * 3 * 64))  # the variance, not the standard deviation
    assert not training.ex1(None)


def test_ex2_running_estimates_use_the_unbiased_variance():
    assert training.ex2((0.4, 0.9 + 0.1 * 8 / 3))
    assert training.ex2([0.4, 1.1666667])
    assert not training.ex2((0.4, 0.9 + 0.1 * 2.0))  # the biased variance
    assert not training.ex2((4.0, 8 / 3))  # momentum taken as 1
    assert not training.ex2(None)


def test_ex3_decay_without_gradient():
    adamw = (1 - 1e-3 * 0.05) ** 500
    assert abs(training.decayed_value("adamw") - adamw) < 1e-5
    adam = training.decayed_value("adam")
    assert 0.5 < adam < 0.6  # about lr per step once the moment estimates have settled
    assert training.ex3((adamw, adam)) and training.ex3((0.975, 0.56))
    assert not training.ex3((adam, adamw))  # swapped
    assert not training.ex3((adamw, 0.5))  # exactly lr per step ignores the start of the moment estimates: > 2% off
    assert not training.ex3(None)


def test_ex4_label_preserving_transformations():
    assert training.ex4({"b", "d"}) and training.ex4(["B", "D"])
    assert not training.ex4({"a", "b", "d"})  # an upside-down ell is a mirrored ell
    assert not training.ex4({"b"})
    assert not training.ex4("z") and not training.ex4(None)


def test_ex5_range():
    low, high = training.EX5_RANGE
    assert training.ex5((low + high) / 2)
    assert not training.ex5(0.1) and not training.ex5(None) and not training.ex5("0.23") and not training.ex5(True)


def test_decayed_value_bad_optimizer():
    import pytest

    with pytest.raises(ValueError, match="adam"):
        training.decayed_value("sgd")
