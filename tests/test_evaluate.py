"""cnnbook.evaluate against brute-force loops, hand-worked examples, scikit-learn and torchmetrics."""
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from torch import nn
from torch.utils.data import TensorDataset
from torchmetrics.functional.classification import multiclass_calibration_error

from cnnbook.evaluate import (Calibration, calibration, confident_mistakes, confusion_matrix, per_class_accuracy,
                              plot_confusion, plot_reliability, predict_proba)


def _random(n=500, c=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    probs = torch.randn(n, c, generator=g).mul(2).softmax(1)
    target = torch.randint(0, c, (n,), generator=g)
    return probs, target


def test_confusion_matrix_matches_sklearn_and_takes_scores():
    probs, target = _random()
    pred = probs.argmax(1)
    expected = torch.from_numpy(sk_confusion_matrix(target.numpy(), pred.numpy(), labels=list(range(5))))
    assert torch.equal(confusion_matrix(pred, target, 5), expected)
    assert torch.equal(confusion_matrix(probs, target, 5), expected)
    assert confusion_matrix(pred, target, 5).sum() == len(target)


def test_per_class_accuracy_by_hand():
    target = torch.tensor([0, 0, 0, 1, 1, 2])
    pred = torch.tensor([0, 1, 0, 1, 1, 0])
    acc = per_class_accuracy(pred, target, 4)
    assert torch.allclose(acc[:3], torch.tensor([2 / 3, 1.0, 0.0], dtype=torch.double))
    assert torch.isnan(acc[3])  # class 3 never occurs


def test_ece_matches_torchmetrics_and_a_loop():
    probs, target = _random(2000, 10, seed=3)
    cal = calibration(probs, target, n_bins=15)
    theirs = float(multiclass_calibration_error(probs, target, num_classes=10, n_bins=15, norm="l1"))
    assert cal.ece == pytest.approx(theirs, abs=1e-5)
    conf, pred = probs.max(1)
    loop = 0.0
    for b in range(15):
        lo, hi = b / 15, (b + 1) / 15
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            gap = (pred[inside] == target[inside]).double().mean() - conf[inside].double().mean()
            loop += inside.sum().item() / len(conf) * abs(gap.item())
            assert cal.count[b] == inside.sum()
    assert cal.ece == pytest.approx(loop, abs=1e-9)
    assert int(cal.count.sum()) == len(conf)


def test_ece_hand_worked_and_perfect_calibration():
    conf = torch.tensor([0.95, 0.90, 0.65, 0.55], dtype=torch.double)
    probs = torch.stack([conf, 1 - conf], 1)
    target = torch.tensor([0, 1, 0, 0])
    cal = calibration(probs, target, n_bins=5)
    assert cal.ece == pytest.approx(0.425 * 0.5 + 0.35 * 0.25 + 0.45 * 0.25)
    assert cal.count.tolist() == [0, 0, 1, 1, 2] and torch.isnan(cal.accuracy[0])
    # every prediction made with confidence 1 and right: no calibration error
    assert calibration(torch.eye(3)[[0, 1, 2, 1]], torch.tensor([0, 1, 2, 1])).ece == 0.0


def test_confident_mistakes_order():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.99, 0.01]])
    target = torch.tensor([1, 0, 1, 1, 0])
    assert confident_mistakes(probs, target, k=5) == [(0, 1, 0, pytest.approx(0.9)), (1, 0, 1, pytest.approx(0.8)),
                                                      (2, 1, 0, pytest.approx(0.6))]
    assert len(confident_mistakes(probs, target, k=1)) == 1


def test_predict_proba_restores_mode_and_sums_to_one():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3), nn.Dropout(0.5))
    data = TensorDataset(torch.randn(10, 3, 2, 2), torch.arange(10) % 3)
    model.train()
    probs, labels = predict_proba(model, data, batch_size=4)
    assert model.training and probs.shape == (10, 3) and torch.equal(labels, torch.arange(10) % 3)
    assert torch.allclose(probs.sum(1), torch.ones(10))
    assert torch.allclose(probs, model.eval()(data.tensors[0]).softmax(1))  # eval mode: dropout off


def test_plots_run():
    probs, target = _random()
    assert plot_reliability(calibration(probs, target)).axes
    assert plot_confusion(confusion_matrix(probs, target, 5), list("abcde")).axes


def test_bad_input():
    probs, target = _random(20, 3)
    with pytest.raises(ValueError, match="n_bins"):
        calibration(probs, target, n_bins=0)
    with pytest.raises(ValueError, match="softmax"):
        calibration(probs * 3, target)
    with pytest.raises(ValueError, match="columns"):
        confusion_matrix(probs, target, 4)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        confusion_matrix(torch.tensor([0, 3]), torch.tensor([0, 1]), 3)
    with pytest.raises(ValueError, match="expected"):
        per_class_accuracy(torch.tensor([0, 1]), torch.tensor([0, 1, 1]), 3)
    with pytest.raises(ValueError, match="k must"):
        confident_mistakes(probs, target, k=0)
    with pytest.raises(ValueError, match="square"):
        plot_confusion(torch.zeros(3, 3), ["a", "b"])
    with pytest.raises(TypeError):
        predict_proba("not a model", TensorDataset(torch.zeros(1, 1)))
    assert isinstance(calibration(probs, target), Calibration)
