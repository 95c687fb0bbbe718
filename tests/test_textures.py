"""cnnbook.textures: patches from real photographs, with train, validation and test from disjoint bands."""
import numpy as np
import pytest
import skimage.data

from cnnbook.textures import BANDS, TEXTURE_CLASSES, band_limits, load_textures, texture_photo


@pytest.fixture(scope="module")
def data():
    return load_textures(n_train=6, n_val=3, n_test=4, patch=48, seed=1)


def _overlap(a, b) -> bool:
    (_, t1, l1, h1, w1), (_, t2, l2, h2, w2) = a, b
    return t1 < t2 + h2 and t2 < t1 + h1 and l1 < l2 + w2 and l2 < l1 + w1


def test_no_patch_leaks_between_splits(data):
    for c in range(len(data.classes)):
        boxes = {s: [b for b in data.boxes[s] if b[0] == c] for s in ("train", "val", "test")}
        for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
            assert not any(_overlap(x, y) for x in boxes[a] for y in boxes[b]), (data.classes[c], a, b)


def test_patches_are_the_photo_pixels(data):
    # an independent check: the first test patch of class 0 equals the grey photo cropped at its box
    label, top, left, h, w = data.boxes["test"][0]
    photo = skimage.data.brick() / 255.0
    assert np.allclose(data.test[0][0][0].numpy(), photo[top:top + h, left:left + w], atol=1e-6)
    assert data.test[0][1].item() == label == 0


def test_shapes_labels_and_grey(data):
    assert data.classes == TEXTURE_CLASSES
    assert data.train.tensors[0].shape == (6 * len(TEXTURE_CLASSES), 3, 48, 48)
    assert np.bincount(data.test.tensors[1].numpy()).tolist() == [4] * len(TEXTURE_CLASSES)
    x = data.train.tensors[0]
    assert x.min() >= 0 and x.max() <= 1 and (x[:, 0] == x[:, 2]).all()  # grey: channels equal
    assert load_textures(2, 1, 1, patch=32, size=20).val.tensors[0].shape[-1] == 20


def test_bands_cover_the_side_in_order():
    assert abs(sum(BANDS) - 1) < 1e-9
    limits = [band_limits(500, s) for s in ("train", "val", "test")]
    assert limits[0][0] == 0 and limits[-1][1] == 500
    assert all(a[1] == b[0] for a, b in zip(limits, limits[1:]))


def test_bad_input():
    with pytest.raises(ValueError, match="unknown texture"):
        texture_photo("astronaut")
    with pytest.raises(ValueError, match="n_train"):
        load_textures(n_train=0)
    with pytest.raises(ValueError, match="does not fit"):
        load_textures(patch=200)  # wider than a validation band
    with pytest.raises(ValueError, match="split"):
        band_limits(100, "holdout")
