"""Chapter 17's record: the project's three candidates trained until their schedule ends, beside the page's own
short runs, the three yardsticks, and a shift augmentation tested where a regulariser can help.

The chapter's data (Shapes10 with 2,000 training images, averaged to 16x16) and its candidate networks live here,
so that the page and the record build exactly the same splits and models.
"""
from __future__ import annotations

from functools import lru_cache, partial

import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from cnnbook.augment import flip_shift
from cnnbook.data import Splits, half_resolution, load_shapes10
from cnnbook.evaluate import calibration, fit_temperature, predict_logits, temperature_scale
from cnnbook.experiments import standardised
from cnnbook.models import cifar_resnet
from cnnbook.models.vgg import vgg
from cnnbook.records.core import Arm, Record, register, yardsticks

N_TRAIN = 2000
"""Training images of the chapter (validation and test keep Shapes10's 500 and 1,000)."""
SMALL_PER_CLASS = 30
"""Images per class of the small training set (300 in all) on which the augmentation is tested."""
PAGE_EPOCHS = 4
"""The page's live budget per run."""
EPOCHS = 30
"""The record's budget per run on 2,000 images: the cosine schedule runs to its end."""
SMALL_EPOCHS = 120
"""The record's budget on the 300-image set (about as many optimiser steps as 18 epochs on 2,000 images)."""
RECIPE = dict(lr=3e-3, optimizer="adam", scheduler="cosine", batch_size=64)
"""The chapter's one recipe for every candidate: Adam, learning rate 3e-3 annealed along a cosine, batches of 64."""
MAX_SHIFT = 2
"""The augmentation: a random shift of up to two pixels each way (no mirror, which can change a Shapes10 label)."""


def home_made_cnn(num_classes: int = 10, width: int = 16) -> nn.Module:
    """Three Conv-BN-ReLU blocks (the first two followed by 2x2 max-pooling), global average pooling, one linear layer."""
    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

    return nn.Sequential(*block(3, width), nn.MaxPool2d(2), *block(width, 2 * width), nn.MaxPool2d(2),
                         *block(2 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4 * width, num_classes))


def small_vgg(num_classes: int = 10, width: int = 16) -> nn.Module:
    """A four-stage VGG of 3x3 convolutions with BatchNorm, its head re-initialised with PyTorch's default."""
    model = vgg([width, "M", 2 * width, "M", 4 * width, "M", 4 * width], batch_norm=True, small_input=True,
                num_classes=num_classes, dropout=0.0)
    for m in model.classifier.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()  # PyTorch's default initialisation instead of the paper's N(0, 0.01)
    return model


def small_resnet(num_classes: int = 10, width: int = 8) -> nn.Module:
    """The CIFAR ResNet-8 of chapter 7 (one basic block per stage) at width 8."""
    return cifar_resnet(8, width=width, num_classes=num_classes)


CANDIDATES = {"home-made CNN": home_made_cnn, "small VGG": small_vgg, "small ResNet-8": small_resnet}
"""The chapter's three candidates, by the name the page and the record give them."""


class RandomShift(nn.Module):
    """In training mode, shift each image of the batch by up to ``max_shift`` pixels (border reflected); in eval
    mode, pass it through. Its draws are seeded by torch's seed at construction, so a seeded run repeats."""

    def __init__(self, max_shift: int = MAX_SHIFT) -> None:
        super().__init__()
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 1:
            raise ValueError(f"max_shift must be a positive int, got {max_shift!r}")
        self.max_shift = max_shift
        self.generator = torch.Generator().manual_seed(torch.initial_seed())

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        return flip_shift(x.cpu(), self.generator, flip=False, max_shift=self.max_shift).to(x.device)


def with_shift(build, max_shift: int = MAX_SHIFT) -> nn.Module:
    """``build()``'s network behind a :class:`RandomShift`: augmentation as the network's first (training-only) layer."""
    shift = RandomShift(max_shift)
    return nn.Sequential(shift, build())


def balanced_subset(data: TensorDataset, per_class: int) -> TensorDataset:
    """The first ``per_class`` images of every class, in their original order."""
    labels = data.tensors[1]
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be a positive int, got {per_class!r}")
    counts = torch.bincount(labels)
    if int(counts.min()) < per_class:
        raise ValueError(f"every class needs at least {per_class} images; the smallest has {int(counts.min())}")
    keep = torch.cat([(labels == c).nonzero().flatten()[:per_class] for c in range(len(counts))]).sort().values
    return TensorDataset(*(t[keep] for t in data.tensors))


def project_splits(quick: bool = False) -> Splits:
    """The chapter's splits: Shapes10 with 2,000 training images (tiny when ``quick``), every image averaged to 16x16."""
    full = load_shapes10(n_train=60, n_val=20, n_test=20) if quick else load_shapes10(n_train=N_TRAIN)
    return Splits(*(half_resolution(part) for part in full))


def project_data(quick: bool) -> dict[str, Splits]:
    """The record's data sets: the chapter's splits ("raw"), standardised ("std"), and the small training set
    ("small": 30 images per class, the same validation and test images)."""
    raw = project_splits(quick)
    small = balanced_subset(raw.train, 3 if quick else SMALL_PER_CLASS)
    return {"raw": raw, "std": standardised(raw), "small": Splits(small, raw.val, raw.test)}


@lru_cache(maxsize=1)
def _probe_splits() -> Splits:
    return project_splits(quick=False)


def calibration_probe(model: nn.Module) -> dict:
    """What the page reads of a trained candidate (always on the chapter's full splits): its test predictions, its
    test ECE and NLL, and both again after temperature scaling fitted on the validation split."""
    splits = _probe_splits()
    val_logits, val_target = predict_logits(model, splits.val)
    logits, target = predict_logits(model, splits.test)
    t = fit_temperature(val_logits, val_target)
    probs, scaled = logits.softmax(1), temperature_scale(logits, t)
    nll = nn.functional.nll_loss
    return {"pred": logits.argmax(1).tolist(), "confidence": round(float(probs.max(1).values.mean()), 6),
            "ece": round(calibration(probs, target).ece, 6), "temperature": round(t, 6),
            "ece_scaled": round(calibration(scaled, target).ece, 6),
            "nll": round(float(nll(probs.log(), target)), 6), "nll_scaled": round(float(nll(scaled.log(), target)), 6)}


def page_arm(name: str) -> str:
    """The record's name for the repeat of the page's live run of candidate ``name``."""
    return f"{name}, the page's {PAGE_EPOCHS} epochs"


def converged_arm(name: str) -> str:
    """The record's name for candidate ``name`` trained for the record's full budget."""
    return f"{name}, {EPOCHS} epochs"


SHIFT_ARMS = (f"home-made CNN + shift, 300 images, {SMALL_EPOCHS} epochs",
              f"home-made CNN, 300 images, {SMALL_EPOCHS} epochs")
"""The augmentation comparison on the 300 training images: (with shift, without)."""

CANDIDATES_RECORD = register(Record(
    name="project_candidates",
    chapter="17_project",
    claim=("Trained for 30 epochs instead of the page's 4, each of the chapter's three candidates beats its own "
           "four-epoch run on every seed: the page's budget stops them while they still improve. On 300 training "
           "images, a random shift lifts the home-made CNN's test accuracy on every seed."),
    data=project_data,
    data_note=("Shapes10 with 2,000 training images and the default 500 validation and 1,000 test images, every image "
               "averaged to 16x16; 'small': the first 30 training images of every class (300)"),
    arms=(
        *(Arm(page_arm(n), build, dict(RECIPE, epochs=PAGE_EPOCHS), live=True, probe=calibration_probe)
          for n, build in CANDIDATES.items()),
        *yardsticks(EPOCHS, (3, 16, 16)),
        *(Arm(converged_arm(n), build, dict(RECIPE, epochs=EPOCHS), probe=calibration_probe)
          for n, build in CANDIDATES.items()),
        Arm(SHIFT_ARMS[1], home_made_cnn, dict(RECIPE, epochs=SMALL_EPOCHS), data="small"),
        Arm(SHIFT_ARMS[0], partial(with_shift, home_made_cnn), dict(RECIPE, epochs=SMALL_EPOCHS),
            data="small"),
    ),
))
"""Chapter 17's record: the page's runs repeated, the candidates at their full budget, and the augmentation test."""
