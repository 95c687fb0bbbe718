"""Chapter 2's record: does training on Shapes10 grow the effective receptive field, as Luo et al. found?"""
from __future__ import annotations

import copy
from dataclasses import replace
from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from cnnbook.data import load_shapes10
from cnnbook.models import cifar_resnet, small_cnn
from cnnbook.receptive_field import erf_on_images, erf_radius, erf_std
from cnnbook.records.core import Arm, Record, register, shapes10_data, yardsticks

PROBE_IMAGES = 256
"""The ERF is averaged over the first 256 test images of Shapes10's default split, as on the page."""
LAYERS = {"small CNN": ("features.10", "features.14"), "ResNet-20": ("layer1", "layer2")}
"""Per network, the layers whose centre unit is probed: one whose field lies inside the 32x32 image, one wider."""
RECIPE = dict(lr=3e-3, scheduler="cosine")
"""The data card's recipe: Adam, batches of 64, the learning rate annealed along a cosine."""
PAGE_EPOCHS, EPOCHS = 3, 12

_probe_images: list[torch.Tensor] = []


def probe_images() -> torch.Tensor:
    """The first 256 of Shapes10's 1,000 default test images (the test set does not depend on the other splits)."""
    if not _probe_images:
        _probe_images.append(load_shapes10(n_train=1, n_val=1).test.tensors[0][:PROBE_IMAGES])
    return _probe_images[0]


def keeping_initial(build: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    """Wrap ``build`` so the network remembers its untrained weights (outside its modules and parameters)."""
    def wrapped() -> nn.Module:
        net = build()
        net.__dict__["initial_state"] = copy.deepcopy(net.state_dict())
        return net
    return wrapped


def erf_probe(layers: tuple[str, ...], build: Callable[[], nn.Module]) -> Callable[[nn.Module], dict]:
    """A probe: for each layer, the ERF's std and 95% half-width (pixels) untrained and trained, on the probe images."""
    def probe(model: nn.Module) -> dict:
        images = probe_images()
        untrained = build().eval()
        untrained.load_state_dict(model.__dict__["initial_state"])
        out = {}
        for layer in layers:
            for state, net in (("untrained", untrained), ("trained", model)):
                erf = erf_on_images(net, images, layer)
                out[f"{layer} {state}"] = {"std": round(erf_std(erf), 5), "radius": round(erf_radius(erf), 3)}
        return out
    return probe


def _arm(name: str, build: Callable[[], nn.Module], epochs: int, live: bool = False) -> Arm:
    label = f"{name}, " + (f"the page's {epochs} epochs" if live else f"{epochs} epochs")
    return Arm(label, keeping_initial(build), dict(RECIPE, epochs=epochs), live=live,
               probe=erf_probe(LAYERS[name], build))


def _probed_yardsticks() -> tuple[Arm, ...]:
    """The three yardsticks, the small CNN's (trained for as many epochs as ResNet-20) with the ERF probe."""
    linear, mlp, cnn = yardsticks(EPOCHS)
    build = partial(small_cnn, 10)
    return linear, mlp, replace(cnn, build=keeping_initial(build), probe=erf_probe(LAYERS["small CNN"], build))


ERF_TRAINING = register(Record(
    name="erf_training",
    chapter="02_receptive_fields",
    claim=("Training on Shapes10 widens the effective receptive field of a network's units, as Luo et al. found on "
           "CIFAR-10: after 12 epochs the ERF of the small CNN and of ResNet-20 is wider than the same network's "
           "before training, on every seed."),
    data=shapes10_data,
    data_note=("Shapes10's default split: 3,000 training, 500 validation, 1,000 test images at 32x32; each ERF is "
               "averaged over the first 256 test images"),
    arms=(
        _arm("small CNN", partial(small_cnn, 10), PAGE_EPOCHS, live=True),
        *_probed_yardsticks(),
        _arm("ResNet-20", partial(cifar_resnet, 20), EPOCHS),
    ),
))
