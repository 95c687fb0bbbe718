"""Chapter 17's second record: a pretrained candidate for the project, beside the three yardsticks.

EfficientNet-Lite0's ImageNet weights (chapter 15) meet the project's 16x16 images enlarged four times to 64 px,
the size at which chapter 15 transfers them. Two regimes of chapter 15: a linear probe on the frozen network's
pooled features (chapter 15's recipe), and the whole network fine-tuned with discriminative learning rates and random
translations (chapter 15's recipe at a lower learning rate, :data:`FINETUNE_LR`). The fine-tuned candidate takes the
same 16x16 images as the other candidates (it enlarges them itself), so the page's evaluation (calibration,
temperature) reads it like any other.
"""
from __future__ import annotations

from functools import partial

from torch import nn
from torch.utils.data import TensorDataset

from cnnbook.data import Splits
from cnnbook.experiments import standardised
from cnnbook.records.core import Arm, Record, register, yardsticks
from cnnbook.records.project import EPOCHS, PAGE_EPOCHS, RECIPE, calibration_probe, home_made_cnn, page_arm, project_splits
from cnnbook.records.transfer import PROBE, SIZE, WHOLE, cached_features, full_finetuner, linear_probe

SCALE = SIZE // 16
"""The project's 16 px images are enlarged 4 times, to chapter 15's 64 px."""
FINETUNE_EPOCHS = 10
"""The whole network's epochs on the 2,000 training images."""
FINETUNE_LR = 1e-2
"""A fifth of chapter 15's learning rate: four times as many images give four times as many steps per epoch."""


def enlarge(images: TensorDataset) -> TensorDataset:
    """The images enlarged :data:`SCALE` times (bilinear), labels kept."""
    x, y = images.tensors
    return TensorDataset(nn.functional.interpolate(x, scale_factor=SCALE, mode="bilinear", align_corners=False), y)


def pretrained_candidate(num_classes: int = 10) -> nn.Sequential:
    """The project's pretrained candidate: 16x16 images in, enlarged to 64 px, then chapter 15's fine-tuner (random
    translations, Lite0's input mapping, pretrained Lite0 with discriminative learning rates)."""
    return nn.Sequential(nn.Upsample(scale_factor=SCALE, mode="bilinear", align_corners=False),
                         full_finetuner(num_classes))


def _data(quick: bool) -> dict[str, Splits]:
    raw = project_splits(quick)
    return {"raw": raw, "std": standardised(raw),
            "lite_vectors": cached_features(Splits(*(enlarge(part) for part in raw)))["vectors"]}


PROBE_ARM = "linear probe on frozen Lite0, 64 px"
FINETUNED_ARM = f"Lite0 fine-tuned, 64 px, {FINETUNE_EPOCHS} epochs"

PRETRAINED_RECORD = register(Record(
    name="project_pretrained",
    chapter="17_project",
    claim=("ImageNet features carry over to the project's drawn shapes: EfficientNet-Lite0 pretrained on photographs, "
           "with the 16x16 images enlarged to 64 px, beats every candidate trained from scratch on every seed, both as a "
           "frozen feature extractor under a linear probe and fine-tuned whole; the record measures which regime wins."),
    data=_data,
    data_note=("the project's splits (Shapes10, 2,000 training, 500 validation, 1,000 test images, averaged to 16x16); "
               "the pretrained arms see them enlarged 4 times (bilinear) to 64 px"),
    arms=(
        Arm(page_arm("home-made CNN"), home_made_cnn, dict(RECIPE, epochs=PAGE_EPOCHS), live=True),
        *yardsticks(EPOCHS, (3, 16, 16)),
        Arm(PROBE_ARM, partial(linear_probe, 10), PROBE, data="lite_vectors"),
        Arm(FINETUNED_ARM, pretrained_candidate, dict(WHOLE, lr=FINETUNE_LR, epochs=FINETUNE_EPOCHS), probe=calibration_probe),
    ),
))
"""Chapter 17's pretrained candidate: a linear probe and a fine-tuned Lite0, the yardsticks, the page's repeat."""
