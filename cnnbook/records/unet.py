"""Chapter 13's records: U-Nets with and without skip connections on generated 64 px scenes with more than six
times the page's training scenes (``unet_skips``), and beside them the per-pixel linear model, the per-pixel MLP and
the small CNN as a segmenter (:class:`cnnbook.models.SmallFCN`) with the page's 32 px table on five seeds
(``unet_yardsticks``): two records, each inside a record's budget, that share their data."""
from __future__ import annotations

from functools import partial

from torch import nn
from torch.utils.data import TensorDataset

from cnnbook.data import Splits, make_scenes
from cnnbook.experiments import pixel_linear, pixel_mlp, standardised
from cnnbook.models import small_fcn, unet
from cnnbook.records.core import Arm, Record, register

NUM_CLASSES = 4  # background, circle, triangle, square
LIVE_SCENES = dict(image_size=32, train=300, val=60, test=200, seeds=(0, 1, 2))
"""The page's scenes (the seeds of make_scenes for train, validation and test)."""
BIG_SCENES = dict(image_size=64, train=2000, val=300, test=600, seeds=(10, 11, 12))
LIVE_UNET = dict(base_channels=8, depth=2)
BIG_UNET = dict(base_channels=8, depth=3)
LIVE_RECIPE = dict(epochs=8, lr=1e-2, batch_size=16, scheduler="onecycle")
"""Adam with a one-cycle schedule, the page's recipe; every arm of a table trains with its table's recipe, except
that the page's yardsticks train for half its epochs (:data:`LIVE_YARDSTICK_EPOCHS`) to fit the page's minute."""
LIVE_YARDSTICK_EPOCHS = 4
BIG_RECIPE = dict(epochs=16, lr=1e-2, batch_size=32, scheduler="onecycle")


def scene_splits(image_size: int, train: int, val: int, test: int, seeds: tuple[int, int, int]) -> Splits:
    """Train, validation and test scenes (images and semantic masks) from three seeds of :func:`make_scenes`."""
    parts = [make_scenes(n, image_size=image_size, seed=s) for n, s in zip((train, val, test), seeds)]
    return Splits(*(TensorDataset(p.images, p.semantic) for p in parts))


def _scenes(quick: bool) -> dict[str, Splits]:
    data = {}
    for key, spec in (("live", LIVE_SCENES), ("raw", BIG_SCENES)):
        spec = dict(spec, train=64, val=8, test=8) if quick else spec
        splits = scene_splits(**spec)
        data[key], data[f"{key}_std"] = splits, standardised(splits)
    return data


def segmenter(skips: bool, base_channels: int, depth: int) -> nn.Module:
    """A padded U-Net with BatchNorm for the scenes' four classes, with or without its skip connections."""
    return unet(3, NUM_CLASSES, padding=True, base_channels=base_channels, depth=depth, skips=skips,
                norm_layer=nn.BatchNorm2d)


def _yardsticks(suffix: str, data: str, recipe: dict, yardstick: bool) -> tuple[Arm, ...]:
    return (
        Arm(f"linear, per pixel (standardised pixels){suffix}", partial(pixel_linear, 3, NUM_CLASSES), recipe,
            data=f"{data}_std", yardstick=yardstick),
        Arm(f"MLP, 64 hidden, per pixel (standardised pixels){suffix}", partial(pixel_mlp, 3, NUM_CLASSES, 64),
            recipe, data=f"{data}_std", yardstick=yardstick),
        Arm(f"small CNN as a segmenter{suffix}", partial(small_fcn, NUM_CLASSES), recipe, data=data,
            yardstick=yardstick),
    )


def _unets(suffix: str, data: str, recipe: dict, net: dict, live: bool) -> tuple[Arm, ...]:
    return (
        Arm(f"U-Net, no skips{suffix}", partial(segmenter, False, **net), recipe, data=data, live=live),
        Arm(f"U-Net, skips{suffix}", partial(segmenter, True, **net), recipe, data=data, live=live),
    )


PAGE_TABLE = (*_yardsticks(", 32 px", "live", dict(LIVE_RECIPE, epochs=LIVE_YARDSTICK_EPOCHS), yardstick=False),
              *_unets(", 32 px", "live", LIVE_RECIPE, LIVE_UNET, live=True))
"""The page's 32 px table, arm for arm: the yardsticks for half the U-Nets' epochs, then the two U-Nets."""

YARDSTICKS_64 = register(Record(
    name="unet_yardsticks",
    chapter="13_unet",
    claim=("The three yardsticks of the 64 px table (per-pixel linear model and MLP on standardised pixels, the small "
           "CNN as a segmenter), trained with its recipe, and the page's 32 px table on five seeds: at 32 px, with 300 "
           "training scenes and 8 epochs, no network of that table reaches a foreground mean IoU of 0.3."),
    data=_scenes,
    data_note=("Generated scenes (cnnbook.data.make_scenes): 64 px, 2,000/300/600 train/validation/test (seeds "
               "10/11/12), and the page's 32 px scenes, 300/60/200 (seeds 0/1/2); the score is the test set's "
               "foreground mean IoU"),
    arms=(*_yardsticks("", "raw", BIG_RECIPE, yardstick=True), *PAGE_TABLE),
    task="segment",
))

SKIPS = register(Record(
    name="unet_skips",
    chapter="13_unet",
    claim=("On 64 px scenes with 2,000 training scenes, a depth-3 U-Net with skip connections scores a higher "
           "foreground mean IoU than the same network without them, and both beat the three yardsticks (per-pixel "
           "linear model and MLP, the small CNN as a segmenter) that the record unet_yardsticks trains on the same "
           "scenes."),
    data=_scenes,
    data_note=("Generated scenes (cnnbook.data.make_scenes): 64 px, 2,000/300/600 train/validation/test (seeds "
               "10/11/12), and for the repeat of the page's run its 32 px scenes, 300/60/200 (seeds 0/1/2); the score "
               "is the test set's foreground mean IoU"),
    arms=(*_unets("", "raw", BIG_RECIPE, BIG_UNET, live=False), PAGE_TABLE[-1]),  # the page's run: the fingerprint
    task="segment",
    yardsticks_from="unet_yardsticks",
))
