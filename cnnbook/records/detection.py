"""Chapter 14's record: what limits the YOLO-style detector on the 64 px scenes.

The page's detector (widths 8-16-32-64, 1,000 training scenes, 7 epochs) against the same network trained four
times as long on the same scenes, the same network on four times as many scenes, and the package's ``small_yolo``
(widths 16-32-64-128) on those scenes; beside the detection yardsticks (a linear model and an MLP on the pixels of a
24 px window around each grid cell, and the same YOLO head on the book's small CNN) and two baselines that look at
no image. Every network is trained and scored by :func:`cnnbook.train.fit` with the task "detect": the YOLO loss
on the scenes' k-means anchors, mAP@0.5 of the decoded detections; each seed's COCO AP@[.5:.95] is kept too.
"""
from __future__ import annotations

from functools import lru_cache, partial

import torch
from torch import nn

from cnnbook.data import Splits, make_scenes
from cnnbook.detection import (BoxDataset, box_cxcywh_to_xyxy, box_xyxy_to_cxcywh, coco_average_precision,
                               decode_boxes, encode_targets, mean_average_precision)
from cnnbook.models import small_cnn
from cnnbook.models.yolo import SCENE_ANCHORS, YOLO, WindowDetector, decode_predictions
from cnnbook.records.core import SCENE_SIZE, Arm, Record, register

NUM_CLASSES = 3  # circle, triangle, square
LIVE_SCENES = dict(train=1000, val=100, test=300, seeds=(1, 3, 2))
"""The page's scenes: 1,000 training scenes (make_scenes seed 1), 100 validation (seed 3), 300 test (seed 2)."""
BIG_TRAIN = 4000
"""Training scenes of the record's larger arms: seed 1 again, so the page's 1,000 are the first of them."""
LIVE_WIDTHS = (8, 16, 32, 64)
RECIPE = dict(epochs=7, lr=0.015, batch_size=32, optimizer="adamw", weight_decay=1e-4, scheduler="onecycle")
"""AdamW, one-cycle schedule, batches of 32, 7 epochs: the page's recipe and every arm's (LONG_EPOCHS aside)."""
LONG_EPOCHS = 28
"""4 x 7 epochs on 1,000 scenes: as many steps as 7 epochs on 4,000."""


@lru_cache(maxsize=8)
def _scenes(n: int, seed: int):
    return make_scenes(n, SCENE_SIZE, seed=seed)


def box_splits(train: int, val: int, test: int, seeds: tuple[int, int, int]) -> Splits:
    """Train, validation and test scenes as :class:`BoxDataset` s (images and their boxes) from make_scenes seeds."""
    parts = [_scenes(n, s) for n, s in zip((train, val, test), seeds)]
    return Splits(*(BoxDataset(p.images, p.boxes, p.box_labels) for p in parts))


def standardised_boxes(splits: Splits) -> Splits:
    """The same scenes with each colour channel standardised by the training images' mean and standard deviation."""
    images = splits.train.images
    mean, std = images.mean(dim=(0, 2, 3), keepdim=True), images.std(dim=(0, 2, 3), keepdim=True)
    return Splits(*(BoxDataset((d.images - mean) / std, d.boxes, d.labels) for d in splits))


def _data(quick: bool) -> dict[str, Splits]:
    val, test = LIVE_SCENES["val"], LIVE_SCENES["test"]
    n_live, n_big = (64, 96) if quick else (LIVE_SCENES["train"], BIG_TRAIN)
    if quick:
        val, test = 8, 8
    live = box_splits(n_live, val, test, LIVE_SCENES["seeds"])
    big = box_splits(n_big, val, test, LIVE_SCENES["seeds"])
    return {"live": live, "big": big, "big_std": standardised_boxes(big)}


def detector(widths: tuple[int, ...]) -> YOLO:
    """The chapter's YOLO-style detector for the scenes' three classes, on SCENE_ANCHORS at 64 px."""
    return YOLO(NUM_CLASSES, SCENE_ANCHORS, image_size=SCENE_SIZE, widths=widths)


def small_cnn_detector() -> YOLO:
    """The YOLO head on the book's small CNN: its Conv-BN-ReLU trunk (16-32-64-64, three poolings: an 8 x 8 grid)."""
    net = YOLO(NUM_CLASSES, SCENE_ANCHORS, image_size=SCENE_SIZE, widths=(16, 32, 64, 64))
    net.features = small_cnn(NUM_CLASSES).features
    return net


def coco_probe(model: nn.Module) -> dict[str, float]:
    """The trained detector's COCO AP@[.5:.95] on the record's test scenes (the page's 300)."""
    test = _scenes(LIVE_SCENES["test"], LIVE_SCENES["seeds"][2])
    targets = [{"boxes": b, "labels": lab} for b, lab in zip(test.boxes, test.box_labels)]
    images = test.images
    if isinstance(model, WindowDetector):  # the pixel yardsticks see pixels standardised as in their training
        train = _scenes(BIG_TRAIN, LIVE_SCENES["seeds"][0]).images
        images = (images - train.mean(dim=(0, 2, 3), keepdim=True)) / train.std(dim=(0, 2, 3), keepdim=True)
    with torch.no_grad():
        raw = torch.cat([model(images[i:i + 100]) for i in range(0, len(images), 100)])
    preds = decode_predictions(raw, torch.tensor(SCENE_ANCHORS), SCENE_SIZE, score_threshold=0.05)
    return {"coco_ap": coco_average_precision(preds, targets)}


def no_image_baselines(data) -> dict[str, float]:
    """The page's two baselines on the test scenes: one mean box per image, and every anchor's prior box."""
    train, test = data["live"].train, data["live"].test
    targets = test.targets()
    mean_box = box_cxcywh_to_xyxy(box_xyxy_to_cxcywh(torch.cat(train.boxes)).mean(dim=0, keepdim=True))
    all_labels = torch.cat(train.labels)
    class_prior = torch.bincount(all_labels, minlength=NUM_CLASSES).float() / len(all_labels)
    majority = torch.tensor([int(class_prior.argmax())])
    mean_box_preds = [{"boxes": mean_box, "scores": torch.ones(1), "labels": majority} for _ in targets]
    anchors, grid = torch.tensor(SCENE_ANCHORS), SCENE_SIZE // 8
    coded = encode_targets(train.boxes, train.labels, anchors, grid, SCENE_SIZE)
    slot_prior = coded[..., 4].mean(dim=0).flatten()
    resting = decode_boxes(torch.zeros(grid, grid, len(anchors), 4), anchors, SCENE_SIZE).reshape(-1, 4)
    prior = {"boxes": resting.repeat(NUM_CLASSES, 1), "scores": torch.cat([slot_prior * p for p in class_prior]),
             "labels": torch.arange(NUM_CLASSES).repeat_interleave(len(resting))}
    return {"one mean box per image": mean_average_precision(mean_box_preds, targets),
            "prior on every anchor": mean_average_precision([prior] * len(targets), targets)}


_PROBE = coco_probe
YARDSTICK_NAMES = ("linear, 24 px window per cell (standardised pixels)",
                   "MLP, 64 hidden, 24 px window per cell (standardised pixels)",
                   "small CNN backbone, YOLO head")
LIVE_ARM = "YOLO 8-16-32-64, 1,000 scenes, 7 epochs"
ARMS = (
    Arm(YARDSTICK_NAMES[0], partial(WindowDetector, NUM_CLASSES, SCENE_ANCHORS, SCENE_SIZE), RECIPE, data="big_std",
        yardstick=True, probe=_PROBE),
    Arm(YARDSTICK_NAMES[1], partial(WindowDetector, NUM_CLASSES, SCENE_ANCHORS, SCENE_SIZE, hidden=64), RECIPE,
        data="big_std", yardstick=True, probe=_PROBE),
    Arm(YARDSTICK_NAMES[2], small_cnn_detector, RECIPE, data="big", yardstick=True, probe=_PROBE),
    Arm(LIVE_ARM, partial(detector, LIVE_WIDTHS), RECIPE, data="live", live=True, probe=_PROBE),
    Arm(f"YOLO 8-16-32-64, 1,000 scenes, {LONG_EPOCHS} epochs", partial(detector, LIVE_WIDTHS),
        dict(RECIPE, epochs=LONG_EPOCHS), data="live", probe=_PROBE),
    Arm("YOLO 8-16-32-64, 4,000 scenes, 7 epochs", partial(detector, LIVE_WIDTHS), RECIPE, data="big", probe=_PROBE),
)

LIMITS = register(Record(
    name="detection_scenes",
    chapter="14_detection",
    claim=("With 4,000 training scenes instead of 1,000 and the same 7 epochs, the page's YOLO-style detector "
           "(widths 8-16-32-64) reaches a test mAP@0.5 above 0.7 on every seed on the 64 px scenes; training it 4 times "
           "as long on the 1,000 scenes (as many steps) tells the number of scenes from the number of steps."),
    data=_data,
    data_note=("Generated scenes (cnnbook.data.make_scenes, 64 px, 1-3 objects of 3 classes): 1,000 or 4,000 training "
               "scenes (seed 1; the 1,000 are the first of the 4,000), 100 validation (seed 3), the page's 300 test "
               "scenes (seed 2); the score is the test mAP@0.5 (all-point), COCO AP@[.5:.95] in each seed's probe"),
    arms=ARMS,
    task="detect",
    baselines=no_image_baselines,
))
