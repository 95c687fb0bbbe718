"""cnnbook.patches: cutting images into patches, putting them back, and shuffling them."""
import pytest
import torch
import torch.nn.functional as F

from cnnbook.models.vit import small_vit
from cnnbook.patches import from_patches, inverse_permutation, permute_patches, random_permutation, to_patches


def _images(n=2, c=3, h=8, w=12, seed=0):
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def test_to_patches_reads_row_by_row_like_unfold():
    x = _images()
    patches = to_patches(x, 4)  # a 2x3 grid
    assert patches.shape == (2, 6, 3, 4, 4)
    assert torch.equal(patches[:, 1], x[:, :, 0:4, 4:8])  # row 0, column 1
    assert torch.equal(patches[:, 3], x[:, :, 4:8, 0:4])  # row 1, column 0
    unfolded = F.unfold(x, kernel_size=4, stride=4).transpose(1, 2)  # (N, L, C*p*p), the ViT's order
    assert torch.equal(patches.flatten(2), unfolded)


def test_from_patches_inverts_to_patches():
    x = _images()
    assert torch.equal(from_patches(to_patches(x, 4), (2, 3)), x)
    assert torch.equal(from_patches(to_patches(x, 1), (8, 12)), x)


def test_permute_patches_moves_whole_patches():
    x = _images(h=8, w=8)
    perm = [3, 0, 2, 1]
    y = permute_patches(x, 4, perm)
    assert y.shape == x.shape
    for k, source in enumerate(perm):
        assert torch.equal(to_patches(y, 4)[:, k], to_patches(x, 4)[:, source])
    assert torch.equal(permute_patches(x, 4, torch.arange(4)), x)  # the identity keeps the image
    assert torch.equal(permute_patches(y, 4, inverse_permutation(perm)), x)  # the inverse undoes it
    assert torch.equal(permute_patches(x, 4, torch.tensor(perm)), y)  # a tensor works as well as a list
    assert not torch.equal(y, x)
    assert torch.equal(x, _images(h=8, w=8))  # the input is left alone


def test_permute_patches_permutes_a_vits_patch_tokens():
    torch.manual_seed(0)
    vit = small_vit(patch_size=8)
    x = torch.randn(3, 3, 32, 32)
    perm = random_permutation(16, seed=1)
    with torch.no_grad():
        tokens, shuffled = vit.embed(x), vit.embed(permute_patches(x, 8, perm))
    assert torch.allclose(shuffled[:, 1:], tokens[:, 1:][:, perm], atol=1e-6)  # token k comes from patch perm[k]
    assert torch.equal(shuffled[:, 0], tokens[:, 0])  # the class token belongs to no patch


def test_random_permutation_is_seeded_and_a_permutation():
    p = random_permutation(16, seed=0)
    assert torch.equal(p, random_permutation(16, seed=0))
    assert not torch.equal(p, random_permutation(16, seed=1))
    assert sorted(p.tolist()) == list(range(16))
    before = torch.random.get_rng_state()
    random_permutation(5, seed=3)
    assert torch.equal(before, torch.random.get_rng_state())  # its own generator: the global stream is untouched


def test_inverse_permutation():
    p = torch.tensor([2, 0, 3, 1])
    inv = inverse_permutation(p)
    assert torch.equal(p[inv], torch.arange(4)) and torch.equal(inv[p], torch.arange(4))
    assert torch.equal(inverse_permutation([0]), torch.tensor([0]))


@pytest.mark.parametrize("images, patch_size, match", [
    (torch.zeros(3, 8, 8), 4, r"\(N, C, H, W\)"),
    ([[0.0]], 4, r"\(N, C, H, W\)"),
    (torch.zeros(1, 3, 8, 10), 4, "divisible by patch_size"),
    (torch.zeros(1, 3, 8, 8), 0, "positive int"),
    (torch.zeros(1, 3, 8, 8), 2.0, "positive int"),
    (torch.zeros(1, 3, 8, 8), True, "positive int"),
])
def test_bad_images_or_patch_size(images, patch_size, match):
    with pytest.raises(ValueError, match=match):
        to_patches(images, patch_size)
    with pytest.raises(ValueError, match=match):
        permute_patches(images, patch_size, [0])


@pytest.mark.parametrize("perm, match", [
    ([0, 1, 2], "exactly once"),  # too short for a 2x2 grid
    ([0, 1, 2, 2], "exactly once"),  # a repeat
    ([0, 1, 2, 4], "exactly once"),  # out of range
    ([0, 1, 2, -1], "exactly once"),
    ([[0, 1], [2, 3]], "1-D"),
    ([0.0, 1.0, 2.0, 3.0], "ints"),
    ([True, False, True, False], "ints"),
])
def test_bad_permutation(perm, match):
    with pytest.raises(ValueError, match=match):
        permute_patches(torch.zeros(1, 3, 8, 8), 4, perm)


def test_bad_patches_grid_and_arguments():
    with pytest.raises(ValueError, match=r"\(N, L, C, p, p\)"):
        from_patches(torch.zeros(1, 4, 3, 4), (2, 2))
    with pytest.raises(ValueError, match=r"\(N, L, C, p, p\)"):
        from_patches(torch.zeros(1, 4, 3, 4, 2), (2, 2))  # not square
    with pytest.raises(ValueError, match="holds 6 patches, got 4"):
        from_patches(torch.zeros(1, 4, 3, 2, 2), (2, 3))
    with pytest.raises(ValueError, match="pair of positive ints"):
        from_patches(torch.zeros(1, 4, 3, 2, 2), (4,))
    with pytest.raises(ValueError, match="pair of positive ints"):
        from_patches(torch.zeros(1, 4, 3, 2, 2), (0, 4))
    with pytest.raises(ValueError, match="length must be a positive int"):
        random_permutation(0, seed=0)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        random_permutation(4, seed=-1)
    with pytest.raises(ValueError, match="exactly once"):
        inverse_permutation([1, 1])
    with pytest.raises(ValueError, match="1-D"):
        inverse_permutation([[0]])
