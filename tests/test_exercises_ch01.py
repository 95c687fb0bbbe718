import torch
import torch.nn.functional as F

from cnnbook.exercises import ch01


def test_ex1_output_size(capsys):
    assert ch01.ex1(31) is True  # floor((64 + 2 - 5) / 2 + 1) = floor(31.5)
    assert ch01.ex1(32) is False
    assert "Hint" in capsys.readouterr().out
    assert ch01.ex1(None) is False
    assert "not answered" in capsys.readouterr().out


def test_ex2_parameter_count():
    assert ch01.ex2(5 * 5 * 32 * 64) is True
    assert ch01.ex2(5 * 5 * 32 * 64 + 64) is False  # the bias was switched off
    assert ch01.ex2(None) is False


def test_ex3_shift_kernel(capsys):
    right = torch.zeros(3, 3)
    right[1, 0] = 1.0  # output (i, j) reads input (i, j - 1)
    assert ch01.ex3(right) is True
    assert ch01.ex3(right.tolist()) is True
    capsys.readouterr()
    assert ch01.ex3(right.flip(1)) is False  # the flipped ("true convolution") kernel shifts left
    assert "cross-correlation" in capsys.readouterr().out
    assert ch01.ex3(torch.eye(3)) is False
    assert ch01.ex3(torch.zeros(2, 2)) is False
    assert "3x3" in capsys.readouterr().out
    assert ch01.ex3(None) is False


def test_shift_right_helper_matches_a_hand_example():
    x = torch.tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]])
    assert ch01.shift_right(x).tolist() == [[[[0.0, 1.0, 2.0], [0.0, 4.0, 5.0]]]]


def brute_force(image, kernel):
    kh, kw = kernel.shape
    out = torch.zeros(image.shape[0] - kh + 1, image.shape[1] - kw + 1)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (image[i : i + kh, j : j + kw] * kernel).sum()
    return out


def test_ex4_correlate2d(capsys):
    # The hand-computed map of the chapter's 5x5 image and 3x3 kernel.
    image, kernel = ch01.EX4_CASES[0]
    assert ch01._correlate2d_reference(image, kernel).tolist() == [[5, 2, 2], [2, 0, 2], [2, 2, 5]]
    assert ch01.ex4(brute_force) is True
    assert ch01.ex4(lambda x, k: F.conv2d(x[None, None], k[None, None])[0, 0]) is True
    true_convolution = lambda x, k: brute_force(x, k.flip(0, 1))  # noqa: E731
    assert ch01.ex4(true_convolution) is False
    assert ch01.ex4(lambda x, k: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert ch01.ex4(None) is False


def test_ex5_transposed_conv(capsys):
    assert ch01.ex5(2, 2) is True
    assert ch01.ex5(4, 2, 1) is True
    assert ch01.ex5(3, 2) is False  # 29
    assert ch01.ex5(3, 2, 1) is False  # 27
    assert ch01.ex5(2, 0) is False  # stride must be positive: reported, not raised
    assert "stride" in capsys.readouterr().out
    assert ch01.ex5(None) is False
    assert ch01.ex5(2) is False


def test_ex6_aliasing_without_and_with_blur():
    # by hand: subsampling keeps only zeros (0) or only ones (1); blurred stripes are 0.5 everywhere
    assert ch01.ex6((0.0, 1.0, 0.5, 0.5))
    assert not ch01.ex6((0.5, 0.5, 0.5, 0.5))  # the shift changes the plain subsampled output completely
    assert not ch01.ex6((0.0, 1.0, 0.0, 1.0)) and not ch01.ex6(None)


def test_shift_helpers_move_and_fill_with_zeros():
    x = torch.arange(1.0, 6.0).view(1, 1, 1, 5)
    assert ch01.shift_right(x, 2).flatten().tolist() == [0, 0, 1, 2, 3]
    assert ch01.shift_left(x, 2).flatten().tolist() == [3, 4, 5, 0, 0]
    assert torch.equal(ch01.shift_right(x), ch01.shift_right(x, 1))


def test_ex7_range_holds_the_measured_accuracy(capsys):
    torch.set_num_threads(1)
    model = ch01.train_chapter_cnn(seed=0)
    moved = ch01.shifted_accuracy(model)
    low, high = ch01.EX7_RANGE
    assert low + 0.03 <= moved <= high - 0.03
    assert ch01.ex7(moved)
    assert ch01.shifted_accuracy(model, pixels=0 + 1) > high  # one pixel barely matters ...
    assert not ch01.ex7(0.986)  # ... and the centred digits' accuracy is not the answer
    assert not ch01.ex7(ch01.shifted_accuracy(model, pixels=5))  # moved too far
    assert not ch01.ex7(None) and not ch01.ex7(1.5) and not ch01.ex7("0.7") and not ch01.ex7(True)
    assert "not answered" in capsys.readouterr().out
