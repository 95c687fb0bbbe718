"""Chapter 18's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
import torch

from cnnbook.data import make_shapes10
from cnnbook.ddp_train import build_model
from cnnbook.distributed import accumulated_gradient
from cnnbook.env import set_seed
from cnnbook.exercises import ch18


def test_ex1_ring_traffic_ratio():
    # 2 * 63/64 over 2 * 7/8 = (63/64) / (7/8) = 1.125
    assert ch18.ex1(1.125)
    assert ch18.ex1(9 / 8)
    assert not ch18.ex1(8)  # traffic per worker does not grow with the number of workers
    assert not ch18.ex1(1 / 8)
    assert not ch18.ex1(1.0)
    assert not ch18.ex1(None)


def test_ex2_what_changes_an_accumulated_gradient():
    # a: the mean of unequal micro-batch means weights the examples of small micro-batches more; b: clipping is not
    # linear, so clipping the parts is not clipping the whole; e: a class-weighted mean divides each micro-batch
    # by its own sum of weights. c, d, f keep every example's weight and stay linear.
    assert ch18.ex2({"a", "b", "e"})
    assert ch18.ex2(["A", "b", "E"])
    assert not ch18.ex2({"a", "b"})  # forgets the class weights' denominator
    assert not ch18.ex2({"a", "b", "c", "e"})  # BatchNorm in eval mode treats each example alone
    assert not ch18.ex2({"a", "b", "d", "e"})  # a penalty divided by k and added k times is added once
    assert not ch18.ex2({"a", "b", "e", "f"})  # a sum of sums is the sum
    assert not ch18.ex2({"z"})
    assert not ch18.ex2(None)


def test_ex2_gaps_demonstrate_each_claim():
    # the checker's expected letters come from these gaps, measured on the chapter's network in float64
    gaps = ch18.ex2_gaps()
    assert sorted(gaps) == sorted(ch18.EX2_OPTIONS)
    for letter in "abe":
        assert gaps[letter] > 1e-3, (letter, gaps[letter])  # a real difference, far above float64 rounding
    for letter in "cdf":
        assert gaps[letter] < 1e-12, (letter, gaps[letter])  # float64 rounding only
    assert ch18.ex2_gaps() == gaps  # computed once, the same on every call


def test_ex3_sampler_share():
    # 10 indices padded to 12 by repeating 0 and 1; rank 1 takes positions 1, 4, 7, 10 -> indices 1, 4, 7, 0
    assert ch18.ex3([1, 4, 7, 0])
    assert not ch18.ex3([1, 4, 7])  # forgets the padding
    assert not ch18.ex3([4, 5, 6, 7])  # contiguous blocks
    assert not ch18.ex3(None)


def test_ex4_rank_share_function():
    def right(n, world_size, rank):
        per_rank = -(-n // world_size)
        padded = [i % n for i in range(per_rank * world_size)]
        return padded[rank::world_size]

    def no_padding(n, world_size, rank):
        return list(range(rank, n, world_size))

    def blocks(n, world_size, rank):
        per_rank = -(-n // world_size)
        return [i % n for i in range(rank * per_rank, (rank + 1) * per_rank)]

    assert right(5, 8, 6) == [1]
    assert ch18.ex4(right)
    assert not ch18.ex4(no_padding)
    assert not ch18.ex4(blocks)
    assert not ch18.ex4(None)


def _gap(kind, seed, divide=True):
    shapes = make_shapes10(64, image_size=32, seed=0)
    x, y = shapes.images, shapes.labels
    set_seed(seed)
    accumulated, _ = accumulated_gradient(build_model(kind), x, y, 4)
    if not divide:
        accumulated = accumulated * 4
    set_seed(seed)
    one, _ = accumulated_gradient(build_model(kind), x, y, 1)
    return ((accumulated - one).norm() / one.norm()).item()


def test_ex5_batchnorm_accumulation_gap():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert ch18.ex5(_gap("batchnorm", 0))
        assert ch18.ex5(_gap("batchnorm", 4))
        assert not ch18.ex5(_gap("plain", 0))  # no BatchNorm: the same gradient, up to rounding
        assert not ch18.ex5(_gap("batchnorm", 0, divide=False))  # losses not divided by k: a gap near 3
    finally:
        torch.set_num_threads(threads)
    assert not ch18.ex5(None)
    assert not ch18.ex5(0.01)
    assert not ch18.ex5(0.9)
