"""Chapter 12's record: the ResNet-50 -> ConvNeXt-T ladder, shrunk, trained long enough to leave its plateau."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from torch import nn

from cnnbook.data import Splits, load_shapes10
from cnnbook.models.convnext import LadderNet, ladder_configs
from cnnbook.records.core import Arm, Record, register, shapes10_data, yardsticks

SMALL = dict(num_classes=10, small_input=True, width_scale=1 / 8, depths=(1, 1, 1, 1))
"""The chapter's shrink: every width divided by 8, one block per stage, stride-2 stems for 32x32 inputs."""
PAGE_SPLIT = dict(n_train=800, n_val=100, n_test=500)
PAGE_RECIPE = dict(epochs=4, lr=2e-3, optimizer="adam", scheduler="cosine", batch_size=32)
"""The page's live run: Adam, batches of 32, four epochs of a cosine schedule on 800 images."""
EPOCHS = 15
RECIPE = dict(epochs=EPOCHS, lr=2e-3, optimizer="adamw", weight_decay=0.05, scheduler="cosine", batch_size=64)
"""AdamW (weight decay 0.05, ConvNeXt's optimiser), batches of 64, 15 epochs of a cosine schedule."""
SKIPPED = "stage ratio (3, 3, 9, 3)"
"""With one block per stage the stage-ratio step changes nothing, so the shrunk ladder has no such rung."""
PAGE_RUNGS = {"ResNet-50 rung (small)": 0, "layer-scale rung (small)": 1, "ConvNeXt-T rung (small)": -1}
LAYER_SCALES = (0.1, None)
"""ConvNeXt-T's rung again with its layer scale starting at 0.1, and without layer scale."""


def rungs() -> list[tuple[str, Callable[[], nn.Module]]]:
    """The shrunk ladder: (step name, builder) for every step that changes the shrunk network."""
    return [(name, _builder(config)) for name, config in ladder_configs() if name != SKIPPED]


def _builder(config, **change) -> Callable[[], nn.Module]:
    config = replace(config, **change)

    def build() -> nn.Module:
        return LadderNet(config, **SMALL)
    return build


def ladder_data(quick: bool) -> dict[str, Splits]:
    """Shapes10's default split (as is and standardised), and the page's small split (800/100/500)."""
    data = shapes10_data(quick)
    data["page"] = load_shapes10(n_train=40, n_val=10, n_test=10) if quick else load_shapes10(**PAGE_SPLIT)
    return data


def rung_arm_name(index: int, name: str) -> str:
    """The record's name for a rung ('step 0, ResNet-50, 15 epochs')."""
    return f"step {index}, {name}, {EPOCHS} epochs"


def layer_scale_arm_name(value: float | None) -> str:
    """The record's name for ConvNeXt-T's rung with another layer scale ('ConvNeXt-T rung, layer scale 0.1, ...')."""
    return f"ConvNeXt-T rung, {'no layer scale' if value is None else f'layer scale {value}'}, {EPOCHS} epochs"


def _arms() -> tuple[Arm, ...]:
    ladder, configs = rungs(), dict(ladder_configs())
    last = configs[ladder[-1][0]]
    page = [Arm(name, ladder[index][1], PAGE_RECIPE, data="page", live=True) for name, index in PAGE_RUNGS.items()]
    long = [Arm(rung_arm_name(i, name), build, RECIPE) for i, (name, build) in enumerate(ladder)]
    scales = [Arm(layer_scale_arm_name(v), _builder(last, layer_scale=v), RECIPE) for v in LAYER_SCALES]
    return (*page, *yardsticks(EPOCHS), *long, *scales)


LADDER = register(Record(
    name="convnext_ladder",
    chapter="12_convnext",
    claim=("Shrunk to a width of 1/8 with one block per stage and trained on Shapes10's 3,000 images for 15 epochs of "
           "AdamW, the ConvNeXt-T rung beats the ResNet-50 rung of the same size, as it does on ImageNet."),
    data=ladder_data,
    data_note=("Shapes10's default split (3,000 training, 500 validation, 1,000 test images at 32x32); the page's "
               "live arms use its small split of 800 training, 100 validation and 500 test images"),
    arms=_arms(),
))


INPUT_RUNGS = (0, 10, 11)
"""ResNet-50's rung and the two LayerNorm rungs (BatchNorm -> LayerNorm, and ConvNeXt-T's), trained again on
standardised images."""


def input_arm_name(index: int, name: str) -> str:
    """The name of a rung trained on standardised images ('step 10, BatchNorm -> LayerNorm, standardised, ...')."""
    return f"step {index}, {name}, standardised images, {EPOCHS} epochs"


def _input_arms() -> tuple[Arm, ...]:
    ladder = rungs()
    live = Arm("ConvNeXt-T rung (small)", ladder[PAGE_RUNGS["ConvNeXt-T rung (small)"]][1], PAGE_RECIPE, data="page",
               live=True)
    return (live, *yardsticks(EPOCHS),
            *(Arm(input_arm_name(i, ladder[i][0]), ladder[i][1], RECIPE, data="std") for i in INPUT_RUNGS))


INPUTS = register(Record(
    name="convnext_inputs",
    chapter="12_convnext",
    claim=("The shrunk ladder's LayerNorm rungs start slowly because their inputs are not standardised: trained on "
           "images standardised per channel, they leave chance within three epochs on every seed, where on raw "
           "pixels they take five or more."),
    data=ladder_data,
    data_note=("Shapes10's default split (3,000 training, 500 validation, 1,000 test images at 32x32), standardised "
               "per channel with the training images' statistics; the page's live arm uses its small split of 800 "
               "training, 100 validation and 500 test images, as they are"),
    arms=_input_arms(),
))
