"""Chapter 15's record: how much of a pretrained network to retrain, on a near target and a far one.

EfficientNet-Lite0's ImageNet weights transfer to two targets at 64 px: texture patches cut from photographs
(near: the features a photo network learned fit them) and Shapes10 (far: drawn shapes on cluttered backdrops,
classes that differ only by outline). Every method sees exactly the same labelled images and trains for a number
of epochs fixed in advance; none selects anything on validation data, so none sees more labels than another.
Regimes, from least to most retrained: a linear probe on cached frozen features; the last stage (the 1x1 head
convolution) retrained on cached maps; the whole network fine-tuned end to end with discriminative learning rates
and random translations; and the small CNN from scratch with the same translations.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import partial

from torch import nn
from torch.utils.data import TensorDataset

from cnnbook.data import Splits, half_resolution, load_shapes10
from cnnbook.experiments import standardised
from cnnbook.models import efficientnet_lite0, load_lite0_weights, small_cnn
from cnnbook.models.efficientnet import lite0_preprocess
from cnnbook.records.core import Arm, Record, register, yardsticks
from cnnbook.textures import load_textures
from cnnbook.transfer import (KeepBatchNormEval, Preprocess, RandomTranslate, extract_features, few_shot, pooled,
                              replace_head, scale_gradients, split_at)

SIZE = 64
"""Every image is 64 px: Lite0 runs here at 64 px, not its native 224 px (a twelfth of the MACs)."""
FAR = dict(n_val=100, n_test=500, image_size=SIZE)
"""Shapes10 at 64 px: 100 validation images (curves only) and 500 test images; ``n_train`` is 10 or 50 per class."""
FAR_K = (10, 50)
"""Labelled Shapes10 images per class: ``load_shapes10(n_train=10 * k)`` draws balanced classes."""
NEAR = dict(n_train=20, n_val=10, n_test=25, patch=SIZE, seed=0)
"""The textures of the page (8 classes); the record trains on a fixed draw of :data:`NEAR_K` patches per class."""
NEAR_K = 5
MAX_SHIFT = 6
"""Random translations of up to 6 px (about a tenth of the image) in either direction; no flips: Shapes10 draws its
shapes at every rotation, but a mirrored ell is no rotation of an ell."""
LR_FACTORS = (0.1, 0.3, 1.0)
"""Discriminative learning rates: stem and stages 1-3 at a tenth of the head's rate, stages 4-8 at 0.3 of it."""
PROBE = dict(epochs=60, lr=3e-2, optimizer="adamw", weight_decay=1e-2, batch_size=1000)
"""A linear head on cached frozen features: logistic regression, full-batch AdamW (the page's ``fit_linear_head``)."""
TAIL = dict(epochs=30, lr=3e-2, optimizer="sgd", scheduler="cosine", batch_size=25)
"""The last stage and a new head on cached stage-7 maps; the stage's own rate is scaled to a tenth."""
WHOLE = dict(epochs=30, lr=5e-2, optimizer="sgd", scheduler="cosine", batch_size=25)
"""The whole network, SGD with momentum, cosine schedule; the per-layer factors ride on the gradients."""
WHOLE_EPOCHS = {10: 30, 50: 12, NEAR_K: 30}
SCRATCH = dict(lr=3e-3, scheduler="cosine", batch_size=25)
"""The small CNN from scratch with the data card's recipe (Adam, lr 3e-3, cosine) and the same translations."""
SCRATCH_EPOCHS = {10: 60, 50: 30}
YARDSTICK_EPOCHS = 30


def pretrained_lite0(num_classes: int) -> nn.Module:
    """EfficientNet-Lite0 with its ImageNet weights and a fresh ``num_classes`` head."""
    return replace_head(load_lite0_weights(efficientnet_lite0()), num_classes)


def full_finetuner(num_classes: int, max_shift: int = MAX_SHIFT, factors: tuple[float, float, float] = LR_FACTORS
                   ) -> nn.Sequential:
    """Random translations, Lite0's input mapping, then the whole pretrained Lite0, every layer trainable, its
    gradients scaled by ``factors`` (stem and stages 1-3, stages 4-8, head): discriminative learning rates for SGD."""
    if len(factors) != 3:
        raise ValueError(f"factors must give three learning-rate factors (early, late, head), got {factors!r}")
    net = pretrained_lite0(num_classes)
    for part, factor in zip((net.features[:4], net.features[4:], net.classifier), factors):
        if factor != 1:
            scale_gradients(part, factor)
    return nn.Sequential(RandomTranslate(max_shift), Preprocess(None, lite0_preprocess), net)


def scratch_cnn(num_classes: int, max_shift: int = MAX_SHIFT) -> nn.Sequential:
    """The book's small CNN from random weights, behind the same random translations and a 2x2 average pool: it
    sees the 64 px images at the data card's 32 px."""
    return nn.Sequential(RandomTranslate(max_shift), nn.AvgPool2d(2), small_cnn(num_classes))


def linear_probe(num_classes: int) -> nn.Linear:
    """A linear head on Lite0's pooled 1280 features."""
    return nn.Linear(1280, num_classes)


def last_stage(num_classes: int, stage_factor: float = 0.1) -> KeepBatchNormEval:
    """Lite0's pretrained last stage (the 1x1 head convolution, its BatchNorm kept in eval mode), pooling and a
    new head, for cached stage-7 maps; the stage's gradients scaled by ``stage_factor``."""
    stage = scale_gradients(copy.deepcopy(load_lite0_weights(efficientnet_lite0()).features[8]), stage_factor)
    return KeepBatchNormEval(nn.Sequential(stage, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, num_classes)))


def cached_features(splits: Splits) -> dict[str, Splits]:
    """Run frozen Lite0 (eval mode, its own input mapping) once over every split: stage-7 maps ("maps") and the
    pooled 1280 features ("vectors")."""
    lite = load_lite0_weights(efficientnet_lite0()).eval()
    trunk, _ = split_at(lite, 8)
    head_conv = lite.features[8]
    maps, vectors = [], []
    for part in splits:
        labels = part.tensors[1]
        m = extract_features(trunk, part, preprocess=lite0_preprocess)
        maps.append(TensorDataset(m, labels))
        vectors.append(TensorDataset(pooled(extract_features(head_conv, m)), labels))
    return {"maps": Splits(*maps), "vectors": Splits(*vectors)}


def far_splits(k: int, quick: bool = False) -> Splits:
    """Shapes10 at 64 px with ``k`` training images per class (the same validation and test images for every k)."""
    if quick:
        return load_shapes10(n_train=2 * 10, n_val=10, n_test=20, image_size=SIZE)
    return load_shapes10(n_train=10 * k, **FAR)


def near_splits(quick: bool = False) -> Splits:
    """The texture patches with a fixed draw of :data:`NEAR_K` training patches per class."""
    data = load_textures(**(dict(NEAR, n_train=NEAR_K, n_val=2, n_test=2) if quick else NEAR))
    return Splits(few_shot(data.train, NEAR_K, seed=0), data.val, data.test)


def _record_data(quick: bool) -> Mapping[str, Splits]:
    data: dict[str, Splits] = {}
    for key, splits in [(f"far{k}", far_splits(k, quick)) for k in FAR_K] + [("near", near_splits(quick))]:
        data[key] = splits
        for kind, cached in cached_features(splits).items():
            data[f"{key}_{kind}"] = cached
    data["raw"] = Splits(*(half_resolution(part) for part in data[f"far{FAR_K[-1]}"]))  # the yardsticks' 32 px
    data["std"] = standardised(data["raw"])
    return data


def _arms(key: str, k: int, num_classes: int, live: bool) -> tuple[Arm, ...]:
    where = f"{'Shapes10' if key.startswith('far') else 'textures'}, k={k}"
    arms = [
        Arm(f"linear probe on frozen Lite0, {where}", partial(linear_probe, num_classes), PROBE, data=f"{key}_vectors",
            live=live),
        Arm(f"last stage retrained, {where}", partial(last_stage, num_classes), TAIL, data=f"{key}_maps", live=live),
        Arm(f"whole network fine-tuned, {where}", partial(full_finetuner, num_classes),
            dict(WHOLE, epochs=WHOLE_EPOCHS[k]), data=key),
    ]
    if key.startswith("far"):
        arms.append(Arm(f"small CNN from scratch, translations, {where}", partial(scratch_cnn, num_classes),
                        dict(SCRATCH, epochs=SCRATCH_EPOCHS[k]), data=key))
    return tuple(arms)


REGIMES = register(Record(
    name="transfer_regimes",
    chapter="15_transfer",
    claim=("With the same labelled images for every method and no selection on validation data: on texture patches "
           "(near ImageNet's photographs) a linear probe on frozen EfficientNet-Lite0 features is as good as "
           "fine-tuning; on Shapes10 at 64 px (far from them) fine-tuning the whole network with discriminative "
           "learning rates and random translations beats the frozen features once there are 50 images per class, "
           "and the small CNN trained from scratch closes part of its gap to the pretrained network with more labels."),
    data=_record_data,
    data_note=("Shapes10 at 64 px, 100 or 500 training images (10 or 50 per class), 100 validation images (curves "
               "only), 500 test images; texture patches at 64 px, 5 per class (a fixed draw), 10 validation and 25 "
               "test per class. Yardsticks on the 500 Shapes10 training images at 32 px (2x2 averaged)."),
    arms=(*yardsticks(YARDSTICK_EPOCHS, (3, SIZE // 2, SIZE // 2)),
          *_arms("far10", 10, 10, live=True), *_arms("far50", 50, 10, live=False),
          *_arms("near", NEAR_K, 8, live=False)),
))

__all__ = ["FAR", "FAR_K", "LR_FACTORS", "MAX_SHIFT", "NEAR", "NEAR_K", "PROBE", "REGIMES", "SCRATCH", "SCRATCH_EPOCHS",
           "SIZE", "TAIL", "WHOLE", "WHOLE_EPOCHS", "YARDSTICK_EPOCHS", "cached_features", "far_splits", "full_finetuner",
           "last_stage", "linear_probe", "near_splits", "pretrained_lite0", "scratch_cnn"]
