"""Chapter 2's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
from cnnbook.exercises import ch02


def test_ex1_resnet_stem_and_two_convs():
    # r: 7 (j 2) -> 7 + 2*2 = 11 (j 4) -> 11 + 2*4 = 19 -> 27
    assert ch02.ex1((27, 4))
    assert not ch02.ex1((19, 4))
    assert not ch02.ex1(27)
    assert not ch02.ex1(None)


def test_ex2_columns_seen_by_unit_5():
    # VGG-style stack: size 16, jump 4, effective padding 6 -> 5*4 - 6 = 14 .. 14 + 15 = 29
    assert ch02.ex2((14, 29))
    assert ch02.ex2([14, 29])
    assert not ch02.ex2((20, 35))
    assert not ch02.ex2(None)


def test_ex3_recursion_function():
    def right(kernels, strides):
        size, jump = 1, 1
        for k, s in zip(kernels, strides):
            size += (k - 1) * jump
            jump *= s
        return size

    def sums_kernels(kernels, strides):  # a common mistake: forgets the jump
        return 1 + sum(k - 1 for k in kernels)

    def crashes(kernels, strides):
        raise RuntimeError("boom")

    assert ch02.ex3(right)
    assert not ch02.ex3(sums_kernels)
    assert not ch02.ex3(crashes)
    assert not ch02.ex3(None)


def test_ex4_dilated_stack():
    assert ch02.ex4(31)  # 1 + 2*(1 + 2 + 4 + 8)
    assert not ch02.ex4(9)
    assert not ch02.ex4(None)


def test_ex5_weights_saved():
    expected = 1 - 36 / 81  # four 3x3 layers see 9x9
    assert ch02.ex5(expected)
    assert ch02.ex5(0.556)
    assert not ch02.ex5(0.45)
    assert not ch02.ex5(None)


def test_ex6_same_field_by_depth_or_dilation():
    # fields: 1 + 2 * 32 = 65 and 1 + 8 * 2 * 4 = 65; ERF spread: 4 * sqrt(8) against sqrt(32), i.e. twice as wide
    assert ch02.ex6((1, 2))
    assert ch02.ex6([1.0, 1.8])  # a measured ratio (a little below 2 at these depths) passes too
    assert not ch02.ex6((1, 1))  # "same field, same ERF"
    assert not ch02.ex6((1, 4))  # dilation counted, the square root of depth forgotten
    assert not ch02.ex6((4, 2))
    assert not ch02.ex6(2)
    assert not ch02.ex6(None)


def _stack(depth, dilation, width=8):
    from torch import nn

    layers = []
    for i in range(depth):
        layers += [nn.Conv2d(1 if i == 0 else width, width, 3, padding=dilation, dilation=dilation), nn.ReLU()]
    return nn.Sequential(*layers)


def test_ex7_range_holds_for_every_single_seed_and_for_the_chapters_average():
    from cnnbook.receptive_field import effective_receptive_field, erf_std, receptive_field_of

    deep, dilated = _stack(32, 1), _stack(8, 4)
    assert receptive_field_of(deep, (1, 72, 72)).size == receptive_field_of(dilated, (1, 72, 72)).size == 65

    def erf(net, seed):
        return effective_receptive_field(net, (1, 72, 72), n_samples=2, reinit=True, seed=seed)

    deep_maps = [erf(deep, seed) for seed in range(10)]
    dilated_maps = [erf(dilated, seed) for seed in range(10)]
    singles = [erf_std(a) / erf_std(b) for a, b in zip(deep_maps, dilated_maps)]
    assert all(ch02.EX7_LOW < r < ch02.EX7_HIGH for r in singles), singles
    for seeds in ([0, 1, 2], [3, 4, 5]):  # the chapter's way: each map averaged over three seeds
        ratio = erf_std(sum(deep_maps[s] for s in seeds) / 3) / erf_std(sum(dilated_maps[s] for s in seeds) / 3)
        assert abs(ratio - 0.5) < 0.05 and ch02.ex7(ratio)
    assert not ch02.ex7(0.25)  # the 8-layer stack's ERF over the dilated one's: the dilation, not the depth, compared
    assert not ch02.ex7(1.0)  # "the same field, so the same ERF"
    assert not ch02.ex7(2.0)  # upside down: outside 0..1
    assert not ch02.ex7(None)
