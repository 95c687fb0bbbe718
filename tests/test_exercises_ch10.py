"""Chapter 10's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
import math

from cnnbook.exercises import ch10


def test_ex1_parameters_of_an_mbconv_block():
    c_in, e, c_out, s = 16, 96, 24, 16 // 4
    expand = c_in * e + 2 * e
    depthwise = 9 * e + 2 * e
    se = e * s + s + s * e + e
    project = e * c_out + 2 * c_out
    by_hand = expand + depthwise + se + project
    assert by_hand == 6_004
    assert ch10.ex1(by_hand)
    assert not ch10.ex1(by_hand - se)  # forgets the squeeze-and-excitation
    assert not ch10.ex1(None)


def test_ex2_blocks_of_b4():
    by_hand = sum(math.ceil(n * 1.8) for n in (1, 2, 2, 3, 3, 4, 1))
    assert by_hand == 32
    assert ch10.ex2(by_hand)
    assert not ch10.ex2(round(16 * 1.8))  # scales the total instead of each stage
    assert not ch10.ex2(None)


def test_ex3_multipliers():
    assert ch10.ex3(lambda phi: (1.2**phi, 1.1**phi, 1.15**phi))
    assert not ch10.ex3(lambda phi: (1.1**phi, 1.2**phi, 1.15**phi))  # depth and width swapped
    assert not ch10.ex3(lambda phi: 1 / 0)
    assert not ch10.ex3(None)


def test_ex4_last_drop_probability():
    assert ch10.ex4(0.2 * 15 / 16)
    assert not ch10.ex4(0.2)
    assert not ch10.ex4(None)


def test_ex5_flops_factor():
    assert ch10.ex5(round((1.2 * 1.1**2 * 1.15**2) ** 3, 2))
    assert not ch10.ex5(8.0)  # the nominal 2^3
    assert not ch10.ex5(None)
