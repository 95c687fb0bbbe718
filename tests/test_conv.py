"""Tests of cnnbook.conv against torch's own layers and hand-derived numbers."""
import itertools
import random

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnbook.conv import (
    conv2d_naive,
    conv_output_size,
    conv_params,
    conv_transpose_output_size,
    padding_same,
    pool_output_size,
)

# torch warns that padding="same" with an even kernel copies the input; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning", "ignore:TF32:UserWarning")


@pytest.fixture(autouse=True)
def _fast_tiny_convs():
    """Thousands of tiny convs: oneDNN would build a kernel per new shape and threads only add overhead."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.backends.mkldnn.flags(enabled=False):
            yield
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------- worked cases the book relies on
@pytest.mark.parametrize(
    "size, kernel, stride, padding, expected",
    [
        (224, 3, 1, 1, 224),  # "same" 3x3
        (224, 3, 2, 1, 112),  # strided 3x3
        (224, 7, 2, 3, 112),  # ResNet stem
        (224, 11, 4, 2, 55),  # AlexNet conv1
        (5, 3, 1, 0, 3),  # the hand-computed 5x5 example
    ],
)
def test_worked_output_sizes(size, kernel, stride, padding, expected):
    assert conv_output_size(size, kernel, stride, padding) == expected
    layer = nn.Conv2d(1, 1, kernel, stride, padding)
    assert layer(torch.zeros(1, 1, size, size)).shape[-2:] == (expected, expected)


def test_worked_parameter_counts():
    assert conv_params(3, 64, 3) == 1792 == sum(p.numel() for p in nn.Conv2d(3, 64, 3).parameters())
    standard = conv_params(512, 512, 3, bias=False)
    separable = conv_params(512, 512, 3, groups=512, bias=False) + conv_params(512, 512, 1, bias=False)
    assert (standard, separable) == (2_359_296, 266_752)
    assert round(100 * (1 - separable / standard), 1) == 88.7


def test_alexnet_and_pool_chain():
    # 224 -> 55 -> pool 27 -> 27 -> pool 13 -> 13 -> pool 6 (AlexNet's spatial sizes)
    s = conv_output_size(224, 11, 4, 2)
    s = pool_output_size(s, 3, 2)
    assert s == 27
    s = pool_output_size(conv_output_size(s, 5, padding=2), 3, 2)
    assert s == 13
    assert pool_output_size(conv_output_size(s, 3, padding=1), 3, 2) == 6


# ---------------------------------------------------------------- output sizes against torch, exhaustively
def _torch_shape(fn):
    """torch's output (height, width), or None where torch refuses the setting."""
    try:
        shape = tuple(fn().shape[-2:])
    except (RuntimeError, ValueError):
        return None
    # torch returns an empty tensor for a transposed conv whose output size is 0; cnnbook refuses it
    return None if 0 in shape else shape


def _ours(fn):
    try:
        out = fn()
    except ValueError:
        return None
    return out if isinstance(out, tuple) else (out, out)


def test_conv_output_size_matches_torch_on_a_grid():
    weight_cache = {k: torch.zeros(1, 1, k, k) for k in range(1, 5)}
    for h, k, s, p, d in itertools.product(range(1, 9), range(1, 5), range(1, 4), range(3), range(1, 4)):
        x = torch.zeros(1, 1, h, h)
        expected = _torch_shape(lambda: F.conv2d(x, weight_cache[k], stride=s, padding=p, dilation=d))
        assert _ours(lambda: conv_output_size(h, k, s, p, d)) == expected, (h, k, s, p, d)


def test_conv_output_size_pairs_and_strings_match_nn_conv2d():
    rng = random.Random(0)
    checked = 0
    for _ in range(300):
        size = (rng.randint(1, 16), rng.randint(1, 16))
        kernel = (rng.randint(1, 5), rng.randint(1, 5))
        dilation = (rng.randint(1, 3), rng.randint(1, 3))
        stride = (rng.randint(1, 3), rng.randint(1, 3))
        padding = rng.choice([(rng.randint(0, 3), rng.randint(0, 3)), "same", "valid"])
        if padding == "same":
            stride = (1, 1)
        layer = nn.Conv2d(1, 1, kernel, stride, padding, dilation)
        expected = _torch_shape(lambda: layer(torch.zeros(1, 1, *size)))
        ours = _ours(lambda: conv_output_size(size, kernel, stride, padding, dilation))
        assert ours == expected, (size, kernel, stride, padding, dilation)
        checked += expected is not None
    assert checked > 150  # the sample really exercises valid settings


def test_pool_output_size_matches_torch_on_a_grid():
    for h, k, s, p, d, ceil in itertools.product(
        range(1, 10), range(1, 5), range(1, 4), range(3), range(1, 3), (False, True)
    ):
        x = torch.zeros(1, 1, h, h)
        expected = _torch_shape(lambda: F.max_pool2d(x, k, s, p, d, ceil_mode=ceil))
        assert _ours(lambda: pool_output_size(h, k, s, p, d, ceil)) == expected, (h, k, s, p, d, ceil)


def test_pool_output_size_pairs_and_defaults_match_nn_pools():
    rng = random.Random(1)
    for _ in range(200):
        size = (rng.randint(1, 20), rng.randint(1, 20))
        kernel = (rng.randint(1, 5), rng.randint(1, 5))
        stride = rng.choice([None, (rng.randint(1, 3), rng.randint(1, 3))])
        padding = (rng.randint(0, kernel[0] // 2), rng.randint(0, kernel[1] // 2))
        ceil = rng.random() < 0.5
        x = torch.zeros(1, 1, *size)
        expected = _torch_shape(lambda: nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil)(x))
        assert _ours(lambda: pool_output_size(size, kernel, stride, padding, ceil_mode=ceil)) == expected
        expected_avg = _torch_shape(lambda: nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil)(x))
        assert expected_avg == expected


def test_pool_ceil_mode_drops_a_window_that_starts_in_the_padding():
    # 4 + 2*1 padding, kernel 2, stride 2: rounding up gives 4 windows, but the 4th starts at 6 >= 4 + 1.
    assert pool_output_size(4, 2, 2, 1, ceil_mode=True) == 3
    assert nn.MaxPool2d(2, 2, 1, ceil_mode=True)(torch.zeros(1, 1, 4, 4)).shape[-1] == 3
    # ceil_mode keeps a partial last window: 6 with kernel 3, stride 2 -> 3 instead of 2
    assert pool_output_size(6, 3, 2, ceil_mode=True) == 3
    assert pool_output_size(6, 3, 2) == 2


def test_conv_transpose_output_size_matches_torch_on_a_grid():
    for h, k, s, p, op, d in itertools.product(
        range(1, 6), range(1, 5), range(1, 4), range(4), range(3), range(1, 3)
    ):
        x = torch.zeros(1, 1, h, h)
        w = torch.zeros(1, 1, k, k)
        expected = _torch_shape(
            lambda: F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=op, dilation=d)
        )
        ours = _ours(lambda: conv_transpose_output_size(h, k, s, p, op, d))
        assert ours == expected, (h, k, s, p, op, d)


def test_conv_transpose_output_size_pairs_match_nn_conv_transpose2d():
    rng = random.Random(2)
    for _ in range(100):
        size = (rng.randint(1, 10), rng.randint(1, 10))
        kernel = (rng.randint(1, 4), rng.randint(1, 4))
        stride = (rng.randint(1, 3), rng.randint(1, 3))
        padding = (rng.randint(0, 2), rng.randint(0, 2))
        output_padding = (rng.randint(0, stride[0] - 1), rng.randint(0, stride[1] - 1))
        layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding)
        expected = _torch_shape(lambda: layer(torch.zeros(1, 1, *size)))
        assert _ours(lambda: conv_transpose_output_size(size, kernel, stride, padding, output_padding)) == expected
    # U-Net's up-convolution doubles the size; a stride-2 conv followed by it gets back an even size
    assert conv_transpose_output_size(28, 2, 2) == 56
    assert conv_transpose_output_size(conv_output_size(15, 3, 2, 1), 3, 2, 1, output_padding=0) == 15


def test_result_form_follows_the_arguments():
    assert conv_output_size(32, 3) == 30
    assert conv_output_size((32, 32), 3) == (30, 30)
    assert conv_output_size(32, (3, 5)) == (30, 28)
    assert conv_output_size(32, 3, padding="same") == 32
    assert conv_output_size([10, 12], 3) == (8, 10)
    assert pool_output_size((7, 9), 2) == (3, 4)
    assert conv_transpose_output_size((3, 4), 2, 2) == (6, 8)


def test_padding_same_splits_like_torch():
    assert padding_same(3) == (1, 1)
    assert padding_same(4) == (1, 2)
    assert padding_same(3, dilation=2) == (2, 2)
    assert padding_same((3, 4), (1, 3)) == ((1, 1), (4, 5))
    # apply the split by hand and compare with torch's padding="same"
    torch.manual_seed(0)
    x, w = torch.randn(1, 2, 7, 8), torch.randn(3, 2, 2, 4)
    (t, b), (l, r) = padding_same((2, 4), (2, 1))
    by_hand = F.conv2d(F.pad(x, (l, r, t, b)), w, dilation=(2, 1))
    torch.testing.assert_close(by_hand, F.conv2d(x, w, padding="same", dilation=(2, 1)))


# ---------------------------------------------------------------- parameter counts against nn.Conv2d
@pytest.mark.parametrize("in_c, out_c, k, groups", [(1, 1, 1, 1), (3, 64, 3, 1), (4, 6, (3, 5), 2), (8, 8, 3, 8),
                                                    (12, 24, (1, 7), 3), (64, 128, 1, 1), (96, 256, 5, 2)])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_params_matches_nn_conv2d(in_c, out_c, k, groups, bias):
    layer = nn.Conv2d(in_c, out_c, k, groups=groups, bias=bias)
    assert conv_params(in_c, out_c, k, groups, bias) == sum(p.numel() for p in layer.parameters())


# ---------------------------------------------------------------- the naive reference convolution
def test_conv2d_naive_hand_example():
    # A 5x5 binary image and a 3x3 "X" kernel, each output worked out by hand (products, then sum).
    image = torch.tensor(
        [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
    )
    kernel = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    out = conv2d_naive(image[None], kernel[None, None])
    assert out.tolist() == [[[4, 3, 4], [2, 4, 3], [2, 3, 4]]]
    assert out.dtype == torch.int64  # integers in, exact integers out
    with_bias = conv2d_naive(image[None].float(), kernel[None, None].float(), torch.tensor([-1.0]))
    assert with_bias[0, 0].tolist() == [3.0, 2.0, 3.0]
    torch.testing.assert_close(with_bias, F.conv2d(image[None].float(), kernel[None, None].float(),
                                                   torch.tensor([-1.0])))


def _random_case(rng: random.Random):
    groups = rng.choice([1, 1, 2, 3])
    c_in, c_out = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
    kernel = (rng.randint(1, 4), rng.randint(1, 4))
    dilation = (rng.randint(1, 3), rng.randint(1, 3))
    stride = (rng.randint(1, 3), rng.randint(1, 3))
    padding = rng.choice([rng.randint(0, 2), (rng.randint(0, 3), rng.randint(0, 3)), "same", "valid"])
    if padding == "same":
        stride = (1, 1)
    size = (rng.randint(dilation[0] * (kernel[0] - 1) + 1, 11), rng.randint(dilation[1] * (kernel[1] - 1) + 1, 11))
    return dict(c_in=c_in, c_out=c_out, groups=groups, kernel=kernel, dilation=dilation, stride=stride,
                padding=padding, size=size)


def test_conv2d_naive_matches_f_conv2d_on_random_settings():
    rng = random.Random(3)
    torch.manual_seed(3)
    for _ in range(40):
        case = _random_case(rng)
        x = torch.randn(rng.randint(1, 3), case["c_in"], *case["size"])
        w = torch.randn(case["c_out"], case["c_in"] // case["groups"], *case["kernel"])
        b = torch.randn(case["c_out"]) if rng.random() < 0.5 else None
        args = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
        ours = conv2d_naive(x, w, b, **args)
        torch.testing.assert_close(ours, F.conv2d(x, w, b, **args), rtol=1e-5, atol=1e-5, msg=str(case))
        torch.testing.assert_close(conv2d_naive(x.double(), w.double(), None if b is None else b.double(), **args),
                                   F.conv2d(x.double(), w.double(), None if b is None else b.double(), **args))


def test_conv2d_naive_unbatched_and_int_arguments():
    torch.manual_seed(4)
    x, w, b = torch.randn(4, 9, 7), torch.randn(6, 2, 3, 3), torch.randn(6)
    ours = conv2d_naive(x, w, b, stride=2, padding=1, dilation=1, groups=2)
    assert ours.shape == (6, 5, 4)
    torch.testing.assert_close(ours, F.conv2d(x, w, b, stride=2, padding=1, groups=2), rtol=1e-5, atol=1e-5)
    # depthwise (groups = channels) and 1x1 (a linear layer applied at every pixel)
    x4 = torch.randn(2, 5, 6, 6)
    dw = torch.randn(5, 1, 3, 3)
    torch.testing.assert_close(conv2d_naive(x4, dw, groups=5, padding="same"),
                               F.conv2d(x4, dw, groups=5, padding="same"), rtol=1e-5, atol=1e-5)
    pw = torch.randn(7, 5, 1, 1)
    linear = torch.einsum("oc,nchw->nohw", pw[:, :, 0, 0], x4)
    torch.testing.assert_close(conv2d_naive(x4, pw), linear, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_naive_padding_modes_match_nn_conv2d(mode):
    torch.manual_seed(5)
    for padding, stride, kernel in [(1, 1, 3), ((2, 1), (2, 1), (3, 2)), ("same", 1, (4, 3))]:
        layer = nn.Conv2d(3, 4, kernel, stride, padding, padding_mode=mode)
        x = torch.randn(2, 3, 6, 7)
        with torch.no_grad():
            expected = layer(x)
        ours = conv2d_naive(x, layer.weight.detach(), layer.bias.detach(), stride, padding, padding_mode=mode)
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- every ValueError
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(size=4, kernel_size=5), "kernel spans 5 cells in height.*padded input's 4"),
        (dict(size=5, kernel_size=3, dilation=3), r"kernel spans 7 cells.*dilation 3"),
        (dict(size=(8, 4), kernel_size=(3, 5)), "spans 5 cells in width"),
        (dict(size=8, kernel_size=3, stride=0), "stride must be a positive int.*got 0"),
        (dict(size=8, kernel_size=3, stride=-2), "stride must be a positive.*got -2"),
        (dict(size=8, kernel_size=3, dilation=0), "dilation must be a positive.*got 0"),
        (dict(size=8, kernel_size=3, padding=-1), "padding must be a non-negative.*got -1"),
        (dict(size=8, kernel_size=0), "kernel_size must be a positive.*got 0"),
        (dict(size=0, kernel_size=1), "size must be a positive.*got 0"),
        (dict(size=8.0, kernel_size=3), r"size must be .*got 8\.0"),
        (dict(size=8, kernel_size=3.5), r"kernel_size must be .*got 3\.5"),
        (dict(size=True, kernel_size=1), "size must be .*got True"),
        (dict(size=8, kernel_size=3, stride=True), "stride must be .*got True"),
        (dict(size=(8, 8, 8), kernel_size=3), r"size must be .*pair.*got \(8, 8, 8\)"),
        (dict(size="8", kernel_size=3), "size must be .*got '8'"),
        (dict(size=8, kernel_size=3, padding="full"), "'same' or 'valid', got 'full'"),
        (dict(size=8, kernel_size=3, stride=2, padding="same"), "padding='same' needs stride 1"),
    ],
)
def test_conv_output_size_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv_output_size(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(size=8, kernel_size=3, padding=2), r"at most half the kernel size.*padding 2 > kernel 3 // 2 = 1"),
        (dict(size=2, kernel_size=3, stride=2), "pooling output would be 0 in height"),
        (dict(size=8, kernel_size=2, stride=0), "stride must be a positive.*got 0"),
        (dict(size=8, kernel_size=2, dilation=-1), "dilation must be a positive.*got -1"),
        (dict(size=8, kernel_size=2, padding=-1), "padding must be a non-negative.*got -1"),
        (dict(size=8, kernel_size=2, ceil_mode=1), "ceil_mode must be True or False, got 1"),
        (dict(size=8, kernel_size=2.0), r"kernel_size must be .*got 2\.0"),
    ],
)
def test_pool_output_size_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pool_output_size(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(size=4, kernel_size=3, output_padding=1), "output_padding 1, stride 1, dilation 1"),
        (dict(size=4, kernel_size=3, stride=2, output_padding=2), "output_padding 2, stride 2, dilation 1"),
        (dict(size=2, kernel_size=1, padding=1), "transposed conv output would be 0"),
        (dict(size=4, kernel_size=3, output_padding=-1), "output_padding must be a non-negative.*got -1"),
        (dict(size=4, kernel_size=3, stride=0), "stride must be a positive.*got 0"),
        (dict(size=4, kernel_size=3, padding=(1, -1)), r"padding must be .*got \(1, -1\)"),
        (dict(size=4, kernel_size=3, dilation=False), "dilation must be .*got False"),
    ],
)
def test_conv_transpose_output_size_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv_transpose_output_size(**kwargs)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((6, 4, 3), dict(groups=4), "groups must divide both channel counts.*in_channels=6, out_channels=4, groups=4"),
        ((4, 6, 3), dict(groups=4), "groups must divide.*out_channels=6"),
        ((0, 4, 3), {}, "in_channels must be a positive int, got 0"),
        ((4, -1, 3), {}, "out_channels must be a positive int, got -1"),
        ((4, 4, 3), dict(groups=0), "groups must be a positive int, got 0"),
        ((4, 4, 3), dict(groups=True), "groups must be a positive int, got True"),
        ((4.0, 4, 3), {}, r"in_channels must be a positive int, got 4\.0"),
        ((4, 4, 0), {}, "kernel_size must be a positive.*got 0"),
        ((4, 4, 3), dict(bias=1), "bias must be True or False, got 1"),
    ],
)
def test_conv_params_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv_params(*args, **kwargs)


def test_padding_same_errors():
    with pytest.raises(ValueError, match="kernel_size must be a positive.*got 0"):
        padding_same(0)
    with pytest.raises(ValueError, match="dilation must be a positive.*got -1"):
        padding_same(3, -1)


_x = torch.zeros(1, 4, 6, 6)
_w = torch.zeros(2, 4, 3, 3)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((torch.zeros(6, 6), _w), {},
         r"x must be a \(C, H, W\) or \(N, C, H, W\) tensor, got a tensor of shape \(6, 6\)"),
        ((torch.zeros(1, 1, 4, 6, 6), _w), {}, r"got a tensor of shape \(1, 1, 4, 6, 6\)"),
        (([[1.0]], _w), {}, "x must be a .*got list"),
        ((_x, torch.zeros(2, 4, 3)), {}, r"weight must be a .*got a tensor of shape \(2, 4, 3\)"),
        ((_x, torch.zeros(2, 3, 3, 3)), {}, "weight expects 3 input channels per group, but x has C_in=4"),
        ((_x, torch.zeros(2, 4, 3, 3)), dict(groups=2), "weight expects 4 input channels per group.*groups=2, i.e. 2"),
        ((_x, torch.zeros(3, 2, 3, 3)), dict(groups=2), "groups must divide both channel counts.*C_out=3"),
        ((_x, torch.zeros(2, 4, 3, 3)), dict(groups=3), "groups must divide.*C_in=4"),
        ((_x, _w), dict(groups=0), "groups must be a positive int, got 0"),
        ((_x, _w, torch.zeros(3)), {}, r"bias must be None or a tensor of shape \(2,\), got a tensor of shape \(3,\)"),
        ((_x, _w, [0.0, 0.0]), {}, r"bias must be None or a tensor of shape \(2,\), got list"),
        ((_x, torch.zeros(2, 4, 7, 7)), {}, "kernel spans 7 cells in height.*padded input's 6"),
        ((_x, _w), dict(dilation=3), "kernel spans 7 cells"),
        ((_x, _w), dict(stride=0), "stride must be a positive.*got 0"),
        ((_x, _w), dict(padding=-1), "padding must be a non-negative.*got -1"),
        ((_x, _w), dict(padding="full"), "'same' or 'valid', got 'full'"),
        ((_x, _w), dict(stride=2, padding="same"), "padding='same' needs stride 1"),
        ((_x, _w), dict(padding_mode="mirror"), "padding_mode must be one of .*got 'mirror'"),
        ((_x, _w), dict(padding=6, padding_mode="reflect"), "'reflect' needs padding smaller than the input height 6"),
        ((_x, _w), dict(padding=7, padding_mode="circular"), "'circular' needs padding at most the input height 6"),
    ],
)
def test_conv2d_naive_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv2d_naive(*args, **kwargs)
