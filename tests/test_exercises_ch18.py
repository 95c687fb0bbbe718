"""Chapter 18's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
from cnnbook.exercises import ch18


def test_ex1_per_gpu_batch():
    assert ch18.ex1(32)
    assert not ch18.ex1(256)  # divided by the machines only
    assert not ch18.ex1(128)
    assert not ch18.ex1(None)


def test_ex2_linear_scaling():
    assert ch18.ex2(3.2)
    assert not ch18.ex2(0.1)  # unscaled
    assert not ch18.ex2(0.1 * 32 ** 0.5)  # the square-root rule
    assert not ch18.ex2(None)


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


def test_ex5_steps_per_epoch():
    assert ch18.ex5(97)
    assert not ch18.ex5(98)  # keeps the last, incomplete batch
    assert not ch18.ex5(None)
