"""Chapter 11's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
import torch

from cnnbook.exercises import ch11


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


def test_ex2_networks_unaffected_in_distribution():
    assert ch11.ex2({"a", "b", "c", "e"}) and ch11.ex2(["E", "c", "b", "a"])
    assert not ch11.ex2({"c", "e"})  # the yardsticks read pixels through independently drawn weights too
    assert not ch11.ex2({"a", "b", "c", "d", "e"})  # the CNN's shared, local filters cannot absorb the shuffle
    assert not ch11.ex2({"e"})
    assert not ch11.ex2({"x"})
    assert not ch11.ex2(3.5)
    assert not ch11.ex2(None)


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
