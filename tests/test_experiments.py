"""cnnbook.experiments: seeded runs, baselines, and comparisons that refuse to over-claim."""
from pathlib import Path

import matplotlib
import pytest
import torch
from torch.utils.data import TensorDataset

from cnnbook import experiments as ex
from cnnbook.data import Splits
from cnnbook.experiments import SEEDS, SeedRuns, load_runs, save_runs


def _toy_splits(n=96, separable=True):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3 * n, 1, 4, 4, generator=g)
    y = (x[:, 0, 0, 0] > 0).long() if separable else torch.randint(0, 2, (3 * n,), generator=g)
    parts = [TensorDataset(x[i * n:(i + 1) * n], y[i * n:(i + 1) * n]) for i in range(3)]
    return Splits(*parts)


def _runs(name, accs):
    return ex.SeedRuns(name, seeds=list(range(len(accs))), test_acc=list(accs), params=10)


def test_run_seeds_repeats_exactly_and_varies_with_seed():
    splits = _toy_splits()
    build = lambda: ex.linear_model((1, 4, 4), 2)  # noqa: E731
    a = ex.run_seeds("lin", build, splits, seeds=(0, 1), epochs=2, device="cpu")
    b = ex.run_seeds("lin", build, splits, seeds=(0, 1), epochs=2, device="cpu")
    assert a.test_acc == b.test_acc and a.seeds == [0, 1] and len(a.histories) == 2
    assert a.params == 16 * 2 + 2
    assert a.histories[0].train_loss != a.histories[1].train_loss


def test_baselines_learn_a_linear_rule():
    runs = ex.baselines(_toy_splits(), num_classes=2, seeds=(0,), epochs=40, lr=0.1, hidden=8)
    assert set(runs) == {"linear", "mlp"}
    assert runs["linear"].mean > 0.8 and runs["mlp"].params == 16 * 8 + 8 + 8 * 2 + 2


def test_yardstick_runs_standardise_the_pixel_models_and_train_the_small_cnn():
    g = torch.Generator().manual_seed(0)
    x = 5 + 3 * torch.rand(90, 3, 16, 16, generator=g)  # far from standardised, as raw pixels are
    y = torch.arange(90) % 10
    splits = Splits(*(TensorDataset(x[i::3], y[i::3]) for i in range(3)))
    linear, mlp, cnn = ex.yardstick_runs(splits, epochs=1, cnn_epochs=1, seeds=(0, 1), hidden=8)
    assert [r.name for r in (linear, mlp, cnn)] == ["linear (standardised pixels)",
                                                    "MLP, 8 hidden (standardised pixels)", "small CNN, 1 epoch"]
    assert all(r.seeds == [0, 1] for r in (linear, mlp, cnn))
    # the pixel models saw standardised inputs: the same seed on the standardised split gives the same numbers
    again = ex.baselines(ex.standardised(splits), 10, seeds=(0, 1), epochs=1, hidden=8)
    assert linear.test_acc == again["linear"].test_acc and mlp.test_acc == again["mlp"].test_acc
    assert cnn.params == ex.count_params(ex.small_cnn(10))


def test_statistics_and_summary():
    r = _runs("a", [0.5, 0.6, 0.7])
    assert r.mean == pytest.approx(0.6) and r.std == pytest.approx(0.1) and (r.low, r.high) == (0.5, 0.7)
    assert r.summary() == "0.600 ± 0.100 (0.500-0.700, 3 seeds)"
    assert _runs("one", [0.4]).std == 0.0


def test_compare_says_within_spread_when_ranges_overlap():
    a, b, c = _runs("A", [0.80, 0.82, 0.84]), _runs("B", [0.70, 0.71, 0.72]), _runs("C", [0.79, 0.83, 0.85])
    assert ex.separated(a, b) and not ex.separated(b, a)
    assert ex.compare(a, b).startswith("A beats B on every seed")
    assert ex.compare(b, a).startswith("A beats B on every seed")
    assert not ex.separated(a, c) and not ex.separated(c, a)
    assert "overlap" in ex.compare(a, c)


def test_results_table_and_plot():
    table = ex.results_table([_runs("A", [0.5, 0.7]), _runs("B", [0.9, 0.9])])
    lines = table.splitlines()
    assert len(lines) == 4 and lines[2].startswith("| A | 10 | 0.600 ± 0.141 | 0.500-0.700 | 2 |")
    assert "test accuracy (mean" in lines[0]
    assert ex.results_table([_runs("A", [0.5])], metric="mAP@0.5").splitlines()[0].startswith("| model | parameters | mAP@0.5 (mean")
    fig = ex.plot_runs([_runs("A", [0.5, 0.7])], title="t")
    assert isinstance(fig, matplotlib.figure.Figure)


def test_bad_input():
    splits = _toy_splits()
    with pytest.raises(ValueError, match="seeds"):
        ex.run_seeds("x", lambda: ex.linear_model((1, 4, 4), 2), splits, seeds=())
    with pytest.raises(ValueError, match="distinct"):
        ex.run_seeds("x", lambda: ex.linear_model((1, 4, 4), 2), splits, seeds=(1, 1))
    with pytest.raises(ValueError, match="build"):
        ex.run_seeds("x", "not callable", splits, seeds=(0,))
    with pytest.raises(ValueError, match="nn.Module"):
        ex.run_seeds("x", lambda: 3, splits, seeds=(0,), epochs=1)
    with pytest.raises(ValueError, match="input_shape"):
        ex.linear_model((3, 0, 4), 2)
    with pytest.raises(ValueError, match="hidden"):
        ex.mlp_model((1, 4, 4), 2, hidden=0)
    with pytest.raises(ValueError):
        ex.results_table([])
    with pytest.raises(ValueError):
        ex.plot_runs([])
    with pytest.raises(ValueError):
        ex.separated(_runs("a", []), _runs("b", [0.1]))


def test_plot_runs_identical_seeds():
    # three seeds stuck at the same accuracy (e.g. chance): the min-max bar has zero length, never a negative one
    fig = ex.plot_runs([_runs("stuck", [0.1, 0.1, 0.1]), _runs("A", [0.5, 0.7, 0.6])])
    assert fig is not None


def test_save_and_load_runs_round_trip(tmp_path):
    runs = [SeedRuns("a", [0, 1, 2], [0.5, 0.6, 0.7], params=10), SeedRuns("b", [0, 1], [0.1, 0.2], params=3)]
    path = tmp_path / "runs.json"
    save_runs(runs, path, recipe={"epochs": 6}, note="x")
    loaded, meta = load_runs(path)
    assert [(r.name, r.seeds, r.test_acc, r.params) for r in loaded] == [(r.name, r.seeds, r.test_acc, r.params) for r in runs]
    assert meta == {"recipe": {"epochs": 6}, "note": "x"}
    assert loaded[0].summary() == runs[0].summary()


def test_save_and_load_runs_reject_bad_input(tmp_path):
    with pytest.raises(ValueError, match="SeedRuns"):
        save_runs([], tmp_path / "x.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"runs": [{"name": "a"}], "meta": {}}')
    with pytest.raises(ValueError, match="save_runs"):
        load_runs(bad)
    bad.write_text('{"runs": [{"name": "a", "params": 1, "seeds": [0, 1], "test_acc": [0.5]}], "meta": {}}')
    with pytest.raises(ValueError, match="one test accuracy per seed"):
        load_runs(bad)


def test_save_and_load_runs_keep_curves_and_extra(tmp_path):
    from cnnbook.train import History

    h = History(train_loss=[2.0, 1.5], train_acc=[0.1, 0.4], val_loss=[2.1, 1.6], val_acc=[0.1, 0.3])
    runs = [SeedRuns("a", [0], [0.5], [h], params=4, extra={"macs": 12, "recipe": {"epochs": 2}})]
    save_runs(runs, tmp_path / "r.json")
    (loaded,), _ = load_runs(tmp_path / "r.json")
    assert loaded.histories[0].train_loss == [2.0, 1.5] and loaded.histories[0].val_acc == [0.1, 0.3]
    assert loaded.extra == {"macs": 12, "recipe": {"epochs": 2}}
    (tmp_path / "bad.json").write_text('{"runs": [{"name": "a", "params": 1, "seeds": [0, 1], "test_acc": [0.5, 0.6], '
                                       '"histories": [{"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}]}], "meta": {}}')
    with pytest.raises(ValueError, match="one per seed"):
        load_runs(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="cannot read"):
        load_runs(tmp_path / "missing.json")


def test_standardised_uses_training_statistics_only():
    splits = _toy_splits()
    std = ex.standardised(Splits(TensorDataset(splits.train.tensors[0] * 3 + 1, splits.train.tensors[1]),
                                 splits.val, splits.test))
    x = std.train.tensors[0]
    assert torch.allclose(x.mean((0, 2, 3)), torch.zeros(1), atol=1e-5) and torch.allclose(x.std((0, 2, 3)), torch.ones(1))
    assert not torch.allclose(std.val.tensors[0].mean((0, 2, 3)), torch.zeros(1), atol=0.1)  # val used train's statistics
    with pytest.raises(ValueError, match="N, C, H, W"):
        ex.standardised(Splits(*(TensorDataset(torch.zeros(4, 3), torch.zeros(4)) for _ in range(3))))


def test_plot_curves_band_and_bad_input():
    from cnnbook.train import History

    runs = [SeedRuns("a", [0, 1], [0.5, 0.6], [History(train_loss=[2.0, 1.0]), History(train_loss=[2.4, 1.4])])]
    fig = ex.plot_curves(runs, "train_loss", log=True)
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="metric"):
        ex.plot_curves(runs, "accuracy")
    with pytest.raises(ValueError, match="histories"):
        ex.plot_curves([SeedRuns("b", [0], [0.5])])
