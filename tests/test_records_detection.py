"""Chapter 14's record: its scenes, its arms, its task ("detect") and its no-image baselines."""
import json

import pytest
import torch

import cnnbook.records.detection as D
from cnnbook.detection import BoxDataset, collate_boxes, mean_average_precision
from cnnbook.models import small_cnn
from cnnbook.models.yolo import SCENE_ANCHORS, YOLO, WindowDetector, YOLOLoss
from cnnbook.records import Arm, Record
from cnnbook.records.core import TASK_HOOKS, TASKS, train_arm


def test_detect_is_a_task_scored_by_map_with_box_batches():
    loss_fn, score_fn = TASKS["detect"]
    assert isinstance(loss_fn, YOLOLoss) and score_fn is mean_average_precision and D.LIMITS.task == "detect"
    assert torch.equal(loss_fn.anchors, torch.tensor(SCENE_ANCHORS)) and loss_fn.image_size == 64
    hooks = TASK_HOOKS["detect"]
    assert hooks["collate_fn"] is collate_boxes
    empty = torch.full((1, 8, 8, 3, 8), -12.0)  # objectness sigmoid(-12): nothing scores 0.05
    assert len(hooks["predict_fn"](empty)[0]["boxes"]) == 0
    sure = empty.clone()
    sure[0, 2, 3, 1, 4] = sure[0, 2, 3, 1, 5] = 12.0  # one slot, sure of a circle at its anchor's resting box
    found = hooks["predict_fn"](sure)[0]
    assert found["labels"].tolist() == [0] and found["scores"][0] > 0.99


def test_the_arms_hold_the_yardsticks_the_live_run_and_the_two_ways_to_train_more():
    arms = D.LIMITS.arms
    assert [a.yardstick for a in arms] == [True, True, True, False, False, False]
    assert [a.name for a in arms if a.live] == [D.LIVE_ARM]
    assert all(a.recipe == D.RECIPE for a in arms if "28 epochs" not in a.name)
    long = D.LIMITS.arm(f"YOLO 8-16-32-64, 1,000 scenes, {D.LONG_EPOCHS} epochs")
    assert long.recipe["epochs"] * D.LIVE_SCENES["train"] == D.RECIPE["epochs"] * D.BIG_TRAIN  # as many steps
    assert [a.data for a in arms] == ["big_std", "big_std", "big", "live", "live", "big"]
    assert isinstance(arms[0].build(), WindowDetector) and isinstance(arms[3].build(), YOLO)
    assert all(a.probe is D.coco_probe for a in arms)


def test_small_cnn_detector_is_the_small_cnns_trunk_with_the_yolo_head():
    net = D.small_cnn_detector()
    trunk = small_cnn(3).features
    assert [type(m) for m in net.features] == [type(m) for m in trunk]
    assert [tuple(p.shape) for p in net.features.parameters()] == [tuple(p.shape) for p in trunk.parameters()]
    assert net(torch.rand(2, 3, 64, 64)).shape == (2, 8, 8, 3, 8)


def test_the_scenes_come_as_box_datasets_and_the_std_copies_share_the_boxes():
    data = D._data(quick=True)
    assert set(data) == {"live", "big", "big_std"}
    for split in data["big"]:
        assert isinstance(split, BoxDataset)
    assert torch.equal(data["live"].train.images, data["big"].train.images[:64])  # the first scenes of the bigger set
    std = data["big_std"]
    assert std.train.images.mean((0, 2, 3)).abs().max() < 1e-4
    assert all(a.boxes[0] is b.boxes[0] for a, b in zip(data["big"], std))
    with pytest.raises(ValueError):
        D.box_splits(0, 1, 1, (1, 3, 2))


def test_no_image_baselines_score_far_below_a_detector_and_the_probe_gives_coco_ap(monkeypatch):
    data = {"live": D.box_splits(200, 8, 300, D.LIVE_SCENES["seeds"])}
    scores = D.no_image_baselines(data)
    assert set(scores) == {"one mean box per image", "prior on every anchor"}
    assert all(0 <= v < 0.1 for v in scores.values())
    monkeypatch.setattr(D, "BIG_TRAIN", 16)
    torch.manual_seed(0)
    for model in (D.detector(D.LIVE_WIDTHS).eval(), WindowDetector(3, SCENE_ANCHORS, 64).eval()):
        probe = D.coco_probe(model)
        assert set(probe) == {"coco_ap"} and 0 <= probe["coco_ap"] < 0.05  # untrained


def test_train_arm_trains_a_detector_with_fit_and_keeps_no_confusion_matrix():
    result = train_arm(D.LIMITS, D.LIMITS.arm(D.LIVE_ARM), seed=0, quick=True)
    assert 0 <= result["test_acc"] <= 1 and result["confusion"] is None and len(result["history"]) == 1
    assert result["history"].val_acc and result["probe"]["coco_ap"] >= 0


def test_a_record_keeps_its_baselines_and_check_record_wants_them(tmp_path, monkeypatch):
    from cnnbook.records import core
    record = Record("detect_toy", "14", "toy claim", D._data, "toy", D.LIMITS.arms[:4], task="detect",
                    baselines=lambda data: {"zero": 0.0})
    monkeypatch.setitem(core._REGISTRY, "detect_toy", record)
    monkeypatch.setattr(core, "QUICK_SEEDS", (0,))
    out = core.run_record("detect_toy", quick=True, out=tmp_path / "detect_toy.json", jobs=1, log=lambda line: None)
    ref = core.load_record("detect_toy", out)
    assert ref.baselines == {"zero": 0.0} and ref.runs[0].extra["confusion"] == [None]
    stored = json.loads(out.read_text())
    del stored["meta"]["baselines"]
    out.write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="lacks its baselines"):
        core.check_record("detect_toy", out)
