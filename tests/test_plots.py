import matplotlib.pyplot as plt
import pytest
import torch

from cnnbook.plots import plot_history, show_feature_maps, show_images, show_kernels
from cnnbook.train import History


def test_plot_history_draws_train_and_val_curves():
    h = History(train_loss=[1.0, 0.5], train_acc=[0.5, 0.8], val_loss=[1.1, 0.7], val_acc=[0.4, 0.7])
    fig = plot_history({"a": h, "b": h})
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 4
    assert list(fig.axes[1].lines[1].get_ydata()) == [0.4, 0.7]
    plt.close(fig)
    fig = plot_history(History(train_loss=[1.0], train_acc=[0.1]), metrics=("loss",))
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 1
    plt.close(fig)


def test_show_images_grid_and_titles():
    fig = show_images(torch.rand(10, 3, 8, 8), titles=[str(i) for i in range(10)], ncols=4)
    assert len(fig.axes) == 12 and fig.axes[9].get_title() == "9"
    plt.close(fig)
    fig = show_images(torch.rand(2, 1, 8, 8))
    assert fig.axes[0].images[0].get_array().shape == (8, 8)
    plt.close(fig)


def test_show_kernels_normalises_each_kernel():
    w = torch.randn(4, 3, 5, 5) * 10
    fig = show_kernels(w)
    arrays = [ax.images[0].get_array() for ax in fig.axes[:4]]
    assert all(a.shape == (5, 5, 3) and a.min() >= 0 and a.max() <= 1 for a in arrays)
    plt.close(fig)


def test_show_feature_maps_takes_first_of_batch():
    fig = show_feature_maps(torch.rand(2, 5, 6, 6))
    assert sum(1 for ax in fig.axes if ax.images) == 5
    plt.close(fig)


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least one"):
        plot_history({})
    with pytest.raises(ValueError, match="metrics"):
        plot_history(History(), metrics=("f1",))
    with pytest.raises(ValueError, match="titles"):
        show_images(torch.rand(2, 1, 4, 4), titles=["a"])
    with pytest.raises(ValueError, match="at least one"):
        show_images([])
    with pytest.raises(ValueError, match="C_out"):
        show_kernels(torch.rand(3, 3, 3))
    with pytest.raises(ValueError, match="feature map"):
        show_feature_maps(torch.rand(4, 4))
