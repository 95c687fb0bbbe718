"""Chapter 11's shuffled-patch record: its data and its arms."""
import torch

from cnnbook.patches import inverse_permutation, permute_patches, random_permutation
from cnnbook.records.vit import SHUFFLED, shapes10_shuffled


def test_the_shuffled_split_holds_the_standardised_images_with_their_patches_reordered():
    data = shapes10_shuffled(quick=True)
    order = random_permutation(16, seed=0)
    for std, shuffled in zip(data["std"], data["shuffled"]):
        assert torch.equal(shuffled.tensors[1], std.tensors[1])
        assert not torch.equal(shuffled.tensors[0], std.tensors[0])
        assert torch.equal(permute_patches(shuffled.tensors[0], 8, inverse_permutation(order)), std.tensors[0])
    mean = data["std"].train.tensors[0].mean((0, 2, 3))
    assert mean.abs().max() < 1e-5  # standardised with the training images' statistics


def test_every_network_runs_on_both_arrangements_and_only_the_live_arm_is_the_pages():
    assert [a.name for a in SHUFFLED.arms if a.live] == ["small ViT, shuffled, the page's 2 epochs"]
    intact = {a.name.replace(", intact", ""): a for a in SHUFFLED.arms if a.data == "std"}
    shuffled = {a.name.replace(", shuffled", ""): a for a in SHUFFLED.arms if a.data == "shuffled" and not a.live}
    assert intact.keys() == shuffled.keys() and len(intact) == 4
    for name, arm in intact.items():
        assert shuffled[name].recipe == arm.recipe  # the same network and recipe, only the arrangement differs

