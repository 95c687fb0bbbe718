"""cnnbook.folders: a folder of shipped-photo crops that torchvision's ImageFolder reads."""
import pytest
import torch
from PIL import Image

from cnnbook.folders import PHOTO_CLASSES, write_photo_folder


def test_folder_layout_that_imagefolder_reads(tmp_path):
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2

    root = write_photo_folder(tmp_path / "photos", per_class=3, size=20, seed=1)
    assert root == tmp_path / "photos"
    assert sorted(p.name for p in root.iterdir()) == sorted(PHOTO_CLASSES)
    data = ImageFolder(root, transform=v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]))
    assert data.classes == sorted(PHOTO_CLASSES) and len(data) == 9
    image, label = data[0]
    assert image.shape == (3, 20, 20) and label == 0 and 0 <= image.min() and image.max() <= 1


def test_same_seed_same_files_other_seed_other_crops(tmp_path):
    a = write_photo_folder(tmp_path / "a", {"cat": "chelsea"}, per_class=2, size=16, seed=0)
    b = write_photo_folder(tmp_path / "b", {"cat": "chelsea"}, per_class=2, size=16, seed=0)
    c = write_photo_folder(tmp_path / "c", {"cat": "chelsea"}, per_class=2, size=16, seed=1)
    pixels = lambda root: [list(Image.open(p).getdata()) for p in sorted((root / "cat").iterdir())]  # noqa: E731
    assert pixels(a) == pixels(b) and pixels(a) != pixels(c)


@pytest.mark.parametrize("kwargs, message", [
    ({"classes": {}}, "classes"), ({"classes": {"a/b": "chelsea"}}, "classes"), ({"classes": {"x": "mona_lisa"}}, "unknown photograph"),
    ({"per_class": 0}, "per_class"), ({"size": 0}, "size"), ({"seed": -1}, "seed"), ({"size": 2.5}, "size"),
])
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        write_photo_folder(tmp_path, **kwargs)


def _transforms():
    from torchvision.transforms import v2

    to_float = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    return v2.Compose([*to_float, v2.RandomResizedCrop(8, scale=(0.5, 1.0))]), v2.Compose([*to_float, v2.Resize((8, 8))])


def test_folder_splits_stratified_disjoint_and_seeded(tmp_path):
    from cnnbook.folders import folder_splits

    root = write_photo_folder(tmp_path / "photos", per_class=10, size=12, seed=0)
    train_tf, eval_tf = _transforms()
    data = folder_splits(root, train_tf, eval_tf, val_fraction=0.2, test_fraction=0.3, seed=0)
    indices = [set(part.indices) for part in data]
    assert [len(i) for i in indices] == [15, 6, 9]  # per class: 5 train, 2 validation, 3 test
    assert not (indices[0] & indices[1] or indices[0] & indices[2] or indices[1] & indices[2])
    assert set().union(*indices) == set(range(30))
    for part, per_class in zip(data, (5, 2, 3)):
        labels = [part.dataset.targets[i] for i in part.indices]
        assert [labels.count(c) for c in range(3)] == [per_class] * 3
    assert data.train.dataset.transform is train_tf and data.val.dataset.transform is eval_tf
    assert data.test.dataset is data.val.dataset and data.train.dataset is not data.val.dataset
    image, label = data.val[0]
    assert image.shape == (3, 8, 8) and label == data.val.dataset.targets[data.val.indices[0]]
    again = folder_splits(root, train_tf, eval_tf, val_fraction=0.2, test_fraction=0.3, seed=0)
    other = folder_splits(root, train_tf, eval_tf, val_fraction=0.2, test_fraction=0.3, seed=1)
    assert again.test.indices == data.test.indices and other.test.indices != data.test.indices


def test_folder_splits_every_class_in_every_split(tmp_path):
    from cnnbook.folders import folder_splits

    root = write_photo_folder(tmp_path / "photos", {"cat": "chelsea", "cup": "coffee"}, per_class=3, size=8)
    data = folder_splits(root, None, None, val_fraction=0.01, test_fraction=0.01)
    assert [len(part) for part in data] == [2, 2, 2]


@pytest.mark.parametrize("kwargs, message", [
    ({"val_fraction": 0}, "val_fraction"), ({"test_fraction": 1.0}, "test_fraction"), ({"val_fraction": True}, "val_fraction"),
    ({"val_fraction": 0.5, "test_fraction": 0.5}, "below 1"), ({"seed": -1}, "seed"), ({"train_transform": 3}, "train_transform"),
])
def test_folder_splits_bad_arguments(tmp_path, kwargs, message):
    from cnnbook.folders import folder_splits

    root = write_photo_folder(tmp_path / "photos", {"cat": "chelsea"}, per_class=3, size=8)
    with pytest.raises(ValueError, match=message):
        folder_splits(root, **{"train_transform": None, "eval_transform": None, **kwargs})


def test_folder_splits_bad_folders(tmp_path):
    from cnnbook.folders import folder_splits

    with pytest.raises(ValueError, match="not a folder"):
        folder_splits(tmp_path / "missing", None, None)
    root = write_photo_folder(tmp_path / "few", {"cat": "chelsea"}, per_class=2, size=8)
    with pytest.raises(ValueError, match="3 or more"):
        folder_splits(root, None, None)
