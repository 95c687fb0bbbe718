"""Chapter 3's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
from cnnbook.exercises import ch03


def test_ex1_dense_c3():
    assert ch03.ex1(16 * (6 * 25 + 1))  # 2,416
    assert not ch03.ex1(1516)  # the partial table's count
    assert not ch03.ex1(16 * 6 * 25)  # forgot the biases
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
