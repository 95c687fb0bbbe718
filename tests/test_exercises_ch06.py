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


def test_ex7_costliest_branch_is_the_3x3():
    costs = ch06.branch_macs(ch06.Inception(192, *ch06.INCEPTION_CFG["3a"], branch3_kernel=5))
    assert costs["branch2"] == 28 * 28 * (192 * 96 + 96 * 128 * 9)  # reduce, then 3x3
    assert ch06.ex7("branch2")
    assert not ch06.ex7("branch3") and not ch06.ex7("5x5") and not ch06.ex7(None)


def test_ex8_measured_share_of_the_auxiliary_losses():
    import torch
    import torch.nn.functional as F

    import cnnbook
    from cnnbook.data import load_shapes10
    from cnnbook.models import googlenet

    images, labels = load_shapes10().train.tensors
    cnnbook.set_seed(0)
    out = googlenet(small_input=True, width=0.125, num_classes=10).train()(images[:256])
    aux = 0.3 * (F.cross_entropy(out.aux_logits1, labels[:256]) + F.cross_entropy(out.aux_logits2, labels[:256]))
    share = (aux / (F.cross_entropy(out.logits, labels[:256]) + aux)).item()
    assert ch06.ex8(share)
    assert not ch06.ex8(0.6) and not ch06.ex8(1.6) and not ch06.ex8(None)
