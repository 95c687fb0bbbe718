"""Checkers for the exercises of chapter 12, "ConvNeXt".

Each expected answer is computed here from the package's own networks (ConvNeXt-T built on the meta device where
only its shapes matter, the ladder's shrunk rungs where the answer needs a forward pass) or, for the experiments,
is the range that the run the exercise asks for (seed 0) lands in, out of the reader's sight.
"""
from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from cnnbook.exercises import check, check_letters, check_range, say
from cnnbook.i18n import localise
from cnnbook.models.convnext import ConvNeXt, convnext_ladder, convnext_tiny
from cnnbook.profile import count_params
from cnnbook.receptive_field import receptive_field_of
from cnnbook.records.convnext import SMALL  # the chapter's shrink of a ladder rung: width 1/8, one block per stage


def _pair_of(answer: Any, kind: type | tuple[type, ...], what: str, name: str) -> tuple | None:
    """``answer`` as a 2-tuple of ``kind`` numbers, or None after printing what was expected."""
    if (isinstance(answer, (tuple, list)) and len(answer) == 2
            and all(isinstance(a, kind) and not isinstance(a, bool) for a in answer)):
        return tuple(answer)
    say(name, "give {what}, got {got}.", what=localise(what), got=repr(answer))
    return None


# Exercise 1 (conceptual): which changes to ConvNeXt-T leave its parameter count as it is.
EX1_OPTIONS = {
    "a": "stochastic depth 0.4 instead of 0.1 (stochastic_depth_prob=0.4)",
    "b": "layer scale starting at 1 instead of 1e-6 (layer_scale=1.0)",
    "c": "no layer scale at all (layer_scale=None)",
    "d": "3x3 depthwise kernels instead of 7x7 (kernel_size=3)",
    "e": "BatchNorm2d instead of LayerNorm2d in the stem, the downsampling layers and the head (norm_layer=nn.BatchNorm2d)",
    "f": "GroupNorm(1, C) instead of LayerNorm2d in those same places",
    "g": "ReLU instead of GELU in every block",
}


def _relu_instead_of_gelu(model: ConvNeXt) -> ConvNeXt:
    for block in model.modules():
        if isinstance(getattr(block, "act", None), nn.GELU):
            block.act = nn.ReLU()
    return model


_EX1_CHANGES: dict[str, Callable[[], nn.Module]] = {
    "a": lambda: convnext_tiny(stochastic_depth_prob=0.4),
    "b": lambda: convnext_tiny(layer_scale=1.0),
    "c": lambda: convnext_tiny(layer_scale=None),
    "d": lambda: convnext_tiny(kernel_size=3),
    "e": lambda: convnext_tiny(norm_layer=nn.BatchNorm2d),
    "f": lambda: convnext_tiny(norm_layer=lambda channels: nn.GroupNorm(1, channels, eps=1e-6)),
    "g": lambda: _relu_instead_of_gelu(convnext_tiny()),
}


def _same_parameter_count() -> set[str]:
    """The options whose ConvNeXt-T has exactly the parameters of the original, counted on the meta device."""
    with torch.device("meta"):
        original = count_params(convnext_tiny())
        return {letter for letter, build in _EX1_CHANGES.items() if count_params(build()) == original}


def ex1(answer: Any) -> bool:
    """The letters of the changes that leave ConvNeXt-T's number of parameters (28,589,128) unchanged."""
    if answer is None:
        return check(None, None, name="Exercise 1")
    return check_letters(answer, EX1_OPTIONS, _same_parameter_count(), name="Exercise 1",
                         hint="a parameter is a tensor the optimiser updates. Ask of each change whether it adds or "
                              "removes such a tensor or changes its shape, or only changes a starting value, a "
                              "probability, a function without weights, or statistics kept as buffers.")


# Exercise 2 (conceptual, numbers): the receptive field of ConvNeXt-T's first stage, 7x7 against 3x3 kernels.
EX2_SIZE, EX2_KERNELS = 224, (7, 3)


@functools.lru_cache(maxsize=1)
def _stage1_fields() -> tuple[int, int]:
    """Receptive field (pixels) of a unit of ConvNeXt-T's ``stage1`` output at 224 px, for 7x7 and 3x3 kernels."""
    fields = []
    with torch.device("meta"):
        for k in EX2_KERNELS:
            fields.append(receptive_field_of(convnext_tiny(kernel_size=k), (3, EX2_SIZE, EX2_SIZE), layer="stage1").size)
    return tuple(fields)


def ex2(answer: Any) -> bool:
    """(field with 7x7 kernels, field with 3x3 kernels), in input pixels, of a unit at the end of ConvNeXt-T's stage 1."""
    if answer is None:
        return check(None, None, name="Exercise 2")
    if _pair_of(answer, numbers.Integral, "a pair of whole numbers of pixels (with 7x7, with 3x3)", "Exercise 2") is None:
        return False
    return check(tuple(int(a) for a in answer), _stage1_fields(), name="Exercise 2",
                 hint="the patchify stem gives 4 pixels with a jump of 4; each block's k x k depthwise convolution "
                      "widens the field by (k - 1) times the jump, and stage 1 has three blocks.")


# Exercise 3 (conceptual): the first rung of the ladder with no activation function outside its residual branches.
def _trunk_activations(model: nn.Module) -> list[str]:
    """Names of the ReLU/GELU modules that are not inside a block's residual branch (a LadderBlock's act1/act2)."""
    names = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.ReLU, nn.GELU)) and not name.endswith((".act1", ".act2")):
            names.append(name)
    return names


def ladder_step_names() -> list[str]:
    """The names of the ladder's steps, in the order of the chapter's ladder table (step 0 to step 12)."""
    return [name for name, _ in convnext_ladder()]


def _first_activation_free_trunk() -> str:
    for name, build in convnext_ladder():
        if not _trunk_activations(build(**SMALL)):
            return name
    raise RuntimeError("every rung of the ladder has an activation outside its branches")


def ex3(answer: Any) -> bool:
    """The name of the first ladder step after which no ReLU or GELU is left outside the residual branches."""
    if answer is None:
        return check(None, None, name="Exercise 3")
    names = {n.lower(): n for n in ladder_step_names()}
    if not isinstance(answer, str) or " ".join(answer.lower().split()) not in names:
        say("Exercise 3", "give one of the ladder's step names as a string, one of {names}; got {got}.",
            names=list(names.values()), got=repr(answer))
        return False
    return check(names[" ".join(answer.lower().split())], _first_activation_free_trunk(), name="Exercise 3",
                 hint="the trunk is the stem, the shortcuts, the downsampling and the head. ResNet-50's trunk has a "
                      "ReLU in its stem and one after every addition: which steps remove each of them?")


# Exercise 4 (conceptual): when does an image get the same logits alone as inside a batch?
EX4_OPTIONS = {
    "a": "the shrunk ResNet-50 rung (BatchNorm) in eval mode",
    "b": "the shrunk ResNet-50 rung in eval mode, with every BatchNorm2d built with track_running_stats=False",
    "c": "the shrunk ResNet-50 rung in training mode, when the batch holds 32 copies of that one image",
    "d": "the shrunk ResNet-50 rung in training mode, when the other 31 images of the batch are copies of its "
         "left-right mirror image",
    "e": "the shrunk ResNet-50 rung in training mode, when the other 31 images of the batch are copies of it with "
         "every pixel value doubled",
}


def without_running_stats(model: nn.Module) -> nn.Module:
    """``model`` with every BatchNorm2d replaced by a fresh one built with ``track_running_stats=False``."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.BatchNorm2d):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, nn.BatchNorm2d(
                module.num_features, eps=module.eps, momentum=module.momentum, affine=module.affine,
                track_running_stats=False))
    return model


def _batch_independent() -> set[str]:
    """The options under which image 0 gets (to 1e-5) the logits alone that it gets inside the batch."""
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(12)
        build = convnext_ladder()[0][1]
        resnet, no_stats = build(**SMALL), without_running_stats(build(**SMALL))
        batch = torch.rand(32, 3, 32, 32)
    finally:
        torch.random.set_rng_state(state)
    image = batch[:1]
    with_others = {"copies": image.expand(32, -1, -1, -1), "mirrors": image.flip(3).expand(31, -1, -1, -1),
                   "doubled": (2 * image).expand(31, -1, -1, -1)}
    cases = {"a": (resnet, False, batch), "b": (no_stats, False, batch),
             "c": (resnet, True, with_others["copies"].contiguous()),
             "d": (resnet, True, torch.cat([image, with_others["mirrors"]])),
             "e": (resnet, True, torch.cat([image, with_others["doubled"]]))}
    same = set()
    with torch.no_grad():
        for letter, (model, training, images) in cases.items():
            model.train(training)
            if torch.allclose(model(images[:1]), model(images)[:1], atol=1e-5):
                same.add(letter)
    return same


def ex4(answer: Any) -> bool:
    """The letters of the cases in which an image's logits do not depend on the rest of its batch."""
    if answer is None:
        return check(None, None, name="Exercise 4")
    return check_letters(answer, EX4_OPTIONS, _batch_independent(), name="Exercise 4",
                         hint="which statistics does each BatchNorm use in each mode: the batch's, or running averages "
                              "stored in the layer? When it uses the batch's, are they those of the image alone? The "
                              "first BatchNorm sees the first convolution's outputs, not the pixels.")


# Exercise 5 (experimental): the share of the classifier's input that differs between images, at initialisation.
EX5_SEED = 0
EX5_RANGE = (0.08, 0.10)
"""The "BatchNorm -> LayerNorm" rung, shrunk, freshly built after cnnbook.set_seed(0), on the first 256 training
images of the page's split in training mode: 0.0873, the same to four digits on 1 and 2 threads (over seeds 0 to
19 the share ranges over 0.011-0.117, so only the seed the exercise names pins it down). The range excludes the
shares of exercise 6 (0.066 at width 1/2 on raw images, 0.470 on standardised ones); the "fewer norms" rung
before it gives 1.000."""


def ex5(answer: Any) -> bool:
    """The between-image share of the features entering the head of the shrunk 'BatchNorm -> LayerNorm' rung, seed 0."""
    low, high = EX5_RANGE
    return check_range(answer, low, high, name="Exercise 5",
                       quantity="the share of the features' energy that differs between images",
                       source="share (of the rung built after cnnbook.set_seed(0))",
                       hint="capture the head's input f (N images x features) with a forward pre-hook, in training "
                            "mode, and compute f.var(0, unbiased=False).sum() / f.pow(2).sum(1).mean(); make sure the "
                            "rung is the LayerNorm one, built right after cnnbook.set_seed(0).")


# Exercise 6 (experimental): does widening the shrink raise that share, or does standardising the images?
EX6_WIDE_RANGE = (0.06, 0.07)
"""The same rung, built after cnnbook.set_seed(0), at width 1/2 on the raw images: 0.0662, the same to four digits on
1 and 2 threads (at width 1/4: 0.0475; at width 1/8, exercise 5: 0.0873)."""
EX6_STANDARDISED_RANGE = (0.43, 0.51)
"""The same rung, built after cnnbook.set_seed(0), at the page's width 1/8 on standardised images
(cnnbook.experiments.standardised): 0.4704, the same to four digits on 1 and 2 threads (0.288-0.778 over seeds 0
to 19)."""


def ex6(answer: Any) -> bool:
    """(share at width 1/2 on raw images, share at width 1/8 on standardised images) for the 'BatchNorm -> LayerNorm' rung."""
    if answer is None:
        return check(None, None, name="Exercise 6")
    pair = _pair_of(answer, numbers.Real, "a pair of shares (width 1/2 on raw images, width 1/8 on standardised "
                                          "images)", "Exercise 6")
    if pair is None:
        return False
    wide = check_range(pair[0], *EX6_WIDE_RANGE, name="Exercise 6 (width 1/2, raw images)",
                       quantity="the share", source="share (of the rung built after cnnbook.set_seed(0))",
                       hint="build it with width_scale=1 / 2 in place of SMALL's 1 / 8, right after "
                            "cnnbook.set_seed(0), and measure on the raw images.")
    standardised = check_range(pair[1], *EX6_STANDARDISED_RANGE, name="Exercise 6 (width 1/8, standardised images)",
                               quantity="the share", source="share (of the rung built after cnnbook.set_seed(0))",
                               hint="standardise with cnnbook.experiments.standardised(shapes), whose training "
                                    "images have mean 0 and standard deviation 1 per channel, and build the rung "
                                    "right after cnnbook.set_seed(0).")
    return wide and standardised


# Exercise 7 (conceptual, a number): what an 11x11 kernel costs ConvNeXt-T in parameters.
EX7_KERNEL = 11


@functools.lru_cache(maxsize=1)
def _parameters_with_kernel() -> int:
    """ConvNeXt-T's parameters with EX7_KERNEL x EX7_KERNEL depthwise kernels (built on the meta device)."""
    with torch.device("meta"):
        return count_params(convnext_tiny(kernel_size=EX7_KERNEL))


def ex7(answer: Any) -> bool:
    """ConvNeXt-T's number of parameters with 11x11 depthwise kernels in place of 7x7."""
    if answer is None:
        return check(None, None, name="Exercise 7")
    if not isinstance(answer, numbers.Integral) or isinstance(answer, bool):
        say("Exercise 7", "give a whole number of parameters, got {got}.", got=repr(answer))
        return False
    return check(int(answer), _parameters_with_kernel(), name="Exercise 7",
                 hint="only the depthwise filters change: each block's has k^2 weights per channel, so every block "
                      "of width C gains (121 - 49) C; add that over the blocks of all four stages, (3, 3, 9, 3) "
                      "blocks of widths (96, 192, 384, 768), to 28,589,128.")
