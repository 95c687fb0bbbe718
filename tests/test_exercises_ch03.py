"""Chapter 3's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
import torch

from cnnbook.exercises import ch03


def test_ex1_dense_c3_on_eight_maps():
    assert ch03.ex1(16 * (8 * 25 + 1))  # 3,216
    assert not ch03.ex1(16 * (6 * 25 + 1))  # the six-map count, 2,416
    assert not ch03.ex1(16 * 8 * 25)  # forgot the biases
    assert not ch03.ex1(None)


def test_ex2_partial_c3_macs():
    # 6 maps read 3 inputs, 9 read 4, 1 reads 6: 60 connections, each 25 MACs at 100 positions
    assert ch03.ex2(100 * 60 * 25)
    assert not ch03.ex2(240_000)  # the dense convolution's count
    assert not ch03.ex2(None)


def test_ex3_colour_input():
    assert ch03.ex3(61_706 + 6 * 2 * 25)  # C1 grows from 6 x 26 to 6 x 76
    assert not ch03.ex3(61_706)
    assert not ch03.ex3(None)


def test_ex4_partial_params_function():
    def right(table, kernel_size):
        return sum(len(row) for row in table) * kernel_size**2 + len(table)

    def no_bias(table, kernel_size):
        return sum(len(row) for row in table) * kernel_size**2

    def dense(table, kernel_size):  # a common mistake: counts every input map for every output map
        n_in = max(max(row) for row in table) + 1
        return len(table) * (n_in * kernel_size**2 + 1)

    def crashes(table, kernel_size):
        raise RuntimeError("boom")

    assert ch03.ex4(right)
    assert not ch03.ex4(no_bias)
    assert not ch03.ex4(dense)
    assert not ch03.ex4(crashes)
    assert not ch03.ex4(None)


def test_ex5_fraction_in_dense_layers():
    expected = (120 * 401 + 84 * 121 + 10 * 85) / 61_706
    assert ch03.ex5(expected)
    assert ch03.ex5(round(expected, 3))
    assert not ch03.ex5(0.5)
    assert not ch03.ex5(None)


def test_ex6_largest_variance_on_the_paper_scale(capsys):
    half_range = (1.175 + 0.1) / 2
    assert ch03.ex6(half_range**2)  # 0.406: half the pixels at -0.1, half at 1.175
    assert ch03.ex6(0.406)
    # no image between the two values spreads more: a random one, and the half-and-half image itself
    pixels = torch.rand(1024) * 1.275 - 0.1
    assert pixels.var(correction=0).item() <= ch03.largest_input_variance()
    extremes = torch.tensor([-0.1, 1.175]).repeat(512)
    assert abs(extremes.var(correction=0).item() - ch03.largest_input_variance()) < 1e-6
    capsys.readouterr()
    assert not ch03.ex6(half_range)  # the standard deviation, not the variance
    assert "standard deviation" in capsys.readouterr().out
    assert not ch03.ex6(1.0)  # what the paper promised
    assert not ch03.ex6(1.275**2)  # the range squared
    assert not ch03.ex6(None)


def test_ex7_range_checker():
    low, high = ch03.EX7_RANGE
    assert ch03.ex7((low + high) / 2)
    assert not ch03.ex7(low - 0.01)
    assert not ch03.ex7(high + 0.01)
    assert not ch03.ex7(89.2)  # a percentage, not a fraction
    assert not ch03.ex7(True)
    assert not ch03.ex7(None)


def test_ex7_the_measured_solution_lies_in_the_range():
    torch.set_num_threads(1)
    measured = ch03.standardised_run()
    low, high = ch03.EX7_RANGE
    assert low + 0.02 <= measured <= high - 0.02
    assert ch03.ex7(measured)
