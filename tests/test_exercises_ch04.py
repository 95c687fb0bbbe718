"""Chapter 4's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
from cnnbook.exercises import ch04


def test_ex1_conv1_on_227():
    assert ch04.ex1(55)  # (227 - 11) / 4 + 1
    assert not ch04.ex1(54)
    assert not ch04.ex1(56.25)
    assert not ch04.ex1(None)


def test_ex2_fc6_parameters():
    expected = 9216 * 4096 + 4096  # 256 * 6 * 6 inputs
    assert ch04.ex2(expected)
    assert not ch04.ex2(9216 * 4096)  # forgot the biases
    assert not ch04.ex2(None)


def test_ex3_grouped_conv4_saving():
    full, grouped = 384 * 384 * 9, 384 * 192 * 9
    assert ch04.ex3(full - grouped)
    assert ch04.ex3(663_552)
    assert not ch04.ex3(grouped // 2)
    assert not ch04.ex3(None)


def test_ex4_pool5_side_for_256_input():
    # 256 -> conv1 (11, 4, 2): 63 -> pool 31 -> pool 15 -> pool 7
    assert ch04.ex4(7)
    assert not ch04.ex4(6)
    assert not ch04.ex4(None)


def test_ex5_crop_variants_for_227_crops():
    # offsets 0..29 along each axis: 30 positions, squared, times two mirrorings
    assert ch04.ex5(30 * 30 * 2)
    assert ch04.ex5(1800)
    assert not ch04.ex5(29 * 29 * 2)  # the paper's off-by-one
    assert not ch04.ex5(None)
