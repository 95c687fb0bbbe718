import copy
import math

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook.data import make_loader
from cnnbook.train import (ChannelsLast, History, denormals_as_zero, evaluate, fit, lr_range_test, make_optimizer,
                           make_scheduler, predict, smoothed_losses, suggest_lr)


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
        fit(toy_model(), toy_data(), scheduler="linear", progress=False)
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


# ------------------------------------------------------------------------------------------------
# Schedules, warm-up, the learning rate of every step, plain SGD, soft labels, the range test

def rates(name, steps, warmup=0, lr=1.0, optimizer=None):
    opt = optimizer or torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
    sched = make_scheduler(opt, name, steps, warmup)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    return out


def test_schedules_per_step():
    assert rates(None, 5) == [1.0] * 5 and make_scheduler(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), None, 5) is None
    assert rates("step", 8) == pytest.approx([1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01])
    cosine = rates("cosine", 10)
    assert cosine == pytest.approx([0.5 * (1 + math.cos(math.pi * t / 10)) for t in range(10)])
    one = rates("onecycle", 20, lr=0.4)
    assert max(one) == pytest.approx(0.4) and one.index(max(one)) == 5  # the peak after 30% of the steps
    assert one[0] == pytest.approx(0.4 / 25) and one[-1] < 1e-4 * 0.4 * 1.01


def test_warmup_is_linear_then_the_schedule_over_the_remaining_steps():
    warm = rates("cosine", 12, warmup=4)
    assert warm[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert warm[4:] == pytest.approx(rates("cosine", 8))
    assert rates(None, 6, warmup=2) == pytest.approx([1 / 3, 2 / 3, 1, 1, 1, 1])
    assert rates("step", 10, warmup=2)[2:] == pytest.approx(rates("step", 8))


def test_onecycle_equals_torch_onecycle_and_keeps_momentum():
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    ours = rates("onecycle", 30, optimizer=opt)
    assert opt.param_groups[0]["momentum"] == 0.9  # the learning rate cycles, the momentum does not
    ref_opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.5)
    ref = torch.optim.lr_scheduler.OneCycleLR(ref_opt, max_lr=0.5, total_steps=30, cycle_momentum=False)
    expected = []
    for _ in range(30):
        expected.append(ref_opt.param_groups[0]["lr"])
        ref_opt.step()
        ref.step()
    assert ours == pytest.approx(expected)


@pytest.mark.parametrize("args, message", [
    (("linear", 10), "unknown scheduler"), (("cosine", 0), "total_steps"), (("cosine", 10, 10), "warmup_steps"),
    (("cosine", 10, -1), "warmup_steps"), (("onecycle", 10, 2), "warms up by itself"), (("onecycle", 3), "at least 4"),
])
def test_make_scheduler_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        make_scheduler(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), *args)


def test_fit_records_the_rate_of_every_step_for_each_schedule():
    data = toy_data()  # 200 examples: 4 batches of 64 per epoch
    for scheduler, warmup in [(None, 0), ("cosine", 0), ("step", 1), ("onecycle", 0), (None, 2)]:
        h = fit(toy_model(), data, epochs=3, lr=0.1, optimizer="sgd", scheduler=scheduler, warmup_epochs=warmup,
                progress=False)
        assert h.lrs == pytest.approx(rates(scheduler, 12, 4 * warmup, lr=0.1))
    with pytest.raises(ValueError, match="warmup_epochs"):
        fit(toy_model(), data, epochs=2, warmup_epochs=2, progress=False)
    with pytest.raises(ValueError, match="warmup_epochs"):
        fit(toy_model(), data, epochs=2, warmup_epochs=0.5, progress=False)


def test_plain_sgd_has_no_momentum():
    opt = make_optimizer(toy_model(), "plain_sgd", 0.1, weight_decay=0.01)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0 and opt.defaults["weight_decay"] == 0.01
    assert make_optimizer(toy_model(), "sgd", 0.1).defaults["momentum"] == 0.9


def test_fit_accepts_soft_labels_and_counts_accuracy_against_their_largest_share():
    base = toy_data()
    x, y = base.tensors
    soft = torch.nn.functional.one_hot(y, 2).float() * 0.8 + 0.1  # 0.9 / 0.1: the same classes, mixed a little
    h = fit(toy_model(), TensorDataset(x, soft), epochs=3, lr=0.05, progress=False)
    hard = fit(toy_model(), base, epochs=3, lr=0.05, progress=False)
    assert h.train_acc[-1] > 0.8 and abs(h.train_acc[-1] - hard.train_acc[-1]) < 0.1


def test_lr_range_test_sweeps_geometrically_and_leaves_the_model_unchanged():
    model = toy_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lrs, losses = lr_range_test(model, toy_data(), lr_min=1e-4, lr_max=1e2, steps=7, optimizer="plain_sgd",
                                stop_factor=1e9)
    assert lrs == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100]) and len(losses) == 7
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    again = lr_range_test(model, toy_data(), lr_min=1e-4, lr_max=1e2, steps=7, optimizer="plain_sgd", stop_factor=1e9)
    assert again == (lrs, losses)  # seeded: the same batches and the same losses


def test_lr_range_test_stops_once_the_loss_explodes():
    lrs, losses = lr_range_test(toy_model(), toy_data(), lr_min=1e-3, lr_max=1e6, steps=60, optimizer="plain_sgd")
    assert len(lrs) < 60 and losses[-1] > 4 * min(losses)
    lrs, losses = lr_range_test(toy_model(), toy_data(), lr_min=1e-3, lr_max=1e30, steps=40, optimizer="sgd")
    assert not math.isfinite(losses[-1]) or losses[-1] > 4 * min(losses)


def test_suggest_lr_is_a_tenth_of_the_rate_at_the_smoothed_minimum():
    lrs = [1e-3, 1e-2, 1e-1, 1.0, 10.0]
    assert suggest_lr(lrs, [2.0, 1.5, 1.0, 3.0, 9.0], smoothing=0.0) == pytest.approx(1e-2)
    assert suggest_lr(lrs, [2.0, 1.5, 1.0, 3.0, float("nan")], smoothing=0.0, divide=1) == pytest.approx(0.1)
    # one lucky batch makes the raw minimum; the smoothed curve is lowest where the losses stay low
    lrs = [10.0**k for k in range(-3, 4)]
    noisy = [2.0, 2.0, 0.6, 1.8, 0.8, 0.8, 5.0]
    assert suggest_lr(lrs, noisy, smoothing=0.0) == pytest.approx(1e-2)
    assert suggest_lr(lrs, noisy, smoothing=0.5) == pytest.approx(10.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"lr_min": 0}, "lr_min"), ({"lr_min": 1.0, "lr_max": 0.1}, "lr_min"), ({"steps": 1}, "steps"),
    ({"stop_factor": 1}, "stop_factor"), ({"optimizer": torch.optim.SGD}, "optimizer must be a name"),
    ({"optimizer": "rmsprop"}, "unknown optimizer"),
])
def test_lr_range_test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lr_range_test(toy_model(), toy_data(), **kwargs)


def test_lr_range_test_empty_data_and_suggest_lr_bad_arguments():
    empty = TensorDataset(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        lr_range_test(toy_model(), empty)
    with pytest.raises(ValueError, match="same length"):
        suggest_lr([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="smoothing"):
        suggest_lr([1.0, 2.0], [1.0, 2.0], smoothing=1.0)
    with pytest.raises(ValueError, match="divide"):
        suggest_lr([1.0, 2.0], [1.0, 2.0], divide=0.5)
    with pytest.raises(ValueError, match="not finite"):
        suggest_lr([1.0, 2.0], [float("inf"), 2.0])


def test_smoothed_losses_is_a_bias_corrected_moving_average_up_to_the_first_non_finite_loss():
    assert smoothed_losses([2.0, 4.0], smoothing=0.5) == pytest.approx([2.0, (0.25 * 2 + 0.5 * 4) / 0.75])
    assert smoothed_losses([1.0, 2.0, 3.0], smoothing=0.0) == [1.0, 2.0, 3.0]
    assert smoothed_losses([1.0, float("inf"), 2.0]) == [1.0]
    with pytest.raises(ValueError, match="smoothing"):
        smoothed_losses([1.0], smoothing=1.0)


def test_fit_and_evaluate_score_dense_targets_with_score_fn():
    from cnnbook.segmentation import foreground_miou, segmentation_loss
    g = torch.Generator().manual_seed(0)
    masks = (torch.rand(48, 8, 8, generator=g) < 0.3).long()  # class 1 where the first channel is bright
    images = torch.stack([masks.float() * 2 - 1 + 0.3 * torch.randn(48, 8, 8, generator=g)] * 3, 1)
    data = TensorDataset(images, masks)
    model = torch.nn.Conv2d(3, 2, 1)
    history = fit(model, data, data, epochs=3, lr=0.1, batch_size=16, loss_fn=segmentation_loss,
                  score_fn=foreground_miou, device="cpu", progress=False)
    pred = model(images).argmax(1)
    assert history.val_acc[-1] == pytest.approx(foreground_miou(pred, masks)) and history.val_acc[-1] > 0.9
    assert 0 <= min(history.train_acc) and max(history.train_acc) <= 1
    loss, score = evaluate(model, data, "cpu", loss_fn=segmentation_loss, score_fn=foreground_miou)
    assert score == history.val_acc[-1] and loss == pytest.approx(segmentation_loss(model(images), masks).item(), rel=1e-5)


def _conv_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))


def _image_data(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, 3, 12, 12, generator=g), torch.randint(0, 4, (n,), generator=g))


class _ViewHead(nn.Module):
    """A network that flattens its maps with .view(), which a channels-last map does not allow."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 12 * 12, 4)

    def forward(self, x):
        y = self.conv(x)
        return self.fc(y.view(len(y), -1))


def test_channels_last_switches_the_weights_only_while_open():
    model, x = _conv_net(), _image_data().tensors[0][:8]
    with ChannelsLast(model, torch.device("cpu")) as layout:
        assert model[0].weight.is_contiguous()  # nothing moves before the first batch
        out = model(layout(x))
        assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
        assert layout(x).is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(layout(torch.ones(3, 2)), torch.ones(3, 2))  # not images: passed on as they are
        with ChannelsLast(model, torch.device("cpu")) as inner:  # evaluate() inside fit(), say
            assert inner(x).is_contiguous(memory_format=torch.channels_last)
        assert model[0].weight.is_contiguous(memory_format=torch.channels_last)  # the inner one left it alone
    assert model[0].weight.is_contiguous() and model[0].weight.view(-1).numel() == 8 * 3 * 9
    assert torch.allclose(out, model(x), atol=1e-5)  # the same values, summed in another order


def test_channels_last_keeps_the_standard_layout_where_the_model_needs_it():
    model, x = _ViewHead(), _image_data().tensors[0][:8]
    with ChannelsLast(model, torch.device("cpu")) as layout:
        assert layout(x).is_contiguous() and model.conv.weight.is_contiguous()
        model(layout(x))
    with ChannelsLast(model, torch.device("meta")) as layout:  # another device: nothing changes
        assert layout(x) is x


def test_channels_last_leaves_a_bad_batch_to_the_loop_and_the_model_as_it_was():
    from cnnbook.models import small_cnn
    from cnnbook.train import _SWITCHED

    model = small_cnn(10)
    wrong = TensorDataset(torch.randn(8, 1, 32, 32), torch.zeros(8, dtype=torch.long))  # one channel, not three
    with pytest.raises(ValueError, match="channel"):
        fit(model, wrong, epochs=1, device="cpu", progress=False)
    assert id(model) not in _SWITCHED and all(p.is_contiguous() for p in model.parameters())


def test_fit_runs_channels_last_and_repeats_exactly():
    data = _image_data()
    a, b, c = _conv_net(), _conv_net(), _ViewHead()
    ha = fit(a, data, data, epochs=2, lr=0.01, batch_size=16, device="cpu", progress=False, keep_best=True)
    hb = fit(b, data, data, epochs=2, lr=0.01, batch_size=16, device="cpu", progress=False, keep_best=True)
    assert ha.train_loss == hb.train_loss and ha.val_acc == hb.val_acc
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert all(p.is_contiguous() for p in a.parameters())  # handed back in the standard layout
    assert fit(c, data, epochs=1, batch_size=16, device="cpu", progress=False).train_loss[0] > 0  # a .view() model
    loss, acc = evaluate(a, data, "cpu")
    assert acc == ha.val_acc[ha.best_epoch] and predict(a, data, "cpu").shape == (48,)


def test_the_layout_changes_only_the_rounding():
    data = _image_data()
    history = fit(_conv_net(), data, epochs=1, lr=0.01, batch_size=16, device="cpu", progress=False)
    reference = _conv_net()
    opt, total = torch.optim.Adam(reference.parameters(), lr=0.01), 0.0
    for x, y in make_loader(data, batch_size=16, shuffle=True, seed=0):  # fit's batches, in the standard layout
        opt.zero_grad()
        loss = nn.functional.cross_entropy(reference(x), y)
        loss.backward()
        opt.step()
        total += loss.item() * len(x)
    assert history.train_loss[0] == pytest.approx(total / len(data), rel=1e-5)


class _SeesDenormals(nn.Module):
    """A linear classifier that notes, at every forward pass, whether a denormal float survives arithmetic."""

    def __init__(self) -> None:
        super().__init__()
        self.linear, self.seen = nn.Linear(4, 2), []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(float(torch.tensor([1e-40]) * 1.0) != 0.0)
        return self.linear(x)


def test_training_on_the_cpu_treats_denormals_as_zero_and_restores_them():
    data = TensorDataset(torch.randn(8, 4), torch.randint(0, 2, (8,)))
    model = _SeesDenormals()
    fit(model, data, None, epochs=1, batch_size=4, device="cpu", progress=False)
    lr_range_test(model, data, steps=2, batch_size=4, device="cpu")
    assert model.seen == [False, False] and float(torch.tensor([1e-40]) * 1.0) != 0.0  # flushed inside, kept after
    with denormals_as_zero(torch.device("meta")):  # other devices: nothing changes
        assert float(torch.tensor([1e-40]) * 1.0) != 0.0
    with pytest.raises(RuntimeError), denormals_as_zero(torch.device("cpu")):  # restored after an error too
        assert float(torch.tensor([1e-40]) * 1.0) == 0.0
        raise RuntimeError("inside")
    assert float(torch.tensor([1e-40]) * 1.0) != 0.0
