"""Chapter 9's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
from cnnbook.exercises import ch09


def test_ex1_separable_weights():
    assert ch09.ex1(9 * 256 + 256 * 384)
    assert not ch09.ex1(9 * 256 * 384)  # the full convolution
    assert not ch09.ex1(9 * 384 + 256 * 384)  # depthwise over the output channels
    assert not ch09.ex1(None)


def test_ex2_width_for_an_eighth():
    # 1/N + 1/9 = 1/8  =>  1/N = 1/72
    assert ch09.ex2(72)
    assert not ch09.ex2(64)  # 1/N = 1/8 forgets the depthwise part
    assert not ch09.ex2(8)
    assert not ch09.ex2(None)
    assert ch09._separable_fraction(72, in_channels=5) == ch09.EX2_FRACTION  # the input width drops out


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


def test_ex5_narrow_standard_network_macs_and_cost():
    import torch

    from cnnbook.profile import macs
    from cnnbook.records.mobilenet import NARROW, shapes10_net

    narrow = 526_244  # widths 6, 12, 25, 25, 50: the solution prints it
    with torch.device("meta"):
        assert macs(shapes10_net(False, NARROW), (3, 32, 32)) == narrow
    low, high = ch09.EX5_COST_RANGE
    assert -1 < low < high < 0  # narrowing costs accuracy on every seed 0 to 5; printed differences are all positive
    assert ch09.ex5((narrow, 0.245 - 0.302))  # seed 0: narrow 0.245, full width 0.302
    assert ch09.ex5([narrow, (low + high) / 2]) and ch09.ex5((narrow, low)) and ch09.ex5((narrow, high))
    assert not ch09.ex5((narrow, low - 0.01)) and not ch09.ex5((narrow, high + 0.01))
    assert not ch09.ex5((3_355_904, 0.0))  # the full-width network: NARROW forgotten
    assert not ch09.ex5((518_400, 0.241 - 0.339))  # the separable network
    assert not ch09.ex5((narrow, 0.299))  # the accuracy itself, not the difference
    assert not ch09.ex5((narrow, 0.040))  # the difference the wrong way round
    assert not ch09.ex5((narrow, 0.495 - 0.592))  # the record's 15-epoch cost, read off the table
    assert not ch09.ex5((narrow + 7_844, -0.04))  # close is not enough for a count
    assert not ch09.ex5(0.299)  # not a pair
    assert not ch09.ex5((narrow, -0.04, 0.3))
    assert not ch09.ex5((float(narrow), -0.04))  # MACs are a whole number
    assert not ch09.ex5((narrow, True))
    assert not ch09.ex5((narrow, -1.5))
    assert not ch09.ex5((narrow, "-0.04"))
    assert not ch09.ex5(None)
