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
