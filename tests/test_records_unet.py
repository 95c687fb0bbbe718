"""Chapter 13's record: its scenes, its tables and its task."""
import pytest
import torch

from cnnbook.experiments import pixel_linear, pixel_mlp
from cnnbook.models import small_fcn
from cnnbook.records import Arm, Record, yardsticks
from cnnbook.records.core import TASKS
from cnnbook.records.unet import BIG_RECIPE, LIVE_RECIPE, LIVE_YARDSTICK_EPOCHS, SKIPS, YARDSTICKS_64, _scenes
from cnnbook.segmentation import foreground_miou, segmentation_loss


def test_the_record_scores_segmentations_by_foreground_miou():
    assert SKIPS.task == "segment" and TASKS["segment"] == (segmentation_loss, foreground_miou)
    with pytest.raises(ValueError, match="task must be one of"):
        Record("r", "00", "claim", lambda quick: {}, "data", yardsticks(1), task="caption")


def test_the_two_records_hold_both_tables_and_the_64px_unets_borrow_the_64px_yardsticks():
    assert SKIPS.yardsticks_from == YARDSTICKS_64.name and SKIPS.data is YARDSTICKS_64.data
    big = [a for a in YARDSTICKS_64.arms if not a.name.endswith("32 px")] + \
        [a for a in SKIPS.arms if not a.name.endswith("32 px")]
    live = [a for a in YARDSTICKS_64.arms if a.name.endswith("32 px")]
    assert [a.yardstick for a in big] == [True, True, True, False, False] and not any(a.yardstick for a in live)
    assert [a.name for a in live if a.live] == ["U-Net, no skips, 32 px", "U-Net, skips, 32 px"]
    assert [a.name for a in SKIPS.arms if a.live] == ["U-Net, skips, 32 px"]  # each record repeats the page's run
    assert SKIPS.arms[-1] is live[-1]
    assert all(a.recipe == BIG_RECIPE for a in big) and all(a.recipe == LIVE_RECIPE for a in live[3:])
    assert all(a.recipe == dict(LIVE_RECIPE, epochs=LIVE_YARDSTICK_EPOCHS) for a in live[:3])
    for table in (big, live):
        skip, noskip = table[4].build(), table[3].build()
        assert sum(p.numel() for p in skip.parameters()) > sum(p.numel() for p in noskip.parameters())
        assert table[3].data == table[4].data == table[2].data and table[0].data == table[0].data.split("_")[0] + "_std"


def test_the_scenes_are_images_with_a_mask_per_pixel_and_the_std_copies_share_the_masks():
    data = _scenes(quick=True)
    for key, size in (("live", 32), ("raw", 64)):
        raw, std = data[key], data[f"{key}_std"]
        images, masks = raw.train.tensors
        assert images.shape[1:] == (3, size, size) and masks.shape[1:] == (size, size) and int(masks.max()) <= 3
        assert all(torch.equal(a.tensors[1], b.tensors[1]) for a, b in zip(raw, std))
        assert std.train.tensors[0].mean((0, 2, 3)).abs().max() < 1e-4


def test_segmentation_yardsticks_keep_the_image_size_and_refuse_bad_arguments():
    x = torch.rand(2, 3, 32, 32)
    for model in (pixel_linear(3, 4), pixel_mlp(3, 4, 16), small_fcn(4)):
        assert model(x).shape == (2, 4, 32, 32)
    assert sum(p.numel() for p in pixel_mlp(3, 4).parameters()) == 3 * 256 + 256 + 256 * 4 + 4
    with pytest.raises(ValueError, match="hidden must be a positive int"):
        pixel_mlp(3, 4, 0)
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        pixel_linear(3, True)
    with pytest.raises(ValueError, match="multiples of 8"):
        small_fcn(4)(torch.rand(1, 3, 36, 36))
    with pytest.raises(ValueError, match="SmallFCN"):
        small_fcn(4)(torch.rand(1, 1, 32, 32))
