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
