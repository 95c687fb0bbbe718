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
    IMAGENET_MEAN, IMAGENET_STD, KeepBatchNormEval, Preprocess, RandomTranslate, extract_features, few_shot,
    few_shot_indices, fit_linear_head, freeze_stages, head_of, imagenet_normalize, param_groups, pooled, replace_head,
    scale_gradients, set_trainable, split_at, trainable_ratio,
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


def test_random_translate_shifts_in_training_and_is_the_identity_in_eval():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    shift = RandomTranslate(2)
    assert torch.equal(shift.eval()(x), x) and torch.equal(RandomTranslate(0).train()(x), x)
    torch.manual_seed(0)
    out = shift.train()(x)
    assert out.shape == x.shape and not torch.equal(out, x)
    padded = nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    for i in range(2):  # every output is a window of the reflect-padded image
        windows = [padded[i, :, dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    torch.manual_seed(0)
    assert torch.equal(shift(x), out)  # seeded: the same shifts again
    assert "max_shift=2" in repr(shift)
    with pytest.raises(ValueError, match="non-negative int"):
        RandomTranslate(-1)
    with pytest.raises(ValueError, match="non-negative int"):
        RandomTranslate(True)
    with pytest.raises(ValueError, match="smaller than the image"):
        RandomTranslate(8).train()(x)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        shift(torch.rand(3, 8, 8))


def test_scaled_gradients_with_sgd_equal_a_parameter_group_at_a_lower_rate():
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    b = copy.deepcopy(a)
    scale_gradients(b[0], 0.1)
    opt_a = torch.optim.SGD([{"params": a[0].parameters(), "lr": 0.01}, {"params": a[2].parameters()}], lr=0.1,
                            momentum=0.9)
    opt_b = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))
    for _ in range(3):
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-6)
    with pytest.raises(ValueError, match="positive number"):
        scale_gradients(nn.Linear(2, 2), 0)
    with pytest.raises(ValueError, match="no parameters"):
        scale_gradients(nn.ReLU(), 0.5)


def test_keep_batchnorm_eval_can_spare_the_trainable_layers():
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4))
    set_trainable(net[:2], False)
    wrapped = KeepBatchNormEval(net, frozen_only=True).train()
    assert not net[1].training and net[3].training
    assert not any(m.training for m in KeepBatchNormEval(net).train().modules() if isinstance(m, nn.BatchNorm2d))
    with pytest.raises(ValueError, match="wraps an nn.Module"):
        KeepBatchNormEval(lambda x: x)
    assert wrapped.frozen_only
