import contextlib
import io
import math
import warnings

import numpy as np
import pytest
import torch
import torchvision

from cnnbook.detection import (
    BoxDataset,
    collate_boxes,
    average_precision,
    average_precision_per_class,
    batched_nms,
    box_area,
    box_cxcywh_to_xyxy,
    box_iou,
    box_xyxy_to_cxcywh,
    classify_detections,
    coco_average_precision,
    decode_boxes,
    encode_targets,
    focal_loss,
    kmeans_anchors,
    match_detections,
    mean_average_precision,
    mean_best_iou,
    nms,
    precision_recall,
    wh_iou,
)
from cnnbook.detection import COCO_IOU_THRESHOLDS


def random_boxes(n, gen, size=64.0):
    wh = torch.rand(n, 2, generator=gen) * size / 2 + 1
    xy = torch.rand(n, 2, generator=gen) * (size - wh)
    return torch.cat((xy, xy + wh), dim=1)


# ----------------------------------------------------------------------------- formats, IoU, NMS
def test_box_conversions_round_trip_and_known_values():
    box = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    assert torch.equal(box_xyxy_to_cxcywh(box), torch.tensor([[20.0, 40.0, 20.0, 40.0]]))
    gen = torch.Generator().manual_seed(0)
    boxes = random_boxes(50, gen)
    assert torch.allclose(box_cxcywh_to_xyxy(box_xyxy_to_cxcywh(boxes)), boxes, atol=1e-5)
    assert torch.allclose(box_xyxy_to_cxcywh(boxes), torchvision.ops.box_convert(boxes, "xyxy", "cxcywh"))
    assert torch.allclose(box_area(boxes), torchvision.ops.box_area(boxes))


@pytest.mark.parametrize("n, m", [(0, 3), (3, 0), (1, 1), (40, 30)])
def test_box_iou_equals_torchvision(n, m):
    gen = torch.Generator().manual_seed(n + m)
    a, b = random_boxes(n, gen), random_boxes(m, gen)
    ours = box_iou(a, b)
    assert ours.shape == (n, m)
    assert torch.allclose(ours, torchvision.ops.box_iou(a, b), atol=1e-6)


def test_box_iou_known_values():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 6.0, 6.0], [2.0, 0.0, 4.0, 2.0]])
    assert torch.allclose(box_iou(a, b), torch.tensor([[1 / 7, 1.0, 0.0, 0.0]]))


@pytest.mark.parametrize("n", [0, 1, 2, 30, 300])
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.9])
def test_nms_and_batched_nms_equal_torchvision_incl_ties(n, threshold):
    gen = torch.Generator().manual_seed(n)
    boxes = random_boxes(n, gen)
    for scores in (torch.rand(n, generator=gen), torch.randint(0, 4, (n,), generator=gen).float()):  # ties
        assert torch.equal(nms(boxes, scores, threshold), torchvision.ops.nms(boxes, scores, threshold))
        idxs = torch.randint(0, 3, (n,), generator=gen)
        assert torch.equal(batched_nms(boxes, scores, idxs, threshold),
                           torchvision.ops.batched_nms(boxes, scores, idxs, threshold))


def test_nms_keeps_separate_boxes_and_drops_duplicates():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]])
    assert nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]
    assert batched_nms(boxes, torch.tensor([0.9, 0.8, 0.7]), torch.tensor([0, 1, 0]), 0.5).tolist() == [0, 1, 2]


def test_boxes_bad_input():
    good = torch.tensor([[0.0, 0, 1, 1]])
    with pytest.raises(ValueError, match="x2 >= x1"):
        box_iou(torch.tensor([[5.0, 0, 1, 1]]), good)
    with pytest.raises(ValueError, match=r"\(K, 4\)"):
        box_iou(torch.zeros(3, 5), good)
    with pytest.raises(ValueError, match="float"):
        box_iou(torch.zeros(1, 4, dtype=torch.long), good)
    with pytest.raises(ValueError, match="scores"):
        nms(good, torch.tensor([0.5, 0.4]), 0.5)
    with pytest.raises(ValueError, match="iou_threshold"):
        nms(good, torch.tensor([0.5]), 1.5)
    with pytest.raises(ValueError, match="idxs"):
        batched_nms(good, torch.tensor([0.5]), torch.tensor([0, 1]), 0.5)
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        box_xyxy_to_cxcywh(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="w >= 0"):
        box_cxcywh_to_xyxy(torch.tensor([[0.0, 0, -1, 1]]))


# --------------------------------------------------------------------------------------- anchors
def clustered_wh(gen, centres, per_cluster=60, spread=0.05):
    wh = [torch.tensor(c) * (1 + spread * torch.randn(per_cluster, 2, generator=gen)) for c in centres]
    return torch.cat(wh)


def test_kmeans_anchors_finds_known_clusters_deterministically():
    gen = torch.Generator().manual_seed(0)
    centres = [(8.0, 8.0), (30.0, 12.0), (14.0, 40.0)]
    wh = clustered_wh(gen, centres)
    anchors = kmeans_anchors(wh, 3, seed=0)
    assert anchors.shape == (3, 2)
    expected = torch.tensor(sorted(centres, key=lambda c: c[0] * c[1]))
    assert torch.allclose(anchors, expected, rtol=0.03)
    for seed in (1, 2, 3):
        assert torch.allclose(kmeans_anchors(wh, 3, seed=seed), anchors, rtol=1e-4)
    assert torch.equal(kmeans_anchors(wh, 3, seed=0), anchors)
    assert mean_best_iou(wh, anchors) > 0.85
    assert mean_best_iou(wh, anchors) > mean_best_iou(wh, kmeans_anchors(wh, 1)) + 0.2
    # areas increase
    area = anchors.prod(dim=1)
    assert (area[1:] > area[:-1]).all()


def test_wh_iou_and_kmeans_bad_input():
    assert torch.allclose(wh_iou(torch.tensor([[2.0, 2.0]]), torch.tensor([[1.0, 4.0]])), torch.tensor([[2 / 6]]))
    with pytest.raises(ValueError, match="k must"):
        kmeans_anchors(torch.ones(5, 2), 0)
    with pytest.raises(ValueError, match="at least k"):
        kmeans_anchors(torch.ones(2, 2), 3)
    with pytest.raises(ValueError, match="distinct"):
        kmeans_anchors(torch.ones(5, 2), 2)
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        kmeans_anchors(torch.ones(5, 3), 2)
    with pytest.raises(ValueError, match="> 0"):
        kmeans_anchors(torch.tensor([[1.0, 1.0], [0.0, 2.0]]), 1)


# ----------------------------------------------------------------------------------- YOLO coding
ANCHORS = torch.tensor([[10.0, 10.0], [20.0, 30.0], [40.0, 40.0]])


def test_encode_then_decode_gives_the_boxes_back():
    gen = torch.Generator().manual_seed(0)
    boxes = [random_boxes(4, gen), random_boxes(1, gen), torch.zeros(0, 4)]
    labels = [torch.tensor([0, 1, 2, 1]), torch.tensor([2]), torch.zeros(0, dtype=torch.long)]
    t = encode_targets(boxes, labels, ANCHORS, grid_size=8, image_size=64)
    assert t.shape == (3, 8, 8, 3, 6)
    decoded = decode_boxes(t[..., :4], ANCHORS, 64)
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        pos = t[i, ..., 4] > 0.5
        assert int(pos.sum()) == len(b)  # no two of these boxes share a slot
        got, got_lab = decoded[i][pos], t[i][pos][:, 5].long()
        # match decoded to original boxes (slot order is not box order)
        for box, label in zip(b, lab):
            j = int(box_iou(box[None], got).argmax())
            assert torch.allclose(got[j], box, atol=1e-3) and got_lab[j] == label
    assert (t[2, ..., 4] == 0).all() and (t[2, ..., 5] == -1).all()


def test_encoding_convention_known_box():
    # a 16 x 32 box centred at (20, 44) on an 8 x 8 grid of 8 px cells: cell (row 5, col 2), offsets (0.5, 0.5)
    box = torch.tensor([[12.0, 28.0, 28.0, 60.0]])
    t = encode_targets([box], [torch.tensor([1])], ANCHORS, 8, 64)
    slot = t[0, 5, 2, 1]  # anchor 1 (20 x 30) fits a 16 x 32 box best
    assert slot[4] == 1 and slot[5] == 1
    assert torch.allclose(slot[:2], torch.zeros(2), atol=1e-6)  # logit(0.5) = 0
    assert torch.allclose(slot[2:4], torch.log(torch.tensor([16 / 20, 32 / 30])))
    assert int((t[..., 4] > 0).sum()) == 1


def test_encode_two_boxes_in_one_slot_later_wins():
    a = torch.tensor([[10.0, 10.0, 20.0, 20.0]])
    b = torch.tensor([[11.0, 11.0, 19.0, 19.0]])  # same cell (1, 1), same anchor
    t = encode_targets([torch.cat((a, b))], [torch.tensor([0, 2])], ANCHORS, 8, 64)
    assert int((t[..., 4] > 0).sum()) == 1 and t[..., 5].max() == 2


def test_coding_bad_input():
    box = [torch.tensor([[0.0, 0, 10, 10]])]
    lab = [torch.tensor([0])]
    with pytest.raises(ValueError, match="grid_size"):
        encode_targets(box, lab, ANCHORS, 0, 64)
    with pytest.raises(ValueError, match="anchors"):
        encode_targets(box, lab, torch.ones(3), 8, 64)
    with pytest.raises(ValueError, match="one entry per image"):
        encode_targets(box, [], ANCHORS, 8, 64)
    with pytest.raises(ValueError, match="inside"):
        encode_targets([torch.tensor([[0.0, 0, 70, 10]])], lab, ANCHORS, 8, 64)
    with pytest.raises(ValueError, match="x2 >= x1"):
        encode_targets([torch.tensor([[9.0, 0, 1, 10]])], lab, ANCHORS, 8, 64)
    with pytest.raises(ValueError, match="labels"):
        encode_targets(box, [torch.tensor([0, 1])], ANCHORS, 8, 64)
    with pytest.raises(ValueError, match="class indices"):
        encode_targets(box, [torch.tensor([-1])], ANCHORS, 8, 64)
    with pytest.raises(ValueError, match="anchors per cell"):
        decode_boxes(torch.zeros(1, 8, 8, 2, 4), ANCHORS, 64)
    with pytest.raises(ValueError, match=r"\(\.\.\., S, S, A, 4\)"):
        decode_boxes(torch.zeros(1, 8, 4, 3, 4), ANCHORS, 64)


# ------------------------------------------------------------------------------------------- mAP
def random_scene(gen, n_images, num_classes=3, jitter=3.0):
    """Targets, and predictions = jittered targets (some dropped) + random false positives."""
    preds, targets = [], []
    for _ in range(n_images):
        k = int(torch.randint(0, 6, (1,), generator=gen))
        boxes = random_boxes(k, gen)
        labels = torch.randint(0, num_classes, (k,), generator=gen)
        kept = torch.rand(k, generator=gen) < 0.85
        moved = boxes[kept] + torch.randn(int(kept.sum()), 4, generator=gen) * jitter
        moved = torch.cat((moved[:, :2].minimum(moved[:, 2:]), moved[:, :2].maximum(moved[:, 2:])), dim=1)
        extra = random_boxes(int(torch.randint(0, 4, (1,), generator=gen)), gen)
        p_boxes = torch.cat((moved, extra))
        p_labels = torch.cat((labels[kept], torch.randint(0, num_classes, (len(extra),), generator=gen)))
        preds.append({"boxes": p_boxes, "scores": torch.rand(len(p_boxes), generator=gen), "labels": p_labels})
        targets.append({"boxes": boxes, "labels": labels})
    return preds, targets


def torchmetrics_map50(preds, targets):
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(iou_thresholds=[0.5], backend="pycocotools")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metric.update(preds, targets)
        return float(metric.compute()["map"])


def _cocoeval(preds, targets, num_classes, iou_thresholds=None):
    """COCOeval run directly on the book's boxes (maxDets 100, area 'all'), evaluated and accumulated."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    anns, dets = [], []
    for i, (p, t) in enumerate(zip(preds, targets)):
        for b, lab in zip(t["boxes"].tolist(), t["labels"].tolist()):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": lab, "iscrowd": 0,
                         "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": (b[2] - b[0]) * (b[3] - b[1])})
        for b, lab, s in zip(p["boxes"].tolist(), p["labels"].tolist(), p["scores"].tolist()):
            dets.append({"image_id": i, "category_id": lab, "score": s, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})
    gt = COCO()
    gt.dataset = {"images": [{"id": i} for i in range(len(targets))], "annotations": anns,
                  "categories": [{"id": c} for c in range(num_classes)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        evaluation = COCOeval(gt, gt.loadRes(dets), "bbox")
        if iou_thresholds is not None:
            evaluation.params.iouThrs = np.array(iou_thresholds)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


def pycocotools_ap50(preds, targets, num_classes=3):
    """COCOeval run directly (maxDets 100, area 'all', IoU 0.5): per-class AP50 mean."""
    evaluation = _cocoeval(preds, targets, num_classes, iou_thresholds=[0.5])
    precision = evaluation.eval["precision"][0, :, :, 0, -1]  # (recall points, classes), area all, maxDets 100
    aps = [precision[:, c].mean() for c in range(num_classes) if (precision[:, c] > -1).all()]
    return float(np.mean(aps))


@pytest.mark.parametrize("seed", range(6))
def test_map_equals_coco_and_torchmetrics_on_random_scenes(seed):
    gen = torch.Generator().manual_seed(seed)
    preds, targets = random_scene(gen, 30)
    ours101 = mean_average_precision(preds, targets, interpolation="coco101")
    assert ours101 == pytest.approx(pycocotools_ap50(preds, targets), abs=1e-6)
    reference = torchmetrics_map50(preds, targets)
    assert ours101 == pytest.approx(reference, abs=0.01)
    assert mean_average_precision(preds, targets) == pytest.approx(reference, abs=0.01)  # all-point


def crafted_cases():
    box = torch.tensor([[10.0, 10.0, 30.0, 30.0]])
    far = torch.tensor([[40.0, 40.0, 60.0, 60.0]])
    one = torch.tensor([1])
    perfect = ([{"boxes": box, "scores": torch.tensor([0.9]), "labels": one}], [{"boxes": box, "labels": one}])
    duplicate = ([{"boxes": torch.cat((box, box + 1)), "scores": torch.tensor([0.9, 0.8]), "labels": torch.tensor([1, 1])}],
                 [{"boxes": box, "labels": one}])
    wrong_class = ([{"boxes": box, "scores": torch.tensor([0.9]), "labels": torch.tensor([2])}],
                   [{"boxes": box, "labels": one}])
    missed = ([{"boxes": far, "scores": torch.tensor([0.9]), "labels": one},
               {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.long)}],
              [{"boxes": box, "labels": one}, {"boxes": far, "labels": one}])
    fp_first = ([{"boxes": torch.cat((far, box)), "scores": torch.tensor([0.9, 0.5]), "labels": torch.tensor([1, 1])}],
                [{"boxes": box, "labels": one}])
    return {"perfect": (perfect, 1.0), "duplicate": (duplicate, 1.0), "wrong_class": (wrong_class, 0.0),
            "missed": (missed, 0.0), "fp_first": (fp_first, 0.5)}


@pytest.mark.parametrize("name", list(crafted_cases()))
def test_map_crafted_cases(name):
    (preds, targets), expected = crafted_cases()[name]
    assert mean_average_precision(preds, targets) == pytest.approx(expected, abs=1e-9)
    assert mean_average_precision(preds, targets, interpolation="coco101") == pytest.approx(
        torchmetrics_map50(preds, targets), abs=0.01)


def test_precision_recall_and_interpolations_by_hand():
    # detections: TP, FP, TP, FP, of 3 ground-truth boxes
    precision, recall = precision_recall(torch.tensor([True, False, True, False]), 3)
    assert torch.allclose(precision, torch.tensor([1, 1 / 2, 2 / 3, 2 / 4], dtype=torch.float64))
    assert torch.allclose(recall, torch.tensor([1 / 3, 1 / 3, 2 / 3, 2 / 3], dtype=torch.float64))
    # envelope: 1 up to recall 1/3, 2/3 up to 2/3, nothing beyond
    assert average_precision(precision, recall, "all") == pytest.approx(1 / 3 + (1 / 3) * (2 / 3))
    coco = (34 * 1 + 33 * (2 / 3)) / 101  # recall points 0..0.33 -> 1, 0.34..0.66 -> 2/3, rest 0
    assert average_precision(precision, recall, "coco101") == pytest.approx(coco)
    assert average_precision(precision, recall, "voc11") == pytest.approx((4 * 1 + 3 * (2 / 3)) / 11)


def test_match_detections_sorts_and_matches_greedily():
    gt = torch.tensor([[0.0, 0, 10, 10]])
    preds = [{"boxes": torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 9]]), "scores": torch.tensor([0.3, 0.8]),
              "labels": torch.tensor([0, 0])}]
    scores, is_tp, n_gt = match_detections(preds, [{"boxes": gt, "labels": torch.tensor([0])}], 0)
    assert scores.tolist() == pytest.approx([0.8, 0.3]) and is_tp.tolist() == [True, False] and n_gt == 1


def test_map_per_class_and_no_ground_truth():
    (preds, targets), _ = crafted_cases()["wrong_class"]
    assert average_precision_per_class(preds, targets) == {1: 0.0}  # class 2 only predicted: left out
    empty = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]
    assert math.isnan(mean_average_precision(preds, empty))


def test_map_bad_input():
    (preds, targets), _ = crafted_cases()["perfect"]
    with pytest.raises(ValueError, match="one dict per image"):
        mean_average_precision([], targets)
    with pytest.raises(ValueError, match="one dict per image"):
        mean_average_precision(preds, targets * 2)
    with pytest.raises(ValueError, match="keys"):
        mean_average_precision([{"boxes": torch.zeros(0, 4)}], targets)
    bad = [{"boxes": torch.tensor([[30.0, 10, 10, 30]]), "scores": torch.tensor([0.9]), "labels": torch.tensor([1])}]
    with pytest.raises(ValueError, match="x2 >= x1"):
        mean_average_precision(bad, targets)
    short = [{"boxes": torch.zeros(2, 4), "scores": torch.tensor([0.9]), "labels": torch.tensor([1, 1])}]
    with pytest.raises(ValueError, match="scores"):
        mean_average_precision(short, targets)
    with pytest.raises(ValueError, match="interpolation"):
        mean_average_precision(preds, targets, interpolation="voc12")
    with pytest.raises(ValueError, match="iou_threshold"):
        mean_average_precision(preds, targets, iou_threshold=2)
    with pytest.raises(ValueError, match="n_gt"):
        precision_recall(torch.tensor([True]), 0)


# ------------------------------------------------------------------------------ COCO AP@[.5:.95]
def pycocotools_ap(preds, targets, num_classes=3):
    """COCOeval's stats[0]: AP averaged over IoU 0.50:0.05:0.95, area 'all', maxDets 100."""
    evaluation = _cocoeval(preds, targets, num_classes)
    return float(evaluation.stats[0])


def test_coco_ap_by_hand():
    # one true box, one detection of IoU 72 / 100 = 0.72: a true positive at 0.50, 0.55, 0.60, 0.65, 0.70
    # (AP 1), a miss plus a false positive at 0.75 ... 0.95 (AP 0): the mean over ten thresholds is 0.5
    gt = [{"boxes": torch.tensor([[0.0, 0, 10, 10]]), "labels": torch.tensor([0])}]
    pred = [{"boxes": torch.tensor([[0.0, 0, 10, 7.2]]), "scores": torch.tensor([0.9]), "labels": torch.tensor([0])}]
    assert coco_average_precision(pred, gt) == pytest.approx(0.5, abs=1e-12)
    assert mean_average_precision(pred, gt, 0.5, "coco101") == 1.0
    assert coco_average_precision(pred, gt, iou_thresholds=[0.7, 0.75]) == pytest.approx(0.5)
    assert COCO_IOU_THRESHOLDS == pytest.approx(tuple(np.linspace(0.5, 0.95, 10)), abs=0)


@pytest.mark.parametrize("seed", range(4))
def test_coco_ap_equals_pycocotools_and_brute_force(seed):
    gen = torch.Generator().manual_seed(100 + seed)
    preds, targets = random_scene(gen, 30, jitter=1.5)
    ours = coco_average_precision(preds, targets)
    assert ours == pytest.approx(pycocotools_ap(preds, targets), abs=1e-6)
    brute = np.mean([mean_average_precision(preds, targets, float(t), "coco101") for t in np.linspace(0.5, 0.95, 10)])
    assert ours == pytest.approx(brute, abs=1e-12)
    assert ours < mean_average_precision(preds, targets, 0.5, "coco101")  # stricter thresholds find fewer


def test_coco_ap_bad_input():
    (preds, targets), _ = crafted_cases()["perfect"]
    for bad in ([], "0.5", [0.5, 1.5], 0.5):
        with pytest.raises(ValueError, match="iou_thresholds"):
            coco_average_precision(preds, targets, iou_thresholds=bad)
    with pytest.raises(ValueError, match="interpolation"):
        coco_average_precision(preds, targets, interpolation="voc12")


# ------------------------------------------------------------------------------- error analysis
def test_classify_detections_true_positives_equal_the_map_matching():
    for seed in range(5):
        gen = torch.Generator().manual_seed(200 + seed)
        preds, targets = random_scene(gen, 40, jitter=4.0)
        # extra wrong-class copies above the right ones: the case a class-blind matching gets wrong
        for p in preds:
            wrong = (p["labels"] + 1) % 3
            p["boxes"], p["labels"] = torch.cat((p["boxes"], p["boxes"])), torch.cat((p["labels"], wrong))
            p["scores"] = torch.cat((p["scores"], torch.rand(len(wrong), generator=gen)))
        for iou_threshold, score_threshold in ((0.5, 0.0), (0.5, 0.4), (0.7, 0.3)):
            mine = sum(kind == "true positive"
                       for p, t in zip(preds, targets)
                       for kind, _, _ in classify_detections(p, t, score_threshold, iou_threshold))
            by_map = 0
            for c in range(3):
                scores, is_tp, _ = match_detections(preds, targets, c, iou_threshold)
                by_map += int((is_tp & (scores >= score_threshold)).sum())
            assert mine == by_map


def test_classify_detections_kinds():
    gt = {"boxes": torch.tensor([[0.0, 0, 20, 20], [40, 40, 60, 60], [0, 40, 20, 60], [40, 0, 60, 20]]),
          "labels": torch.tensor([0, 1, 2, 0])}
    pred = {"boxes": torch.tensor([[0.0, 0, 20, 20],     # class 1 on a class-0 box, best score: wrong class
                                   [0, 0, 20, 19],       # class 0 below it: still the true positive
                                   [1, 0, 20, 20],       # class 0 again: duplicate
                                   [40, 40, 52, 52],     # class 1, IoU 0.36: bad localisation
                                   [25, 25, 35, 35]]),   # near nothing: false alarm
            "scores": torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5]), "labels": torch.tensor([1, 0, 0, 1, 2])}
    kinds = [kind for kind, _, _ in classify_detections(pred, gt, score_threshold=0.1)]
    # box 1 (class 1) is blamed on the bad localisation, box 2 and 3 were never detected: missed
    assert kinds == ["wrong class", "true positive", "duplicate", "bad localisation", "false alarm", "missed", "missed"]
    found = classify_detections(pred, gt, score_threshold=0.1)
    assert [label for _, _, label in found[-2:]] == [2, 0] and torch.equal(found[-1][1], gt["boxes"][3])
    assert [k for k, _, _ in classify_detections(pred, gt, score_threshold=0.75)] == ["wrong class", "true positive",
                                                                                       "missed", "missed", "missed"]
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    assert [k for k, _, _ in classify_detections(pred, empty, 0.0)] == ["false alarm"] * 5
    none = {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.long)}
    assert [k for k, _, _ in classify_detections(none, gt)] == ["missed"] * 4


def test_classify_detections_bad_input():
    (preds, targets), _ = crafted_cases()["perfect"]
    with pytest.raises(ValueError, match="score_threshold"):
        classify_detections(preds[0], targets[0], score_threshold=1.5)
    with pytest.raises(ValueError, match="background_iou"):
        classify_detections(preds[0], targets[0], background_iou=0.6)
    with pytest.raises(ValueError, match="max_detections"):
        classify_detections(preds[0], targets[0], max_detections=0)
    with pytest.raises(ValueError, match="keys"):
        classify_detections({"boxes": torch.zeros(0, 4)}, targets[0])


# ------------------------------------------------------------------------------------ focal loss
def test_focal_loss_equals_torchvision_and_bce():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 11, generator=gen) * 4
    targets = (torch.rand(7, 11, generator=gen) < 0.2).float()
    for gamma, alpha in ((2.0, 0.25), (0.0, 0.5), (1.5, None), (3, 0.9)):
        for reduction in ("none", "mean", "sum"):
            ours = focal_loss(logits, targets, gamma, alpha, reduction)
            theirs = torchvision.ops.sigmoid_focal_loss(logits, targets, -1 if alpha is None else alpha, gamma, reduction)
            assert torch.allclose(ours, theirs, atol=1e-6)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    assert torch.allclose(focal_loss(logits, targets, 0, None), bce)
    # an easy example (p_t = 0.9) keeps (1 - 0.9)^2 = 1 % of its cross-entropy, a hard one (p_t = 0.1) 81 %
    easy_hard = focal_loss(torch.tensor([math.log(9), math.log(9)]), torch.tensor([1.0, 0.0]), 2, None)
    assert torch.allclose(easy_hard / torch.tensor([math.log(1 / 0.9), math.log(1 / 0.1)]),
                          torch.tensor([0.01, 0.81]), atol=1e-6)


def test_focal_loss_bad_input():
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="one shape"):
        focal_loss(x, torch.zeros(4))
    with pytest.raises(ValueError, match="gamma"):
        focal_loss(x, x, gamma=-1)
    with pytest.raises(ValueError, match="alpha"):
        focal_loss(x, x, alpha=1.5)
    with pytest.raises(ValueError, match="reduction"):
        focal_loss(x, x, reduction="max")


# ------------------------------------------------------------------ BoxDataset, collate_boxes and fit
def _toy_box_data(n=48, seed=0):
    """Bright squares on black, one or two per image, of class 0 (red) or 1 (green)."""
    g = torch.Generator().manual_seed(seed)
    images = torch.zeros(n, 3, 32, 32)
    boxes, labels = [], []
    for i in range(n):
        k = int(torch.randint(1, 3, (1,), generator=g))
        corner = torch.randint(0, 20, (k, 2), generator=g).float()
        b = torch.cat((corner, corner + 12), dim=1)
        lab = torch.randint(0, 2, (k,), generator=g)
        for box, c in zip(b.long().tolist(), lab.tolist()):
            images[i, c, box[1]:box[3], box[0]:box[2]] = 1.0
        boxes.append(b)
        labels.append(lab)
    return BoxDataset(images, boxes, labels)


def test_box_dataset_and_collate_boxes_keep_each_images_boxes():
    data = _toy_box_data(5)
    image, target = data[2]
    assert image.shape == (3, 32, 32) and torch.equal(target["boxes"], data.boxes[2]) and len(data) == 5
    images, targets = collate_boxes([data[i] for i in range(4)])
    assert images.shape == (4, 3, 32, 32) and [len(t["boxes"]) for t in targets] == [len(b) for b in data.boxes[:4]]
    assert data.targets()[1]["labels"] is data.labels[1]
    with pytest.raises(ValueError, match="one entry of boxes and labels per image"):
        BoxDataset(torch.zeros(2, 3, 8, 8), [torch.zeros(0, 4)], [torch.zeros(0, dtype=torch.long)])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        BoxDataset(torch.zeros(3, 8, 8), [], [])
    with pytest.raises(ValueError, match="labels"):
        BoxDataset(torch.zeros(1, 3, 8, 8), [torch.zeros(1, 4)], [torch.zeros(2, dtype=torch.long)])
    with pytest.raises(ValueError, match="empty batch"):
        collate_boxes([])
    with pytest.raises(ValueError, match="pairs"):
        collate_boxes([(torch.zeros(3, 8, 8), torch.zeros(4))])


def test_fit_trains_and_scores_a_detector_on_box_targets_with_collate_and_predict_hooks():
    from functools import partial

    from cnnbook.models.yolo import YOLO, YOLOLoss, decode_predictions
    from cnnbook.train import evaluate, fit
    anchors = torch.tensor([[12.0, 12.0]])
    data = _toy_box_data(64)
    hooks = dict(loss_fn=YOLOLoss(anchors, 32), score_fn=mean_average_precision, collate_fn=collate_boxes,
                 predict_fn=partial(decode_predictions, anchors=anchors, image_size=32, score_threshold=0.05))
    torch.manual_seed(0)
    model = YOLO(2, anchors, image_size=32, widths=(8, 16, 16))
    history = fit(model, data, data, epochs=6, lr=0.02, batch_size=16, scheduler="onecycle", device="cpu",
                  progress=False, **hooks)
    loss, score = evaluate(model, data, "cpu", **hooks)
    assert score == history.val_acc[-1] and history.val_acc[-1] > history.val_acc[0] and score > 0.5
    assert history.train_loss[-1] < history.train_loss[0] and 0 <= min(history.train_acc) <= max(history.train_acc) <= 1
    quiet = fit(YOLO(2, anchors, image_size=32, widths=(8, 16, 16)), data, epochs=1, batch_size=16, device="cpu",
                progress=False, score_train=False, **hooks)
    assert math.isnan(quiet.train_acc[0]) and not quiet.val_acc
    with pytest.raises(ValueError, match="need a score_fn"):
        fit(model, data, epochs=1, device="cpu", progress=False, loss_fn=hooks["loss_fn"], collate_fn=collate_boxes)
    with pytest.raises(ValueError, match="collate_fn must be callable"):
        fit(model, data, epochs=1, device="cpu", progress=False, collate_fn=3)
    with pytest.raises(ValueError, match="score_train"):
        fit(model, data, epochs=1, device="cpu", progress=False, score_train=1, **hooks)
