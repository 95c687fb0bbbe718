"""Chapter 8's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
import math

from cnnbook.exercises import ch08


def test_ex1_input_channels_of_a_deep_layer():
    # block 3 starts with 256 channels (transition 2 halves 512); 11 earlier layers add 32 each
    assert ch08.ex1(256 + 11 * 32)
    assert not ch08.ex1(256 + 12 * 32)  # off by one: counts the layer's own output
    assert not ch08.ex1(None)


def test_ex2_parameters_of_that_layer():
    c, k = 608, 32
    by_hand = 2 * c + c * 4 * k + 2 * 4 * k + 9 * 4 * k * k
    assert by_hand == 116_160
    assert ch08.ex2(by_hand)
    assert not ch08.ex2(c * 4 * k + 9 * 4 * k * k)  # forgets the BatchNorms
    assert not ch08.ex2(None)


def test_ex3_densenet169_classifier_width():
    # 64 + 6*32 = 256 -> 128 + 12*32 = 512 -> 256 + 32*32 = 1280 -> 640 + 32*32 = 1664
    assert ch08.ex3(1664)
    assert not ch08.ex3(1024)  # DenseNet-121's
    assert not ch08.ex3(None)


def test_ex4_classifier_channels_function():
    def right(k0, k, blocks, theta):
        c = k0
        for i, n in enumerate(blocks):
            c += n * k
            if i < len(blocks) - 1:
                c = int(c * theta)
        return c

    def compresses_last_block_too(k0, k, blocks, theta):
        c = k0
        for n in blocks:
            c = int((c + n * k) * theta)
        return c

    def rounds_up(k0, k, blocks, theta):
        c = k0
        for i, n in enumerate(blocks):
            c += n * k
            if i < len(blocks) - 1:
                c = math.ceil(c * theta)
        return c

    assert right(64, 32, (6, 12, 24, 16), 0.5) == 1024
    assert right(16, 5, (3, 4, 5), 0.5) == 42  # 31 -> 15, 35 -> 17, 42
    assert ch08.ex4(right)
    assert not ch08.ex4(compresses_last_block_too)
    assert not ch08.ex4(rounds_up)
    assert not ch08.ex4(None)


def test_ex5_memory_ratio_of_the_first_block():
    k0, k, L = 64, 32, 6
    naive = sum(2 * (k0 + (l - 1) * k) + 8 * k for l in range(1, L + 1))
    efficient = k0 + (L - 1) * k + 8 * k * L
    assert (naive, efficient) == (3264, 1760)
    assert ch08.ex5(naive / efficient)
    assert ch08.ex5(1.855)
    assert not ch08.ex5(2.0)
    assert not ch08.ex5(efficient / naive)
    assert not ch08.ex5(None)


def test_ex6_wider_and_shallower_blocks_cost_more():
    def block_params(layers, k, k0=24):  # P(C) = 2C + 4kC + 8k + 36k^2 summed over the layers
        return sum(2 * c + 4 * k * c + 8 * k + 36 * k * k for c in (k0 + i * k for i in range(layers)))

    assert (block_params(6, 24), block_params(12, 12)) == (174_960, 117_360)
    assert ch08.ex6("more")
    assert not ch08.ex6("fewer") and not ch08.ex6("the same") and not ch08.ex6("bigger") and not ch08.ex6(None)


def test_ex7_untrained_reuse_maps_are_nearly_flat():
    import cnnbook
    from cnnbook.models.densenet import DenseBlock, reuse_map
    from cnnbook.records.densenet import small_densenet

    cnnbook.set_seed(0)
    net = small_densenet(small_input=True)
    ratios = [(row[~row.isnan()].min() / row[~row.isnan()].max()).item()
              for block in net.modules() if isinstance(block, DenseBlock) for row in reuse_map(block)]
    assert ch08.ex7(min(ratios))
    assert not ch08.ex7(0.3) and not ch08.ex7(1.2) and not ch08.ex7(None)
