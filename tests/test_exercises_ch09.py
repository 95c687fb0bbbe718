"""Chapter 9's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
from cnnbook.exercises import ch09


def test_ex1_separable_weights():
    assert ch09.ex1(9 * 256 + 256 * 384)
    assert not ch09.ex1(9 * 256 * 384)  # the full convolution
    assert not ch09.ex1(9 * 384 + 256 * 384)  # depthwise over the output channels
    assert not ch09.ex1(None)


def test_ex2_mac_fraction():
    assert ch09.ex2(1 / 256 + 1 / 25)
    assert ch09.ex2(0.0439)
    assert not ch09.ex2(1 / 256 + 1 / 9)  # a 3x3 kernel's fraction
    assert not ch09.ex2(None)


def test_ex3_stage_widths_at_0_35():
    # 16*.35=5.6 -> 8; 24*.35=8.4 -> 8; 32*.35=11.2 -> 8, under 90% of 11.2 -> 16; 64*.35=22.4 -> 24;
    # 96*.35=33.6 -> 32; 160*.35=56; 320*.35=112
    assert ch09.ex3([8, 8, 16, 24, 32, 56, 112])
    assert not ch09.ex3([8, 8, 8, 24, 32, 56, 112])  # forgets the 10% rule
    assert not ch09.ex3([6, 8, 11, 22, 34, 56, 112])  # plain rounding
    assert not ch09.ex3(None)


def test_ex4_inverted_residual_params():
    def right(cin, cout, t, stride):
        hidden = round(cin * t)
        expand = cin * hidden + 2 * hidden if hidden != cin else 0
        return expand + 9 * hidden + 2 * hidden + hidden * cout + 2 * cout

    def always_expands(cin, cout, t, stride):
        hidden = round(cin * t)
        return cin * hidden + 2 * hidden + 9 * hidden + 2 * hidden + hidden * cout + 2 * cout

    def forgets_bn(cin, cout, t, stride):
        hidden = round(cin * t)
        return (cin * hidden if hidden != cin else 0) + 9 * hidden + hidden * cout

    assert right(16, 24, 6, 2) == 5_136
    assert ch09.ex4(right)
    assert not ch09.ex4(always_expands)
    assert not ch09.ex4(forgets_bn)
    assert not ch09.ex4(None)


def test_ex5_residual_blocks():
    # n - 1 per row, plus none in the first row (n = 1): 0 + 1 + 2 + 3 + 2 + 2 + 0 = 10
    assert ch09.ex5(10)
    assert not ch09.ex5(17)
    assert not ch09.ex5(None)
