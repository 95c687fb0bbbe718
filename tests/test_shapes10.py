"""Shapes10: seeded, balanced, in range, and hard for a classifier that ignores shape."""
import numpy as np
import pytest
import torch

from cnnbook import data


@pytest.fixture(scope="module")
def sample():
    return data.make_shapes10(400, seed=3)


def test_shapes10_format_balance_and_range(sample):
    assert sample.images.shape == (400, 3, 32, 32) and sample.images.dtype == torch.float32
    assert sample.labels.dtype == torch.int64 and len(sample) == 400
    assert 0.0 <= sample.images.min() and sample.images.max() <= 1.0
    assert data.class_counts(sample.labels, 10) == [40] * 10
    assert sample.classes == data.SHAPES10_CLASSES and len(set(sample.classes)) == 10


def test_shapes10_coverage_marks_the_object(sample):
    cover = sample.coverage
    assert cover.shape == (400, 32, 32) and 0.0 <= cover.min() and cover.max() <= 1.0
    share = cover.mean((1, 2))
    assert 0.05 < share.min() and share.max() < 0.6  # radius 0.28-0.42 of the image, less occlusion
    # the generator keeps the object's colour away from its backdrop: inside and outside differ in brightness,
    # and much less so when each image is paired with another image's coverage
    luma = (sample.images * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(1)

    def contrast(masks: torch.Tensor) -> float:
        gaps = [(y[m > 0.99].mean() - y[m == 0].mean()).abs() for y, m in zip(luma, masks)]
        return torch.stack(gaps).median().item()

    assert contrast(cover) > 0.3 and contrast(cover.roll(1, 0)) < 0.15


def test_shapes10_is_seeded():
    a, b, c = data.make_shapes10(20, seed=7), data.make_shapes10(20, seed=7), data.make_shapes10(20, seed=8)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels) and torch.equal(a.coverage, b.coverage)
    assert not torch.equal(a.images, c.images)


def test_shapes10_any_size_and_unbalanced_count():
    small = data.make_shapes10(23, image_size=16, seed=0)
    assert small.images.shape == (23, 3, 16, 16)
    assert sorted(data.class_counts(small.labels, 10)) == [2] * 7 + [3] * 3


def test_load_shapes10_splits_are_independent_and_fixed():
    splits = data.load_shapes10(n_train=30, n_val=20, n_test=40)
    assert [len(s) for s in splits] == [30, 20, 40]
    again = data.load_shapes10(n_train=10, n_val=10, n_test=40)
    assert torch.equal(splits.test.tensors[0], again.test.tensors[0])  # the test set does not depend on n_train
    assert not torch.equal(splits.train.tensors[0][:20], splits.val.tensors[0])


def _logistic_accuracy(train_x, train_y, test_x, test_y) -> float:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=300).fit(train_x, train_y)
    return clf.score(test_x, test_y)


def _colour_and_position_features(images: torch.Tensor) -> np.ndarray:
    """Per image: mean and std of each channel, and the brightness-weighted centre of mass."""
    gray = images.mean(1)
    h, w = gray.shape[1:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    mass = gray.flatten(1).sum(1)
    cy = (gray * ys).flatten(1).sum(1) / mass
    cx = (gray * xs).flatten(1).sum(1) / mass
    feats = [images.mean((2, 3)), images.std((2, 3)), cy[:, None], cx[:, None]]
    return torch.cat(feats, 1).numpy()


def test_shapes10_defeats_pixel_and_colour_classifiers():
    from cnnbook.experiments import linear_model, run_seeds

    train, val, test = (data.make_shapes10(n, seed=s) for n, s in ((1500, 11), (100, 12), (500, 13)))
    splits = data.Splits(train.classification(), val.classification(), test.classification())
    pixels = run_seeds("linear", lambda: linear_model((3, 32, 32), 10), splits, seeds=(0,), epochs=8, device="cpu").mean
    colour = _logistic_accuracy(_colour_and_position_features(train.images), train.labels,
                                _colour_and_position_features(test.images), test.labels)
    assert pixels < 0.25, f"raw-pixel logistic regression reached {pixels:.3f}: the benchmark is too easy"
    assert colour < 0.25, f"colour/position features reached {colour:.3f}: classes leak through colour or position"


@pytest.mark.parametrize(
    "kwargs",
    [dict(n=0), dict(n=2.5), dict(n=True), dict(n=5, image_size=8), dict(n=5, image_size=32.0), dict(n=5, seed=-1)],
)
def test_make_shapes10_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        data.make_shapes10(**kwargs)


@pytest.mark.parametrize("kwargs", [dict(n_train=0), dict(n_val=-1), dict(n_test=1.5)])
def test_load_shapes10_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="must be a positive int"):
        data.load_shapes10(**kwargs)


def test_half_resolution_averages_each_2x2_square():
    part = data.load_shapes10(n_train=10, n_val=10, n_test=10).train
    half = data.half_resolution(part)
    images = part.tensors[0]
    assert half.tensors[0].shape == (10, 3, 16, 16) and torch.equal(half.tensors[1], part.tensors[1])
    by_hand = (images[..., 0::2, 0::2] + images[..., 0::2, 1::2] + images[..., 1::2, 0::2] + images[..., 1::2, 1::2]) / 4
    assert torch.allclose(half.tensors[0], by_hand, atol=1e-6)
    with pytest.raises(ValueError, match="even height and width"):
        data.half_resolution(torch.utils.data.TensorDataset(torch.zeros(2, 1, 5, 4), torch.zeros(2)))
    with pytest.raises(ValueError, match="TensorDataset"):
        data.half_resolution(images)
