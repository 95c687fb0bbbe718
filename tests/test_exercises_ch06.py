"""Chapter 6's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
from cnnbook.exercises import ch06


def test_ex1_inception_4a_channels():
    assert ch06.ex1(192 + 208 + 48 + 64)  # 512
    assert not ch06.ex1(480)
    assert not ch06.ex1(None)


def test_ex2_inception_3b_params():
    convs = 256 * 128 + 256 * 128 + 128 * 192 * 9 + 256 * 32 + 32 * 96 * 9 + 256 * 64
    bn = 2 * (128 + 128 + 192 + 32 + 96 + 64)
    assert ch06.ex2(convs + bn)  # 340,224
    assert ch06.ex2(340_224)
    assert not ch06.ex2(convs)  # forgot BatchNorm
    assert not ch06.ex2(convs + bn + 32 * 96 * 16)  # used a 5x5 kernel
    assert not ch06.ex2(None)


def test_ex3_naive_channels():
    def right(c, a, b, d, n):
        return c + n * (a + b + d)

    def wrong(c, a, b, d, n):  # forgets that the pool branch passes the input through
        return a + b + d if n else c

    assert ch06.ex3(right)
    assert not ch06.ex3(wrong)
    assert not ch06.ex3(lambda *args: 1 / 0)
    assert not ch06.ex3(None)


def test_ex4_mac_ratio():
    hw = 28 * 28
    naive = hw * 192 * (64 + 128 * 9 + 32 * 25)
    reduced = hw * (192 * 64 + 192 * 96 + 96 * 128 * 9 + 192 * 16 + 16 * 32 * 25 + 192 * 32)
    assert ch06.ex4(naive / reduced)
    assert not ch06.ex4(reduced / naive)
    assert not ch06.ex4(None)


def test_ex5_aux_params():
    expected = 528 * 128 + 2 * 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000
    assert expected == 3_191_016
    assert ch06.ex5(expected)
    assert not ch06.ex5(expected - 2 * 128)
    assert not ch06.ex5(None)


def test_ex6_adaptive_windows():
    def right(size, out):  # window i runs from floor(i * size / out) to ceil((i + 1) * size / out) - 1
        return [(i * size // out, -(-(i + 1) * size // out) - 1) for i in range(out)]

    def paper_like(size, out):  # fixed 5-wide windows every 3: the paper's pool, not the adaptive one
        return [(3 * i, 3 * i + 4) for i in range(out)]

    assert right(14, 4) == [(0, 3), (3, 6), (7, 10), (10, 13)]
    assert ch06.ex6(right)
    assert not ch06.ex6(paper_like)
    assert not ch06.ex6(lambda size, out: 1 / 0)
    assert not ch06.ex6(None)
