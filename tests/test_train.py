import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook.data import make_loader
from cnnbook.train import History, evaluate, fit, make_optimizer, predict


def toy_data(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return TensorDataset(x, y)


def toy_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))


def test_fit_learns_a_separable_problem_and_records_history():
    model = toy_model()
    h = fit(model, toy_data(), toy_data(seed=1), epochs=5, lr=0.05, progress=False)
    assert len(h) == 5 and len(h.val_acc) == 5 and len(h.seconds) == 5
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.val_acc[-1] > 0.9
    assert evaluate(model, toy_data(seed=1), device="cpu")[1] == pytest.approx(h.val_acc[-1])
    assert set(h.last()) == {"train_loss", "train_acc", "val_loss", "val_acc"}


def test_fit_is_deterministic_on_cpu():
    a = fit(toy_model(), toy_data(), epochs=2, lr=0.01, progress=False, seed=7)
    b = fit(toy_model(), toy_data(), epochs=2, lr=0.01, progress=False, seed=7)
    assert a.train_loss == b.train_loss


def test_fit_options_cosine_clip_sgd_and_keep_best():
    model = toy_model()
    h = fit(model, make_loader(toy_data(), 32, shuffle=True), toy_data(seed=1), epochs=3, lr=0.1,
            optimizer="sgd", scheduler="cosine", clip_grad=1.0, keep_best=True, progress=False)
    assert h.best_epoch == max(range(3), key=lambda i: (h.val_acc[i], -i))
    assert evaluate(model, toy_data(seed=1), device="cpu")[1] == pytest.approx(h.val_acc[h.best_epoch])


def test_fit_handles_auxiliary_outputs():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 2), nn.Linear(2, 2)

        def forward(self, x):
            return (self.a(x), self.b(x)) if self.training else self.a(x)

    model = TwoHeads()
    fit(model, toy_data(), epochs=1, progress=False)
    assert model.b.weight.grad is not None


def test_predict_returns_classes_in_order():
    model = toy_model()
    preds = predict(model, toy_data(), device="cpu")
    assert preds.shape == (200,)
    assert torch.equal(preds, model(toy_data().tensors[0]).argmax(1))


def test_bad_arguments():
    with pytest.raises(ValueError, match="epochs"):
        fit(toy_model(), toy_data(), epochs=0)
    with pytest.raises(ValueError, match="lr"):
        fit(toy_model(), toy_data(), lr=0)
    with pytest.raises(ValueError, match="keep_best"):
        fit(toy_model(), toy_data(), keep_best=True)
    with pytest.raises(ValueError, match="scheduler"):
        fit(toy_model(), toy_data(), scheduler="step", progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer(toy_model(), "rmsprop", 0.1)
    with pytest.raises(ValueError, match="Dataset or DataLoader"):
        evaluate(toy_model(), [1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        evaluate(toy_model(), TensorDataset(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)))
    frozen = toy_model().requires_grad_(False)
    with pytest.raises(ValueError, match="trainable"):
        make_optimizer(frozen, "adam", 0.1)


def test_diverging_loss_is_reported():
    x = torch.full((64, 2), float("inf"))
    with pytest.raises(FloatingPointError, match="lower lr"):
        fit(toy_model(), TensorDataset(x, torch.zeros(64, dtype=torch.long)), epochs=1, progress=False)


def test_history_defaults():
    assert len(History()) == 0 and History().best_epoch is None


def test_data_that_does_not_fit_the_model_is_a_clear_error():
    with pytest.raises(ValueError, match=r"cannot run on a batch of shape \(64, 3\)"):
        fit(toy_model(), TensorDataset(torch.randn(64, 3), torch.zeros(64, dtype=torch.long)), progress=False)


def test_fit_stops_early_when_validation_accuracy_stalls():
    # lr so small the weights cannot move: accuracy never improves after the first epoch
    h = fit(toy_model(), toy_data(), toy_data(seed=1), epochs=10, lr=1e-12, patience=2, progress=False)
    assert (len(h), h.best_epoch, h.stopped_epoch) == (3, 0, 2)
    full = fit(toy_model(), toy_data(), toy_data(seed=1), epochs=3, lr=0.05, patience=5, progress=False)
    assert len(full) == 3 and full.stopped_epoch is None


@pytest.mark.parametrize("kwargs, message", [
    ({"patience": 0}, "patience must be a positive int"),
    ({"patience": 1.5}, "patience must be a positive int"),
    ({"patience": 2, "val": None}, "needs val_data"),
])
def test_fit_rejects_bad_patience(kwargs, message):
    val = kwargs.pop("val", toy_data(seed=1))
    with pytest.raises(ValueError, match=message):
        fit(toy_model(), toy_data(), val, epochs=2, progress=False, **kwargs)
