"""Checkers for the exercises of chapter 1, "Convolution, intuitively".

Each expected answer is computed here with the package (cnnbook.conv), out of the reader's sight. Exercise 7's
range is the measured accuracy of the chapter's trained network (seeds 0-5, one CPU thread; the tests repeat
seed 0) with a margin for another machine.
"""
from __future__ import annotations

from collections.abc import Callable

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook.conv import conv2d_naive, conv_output_size, conv_params, conv_transpose_output_size
from cnnbook.data import load_digits
from cnnbook.exercises import check, check_function, check_range, say
from cnnbook.experiments import run_seeds
from cnnbook.models import simple_cnn
from cnnbook.train import evaluate

SHIFT_IMAGE = torch.arange(1.0, 26.0).reshape(1, 1, 5, 5)
"""The image on which exercise 3's kernel is tried."""


def ex1(answer: int | None) -> bool:
    """Exercise 1: the output side of Conv2d(kernel 5, stride 2, padding 1) on a 64x64 image."""
    return check(answer, conv_output_size(64, kernel_size=5, stride=2, padding=1), name="Exercise 1",
                 hint="floor((H + 2P - D(K-1) - 1) / S + 1), with D = 1.")


def ex2(answer: int | None) -> bool:
    """Exercise 2: the parameters of Conv2d(32 -> 64, 5x5, bias=False)."""
    return check(answer, conv_params(32, 64, 5, bias=False), name="Exercise 2",
                 hint="one 5x5 slice per input channel, for every output channel; no bias this time.")


def shift_right(image: torch.Tensor, pixels: int = 1) -> torch.Tensor:
    """The image moved ``pixels`` to the right, with zeros entering on the left (N, C, H, W)."""
    return F.pad(image, (pixels, 0))[..., :-pixels]


def shift_left(image: torch.Tensor, pixels: int = 1) -> torch.Tensor:
    """The image moved ``pixels`` to the left, with zeros entering on the right (N, C, H, W)."""
    return F.pad(image, (0, pixels))[..., pixels:]


def ex3(kernel: torch.Tensor | None) -> bool:
    """Exercise 3: the 3x3 kernel that, with padding 1, moves an image one pixel to the right."""
    name = "Exercise 3"
    if kernel is None:
        return check(None, None, name=name)
    kernel = torch.as_tensor(kernel, dtype=torch.float32)
    if kernel.shape != (3, 3):
        say(name, "not quite (expected a 3x3 kernel, got shape {shape}).", shape=tuple(kernel.shape))
        return False
    got = F.conv2d(SHIFT_IMAGE, kernel.view(1, 1, 3, 3), padding=1)
    if torch.allclose(got, shift_right(SHIFT_IMAGE)):
        say(name, "correct.")
        return True
    mirrored = F.conv2d(SHIFT_IMAGE, kernel.flip(0, 1).view(1, 1, 3, 3), padding=1)
    hint = (
        "your kernel moves the image to the left: PyTorch does not flip the kernel (cross-correlation)."
        if torch.allclose(mirrored, shift_right(SHIFT_IMAGE))
        else "output (i, j) must read input (i, j - 1); which kernel cell sits over that pixel?"
    )
    say(name, "not quite.", hint)
    return False


def _correlate2d_reference(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    return conv2d_naive(image[None, None], kernel[None, None])[0, 0]


EX4_CASES: list[tuple[torch.Tensor, torch.Tensor]] = [
    (torch.tensor([[1.0, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 0, 1, 1, 1], [0, 0, 1, 0, 0], [0, 0, 1, 0, 0]]),
     torch.tensor([[1.0, 1, 1], [1, 0, 0], [1, 0, 0]])),
    (torch.randn(6, 7, generator=torch.Generator().manual_seed(1)),
     torch.randn(2, 3, generator=torch.Generator().manual_seed(2))),
    (torch.randn(4, 4, generator=torch.Generator().manual_seed(3)), torch.tensor([[2.0]])),
]


def ex4(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None) -> bool:
    """Exercise 4: ``fn(image, kernel)``, a loop-based 2-D cross-correlation with no padding, stride 1."""
    return check_function(fn, _correlate2d_reference, EX4_CASES, name="Exercise 4")


def ex5(kernel_size: int | None, stride: int | None = None, padding: int = 0) -> bool:
    """Exercise 5: settings of a ConvTranspose2d that turn a 14x14 map into a 28x28 one (any that work)."""
    name = "Exercise 5"
    if kernel_size is None or stride is None:
        return check(None, None, name=name)
    try:
        got = conv_transpose_output_size(14, kernel_size, stride, padding)
    except ValueError as err:
        say(name, "not quite ({error}).", error=err)
        return False
    return check(got, 28, name=name, hint="a transposed convolution outputs (H - 1)S - 2P + K cells.")


# Exercise 6 (conceptual): subsampling stripes with and without a blur first, as Zhang (2019) proposes.
EX6_STRIPES = torch.tensor([0.0, 1.0] * 4)
EX6_BLUR = torch.tensor([0.25, 0.5, 0.25])


def _blur_then_subsample(signal: torch.Tensor, blur: bool) -> torch.Tensor:
    if blur:  # circular padding: the stripes repeat forever
        padded = torch.cat([signal[-1:], signal, signal[:1]])
        signal = F.conv1d(padded.view(1, 1, -1), EX6_BLUR.view(1, 1, -1)).flatten()
    return signal[::2]


def ex6(answer: tuple | None) -> bool:
    """Means of x[::2] for the stripes and the stripes shifted by one, without and then with the blur first."""
    shifted = torch.roll(EX6_STRIPES, 1)
    expected = tuple(_blur_then_subsample(s, blur).mean().item()
                     for blur in (False, True) for s in (EX6_STRIPES, shifted))
    return check(answer, expected, name="Exercise 6", rel_tol=1e-6, abs_tol=1e-6,
                 hint="keeping every second value of 0, 1, 0, 1, ... keeps only the zeros; of 1, 0, 1, 0, ... only "
                      "the ones. The blur replaces every value by a quarter of each neighbour plus half itself.")


# Exercise 7 (experimental): the chapter's SimpleCNN, trained on centred digits, tested on digits moved sideways.
CHAPTER_RECIPE = dict(epochs=8, lr=2e-3, batch_size=16, scheduler="cosine")
"""How the chapter trains its SimpleCNN on the digits (the page's EPOCHS, LR and BATCH_SIZE)."""
EX7_PIXELS = 3
EX7_RANGE = (0.60, 0.80)  # seeds 0-5 measured 0.666-0.741 (one CPU thread), with a margin; 2 px give 0.89-0.94


def train_chapter_cnn(seed: int = 0) -> nn.Module:
    """The chapter's SimpleCNN for ``seed``, trained on the digits (28x28) exactly as the page's ``run_seeds`` does."""
    trained: list[nn.Module] = []

    def build() -> nn.Module:
        trained.append(simple_cnn(num_classes=10, in_channels=1, image_size=28))
        return trained[-1]

    run_seeds("SimpleCNN", build, load_digits(image_size=28), seeds=[seed], device="cpu", **CHAPTER_RECIPE)
    return trained[0]


def shifted_accuracy(model: nn.Module, pixels: int = EX7_PIXELS) -> float:
    """Test accuracy of ``model`` on the digits' test set, every digit moved ``pixels`` to the left."""
    images, labels = load_digits(image_size=28).test.tensors
    return evaluate(model, TensorDataset(shift_left(images, pixels), labels), device="cpu")[1]


def ex7(answer: Any) -> bool:
    """The reader's measured test accuracy of the trained SimpleCNN on digits moved 3 pixels left, within the range."""
    return check_range(answer, *EX7_RANGE, name="Exercise 7", quantity="the test accuracy",
                       hint=f"move every test image {EX7_PIXELS} pixels to the left (F.pad(images, (0, {EX7_PIXELS}))"
                            f"[..., {EX7_PIXELS}:]) and evaluate the trained `model` on them.")
