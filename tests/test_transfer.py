"""cnnbook.transfer: freezing, heads, parameter groups, cached features, k-shot subsets, bad input."""
import copy

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook.checkpoint import load_checkpoint, save_checkpoint
from cnnbook.models import efficientnet_lite0, load_lite0_weights, mobilenet_v2, small_cnn
from cnnbook.models.efficientnet import lite0_preprocess
from cnnbook.profile import count_params
from cnnbook.train import fit, make_optimizer
from cnnbook.transfer import (
    IMAGENET_MEAN, IMAGENET_STD, KeepBatchNormEval, Preprocess, extract_features, few_shot, few_shot_indices,
    fit_linear_head, freeze_stages, head_of, imagenet_normalize, param_groups, pooled, replace_head, set_trainable,
    split_at, trainable_ratio,
)


@pytest.fixture(scope="module")
def lite():
    return load_lite0_weights(efficientnet_lite0()).eval()


def test_freeze_stages_counts_by_hand():
    with torch.device("meta"):
        model = replace_head(efficientnet_lite0(), 8)
    freeze_stages(model, 1)
    expected = sum(p.numel() for p in model.features[-1].parameters()) + 1280 * 8 + 8
    assert count_params(model, trainable_only=True) == expected
    assert trainable_ratio(model) == pytest.approx(expected / count_params(model))
    freeze_stages(model, 0)
    assert count_params(model, trainable_only=True) == 1280 * 8 + 8


def test_replace_head_on_torchvision_resnet_and_mobilenet():
    resnet = replace_head(torchvision.models.resnet18(), 5)
    assert isinstance(resnet.fc, nn.Linear) and resnet.fc.out_features == 5 and resnet.fc.in_features == 512
    mobile = replace_head(mobilenet_v2(), 3)
    assert head_of(mobile)[-1].out_features == 3


def test_param_groups_two_learning_rates_and_nothing_trainable():
    model = freeze_stages(replace_head(efficientnet_lite0(), 4), 1)
    groups = param_groups(model, head_of(model), backbone_lr=1e-4, head_lr=1e-2)
    assert [g["lr"] for g in groups] == [1e-4, 1e-2]
    assert sum(p.numel() for g in groups for p in g["params"]) == count_params(model, trainable_only=True)
    opt = torch.optim.AdamW(groups)
    assert [g["lr"] for g in opt.param_groups] == [1e-4, 1e-2]
    set_trainable(model, False)  # a frozen model given to an optimiser with nothing to train
    with pytest.raises(ValueError, match="no trainable parameters"):
        param_groups(model, head_of(model), 1e-4, 1e-2)
    with pytest.raises(ValueError):
        make_optimizer(model, "adamw", 1e-3)
    with pytest.raises(ValueError, match="part of model"):
        param_groups(model, nn.Linear(2, 2), 1e-4, 1e-2)


def test_split_and_cached_features_equal_the_network(lite):
    x = torch.rand(3, 3, 64, 64)
    trunk, tail = split_at(lite, 7)
    cached = extract_features(trunk, x, batch_size=2, preprocess=lite0_preprocess)
    with torch.no_grad():
        assert torch.allclose(tail(cached), lite(lite0_preprocess(x)), atol=1e-4)
        vectors = pooled(extract_features(nn.Sequential(trunk, lite.features[7], lite.features[8]), TensorDataset(x, torch.zeros(3)),
                                          preprocess=lite0_preprocess))
        assert torch.allclose(vectors, lite.avgpool(lite.features(lite0_preprocess(x))).flatten(1), atol=1e-4)
    assert not lite.training and not trunk.training  # extraction left every module's mode as it was


def test_keep_batchnorm_eval_freezes_statistics(lite):
    tail = KeepBatchNormEval(copy.deepcopy(lite.features[8])).train()
    before = tail.module[1].running_mean.clone()
    tail(torch.randn(4, 320, 2, 2))
    assert torch.equal(tail.module[1].running_mean, before) and tail.training


def test_few_shot_draws_k_per_class():
    labels = torch.tensor([0, 1, 2] * 5 + [2])
    index = few_shot_indices(labels, 3, seed=0)
    assert torch.bincount(labels[index]).tolist() == [3, 3, 3] and len(set(index.tolist())) == 9
    assert not torch.equal(index, few_shot_indices(labels, 3, seed=1))
    subset = few_shot(TensorDataset(torch.arange(16.0)[:, None], labels), 2, seed=0)
    assert len(subset) == 6
    with pytest.raises(ValueError, match="only 5"):  # k larger than a class has
        few_shot_indices(labels, 6)
    with pytest.raises(ValueError, match="positive int"):
        few_shot_indices(labels, 0)


def test_imagenet_normalize_matches_torchvision():
    x = torch.rand(2, 3, 8, 8)
    expected = torchvision.transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)(x)
    assert torch.allclose(imagenet_normalize(x), expected)
    assert Preprocess(16, imagenet_normalize)(x).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="normalize"):
        Preprocess(16, "imagenet")


def test_linear_head_separates_separable_features():
    torch.manual_seed(0)
    x = torch.cat([torch.randn(20, 5) + 3, torch.randn(20, 5) - 3])
    y = torch.tensor([0] * 20 + [1] * 20)
    head = fit_linear_head(TensorDataset(x, y), 2, epochs=30)
    assert (head(x).argmax(1) == y).float().mean() == 1.0
    with pytest.raises(ValueError, match="feature vectors"):
        fit_linear_head(TensorDataset(torch.randn(4, 2, 2, 2), y[:4]), 2)


def test_checkpoint_of_fine_tuned_tail_round_trips_and_refuses_another_architecture(tmp_path):
    torch.manual_seed(0)
    head = nn.Linear(4, 3)
    tail = KeepBatchNormEval(nn.Sequential(nn.Linear(6, 4), head))
    opt = torch.optim.AdamW(param_groups(tail, head, 1e-3, 1e-2))
    data = TensorDataset(torch.randn(12, 6), torch.arange(12) % 3)
    fit(tail, data, data, epochs=3, optimizer=opt, lr=1e-2, keep_best=True, patience=2, progress=False, device="cpu")
    path = save_checkpoint(tail, tmp_path / "tail.pt", k=4)
    fresh = KeepBatchNormEval(nn.Sequential(nn.Linear(6, 4), nn.Linear(4, 3)))
    assert load_checkpoint(fresh, path) == {"k": 4}
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), tail.state_dict().values()))
    with pytest.raises(ValueError, match="SmallCNN"):  # a checkpoint of another architecture
        load_checkpoint(small_cnn(3), path)


def test_bad_model_layouts():
    with pytest.raises(ValueError, match="features"):
        freeze_stages(nn.Linear(2, 2), 1)
    with pytest.raises(ValueError, match="trainable_stages"):
        freeze_stages(efficientnet_lite0(), 99)
    with pytest.raises(ValueError, match="num_classes"):
        replace_head(efficientnet_lite0(), 0)
    with pytest.raises(ValueError, match="avgpool"):
        split_at(_no_pool(), 0)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        extract_features(nn.Identity(), torch.zeros(3, 4))


def _no_pool():
    m = nn.Module()
    m.features = nn.Sequential(nn.Identity())
    m.classifier = nn.Linear(2, 2)
    return m
