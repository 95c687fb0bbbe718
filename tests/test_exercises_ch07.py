"""Chapter 7's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
from cnnbook.exercises import ch07


def test_ex1_basic_block_params():
    # two 3x3 convs 256 -> 256 without bias, two BatchNorms with a scale and a shift per channel
    assert ch07.ex1(2 * 9 * 256 * 256 + 2 * 2 * 256)
    assert ch07.ex1(1_180_672)
    assert not ch07.ex1(2 * 9 * 256 * 256)  # forgot the BatchNorms
    assert not ch07.ex1(None)


def test_ex2_bottleneck_with_projection():
    convs = 512 * 256 + 9 * 256 * 256 + 256 * 1024 + 512 * 1024
    norms = 2 * (256 + 256 + 1024 + 1024)
    assert ch07.ex2(convs + norms)
    assert ch07.ex2(1_512_448)
    assert not ch07.ex2(convs + norms - (512 * 1024 + 2 * 1024))  # forgot the projection
    assert not ch07.ex2(None)


def test_ex3_se_params_function():
    def right(channels, reduction):
        hidden = max(1, channels // reduction)
        return 2 * channels * hidden + hidden + channels

    def no_biases(channels, reduction):
        return 2 * channels * max(1, channels // reduction)

    def crashes(channels, reduction):
        raise RuntimeError("boom")

    assert right(256, 16) == 8464
    assert ch07.ex3(right)
    assert not ch07.ex3(no_biases)
    assert not ch07.ex3(crashes)
    assert not ch07.ex3(None)


def test_ex4_grouped_conv_weights():
    # ResNeXt: 32 groups of 16 channels = 512 channels, each output sees 16 inputs; ResNet-50: 256 -> 256
    resnext, resnet = 512 * 16 * 9, 256 * 256 * 9
    assert (resnext, resnet) == (73_728, 589_824)
    assert ch07.ex4((resnext, resnet))
    assert ch07.ex4([resnext, resnet])
    assert not ch07.ex4((512 * 512 * 9, resnet))  # forgot the groups
    assert not ch07.ex4(resnext)
    assert not ch07.ex4(None)


def test_ex5_cifar_resnet_110():
    n = (110 - 2) // 6
    stem = 3 * 16 * 9 + 2 * 16
    stage1 = n * (2 * 9 * 16 * 16 + 4 * 16)
    stage2 = (9 * 16 * 32 + 9 * 32 * 32 + 4 * 32) + (n - 1) * (2 * 9 * 32 * 32 + 4 * 32)
    stage3 = (9 * 32 * 64 + 9 * 64 * 64 + 4 * 64) + (n - 1) * (2 * 9 * 64 * 64 + 4 * 64)
    fc = 64 * 10 + 10
    total = stem + stage1 + stage2 + stage3 + fc
    assert (n, total) == (18, 1_727_962)
    assert ch07.ex5((n, total))
    assert not ch07.ex5((18, total + 3 * 16 * 32))  # counted projection weights that option A does not have
    assert not ch07.ex5((27, total))
    assert not ch07.ex5(None)


def test_ex6_identity_path_breakers():
    assert ch07.ex6({"a", "c", "d"}) and ch07.ex6(["A", "C", "D"])
    assert not ch07.ex6({"a", "c"})  # the projection multiplies the shortcut by a matrix too
    assert not ch07.ex6({"a", "b", "c", "d"})  # SE acts inside F only
    assert not ch07.ex6("z") and not ch07.ex6(None)


def test_ex7_gradient_spread_measured_independently():
    import torch
    from torch import nn

    from cnnbook.data import half_resolution, load_shapes10
    from cnnbook.env import set_seed
    from cnnbook.models import cifar_resnet

    train = half_resolution(load_shapes10().train)
    x, y = train.tensors[0][:128], train.tensors[1][:128]
    ratios = []
    for plain in (True, False):  # a second route to the same numbers: hooks on the weights' gradients
        set_seed(0)
        model = cifar_resnet(56, plain=plain, width=4)
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        nn.functional.cross_entropy(model(x), y).backward()
        ratios.append((convs[0].weight.grad.norm() / convs[-1].weight.grad.norm()).item())
    assert ratios[0] > 100 * ratios[1]  # the plain network's spread dwarfs the residual one's
    assert ch07.ex7(tuple(ratios))
    assert not ch07.ex7((ratios[0], 1.2 * ratios[1])) and not ch07.ex7(None)
