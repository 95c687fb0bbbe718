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


# ------------------------------------------------------------------------------------------------
# Temperature scaling

from cnnbook.evaluate import fit_temperature, nll_at_temperature, predict_logits, temperature_scale  # noqa: E402


def _overconfident(n=2000, c=5, seed=0, scale=3.0):
    """Logits whose true probabilities are softmax(z); the model reports softmax(scale * z): over-confident."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, generator=g, dtype=torch.double)
    target = torch.multinomial(z.softmax(1), 1, generator=g).flatten()
    return scale * z, target


def test_fit_temperature_minimises_the_nll_against_a_grid_search():
    logits, target = _overconfident()
    t = fit_temperature(logits, target)
    grid = torch.linspace(0.5, 6, 2201, dtype=torch.double)
    nlls = torch.tensor([nll_at_temperature(logits, target, float(g)) for g in grid])
    best = float(grid[nlls.argmin()])
    assert abs(t - best) < 0.01
    assert nll_at_temperature(logits, target, t) <= nlls.min() + 1e-9
    assert 2.5 < t < 3.5  # it undoes the factor 3 the logits were sharpened by (up to sampling noise)


def test_temperature_scaling_lowers_the_ece_and_keeps_the_predictions():
    logits, target = _overconfident(seed=1)
    t = fit_temperature(logits, target)
    before, after = logits.softmax(1), temperature_scale(logits, t)
    assert torch.equal(before.argmax(1), after.argmax(1))
    assert torch.allclose(after.sum(1), torch.ones(len(after), dtype=torch.double))
    assert calibration(after, target).ece < 0.5 * calibration(before, target).ece
    assert torch.allclose(temperature_scale(logits, 1.0), logits.softmax(1))


def test_fit_temperature_is_blind_to_a_constant_per_row():
    logits, target = _overconfident(seed=2)
    shifted = logits + torch.randn(len(logits), 1, dtype=torch.double)  # e.g. log-probabilities instead of logits
    assert abs(fit_temperature(logits, target) - fit_temperature(shifted, target)) < 1e-4


def test_predict_logits_matches_the_model_and_predict_proba():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4)).train()
    data = TensorDataset(torch.randn(10, 3, 2, 2), torch.randint(0, 4, (10,)))
    logits, labels = predict_logits(model, data, batch_size=3)
    assert model.training  # its mode is restored
    assert logits.dtype == torch.double and logits.shape == (10, 4) and torch.equal(labels, data.tensors[1])
    assert torch.allclose(logits.float(), model(data.tensors[0]), atol=1e-6)
    assert torch.allclose(logits.softmax(1).float(), predict_proba(model, data)[0], atol=1e-6)


def test_temperature_functions_reject_bad_input():
    logits, target = _overconfident(n=20)
    with pytest.raises(ValueError, match="logits"):
        fit_temperature(logits[0], target)
    with pytest.raises(ValueError, match="target"):
        fit_temperature(logits, target[:5])
    with pytest.raises(ValueError, match="finite"):
        fit_temperature(logits.clone().fill_(float("inf")), target)
    with pytest.raises(ValueError, match="low < high"):
        fit_temperature(logits, target, low=2.0, high=1.0)
    with pytest.raises(ValueError, match="temperature"):
        nll_at_temperature(logits, target, 0.0)
    with pytest.raises(ValueError, match="temperature"):
        temperature_scale(logits, -1.0)
    with pytest.raises(ValueError, match="logits"):
        temperature_scale(logits[0], 1.0)
    with pytest.raises(ValueError, match="empty"):
        predict_logits(nn.Linear(2, 2), TensorDataset(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)))
    with pytest.raises(TypeError):
        predict_logits("model", TensorDataset(torch.zeros(1, 2), torch.zeros(1, dtype=torch.long)))


from cnnbook.evaluate import early_stopping_point  # noqa: E402


def test_early_stopping_point_by_hand():
    assert early_stopping_point([0.1, 0.3, 0.2, 0.25, 0.2, 0.4], patience=3) == (1, 4)
    assert early_stopping_point([0.1, 0.3, 0.2, 0.25, 0.2, 0.4], patience=4) == (5, None)
    assert early_stopping_point([0.5, 0.5, 0.5], patience=1) == (0, 1)  # a tie is no improvement
    assert early_stopping_point([0.1, 0.2], patience=1) == (1, None)
    assert early_stopping_point([0.3, 0.2], patience=1) == (0, None)  # the last epoch never "stops early"


def test_early_stopping_point_agrees_with_fit():
    from cnnbook.train import fit

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 4, generator=g), torch.randint(0, 3, (64,), generator=g)
    train, val = TensorDataset(x[:48], y[:48]), TensorDataset(x[48:], y[48:])
    for patience in (1, 2, 3):
        torch.manual_seed(0)
        full = fit(nn.Linear(4, 3), train, val, epochs=12, lr=0.05, progress=False, device="cpu")
        torch.manual_seed(0)
        stopped = fit(nn.Linear(4, 3), train, val, epochs=12, lr=0.05, patience=patience, progress=False, device="cpu")
        assert early_stopping_point(full.val_acc, patience) == (stopped.best_epoch, stopped.stopped_epoch)


def test_early_stopping_point_rejects_bad_input():
    with pytest.raises(ValueError, match="patience"):
        early_stopping_point([0.1, 0.2], patience=0)
    with pytest.raises(ValueError, match="patience"):
        early_stopping_point([0.1, 0.2], patience=True)
    with pytest.raises(ValueError, match="at least one"):
        early_stopping_point([], patience=2)
