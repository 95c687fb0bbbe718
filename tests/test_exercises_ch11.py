"""Chapter 11's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
from collections.abc import Callable

import pytest
import torch

from cnnbook.exercises import ch11
from cnnbook.patches import permute_patches, random_permutation


def test_ex1_transformations_a_vit_without_positions_cannot_see():
    assert ch11.ex1({"a", "c"}) and ch11.ex1(["C", "A"])
    assert not ch11.ex1({"a"})  # misses the transposed grid, also a rearrangement of whole patches
    assert not ch11.ex1({"a", "b", "c"})  # half a patch changes every patch's pixels
    assert not ch11.ex1({"a", "c", "d"})  # a flip also mirrors each patch
    assert not ch11.ex1("e")
    assert not ch11.ex1({"a", "z"})
    assert not ch11.ex1(577)  # not a set of letters: a message, not a crash
    assert not ch11.ex1({1, 2})
    assert not ch11.ex1(None)


def test_ex1_checker_leaves_the_global_random_stream_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    ch11.ex1({"a", "c"})
    assert torch.equal(torch.rand(3), expected)


def test_ex2_networks_unaffected_by_a_pixel_shuffle(capsys):
    assert ch11.ex2({"a", "b"}) and ch11.ex2(["B", "a"])
    assert "correct" in capsys.readouterr().out
    assert not ch11.ex2({"a", "b", "c", "e"})  # the page's answer for whole patches: pixels across borders differ
    assert not ch11.ex2({"a", "b", "e"})  # without position embeddings the tokens still read mixed pixels
    assert not ch11.ex2({"a"})  # the MLP's first layer moves its columns just as the linear model's
    assert not ch11.ex2({"a", "b", "d"})  # the CNN's shared filters read neighbours that are no longer neighbours
    assert "not quite" in capsys.readouterr().out
    assert not ch11.ex2({"x"})
    assert not ch11.ex2(3.5)
    assert not ch11.ex2(None)
    assert "not answered yet" in capsys.readouterr().out


def _pixels_of(rearrange: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The pixel permutation ``rearrange`` makes of a 32x32 image: pixel k of the result is pixel [k] of the input."""
    return rearrange(torch.arange(32 * 32.0).view(1, 1, 32, 32)).flatten().long()


def test_ex2_absorbed_shuffles_found_by_forward_passes():
    assert ch11._absorbed(torch.arange(32 * 32)) == {"a", "b", "c", "d", "e"}  # nothing moves: every network
    patches = _pixels_of(lambda x: permute_patches(x, 8, random_permutation(16, seed=0)))  # the page's shuffle
    assert ch11._absorbed(patches) == {"a", "b", "c", "e"}
    inside = _pixels_of(lambda x: permute_patches(x.view(1, 1, 4, 8, 4, 8).transpose(3, 5).reshape(1, 1, 32, 32),
                                                  8, random_permutation(16, seed=0)))
    assert ch11._absorbed(inside) == {"a", "b", "c", "e"}  # every patch transposed the same way: the projection follows

    def one_patch_transposed(x):
        x = x.clone()
        x[..., :8, :8] = x[..., :8, :8].transpose(-1, -2).clone()
        return x
    assert ch11._absorbed(_pixels_of(one_patch_transposed)) == {"a", "b"}  # one patch differs from the others
    assert ch11._absorbed(random_permutation(32 * 32, seed=3)) == {"a", "b"}
    with pytest.raises(ValueError, match="neighbouring pixels"):
        ch11._absorbed(_pixels_of(lambda x: torch.flip(x, dims=[3])))  # reversed filters would absorb a flip
    with pytest.raises(ValueError, match="permutation"):
        ch11._absorbed(torch.zeros(32 * 32, dtype=torch.long))


def test_ex2_checker_leaves_the_global_random_stream_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    ch11.ex2({"a", "b"})
    assert torch.equal(torch.rand(3), expected)


def test_ex3_crossover_image_size():
    # attention products 2 L^2 E against the MLP's 2 L E M: L = (s / 16)^2 + 1 must exceed 3072
    assert (880 // 16) ** 2 + 1 < 3072 < (896 // 16) ** 2 + 1
    assert ch11.ex3(896)
    assert not ch11.ex3(880)
    assert not ch11.ex3(1024)
    assert not ch11.ex3(887)  # the exact root, not a multiple of 16
    assert not ch11.ex3(None)


def test_ex4_fraction_of_changed_predictions():
    low, high = ch11.EX4_RANGE
    assert ch11.ex4(0.2) and ch11.ex4(0.182) and ch11.ex4(0.226)
    assert not ch11.ex4(0.0)  # a ViT with learned positions is not invariant once trained
    assert not ch11.ex4(0.9)  # nor does it fall to guessing
    assert not ch11.ex4(182)  # a count, not a fraction
    assert not ch11.ex4(None)
    assert 0 < low < 0.182 and 0.226 < high < 1
