"""Chapter 5's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
from cnnbook.exercises import ch05
from cnnbook.models.vgg import cfgs


def test_ex1_conv3_1_parameters():
    assert ch05.ex1(3 * 3 * 128 * 256 + 256)  # 295,168
    assert not ch05.ex1(3 * 3 * 128 * 256)  # forgot the biases
    assert not ch05.ex1(None)


def _vgg_params(cfg, num_classes):
    total, channels = 0, 3
    for spec in cfg:
        if spec in ("M", "LRN"):
            continue
        out, k = spec if isinstance(spec, tuple) else (spec, 3)
        total += k * k * channels * out + out
        channels = out
    return total + (channels * 49 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * num_classes + num_classes)


def test_ex2_parameter_function():
    def all_3x3(cfg, num_classes):  # a common mistake: C's 1x1 layers counted as 3x3
        flat = [s[0] if isinstance(s, tuple) else s for s in cfg]
        return _vgg_params(flat, num_classes)

    def crashes(cfg, num_classes):
        raise RuntimeError("boom")

    assert _vgg_params(cfgs["D"], 1000) == 138_357_544  # the hand count itself is right
    assert ch05.ex2(_vgg_params)
    assert not ch05.ex2(all_3x3)
    assert not ch05.ex2(crashes)
    assert not ch05.ex2(None)


def test_ex3_conv5_3_receptive_field():
    # r grows by 2*j per conv and 1*j per pool: 1 + 2*2 + 1 + 2*2*2 + 2 + 2*3*4 + 4 + 2*3*8 + 8 + 2*3*16
    assert ch05.ex3(196)
    assert not ch05.ex3(212)  # that is after pool5
    assert not ch05.ex3(None)


def test_ex4_batchnorm_parameters():
    assert ch05.ex4(2 * (2 * 64 + 2 * 128 + 4 * 256 + 8 * 512))  # 11,008
    assert not ch05.ex4(4 * (2 * 64 + 2 * 128 + 4 * 256 + 8 * 512))  # running stats are buffers
    assert not ch05.ex4(None)


def test_ex6_three_3x3_against_7x7_when_channels_double():
    # in units of C^2: 9 * 1/2 + 2 * 9 = 22.5 for the stack, 49 * 1/2 = 24.5 for the 7x7
    assert ch05.ex6(22.5 / 24.5)
    assert not ch05.ex6(27 / 49)  # the ratio when the channels stay constant
    assert not ch05.ex6(24.5 / 22.5)  # upside down
    assert not ch05.ex6(None)


def test_ex7_head_gradient_shrink_measured_independently():
    import torch
    from torch import nn

    from cnnbook.data import load_shapes10
    from cnnbook.env import set_seed
    from cnnbook.models.vgg import vgg11

    train = load_shapes10().train
    x, y = train.tensors[0][:128], train.tensors[1][:128]
    norms = {}
    for head in ("paper", "default"):  # a second route: hooks on the first convolution's weight gradient
        set_seed(0)
        model = vgg11(width=1 / 16, small_input=True, num_classes=10, dropout=0.0)
        if head == "default":
            for m in model.classifier:
                if isinstance(m, nn.Linear):
                    m.reset_parameters()
        first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
        seen = []
        first.weight.register_hook(lambda g: seen.append(g.norm().item()))
        nn.functional.cross_entropy(model(x), y).backward()
        norms[head] = seen[0]
    ratio = norms["default"] / norms["paper"]
    assert 100 < ratio < 5000  # the paper's head shrinks the gradient by orders of magnitude
    assert ch05.ex7(ratio) and ch05.ex7(1.04 * ratio)
    assert not ch05.ex7(1.1 * ratio) and not ch05.ex7(1 / ratio) and not ch05.ex7(None)
