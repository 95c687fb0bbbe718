import pytest
import torch

from cnnbook.detection import box_iou, encode_targets, mean_average_precision
from cnnbook.models.yolo import (
    DEFAULT_ANCHORS,
    YOLO,
    decode_predictions,
    reshape_head_output,
    small_yolo,
    target_logits,
    yolo_loss,
)

ANCHORS = torch.tensor(DEFAULT_ANCHORS)


def toy_scenes(n, seed=0, size=64, num_classes=3):
    """Filled squares whose colour channel is the class, on a dark background: a detector's easiest task."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, size, size, generator=gen) * 0.1
    boxes, labels = [], []
    for i in range(n):
        k = int(torch.randint(1, 3, (1,), generator=gen))
        side = torch.randint(12, 30, (k,), generator=gen).float()
        xy = torch.rand(k, 2, generator=gen) * (size - side[:, None])
        b = torch.cat((xy, xy + side[:, None]), dim=1).round()
        lab = torch.randint(0, num_classes, (k,), generator=gen)
        for box, c in zip(b.long().tolist(), lab.tolist()):
            images[i, c, box[1]:box[3], box[0]:box[2]] = 1.0
        boxes.append(b)
        labels.append(lab)
    return images, boxes, labels


def test_reshape_head_output_layout():
    a, c, s = 3, 2, 4
    x = torch.randn(2, a * (5 + c), s, s)
    out = reshape_head_output(x, a, c)
    assert out.shape == (2, s, s, a, 5 + c)
    # channel a * (5 + C) + d of pixel (row, col) is anchor a's number d in cell (row, col)
    for n, row, col, anchor, d in [(0, 0, 0, 0, 0), (1, 2, 3, 1, 4), (0, 3, 1, 2, 6)]:
        assert out[n, row, col, anchor, d] == x[n, anchor * (5 + c) + d, row, col]


def test_model_shapes():
    model = small_yolo(num_classes=3)
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 8, 8, 3, 8)
    assert model.grid_size == 8 and model.stride == 8 and torch.equal(model.anchors, ANCHORS)
    wide = YOLO(num_classes=5, anchors=[(10, 10), (20, 20)], in_channels=1, image_size=32, widths=(8, 16, 32))
    assert wide(torch.randn(1, 1, 32, 32)).shape == (1, 8, 8, 2, 10)
    assert "anchors" in wide.state_dict()


def test_perfect_logits_decode_to_the_boxes_with_score_one_and_tiny_loss():
    _, boxes, labels = toy_scenes(4)
    targets = encode_targets(boxes, labels, ANCHORS, 8, 64)
    pred = target_logits(targets, num_classes=3)
    loss, parts = yolo_loss(pred, targets, return_parts=True)
    assert float(loss) < 1e-2 and set(parts) == {"xy", "wh", "objectness", "class"}
    detections = decode_predictions(pred, ANCHORS, 64)
    for det, b, lab in zip(detections, boxes, labels):
        assert len(det["boxes"]) == len(b)
        assert (det["scores"] > 0.999).all()
        iou = box_iou(det["boxes"], b)
        assert (iou.max(dim=0).values > 0.999).all()
        assert torch.equal(det["labels"][iou.argmax(dim=0)], lab)
    assert mean_average_precision(detections, [{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels)]) == 1.0


def test_nms_removes_a_duplicate_in_the_next_anchor():
    box = [torch.tensor([[20.0, 20.0, 44.0, 44.0]])]
    targets = encode_targets(box, [torch.tensor([2])], ANCHORS, 8, 64)
    pred = target_logits(targets, 3)
    row, col, anchor = (targets[0, ..., 4] > 0).nonzero()[0].tolist()
    other = (anchor + 1) % 3
    pred[0, row, col, other, :4] = pred[0, row, col, anchor, :4] + torch.tensor([0.05, 0.0, 0.0, 0.0])
    pred[0, row, col, other, 2:4] += torch.log(ANCHORS[anchor] / ANCHORS[other])  # same size, other anchor
    pred[0, row, col, other, 4] = 2.0
    pred[0, row, col, other, 5:] = pred[0, row, col, anchor, 5:]
    assert len(decode_predictions(pred, ANCHORS, 64, apply_nms=False)[0]["boxes"]) == 2
    kept = decode_predictions(pred, ANCHORS, 64)[0]
    assert len(kept["boxes"]) == 1 and kept["scores"][0] > 0.999 and kept["labels"].tolist() == [2]


def test_per_class_decoding_scores_every_class_of_a_slot():
    box = [torch.tensor([[20.0, 20.0, 44.0, 44.0]])]
    targets = encode_targets(box, [torch.tensor([2])], ANCHORS, 8, 64)
    pred = target_logits(targets, 3)
    row, col, anchor = (targets[0, ..., 4] > 0).nonzero()[0].tolist()
    pred[0, row, col, anchor, 5:] = torch.log(torch.tensor([0.3, 0.1, 0.6]))  # class probabilities 0.3, 0.1, 0.6
    every = decode_predictions(pred, ANCHORS, 64, score_threshold=0.05)[0]
    best = decode_predictions(pred, ANCHORS, 64, score_threshold=0.05, per_class=False)[0]
    # each class's copy of the box is its own detection: NMS runs within a class, so none suppresses another
    assert every["labels"].tolist() == [2, 0, 1] and torch.allclose(every["scores"], torch.tensor([0.6, 0.3, 0.1]), atol=1e-4)
    assert torch.equal(every["boxes"][0], every["boxes"][1]) and torch.equal(every["boxes"][0], best["boxes"][0])
    assert best["labels"].tolist() == [2] and float(best["scores"][0]) == pytest.approx(0.6, abs=1e-4)
    assert len(decode_predictions(pred, ANCHORS, 64, score_threshold=0.2)[0]["boxes"]) == 2


def test_loss_decreases_on_a_tiny_batch():
    torch.manual_seed(0)
    images, boxes, labels = toy_scenes(8)
    targets = encode_targets(boxes, labels, ANCHORS, 8, 64)
    model = small_yolo()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = yolo_loss(model(images), targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]  # reaches 0.05-0.06 of the start (seeds 0-2)
    model.eval()
    with torch.no_grad():
        detections = decode_predictions(model(images), model.anchors, 64, score_threshold=0.05)
    truth = [{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels)]
    assert mean_average_precision(detections, truth) > 0.6  # 0.76-0.89 over seeds 0-2, BN in eval mode


def test_loss_without_objects_is_objectness_only():
    pred = torch.zeros(2, 8, 8, 3, 8, requires_grad=True)
    targets = encode_targets([torch.zeros(0, 4)] * 2, [torch.zeros(0, dtype=torch.long)] * 2, ANCHORS, 8, 64)
    loss, parts = yolo_loss(pred, targets, return_parts=True)
    assert parts["xy"] == parts["wh"] == parts["class"] == 0.0
    # logit 0 on 192 empty anchors: BCE log 2 each, times noobj_weight 0.5 (the default)
    assert loss.item() == pytest.approx(0.5 * 8 * 8 * 3 * torch.log(torch.tensor(2.0)).item(), rel=1e-5)
    assert yolo_loss(pred, targets, noobj_weight=1.0).item() == pytest.approx(2 * loss.item(), rel=1e-6)
    loss.backward()
    assert pred.grad is not None


def test_yolo_bad_input():
    model = small_yolo()
    with pytest.raises(ValueError, match="64x64"):
        model(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match="channels"):
        model(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match="multiple of 8"):
        YOLO(image_size=60)
    with pytest.raises(ValueError, match="anchors"):
        YOLO(anchors=[(10, -1)])
    with pytest.raises(ValueError, match="num_classes"):
        YOLO(num_classes=0)
    with pytest.raises(ValueError, match="widths"):
        YOLO(widths=())
    with pytest.raises(ValueError, match="head map"):
        reshape_head_output(torch.randn(1, 20, 8, 8), 3, 3)
    pred = torch.zeros(1, 8, 8, 3, 8)
    with pytest.raises(ValueError, match="targets must have shape"):
        yolo_loss(pred, torch.zeros(1, 8, 8, 2, 6))
    with pytest.raises(ValueError, match="pred must have shape"):
        yolo_loss(torch.zeros(8, 8, 3, 8), torch.zeros(8, 8, 3, 6))
    with pytest.raises(ValueError, match="anchors must have shape"):
        decode_predictions(pred, torch.ones(2, 2), 64)
    with pytest.raises(ValueError, match="score_threshold"):
        decode_predictions(pred, ANCHORS, 64, score_threshold=-0.1)
    with pytest.raises(ValueError, match="max_detections"):
        decode_predictions(pred, ANCHORS, 64, max_detections=0)
    with pytest.raises(ValueError, match="per_class"):
        decode_predictions(pred, ANCHORS, 64, per_class="yes")
    with pytest.raises(ValueError, match="targets must have shape"):
        target_logits(torch.zeros(1, 8, 8, 3, 5), 3)


def test_yolo_can_be_drawn():
    from cnnbook.diagram import network_graph

    graph = network_graph(small_yolo(), (3, 64, 64))
    assert graph is not None


def test_scene_anchors_are_the_kmeans_anchors_of_the_pages_training_scenes():
    from cnnbook.data import make_scenes
    from cnnbook.detection import box_xyxy_to_cxcywh, kmeans_anchors
    from cnnbook.models.yolo import SCENE_ANCHORS
    train = make_scenes(1000, 64, seed=1)
    fitted = kmeans_anchors(box_xyxy_to_cxcywh(torch.cat(train.boxes))[:, 2:], 3)
    assert torch.allclose(fitted, torch.tensor(SCENE_ANCHORS), atol=0.051)


def test_yolo_loss_module_codes_the_boxes_of_each_batch_as_encode_targets_does():
    from cnnbook.models.yolo import YOLOLoss
    _, boxes, labels = toy_scenes(3)
    pred = torch.randn(3, 8, 8, 3, 8)
    criterion = YOLOLoss(ANCHORS, 64, box_weight=2.0, noobj_weight=0.25)
    targets = [{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels)]
    expected = yolo_loss(pred, encode_targets(boxes, labels, ANCHORS, 8, 64), 2.0, 0.25)
    assert torch.allclose(criterion(pred, targets), expected)
    perfect = target_logits(encode_targets(boxes, labels, ANCHORS, 8, 64), 3)
    assert criterion(perfect, targets).item() < 0.01
    with pytest.raises(ValueError, match="expected 3 targets"):
        criterion(pred, targets[:2])
    with pytest.raises(ValueError, match="anchors must be"):
        YOLOLoss(torch.zeros(2, 3), 64)
    with pytest.raises(ValueError, match="box_weight"):
        YOLOLoss(ANCHORS, 64, box_weight=-1.0)
    with pytest.raises(ValueError, match="image_size"):
        YOLOLoss(ANCHORS, 0)


def test_window_detector_maps_each_cells_window_linearly_or_through_an_mlp():
    from cnnbook.models.yolo import WindowDetector
    linear = WindowDetector(3, ANCHORS, 64)
    mlp = WindowDetector(3, ANCHORS, 64, hidden=16)
    x = torch.randn(2, 3, 64, 64)
    assert linear(x).shape == mlp(x).shape == (2, 8, 8, 3, 8)
    assert sum(p.numel() for p in linear.parameters()) == 3 * 24 * 24 * 24 + 24
    assert sum(p.numel() for p in mlp.parameters()) == 3 * 24 * 24 * 16 + 16 + 16 * 24 + 24
    # linear: the outputs of a cell depend only on its 24 px window (cell (0, 0): pixels 0..15 with the padding)
    y = x.clone()
    y[:, :, 40:, 40:] += 1.0
    assert torch.equal(linear(x)[:, 0, 0], linear(y)[:, 0, 0]) and not torch.equal(linear(x)[:, 7, 7], linear(y)[:, 7, 7])
    with pytest.raises(ValueError, match="window"):
        WindowDetector(3, ANCHORS, 64, window=23)
    with pytest.raises(ValueError, match="hidden"):
        WindowDetector(3, ANCHORS, 64, hidden=0)
    with pytest.raises(ValueError, match="anchors"):
        WindowDetector(3, torch.ones(3), 64)
    with pytest.raises(ValueError, match="WindowDetector"):
        linear(torch.randn(1, 3, 32, 32))


def test_yolo_loss_module_codes_each_image_once_and_again_after_an_in_place_change():
    from cnnbook.models.yolo import YOLOLoss
    _, boxes, labels = toy_scenes(2)
    targets = [{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels)]
    criterion = YOLOLoss(ANCHORS, 64)
    pred = torch.randn(2, 8, 8, 3, 8)
    first = criterion(pred, targets)
    assert len(criterion._coded) == 2 and torch.equal(criterion(pred, targets), first) and len(criterion._coded) == 2
    boxes[0][:, [0, 2]] = 64 - boxes[0][:, [2, 0]]  # mirrored in place: coded anew
    expected = yolo_loss(pred, encode_targets(boxes, labels, ANCHORS, 8, 64))
    assert torch.allclose(criterion(pred, targets), expected) and len(criterion._coded) == 3
