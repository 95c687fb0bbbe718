import time

import pytest
import torch

from cnnbook.data import SCENE_CLASSES, SCENE_MIN_VISIBLE, SHAPES10_CLASSES, Scenes, make_scenes


@pytest.fixture(scope="module")
def scenes() -> Scenes:
    return make_scenes(300, image_size=64, max_objects=3, seed=0)


def test_format_and_ranges(scenes):
    n, size = 300, 64
    assert scenes.images.shape == (n, 3, size, size) and scenes.images.dtype == torch.float32
    assert scenes.images.min() >= 0 and scenes.images.max() <= 1
    assert scenes.semantic.shape == scenes.instances.shape == (n, size, size)
    assert scenes.semantic.dtype == scenes.instances.dtype == torch.int64
    assert scenes.classes == SCENE_CLASSES and len(scenes) == n
    assert int(scenes.semantic.max()) == len(SCENE_CLASSES) and int(scenes.semantic.min()) == 0
    assert len(scenes.boxes) == len(scenes.box_labels) == n
    for boxes, labels in zip(scenes.boxes, scenes.box_labels):
        assert boxes.dtype == torch.float32 and boxes.shape == (len(labels), 4)
        assert labels.dtype == torch.int64 and bool(((labels >= 0) & (labels < len(SCENE_CLASSES))).all())
        assert bool((boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all())
    counts = torch.tensor([len(b) for b in scenes.boxes])
    assert counts.max() == 3 and (counts == 0).float().mean() < 0.05  # almost every image has an object
    assert set(counts.tolist()) >= {1, 2, 3}


def test_boxes_are_the_bounding_boxes_of_the_instance_masks(scenes):
    for i in range(len(scenes)):
        inst, sem = scenes.instances[i], scenes.semantic[i]
        k = len(scenes.boxes[i])
        assert set(inst.unique().tolist()) - {0} == set(range(1, k + 1))  # ids 1..k, consecutive
        assert torch.equal(sem > 0, inst > 0)  # a pixel has a class exactly when it belongs to an object
        for j in range(k):
            ys, xs = torch.nonzero(inst == j + 1, as_tuple=True)
            expected = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)
            assert torch.equal(scenes.boxes[i][j], expected), (i, j)
            # Every pixel of the instance carries its object's class in the semantic mask.
            assert bool((sem[inst == j + 1] == scenes.box_labels[i][j] + 1).all())
            assert len(ys) >= 4  # tiny leftovers are dropped
        masks = scenes.instance_masks(i)
        assert masks.shape == (k, 64, 64) and masks.dtype == torch.bool
        assert torch.equal(masks.sum(0) > 0, inst > 0)


def test_two_objects_of_one_class_get_two_boxes(scenes):
    seen = 0
    for i in range(len(scenes)):
        labels = scenes.box_labels[i]
        for c in labels.unique():
            rows = torch.nonzero(labels == c).flatten()
            if len(rows) < 2:
                continue
            seen += 1
            union = torch.isin(scenes.instances[i], rows + 1)
            ys, xs = torch.nonzero(union, as_tuple=True)
            union_box = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)
            per_object = scenes.boxes[i][rows]
            assert len({tuple(b.tolist()) for b in per_object}) == len(rows)
            # The union box of make_shapes's era is what these replace: strictly larger than some object's box.
            assert any(not torch.equal(b, union_box) for b in per_object)
    assert seen >= 30, seen  # the case is common, not a curiosity


def test_targets_are_torchmetrics_format(scenes):
    targets = scenes.targets()
    assert len(targets) == len(scenes)
    assert set(targets[0]) == {"boxes", "labels"} and torch.equal(targets[5]["boxes"], scenes.boxes[5])
    images, masks = scenes.segmentation()[3]
    assert images.shape == (3, 64, 64) and torch.equal(masks, scenes.semantic[3])


def test_seeded_and_deterministic():
    a, b = make_scenes(20, 48, seed=3), make_scenes(20, 48, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.instances, b.instances)
    assert torch.equal(a.semantic, b.semantic)
    assert all(torch.equal(x, y) for x, y in zip(a.boxes, b.boxes))
    assert all(torch.equal(x, y) for x, y in zip(a.box_labels, b.box_labels))
    c = make_scenes(20, 48, seed=4)
    assert not torch.equal(a.images, c.images)


@pytest.mark.parametrize("size", [32, 45, 100])
def test_any_size_and_chosen_classes(size):
    classes = ("star", "ring", "heart", "cross")
    s = make_scenes(12, image_size=size, max_objects=4, classes=classes, seed=1)
    assert s.images.shape == (12, 3, size, size) and s.classes == classes
    assert int(s.semantic.max()) <= len(classes)
    for i in range(12):
        for j, box in enumerate(s.boxes[i]):
            ys, xs = torch.nonzero(s.instances[i] == j + 1, as_tuple=True)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    assert s.boxes[0].max() <= size


def test_backgrounds_are_varied_not_flat(scenes):
    # Shapes10's photographic crops: background pixels vary within an image and between images.
    spreads = []
    for i in range(20):
        background = scenes.images[i][:, scenes.semantic[i] == 0]
        spreads.append(float(background.std(1).mean()))
    assert sum(spreads) / len(spreads) > 0.04
    means = scenes.images.mean((2, 3))
    assert float(means.std(0).mean()) > 0.05


def test_visible_fraction_constant_is_documented():
    assert 0 < SCENE_MIN_VISIBLE < 1
    assert "SCENE_MIN_VISIBLE" in make_scenes.__doc__


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 0},
        {"n": 2.5},
        {"n": True},
        {"image_size": 31},
        {"image_size": 64.0},
        {"max_objects": 0},
        {"max_objects": 9},
        {"classes": ()},
        {"classes": ("circle", "hexagon")},
        {"classes": ("circle", "circle")},
        {"classes": "circle"},
        {"seed": -1},
        {"seed": 1.5},
    ],
)
def test_bad_arguments(kwargs):
    args = {"n": 2, **kwargs}
    with pytest.raises(ValueError):
        make_scenes(**args)


def test_bad_class_message_names_the_choices():
    with pytest.raises(ValueError, match="ring"):
        make_scenes(2, classes=("hexagon",))


def test_all_ten_classes_can_be_asked_for():
    s = make_scenes(30, 32, max_objects=3, classes=SHAPES10_CLASSES, seed=2)
    assert int(s.semantic.max()) <= 10 and len(set(torch.cat(s.box_labels).tolist())) >= 8


def test_a_thousand_scenes_at_64_px_take_seconds_of_cpu(monkeypatch):
    monkeypatch.setenv("CNNBOOK_CACHE", "off")  # time the generator, not a read from the disk cache
    make_scenes(2, 64)  # the backgrounds are cached once
    start = time.process_time()  # this process's CPU time: other work on the machine does not inflate it
    make_scenes(1000, 64, max_objects=3, seed=5)
    elapsed = time.process_time() - start
    # About 2-4 s on one core of the book's machine: a generator gone quadratic lands far above the bound.
    assert elapsed < 20, elapsed


def test_dropped_objects_leave_background_and_no_box(monkeypatch):
    import cnnbook.data

    kept = make_scenes(200, 48, max_objects=4, seed=7)
    monkeypatch.setattr(cnnbook.data, "SCENE_MIN_VISIBLE", 0.97)  # drop every object that lost 3% of itself
    strict = make_scenes(200, 48, max_objects=4, seed=7)
    assert torch.equal(kept.images, strict.images)  # the threshold changes labels, never pixels
    dropped = sum(len(b) for b in kept.boxes) - sum(len(b) for b in strict.boxes)
    assert dropped > 10
    for i in range(200):
        k = len(strict.boxes[i])
        assert set(strict.instances[i].unique().tolist()) - {0} == set(range(1, k + 1))
        assert torch.equal(strict.semantic[i] > 0, strict.instances[i] > 0)
        # What is left labelled is a subset of what was labelled before.
        assert not bool(((strict.semantic[i] > 0) & (kept.semantic[i] == 0)).any())
        for j in range(k):
            ys, xs = torch.nonzero(strict.instances[i] == j + 1, as_tuple=True)
            assert strict.boxes[i][j].tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
