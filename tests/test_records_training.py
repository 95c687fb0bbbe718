"""The records of the chapter "Training a CNN": their networks, data and names, and their live arms match the page."""
import pytest
import torch
from torch import nn

from cnnbook.augment import Augmented
from cnnbook.batchnorm import BatchNorm2d
from cnnbook.records import get_record
from cnnbook.records.training import (BN_RATES, OPTIMIZERS, RANGE_TEST_RATES, SCHEDULES, bn_arm_name, few_images_data,
                                      optimizer_arm_name, page_splits, schedule_arm_name, small_cnn_dropout,
                                      small_cnn_without_batchnorm)


def test_networks():
    torch.manual_seed(0)
    plain = small_cnn_without_batchnorm()
    assert not any(isinstance(m, (nn.BatchNorm2d, BatchNorm2d)) for m in plain.modules())
    convs = [m for m in plain.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.bias is not None for c in convs)
    assert abs(convs[1].weight.std().item() / (2 / convs[1].weight[0].numel()) ** 0.5 - 1) < 0.05  # He
    dropout = small_cnn_dropout(0.3)
    assert isinstance(dropout.fc[0], nn.Dropout) and dropout.fc[0].p == 0.3
    assert dropout(torch.rand(2, 3, 16, 16)).shape == (2, 10)


def test_data_and_names():
    page = page_splits(quick=True)
    assert page.train.tensors[0].shape[1:] == (3, 16, 16)
    few = few_images_data(quick=True)
    assert set(few) == {"raw", "std", "aug", "page", "page_aug"}
    assert isinstance(few["aug"].train, Augmented) and few["aug"].train.tensors[0].shape[1:] == (3, 32, 32)
    assert bn_arm_name("BN", 1e-3) == "small CNN, Adam 0.001, 12 epochs"
    assert bn_arm_name("none", 1e-2, 2) == "small CNN without BatchNorm (He), Adam 0.01, the page's 2 epochs"
    record = get_record("training_batchnorm")
    assert {a.name for a in record.arms} >= {bn_arm_name(n, lr) for n in ("BN", "none") for lr in BN_RATES}


@pytest.mark.parametrize("name", ["training_batchnorm", "training_regularisation", "training_optimisers"])
def test_live_arms_train_on_the_pages_data_with_the_pages_recipe(name):
    record = get_record(name)
    live = [a for a in record.arms if a.live]
    assert live and all(a.data.startswith("page") for a in live)
    assert all(a.recipe["epochs"] in (2, 12) for a in live)


def test_the_optimiser_record_runs_every_optimiser_and_schedule_live_and_long_with_the_same_recipe():
    record = get_record("training_optimisers")
    assert optimizer_arm_name("AdamW") == "AdamW, lr 0.003, decay 0.05, 12 epochs"
    assert schedule_arm_name("one-cycle", 2) == "Adam 0.03, one-cycle, the page's 2 epochs"
    for label in OPTIMIZERS:
        live, long = record.arm(optimizer_arm_name(label, 2)), record.arm(optimizer_arm_name(label))
        assert live.live and live.data == "page" and long.data == "raw"
        assert {k: v for k, v in live.recipe.items() if k != "epochs"} == {k: v for k, v in long.recipe.items() if k != "epochs"}
    assert record.arm(optimizer_arm_name("AdamW")).recipe["lr"] == RANGE_TEST_RATES["adam"]
    for label, (scheduler, warmup) in SCHEDULES.items():
        arm = record.arm(schedule_arm_name(label))
        assert (arm.recipe["scheduler"], arm.recipe["warmup_epochs"], arm.recipe["epochs"]) == (scheduler, warmup, 12)
