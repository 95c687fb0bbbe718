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
