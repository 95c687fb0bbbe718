"""cnnbook.augment: flips and shifts checked pixel by pixel, seeded loaders that repeat."""
import pytest
import torch
from torch.utils.data import TensorDataset

from cnnbook.augment import (Augmented, augmented_loader, flip_shift, mirror_mismatch, shapes10_augmentation,
                             shapes10_outline)


def test_flip_shift_is_a_flip_and_a_crop_of_the_reflected_image():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 10, 10)
    out = flip_shift(x, g, flip=True, max_shift=2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    padded_flipped = torch.nn.functional.pad(x.flip(-1), (2, 2, 2, 2), mode="reflect")
    for i in range(64):
        found = any(torch.equal(out[i], p[i, :, dy:dy + 10, dx:dx + 10])
                    for p in (padded, padded_flipped) for dy in range(5) for dx in range(5))
        assert found
    assert not torch.equal(out, x)
    assert torch.equal(flip_shift(x, g, flip=False, max_shift=0), x)


def test_flips_about_half():
    g = torch.Generator().manual_seed(1)
    x = torch.arange(4.0).repeat(1000, 1, 1, 1)
    out = flip_shift(x, g, flip=True, max_shift=0)
    flipped = (out[:, 0, 0, 0] == 3).float().mean()
    assert 0.45 < flipped < 0.55


def test_loader_repeats_with_a_seed_and_changes_every_epoch():
    data = TensorDataset(torch.rand(20, 1, 8, 8), torch.arange(20))
    first = [b for b in augmented_loader(data, batch_size=8, seed=3)]
    again = [b for b in augmented_loader(data, batch_size=8, seed=3)]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))
    loader = augmented_loader(data, batch_size=20, seed=3)
    (x1, y1), (x2, y2) = next(iter(loader)), next(iter(loader))
    assert not torch.equal(x1[y1.argsort()], x2[y2.argsort()])
    assert len(loader) == 1


def test_bad_input():
    g = torch.Generator()
    with pytest.raises(ValueError, match="N, C, H, W"):
        flip_shift(torch.zeros(3, 8, 8), g)
    with pytest.raises(ValueError, match="max_shift"):
        flip_shift(torch.zeros(1, 1, 8, 8), g, max_shift=-1)
    with pytest.raises(ValueError, match="smaller"):
        flip_shift(torch.zeros(1, 1, 4, 4), g, max_shift=4)
    with pytest.raises(ValueError, match="batch_size"):
        augmented_loader(TensorDataset(torch.zeros(2, 1, 4, 4)), batch_size=0)


# ------------------------------------------------------------------------------------------------
# transforms.v2 pipelines, per image and per batch; the Augmented data set; mirror symmetry of Shapes10

def test_loader_without_transforms_is_unchanged_by_the_new_options():
    data = TensorDataset(torch.rand(20, 1, 8, 8), torch.arange(20))
    plain = [b for b in augmented_loader(data, batch_size=8, seed=3)]
    explicit = [b for b in augmented_loader(data, batch_size=8, seed=3, transform=None, batch_transform=None)]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(plain, explicit))


def test_loader_applies_a_seeded_per_image_transform_and_batch_transform():
    from torchvision.transforms import v2

    data = TensorDataset(torch.rand(16, 3, 8, 8), torch.arange(16) % 4)
    make = lambda: augmented_loader(data, batch_size=8, seed=5, flip=False, max_shift=0,  # noqa: E731
                                    transform=v2.RandomErasing(p=1.0, value=0),
                                    batch_transform=v2.MixUp(num_classes=4))
    torch.manual_seed(123)
    first = [b for b in make()]
    torch.manual_seed(456)  # the global generator's state does not matter: the loader seeds torchvision's draws
    again = [b for b in make()]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))
    images, labels = first[0]
    assert labels.shape == (8, 4) and torch.allclose(labels.sum(1), torch.ones(8))
    only_erase = augmented_loader(data, batch_size=16, seed=5, flip=False, max_shift=0,
                                  transform=v2.RandomErasing(p=1.0, value=0))
    x, y = next(iter(only_erase))
    assert y.dtype == torch.long and all((img == 0).any() for img in x)
    with pytest.raises(ValueError, match="callable"):
        augmented_loader(data, transform="crop")
    with pytest.raises(ValueError, match="callable"):
        augmented_loader(data, batch_transform=3)


def test_augmented_dataset_applies_the_transform_at_every_fetch():
    base = TensorDataset(torch.rand(6, 3, 8, 8), torch.arange(6))
    data = Augmented(base, lambda image: image + 1)
    image, label = data[2]
    assert torch.equal(image, base.tensors[0][2] + 1) and label == 2 and len(data) == 6
    assert data.tensors is base.tensors  # the images before augmentation, for code that reads shapes
    with pytest.raises(ValueError, match="TensorDataset"):
        Augmented([1, 2, 3], lambda image: image)
    with pytest.raises(ValueError, match="callable"):
        Augmented(base, None)


def test_fit_on_augmented_data_repeats_with_a_seed():
    from cnnbook.train import fit

    base = TensorDataset(torch.rand(40, 3, 16, 16), torch.arange(40) % 10)
    data = Augmented(base, shapes10_augmentation(16))

    def run():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 10))
        return fit(model, data, epochs=2, batch_size=8, progress=False, device="cpu", seed=4).train_loss

    assert run() == run()


def test_shapes10_augmentation_keeps_shape_and_range_and_varies():
    pipeline = shapes10_augmentation(32)
    torch.manual_seed(0)
    image = torch.rand(3, 32, 32)
    versions = [pipeline(image) for _ in range(4)]
    assert all(v.shape == (3, 32, 32) and v.min() >= 0 and v.max() <= 1 for v in versions)
    assert not torch.equal(versions[0], versions[1])
    names = [type(t).__name__ for t in pipeline.transforms]
    assert names == ["RandomCrop", "ColorJitter", "RandomErasing"] and "Flip" not in " ".join(names)
    assert [type(t).__name__ for t in shapes10_augmentation(16, jitter=0, erase=0).transforms] == ["RandomCrop"]
    assert pipeline.transforms[0].padding == [4, 4, 4, 4]


@pytest.mark.parametrize("kwargs, message", [
    ({"image_size": 4}, "image_size"), ({"image_size": 32.0}, "image_size"), ({"crop_padding": 40}, "crop_padding"),
    ({"jitter": 1.5}, "jitter"), ({"erase": -0.1}, "erase"),
])
def test_shapes10_augmentation_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        shapes10_augmentation(**kwargs)


def test_only_the_ell_is_changed_by_a_mirror_image():
    from cnnbook.data import SHAPES10_CLASSES

    shares = {kind: mirror_mismatch(kind, steps=36)[0] for kind in SHAPES10_CLASSES}
    assert shares["ell"] > 0.3
    assert all(share < 0.02 for kind, share in shares.items() if kind != "ell")
    share, angle = mirror_mismatch("arrow", steps=36)
    assert share == 0 and abs(angle - torch.pi) < 1e-6  # an arrow mirrored is an arrow turned round


def test_outline_is_the_painted_shape():
    square = shapes10_outline("square", size=32)
    assert square.shape == (32, 32) and 0 <= square.min() and square.max() == 1
    assert torch.allclose(shapes10_outline("circle", 32), shapes10_outline("circle", 32, angle=1.0))
    assert not torch.allclose(shapes10_outline("ell", 32), shapes10_outline("ell", 32, angle=1.0))
    with pytest.raises(ValueError, match="unknown Shapes10 class"):
        shapes10_outline("hexagon")
    with pytest.raises(ValueError, match="size"):
        shapes10_outline("ell", size=4)
    with pytest.raises(ValueError, match="steps"):
        mirror_mismatch("ell", steps=2)
