"""cnnbook.augment: flips and shifts checked pixel by pixel, seeded loaders that repeat."""
import pytest
import torch
from torch.utils.data import TensorDataset

from cnnbook.augment import augmented_loader, flip_shift


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
