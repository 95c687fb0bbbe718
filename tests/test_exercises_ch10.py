"""Chapter 10's exercise checkers: right answers (derived by hand or measured) pass, wrong ones and None fail."""
from cnnbook.exercises import ch10
from cnnbook.models.efficientnet import B0_STAGES
from cnnbook.models.mobilenet import make_divisible


def test_ex1_layers_linear_in_width():
    assert ch10.ex1({"a", "c", "e"})
    assert ch10.ex1(["A", "C", "E"])  # any iterable, any case
    assert not ch10.ex1({"c"})  # only the depthwise convolutions
    assert not ch10.ex1({"a", "b", "c", "d", "e"})
    assert not ch10.ex1({"a", "z"})  # not an option
    assert not ch10.ex1(None)
    assert set(ch10.EX1_LINEAR) <= set(ch10.EX1_OPTIONS)


def _b0_macs_by_hand(width: float, res: int = 224) -> int:
    """MACs of B0 with channels x width, counted layer by layer from the stage table (no profiler)."""
    def ch(c):
        return make_divisible(c * width, 8)

    total, size = 0, res // 2  # the stem has stride 2
    stem = ch(32)
    total += 3 * 3 * 3 * stem * size * size
    for s in B0_STAGES:
        for i in range(s.num_layers):
            c_in = ch(s.input_channels) if i == 0 else ch(s.out_channels)
            c_out, stride = ch(s.out_channels), s.stride if i == 0 else 1
            expanded = make_divisible(c_in * s.expand_ratio, 8)
            if expanded != c_in:
                total += c_in * expanded * size * size  # 1x1 expansion
            out = (size + 2 * (s.kernel // 2) - s.kernel) // stride + 1
            total += s.kernel * s.kernel * expanded * out * out  # depthwise
            squeeze = max(1, c_in // 4)
            total += 2 * expanded * squeeze  # SE: two 1x1 convolutions on the pooled vector
            total += expanded * c_out * out * out  # 1x1 projection
            size = out
    head = 4 * ch(320)
    total += ch(320) * head * size * size + head * 1000
    return total


def test_ex2_width_two_costs_less_than_four_times():
    ratio = _b0_macs_by_hand(2.0) / _b0_macs_by_hand(1.0)
    assert 3.5 < ratio < 4  # the stem, the depthwise convolutions and the classifier grow only linearly
    assert ch10.ex2(ratio)
    assert not ch10.ex2(4.0)  # the nominal w^2
    assert not ch10.ex2(2.0)
    assert not ch10.ex2(None)


def test_ex3_accepts_the_measured_range_only():
    low, high = ch10.EX3_RANGE
    assert ch10.ex3(0.232)  # measured: only the two strided 5x5 convolutions pad symmetrically
    assert ch10.ex3(0.2415)  # the same photos, with a median that averages the two middle ones
    assert ch10.ex3(low) and ch10.ex3(high) and not ch10.ex3(high + 0.001)  # the bounds shown are the bounds
    assert f"{low:.2f}" == str(low) and f"{high:.2f}" == str(high)  # the message shows them exactly
    assert not ch10.ex3(0.209)  # all five strided convolutions reverted (the chapter's comparison)
    assert not ch10.ex3(0.162)  # only the 3x3 ones
    assert not ch10.ex3(1.5)  # not a probability mass
    assert not ch10.ex3("0.23")
    assert not ch10.ex3(None)
    assert 0 < low < 0.232 < high < 1

