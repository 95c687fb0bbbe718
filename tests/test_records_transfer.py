"""Chapter 15's record: its arms, its builders and its data (quick sizes), and equal labels for every method."""
import pytest
import torch
from torch import nn

from cnnbook.records import YARDSTICKS
from cnnbook.records.transfer import (FAR_K, LR_FACTORS, MAX_SHIFT, NEAR_K, PROBE, REGIMES, SIZE, TAIL, WHOLE,
                                      _record_data, cached_features, far_splits, full_finetuner, last_stage,
                                      linear_probe, near_splits, scratch_cnn)
from cnnbook.transfer import RandomTranslate


def test_the_record_holds_the_yardsticks_then_every_regime_per_target():
    names = [a.name for a in REGIMES.arms]
    assert all(a.name.startswith(y) for a, y in zip(REGIMES.arms[:3], YARDSTICKS))
    assert all(a.yardstick for a in REGIMES.arms[:3]) and len(YARDSTICKS) == 3
    for k in FAR_K:
        for regime in ("linear probe", "last stage", "whole network", "small CNN from scratch"):
            assert sum(n.startswith(regime) and n.endswith(f"Shapes10, k={k}") for n in names) == 1
    assert sum(n.endswith(f"textures, k={NEAR_K}") for n in names) == 3
    assert [a.name for a in REGIMES.arms if a.live] == [f"linear probe on frozen Lite0, Shapes10, k={FAR_K[0]}",
                                                         f"last stage retrained, Shapes10, k={FAR_K[0]}"]


def test_no_method_selects_on_validation_data():
    for arm in REGIMES.arms:
        assert "keep_best" not in arm.recipe and "patience" not in arm.recipe
    assert PROBE["optimizer"] == "adamw" and TAIL["optimizer"] == WHOLE["optimizer"] == "sgd"  # scaled gradients need SGD


def test_every_method_of_a_target_trains_on_the_same_labelled_images():
    data = _record_data(quick=True)
    for key in ("far10", "far50", "near"):
        labels = data[key].train.tensors[1]
        for kind in ("maps", "vectors"):
            assert torch.equal(data[f"{key}_{kind}"].train.tensors[1], labels)
            assert len(data[f"{key}_{kind}"].train) == len(data[key].train)
    assert data["near"].train.tensors[1].bincount().tolist() == [NEAR_K] * 8
    assert data["raw"].train.tensors[0].shape[-1] == SIZE // 2 and data["std"].train.tensors[0].shape[-1] == SIZE // 2
    assert data["far10_maps"].train.tensors[0].shape[1:] == (320, 2, 2)
    assert data["far10_vectors"].train.tensors[0].shape[1:] == (1280,)


def test_far_and_near_splits_have_the_sizes_the_page_states():
    far = far_splits(10, quick=True)
    assert far.train.tensors[0].shape[1:] == (3, SIZE, SIZE)
    near = near_splits(quick=True)
    assert near.train.tensors[0].shape[1:] == (3, SIZE, SIZE) and len(near.train) == NEAR_K * 8


def test_builders_give_the_right_outputs_and_keep_what_they_promise():
    x = torch.rand(2, 3, SIZE, SIZE)
    full = full_finetuner(10)
    assert isinstance(full[0], RandomTranslate) and full[0].max_shift == MAX_SHIFT
    assert full.eval()(x).shape == (2, 10) and all(p.requires_grad for p in full.parameters())
    assert scratch_cnn(10).eval()(x).shape == (2, 10)
    assert linear_probe(8)(torch.rand(3, 1280)).shape == (3, 8)
    tail = last_stage(10).train()
    assert not any(m.training for m in tail.modules() if isinstance(m, nn.BatchNorm2d))
    assert tail(torch.rand(2, 320, 2, 2)).shape == (2, 10)
    with pytest.raises(ValueError, match="three learning-rate factors"):
        full_finetuner(10, factors=(0.1, 1.0))


def test_the_learning_rate_factors_scale_each_part_of_the_network():
    torch.manual_seed(0)
    plain, scaled = full_finetuner(10, max_shift=0, factors=(1.0, 1.0, 1.0)), full_finetuner(10, max_shift=0)
    scaled.load_state_dict(plain.state_dict())
    x, y = torch.rand(4, 3, SIZE, SIZE), torch.tensor([0, 1, 2, 3])
    for model in (plain, scaled):
        model.eval()  # no dropout, no stochastic depth: the same forward pass
        nn.functional.cross_entropy(model(x), y).backward()
    early, late, head = (lambda m: m[2].features[0][0].weight, lambda m: m[2].features[5][0].block[0][0].weight,
                         lambda m: m[2].classifier[1].weight)
    for get, factor in zip((early, late, head), LR_FACTORS):
        assert torch.allclose(get(scaled).grad, factor * get(plain).grad, rtol=1e-4, atol=1e-9)


def test_cached_features_match_the_whole_frozen_network():
    far = far_splits(10, quick=True)
    cached = cached_features(far)
    assert cached["vectors"].test.tensors[0].shape == (len(far.test), 1280)
    assert torch.equal(cached["maps"].val.tensors[1], far.val.tensors[1])
