"""Object-detection toolkit of chapter 14: boxes, IoU, NMS, anchors, YOLO target coding and mAP.

Every box is a float tensor row ``(x1, y1, x2, y2)`` in pixels ("xyxy": top-left and bottom-right
corners, x to the right, y down) unless a function says otherwise; ``(cx, cy, w, h)`` ("cxcywh") is the
centre and size. ``box_iou``, ``nms`` and ``batched_nms`` give the same results as ``torchvision.ops``;
``mean_average_precision`` takes torchmetrics' input format and, with ``interpolation="coco101"``, equals
pycocotools' COCO evaluation (tests/test_detection.py checks both, and torchmetrics within 0.01), as does
``coco_average_precision`` (AP@[.5:.95]). ``classify_detections`` sorts one image's errors by kind (after TIDE)
on top of the same matching, and ``focal_loss`` equals ``torchvision.ops.sigmoid_focal_loss``.

YOLO target coding (YOLOv2/v3, Redmon & Farhadi 2017, 2018). The image is cut into an S x S grid of
cells of ``cell = image_size / S`` pixels; each cell has A anchors, prior box sizes ``(p_w, p_h)`` in
pixels. The box whose centre falls in cell (row, col) is the job of that cell's anchor whose shape
fits it best, and the network outputs four raw numbers ``(t_x, t_y, t_w, t_h)`` for it::

    b_x = (col + sigmoid(t_x)) * cell      # the sigmoid keeps the centre inside its own cell
    b_y = (row + sigmoid(t_y)) * cell
    b_w = p_w * exp(t_w)                   # exp keeps the size positive; t_w = 0 means "the anchor's width"
    b_h = p_h * exp(t_h)

``encode_targets`` runs these equations backwards (offset -> logit, size ratio -> log), ``decode_boxes``
forwards, so ``decode(encode(box)) == box``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

INTERPOLATIONS = ("all", "coco101", "voc11")


# --------------------------------------------------------------------------------------------- checks
def _check_boxes(boxes: Tensor, name: str = "boxes") -> None:
    """Raise ValueError unless ``boxes`` is a finite float (K, 4) xyxy tensor with x2 >= x1 and y2 >= y1."""
    if not isinstance(boxes, Tensor):
        raise ValueError(f"{name} must be a tensor of shape (K, 4), got {type(boxes).__name__}")
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must have shape (K, 4) (x1, y1, x2, y2), got {tuple(boxes.shape)}")
    if not boxes.is_floating_point():
        raise ValueError(f"{name} must be a float tensor, got {boxes.dtype}")
    if not torch.isfinite(boxes).all():
        raise ValueError(f"{name} contains inf or nan")
    bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bad.any():
        i = int(bad.nonzero()[0])
        raise ValueError(
            f"{name}[{i}] = {boxes[i].tolist()} is not (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1"
        )


def _check_vector(values: Tensor, length: int, name: str, boxes_name: str = "boxes") -> None:
    if not isinstance(values, Tensor) or values.dim() != 1 or values.shape[0] != length:
        shape = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
        raise ValueError(f"{name} must have shape ({length},) (one per row of {boxes_name}), got {shape}")


def _check_threshold(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


# ---------------------------------------------------------------------------------- formats and IoU
def box_xyxy_to_cxcywh(boxes: Tensor) -> Tensor:
    """Corners (x1, y1, x2, y2) -> centre and size (cx, cy, w, h); works on any (..., 4) tensor."""
    if not isinstance(boxes, Tensor) or boxes.shape[-1:] != (4,):
        raise ValueError(f"boxes must have shape (..., 4), got {getattr(boxes, 'shape', type(boxes))}")
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=-1)


def box_cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    """Centre and size (cx, cy, w, h) -> corners (x1, y1, x2, y2); works on any (..., 4) tensor."""
    if not isinstance(boxes, Tensor) or boxes.shape[-1:] != (4,):
        raise ValueError(f"boxes must have shape (..., 4), got {getattr(boxes, 'shape', type(boxes))}")
    cx, cy, w, h = boxes.unbind(-1)
    if (w < 0).any() or (h < 0).any():
        raise ValueError("boxes in (cx, cy, w, h) must have w >= 0 and h >= 0")
    return torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), dim=-1)


def box_area(boxes: Tensor) -> Tensor:
    """Area of each xyxy box, shape (K,)."""
    _check_boxes(boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Intersection over union of every pair: an (N, M) matrix for (N, 4) and (M, 4) xyxy boxes.

    The intersection is the box between the larger top-left and the smaller bottom-right corner
    (empty, area 0, when they cross); union = area1 + area2 - intersection.
    """
    _check_boxes(boxes1, "boxes1")
    _check_boxes(boxes2, "boxes2")
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    return inter / (area1[:, None] + area2[None, :] - inter)


def wh_iou(wh1: Tensor, wh2: Tensor) -> Tensor:
    """IoU of box *shapes* (w, h) placed on a common centre: (N, 2), (M, 2) -> (N, M). Anchors use it."""
    for name, wh in (("wh1", wh1), ("wh2", wh2)):
        if not isinstance(wh, Tensor) or wh.dim() != 2 or wh.shape[1] != 2:
            raise ValueError(f"{name} must have shape (K, 2) (w, h), got {getattr(wh, 'shape', type(wh))}")
        if (wh <= 0).any():
            raise ValueError(f"{name} must hold widths and heights > 0")
    inter = torch.minimum(wh1[:, None, 0], wh2[None, :, 0]) * torch.minimum(wh1[:, None, 1], wh2[None, :, 1])
    area1 = wh1[:, 0] * wh1[:, 1]
    area2 = wh2[:, 0] * wh2[:, 1]
    return inter / (area1[:, None] + area2[None, :] - inter)


# --------------------------------------------------------------------------------------------- NMS
def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression; returns the kept indices, highest score first (as torchvision).

    Repeat: keep the best remaining box, drop every remaining box whose IoU with it is > ``iou_threshold``.
    Equal scores keep their input order (a stable sort).
    """
    _check_boxes(boxes)
    _check_vector(scores, boxes.shape[0], "scores")
    _check_threshold(iou_threshold, "iou_threshold")
    order = torch.sort(scores, descending=True, stable=True).indices
    iou = box_iou(boxes, boxes)
    suppressed = torch.zeros(boxes.shape[0], dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """NMS within each category of ``idxs`` (boxes of different classes never suppress each other).

    Returns the kept indices sorted by decreasing score, ties in input order (as torchvision's).
    """
    _check_boxes(boxes)
    _check_vector(scores, boxes.shape[0], "scores")
    _check_vector(idxs, boxes.shape[0], "idxs")
    _check_threshold(iou_threshold, "iou_threshold")
    keep = [torch.nonzero(idxs == c).flatten()[nms(boxes[idxs == c], scores[idxs == c], iou_threshold)]
            for c in torch.unique(idxs)]
    if not keep:
        return torch.zeros(0, dtype=torch.int64)
    keep = torch.cat(keep).sort().values  # input order first, so the stable sort below breaks ties by index
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]


# ----------------------------------------------------------------------------------------- anchors
def kmeans_anchors(boxes_wh: Tensor, k: int, iterations: int = 100, seed: int = 0, restarts: int = 5) -> Tensor:
    """k anchor shapes (k, 2) from k-means on box sizes with distance 1 - IoU, sorted by area.

    YOLOv2's recipe: Euclidean k-means on (w, h) lets big boxes dominate the error, while 1 - IoU treats a
    2-pixel miss on a small box as worse than on a large one. Each of ``restarts`` runs starts k-means++
    style (next centre drawn with probability ~ distance^2, from a generator seeded with ``seed``), then
    alternates "assign each box to the anchor it overlaps most" and "move each anchor to its boxes' mean"
    until nothing changes; the run with the best mean IoU (``mean_best_iou``) wins.
    """
    if not isinstance(boxes_wh, Tensor) or boxes_wh.dim() != 2 or boxes_wh.shape[1] != 2:
        raise ValueError(f"boxes_wh must have shape (K, 2) (w, h), got {getattr(boxes_wh, 'shape', boxes_wh)}")
    for name, value in (("k", k), ("iterations", iterations), ("restarts", restarts)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if boxes_wh.shape[0] < k:
        raise ValueError(f"need at least k = {k} boxes, got {boxes_wh.shape[0]}")
    wh = boxes_wh.double()
    if (wh <= 0).any() or not torch.isfinite(wh).all():
        raise ValueError("boxes_wh must hold finite widths and heights > 0")
    gen = torch.Generator().manual_seed(seed)
    best, best_fit = None, -1.0
    for _ in range(restarts):
        centres = _kmeans_once(wh, k, iterations, gen)
        fit = mean_best_iou(wh, centres)
        if fit > best_fit + 1e-12:
            best, best_fit = centres, fit
    order = (best[:, 0] * best[:, 1]).argsort()
    return best[order].to(boxes_wh.dtype if boxes_wh.is_floating_point() else torch.float32)


def _kmeans_once(wh: Tensor, k: int, iterations: int, gen: torch.Generator) -> Tensor:
    centres = wh[torch.randint(len(wh), (1,), generator=gen)]
    while len(centres) < k:  # k-means++ start
        dist = (1 - wh_iou(wh, centres)).min(dim=1).values ** 2
        if dist.sum() <= 0:
            raise ValueError(f"boxes_wh holds fewer than k = {k} distinct shapes")
        centres = torch.cat((centres, wh[torch.multinomial(dist, 1, generator=gen)]))
    assign = None
    for _ in range(iterations):
        new_assign = wh_iou(wh, centres).argmax(dim=1)
        if assign is not None and torch.equal(new_assign, assign):
            break
        assign = new_assign
        for j in range(k):
            if (assign == j).any():  # an empty cluster keeps its old centre
                centres[j] = wh[assign == j].mean(dim=0)
    return centres


def mean_best_iou(boxes_wh: Tensor, anchors: Tensor) -> float:
    """Average over boxes of the IoU with their best anchor: how well a set of anchors fits the data."""
    return float(wh_iou(boxes_wh.double(), anchors.double()).max(dim=1).values.mean())


# ------------------------------------------------------------------------------------ YOLO coding
def _check_grid(anchors: Tensor, grid_size: int, image_size: int) -> None:
    if isinstance(grid_size, bool) or not isinstance(grid_size, int) or grid_size < 1:
        raise ValueError(f"grid_size must be an integer >= 1, got {grid_size!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, (int, float)) or image_size <= 0:
        raise ValueError(f"image_size must be a number > 0, got {image_size!r}")
    if not isinstance(anchors, Tensor) or anchors.dim() != 2 or anchors.shape[1] != 2 or (anchors <= 0).any():
        raise ValueError(f"anchors must be a (A, 2) tensor of widths and heights > 0, got "
                         f"{getattr(anchors, 'shape', anchors)}")


def encode_targets(
    boxes: Sequence[Tensor],
    labels: Sequence[Tensor],
    anchors: Tensor,
    grid_size: int,
    image_size: float,
    eps: float = 1e-6,
) -> Tensor:
    """Training targets (N, S, S, A, 6): per anchor (t_x, t_y, t_w, t_h, objectness, class).

    For each xyxy box of image n: its centre picks the cell (row, col), the anchor of best shape IoU
    (``wh_iou``) is made responsible, and that slot gets the raw numbers the network should output:
    ``t_x = logit(cx / cell - col)`` (the offset, clamped to [eps, 1 - eps] so the logit is finite),
    ``t_w = log(w / p_w)``, objectness 1 and the class index. All other slots are zero with class -1.
    If two boxes claim the same slot, the later one wins: ``out[..., 4].sum()`` below the number of boxes
    counts such collisions.
    """
    _check_grid(anchors, grid_size, image_size)
    if len(boxes) != len(labels):
        raise ValueError(f"boxes and labels must have one entry per image, got {len(boxes)} and {len(labels)}")
    n, a = len(boxes), anchors.shape[0]
    out = torch.zeros(n, grid_size, grid_size, a, 6)
    out[..., 5] = -1
    cell = image_size / grid_size
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        _check_boxes(b, f"boxes[{i}]")
        _check_vector(lab, b.shape[0], f"labels[{i}]", f"boxes[{i}]")
        if len(b) == 0:
            continue
        if lab.is_floating_point() or (lab < 0).any():
            raise ValueError(f"labels[{i}] must hold integer class indices >= 0, got {lab.tolist()}")
        if (b[:, 0] < 0).any() or (b[:, 1] < 0).any() or (b[:, 2] > image_size).any() or (b[:, 3] > image_size).any():
            raise ValueError(f"boxes[{i}] must lie inside the {image_size} px image")
        cxcywh = box_xyxy_to_cxcywh(b.float())
        if (cxcywh[:, 2:] <= 0).any():
            raise ValueError(f"boxes[{i}] has a box of zero width or height")
        gx, gy = cxcywh[:, 0] / cell, cxcywh[:, 1] / cell
        col = gx.floor().clamp(max=grid_size - 1)
        row = gy.floor().clamp(max=grid_size - 1)
        best = wh_iou(cxcywh[:, 2:], anchors.float()).argmax(dim=1)
        t = torch.stack((
            torch.logit((gx - col).clamp(eps, 1 - eps)),
            torch.logit((gy - row).clamp(eps, 1 - eps)),
            torch.log(cxcywh[:, 2] / anchors[best, 0].float()),
            torch.log(cxcywh[:, 3] / anchors[best, 1].float()),
        ), dim=1)
        row, col = row.long(), col.long()
        slot = (row * grid_size + col) * a + best
        last = ~(slot[:, None] == slot[None, :]).triu(1).any(dim=1)  # no later box takes the same slot
        values = torch.cat((t, torch.ones(len(b), 1), lab[:, None].float()), dim=1)
        out[i, row[last], col[last], best[last]] = values[last]
    return out


def decode_boxes(t: Tensor, anchors: Tensor, image_size: float) -> Tensor:
    """Raw (..., S, S, A, 4) outputs (t_x, t_y, t_w, t_h) -> xyxy boxes in pixels, same leading shape.

    ``b_x = (col + sigmoid(t_x)) * cell``, ``b_w = p_w * exp(t_w)`` (and the same for y, h), where
    col / row are the cell's indices in the S x S grid and (p_w, p_h) the slot's anchor.
    """
    if not isinstance(t, Tensor) or t.dim() < 4 or t.shape[-1] != 4 or t.shape[-4] != t.shape[-3]:
        raise ValueError(f"t must have shape (..., S, S, A, 4), got {getattr(t, 'shape', t)}")
    s, a = t.shape[-4], t.shape[-2]
    _check_grid(anchors, s, image_size)
    if anchors.shape[0] != a:
        raise ValueError(f"t has {a} anchors per cell but anchors has {anchors.shape[0]}")
    cell = image_size / s
    idx = torch.arange(s, dtype=t.dtype, device=t.device)
    col = idx.view(1, s, 1)   # varies along the width axis (dim -3)
    row = idx.view(s, 1, 1)   # varies along the height axis (dim -4)
    anchors = anchors.to(t)
    cx = (col + torch.sigmoid(t[..., 0])) * cell
    cy = (row + torch.sigmoid(t[..., 1])) * cell
    w = anchors[:, 0] * torch.exp(t[..., 2])
    h = anchors[:, 1] * torch.exp(t[..., 3])
    return box_cxcywh_to_xyxy(torch.stack((cx, cy, w, h), dim=-1))


# ------------------------------------------------------------------------------------------- mAP
def _check_detections(preds: Sequence[Mapping[str, Tensor]], targets: Sequence[Mapping[str, Tensor]]) -> None:
    if not isinstance(preds, Sequence) or not isinstance(targets, Sequence):
        raise ValueError("preds and targets must be lists of dicts (one per image)")
    if len(preds) != len(targets):
        raise ValueError(f"preds and targets must have one dict per image, got {len(preds)} and {len(targets)}")
    for i, (p, t) in enumerate(zip(preds, targets)):
        for d, keys, name in ((p, ("boxes", "scores", "labels"), "preds"), (t, ("boxes", "labels"), "targets")):
            if not isinstance(d, Mapping) or any(k not in d for k in keys):
                raise ValueError(f"{name}[{i}] must be a dict with keys {keys}")
        _check_boxes(p["boxes"], f"preds[{i}]['boxes']")
        _check_vector(p["scores"], len(p["boxes"]), f"preds[{i}]['scores']", f"preds[{i}]['boxes']")
        _check_vector(p["labels"], len(p["boxes"]), f"preds[{i}]['labels']", f"preds[{i}]['boxes']")
        _check_boxes(t["boxes"], f"targets[{i}]['boxes']")
        _check_vector(t["labels"], len(t["boxes"]), f"targets[{i}]['labels']", f"targets[{i}]['boxes']")


def _greedy_match(boxes: Tensor, gt: Tensor, iou_thresholds: Sequence[float]) -> list[list[int]]:
    """For score-sorted detections of one class in one image: per threshold, the true box each claims, or -1."""
    if not (len(gt) and len(boxes)):
        return [[-1] * len(boxes) for _ in iou_thresholds]
    iou = box_iou(boxes, gt).tolist()  # plain Python: these matrices are small and the loop is sequential
    result = []
    for threshold in iou_thresholds:
        taken, claimed = [False] * len(gt), []
        for row in iou:
            best, best_iou = -1, -1.0
            for j, value in enumerate(row):  # the untaken box of highest IoU, the first one on ties
                if not taken[j] and value > best_iou:
                    best, best_iou = j, value
            if best >= 0 and best_iou >= threshold:
                taken[best] = True
                claimed.append(best)
            else:
                claimed.append(-1)
        result.append(claimed)
    return result


def _match_class(
    preds: Sequence[Mapping[str, Tensor]],
    targets: Sequence[Mapping[str, Tensor]],
    label: int,
    iou_thresholds: Sequence[float],
    max_detections: int,
) -> tuple[Tensor, Tensor, int]:
    """``match_detections`` at several thresholds at once: (scores (D,), is_tp (T, D), n_gt); IoUs computed once."""
    all_scores, all_tp, n_gt = [], [], 0
    for p, t in zip(preds, targets):
        gt = t["boxes"][t["labels"] == label].double()
        n_gt += len(gt)
        mine = p["labels"] == label
        boxes, scores = p["boxes"][mine].double(), p["scores"][mine].double()
        order = torch.sort(scores, descending=True, stable=True).indices[:max_detections]
        boxes, scores = boxes[order], scores[order]
        claimed = torch.tensor(_greedy_match(boxes, gt, iou_thresholds), dtype=torch.int64)
        all_scores.append(scores)
        all_tp.append(claimed.view(len(iou_thresholds), len(boxes)) >= 0)
    scores = torch.cat(all_scores) if all_scores else torch.zeros(0, dtype=torch.float64)
    tp = torch.cat(all_tp, dim=1) if all_tp else torch.zeros(len(iou_thresholds), 0, dtype=torch.bool)
    order = torch.sort(scores, descending=True, stable=True).indices
    return scores[order], tp[:, order], n_gt


def match_detections(
    preds: Sequence[Mapping[str, Tensor]],
    targets: Sequence[Mapping[str, Tensor]],
    label: int,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> tuple[Tensor, Tensor, int]:
    """Greedy matching of one class: (scores, is_true_positive, number of ground-truth boxes).

    In each image the class's detections (best ``max_detections`` by score) are visited from the highest
    score down; each takes the unmatched ground-truth box it overlaps most if that IoU is >= the threshold
    (a true positive), else it is a false positive (a miss or a duplicate). The scores and flags of all
    images are returned sorted by score, highest first (ties: image order, then score order), as COCO does.
    """
    _check_detections(preds, targets)
    _check_threshold(iou_threshold, "iou_threshold")
    scores, tp, n_gt = _match_class(preds, targets, label, [iou_threshold], max_detections)
    return scores, tp[0], n_gt


def precision_recall(is_tp: Tensor, n_gt: int) -> tuple[Tensor, Tensor]:
    """Precision and recall after each detection of a score-sorted list of true/false positives."""
    if n_gt < 1:
        raise ValueError(f"recall needs at least one ground-truth box, got n_gt = {n_gt}")
    tp = torch.cumsum(is_tp.double(), 0)
    fp = torch.cumsum((~is_tp).double(), 0)
    return tp / (tp + fp), tp / n_gt


def average_precision(precision: Tensor, recall: Tensor, interpolation: str = "all") -> float:
    """Area under an interpolated precision-recall curve (recall non-decreasing, as from ``precision_recall``).

    First the curve is made monotone: the precision at recall r becomes the best precision at any recall
    >= r. Then ``"all"`` (PASCAL VOC 2010+) sums that envelope over every recall step;
    ``"coco101"`` (COCO, and torchmetrics) averages it at the 101 recalls 0, 0.01, ..., 1 (the first point
    reaching each, 0 beyond the last recall); ``"voc11"`` (VOC 2007) averages it at 0, 0.1, ..., 1.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    if precision.shape != recall.shape or precision.dim() != 1:
        raise ValueError(f"precision and recall must be 1-D of one length, got {tuple(precision.shape)} "
                         f"and {tuple(recall.shape)}")
    if len(recall) == 0:
        return 0.0
    envelope = torch.flip(torch.cummax(torch.flip(precision.double(), [0]), 0).values, [0])
    recall = recall.double()
    if interpolation == "all":
        steps = torch.diff(recall, prepend=recall.new_zeros(1))
        return float((steps * envelope).sum())
    # i * step, as numpy.linspace (and so COCO) computes it: 35 * 0.01 is a hair above 0.35 = 14 / 40, and
    # torch.linspace rounds differently, which would pick another point of the curve at such ties.
    step = 0.01 if interpolation == "coco101" else 0.1
    points = torch.arange(round(1 / step) + 1, dtype=torch.float64) * step
    idx = torch.searchsorted(recall, points, side="left")
    reached = idx < len(recall)
    sampled = torch.zeros_like(points)
    sampled[reached] = envelope[idx[reached]]
    return float(sampled.mean())


def average_precision_per_class(
    preds: Sequence[Mapping[str, Tensor]],
    targets: Sequence[Mapping[str, Tensor]],
    iou_threshold: float = 0.5,
    interpolation: str = "all",
    max_detections: int = 100,
) -> dict[int, float]:
    """AP of every class that has at least one ground-truth box (classes only predicted are left out, as COCO)."""
    _check_detections(preds, targets)
    classes = sorted({int(c) for t in targets for c in t["labels"]})
    result = {}
    for c in classes:
        _, is_tp, n_gt = match_detections(preds, targets, c, iou_threshold, max_detections)
        precision, recall = precision_recall(is_tp, n_gt)
        result[c] = average_precision(precision, recall, interpolation)
    return result


def mean_average_precision(
    preds: Sequence[Mapping[str, Tensor]],
    targets: Sequence[Mapping[str, Tensor]],
    iou_threshold: float = 0.5,
    interpolation: str = "all",
    max_detections: int = 100,
) -> float:
    """mAP at one IoU threshold in torchmetrics' format; nan when no image has a ground-truth box.

    ``preds``: one dict per image with "boxes" (K, 4) xyxy, "scores" (K,), "labels" (K,); ``targets``:
    "boxes" and "labels". Per class: match (``match_detections``), precision-recall curve, AP
    (``average_precision``); then the mean over classes with ground truth. ``interpolation="coco101"``
    gives exactly pycocotools' ``AP50``; torchmetrics' ``MeanAveragePrecision(iou_thresholds=[0.5])``
    builds its 101 recall points with torch.linspace, so it can differ by a few 0.001 where a recall lands
    exactly on a point. The default ``"all"`` is the exact area under the envelope (usually within ~0.01).
    ``max_detections`` caps the detections per image and class (COCO's maxDets = 100).
    """
    per_class = average_precision_per_class(preds, targets, iou_threshold, interpolation, max_detections)
    if not per_class:
        return math.nan
    return sum(per_class.values()) / len(per_class)


# COCO's ten IoU thresholds 0.50, 0.55, ..., 0.95, computed as numpy.linspace(0.5, 0.95, 10) does.
COCO_IOU_THRESHOLDS = tuple(i * ((0.95 - 0.5) / 9) + 0.5 for i in range(10))


def coco_average_precision(
    preds: Sequence[Mapping[str, Tensor]],
    targets: Sequence[Mapping[str, Tensor]],
    iou_thresholds: Sequence[float] = COCO_IOU_THRESHOLDS,
    interpolation: str = "coco101",
    max_detections: int = 100,
) -> float:
    """COCO's "AP", AP@[.5:.95]: ``mean_average_precision`` averaged over the IoU thresholds 0.50:0.05:0.95.

    A box must be placed ever more tightly to count at the higher thresholds, so this rewards localisation
    that mAP@0.5 ignores. With the defaults it equals pycocotools' ``stats[0]`` (area "all", maxDets 100).
    """
    if isinstance(iou_thresholds, (str, bytes)) or not isinstance(iou_thresholds, Sequence) or not iou_thresholds:
        raise ValueError(f"iou_thresholds must be a non-empty sequence of numbers in [0, 1], got {iou_thresholds!r}")
    for t in iou_thresholds:
        _check_threshold(t, "each of iou_thresholds")
    _check_detections(preds, targets)
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    classes = sorted({int(c) for t in targets for c in t["labels"]})
    if not classes:
        return math.nan
    total = 0.0
    for c in classes:
        _, is_tp, n_gt = _match_class(preds, targets, c, list(iou_thresholds), max_detections)
        for row in is_tp:  # one row per threshold
            total += average_precision(*precision_recall(row, n_gt), interpolation)
    return total / (len(classes) * len(iou_thresholds))


ERROR_KINDS = ("duplicate", "wrong class", "bad localisation", "false alarm", "missed")


def classify_detections(
    pred: Mapping[str, Tensor],
    target: Mapping[str, Tensor],
    score_threshold: float = 0.5,
    iou_threshold: float = 0.5,
    background_iou: float = 0.1,
    max_detections: int = 100,
) -> list[tuple[str, Tensor, int]]:
    """One image's detections with score >= ``score_threshold``, and its missed boxes: [(kind, box, label)].

    Class by class, the greedy matching of ``match_detections`` picks the "true positive"s, so they are
    exactly the ones mAP counts. Every other detection is then, first rule that applies (after TIDE,
    Bolya et al. 2020): a "duplicate" (IoU >= ``iou_threshold`` with a box of its class that a true positive
    took), a "wrong class" (IoU >= ``iou_threshold`` with a box of another class), "bad localisation" (best
    IoU with any box in [``background_iou``, ``iou_threshold``)), else a "false alarm". A true box that no
    true positive took is "missed" unless a wrong-class or badly placed detection is nearest to it, so each
    object is blamed once. Detections come in score order, the missed boxes last.
    """
    _check_detections([pred], [target])
    for value, name in ((score_threshold, "score_threshold"), (iou_threshold, "iou_threshold"),
                        (background_iou, "background_iou")):
        _check_threshold(value, name)
    if background_iou > iou_threshold:
        raise ValueError(f"background_iou must be <= iou_threshold, got {background_iou} > {iou_threshold}")
    if isinstance(max_detections, bool) or not isinstance(max_detections, int) or max_detections < 1:
        raise ValueError(f"max_detections must be an integer >= 1, got {max_detections!r}")
    gt_boxes, gt_labels = target["boxes"].double(), target["labels"]
    keep = pred["scores"] >= score_threshold
    boxes, scores, labels = pred["boxes"][keep].double(), pred["scores"][keep], pred["labels"][keep]
    # the detections mAP sees, in the order it visits them: per class, by score, at most max_detections
    visited, claimed = [], []
    taken = torch.zeros(len(gt_boxes), dtype=torch.bool)
    for c in torch.unique(labels).tolist():
        mine = torch.nonzero(labels == c).flatten()
        mine = mine[torch.sort(scores[mine], descending=True, stable=True).indices][:max_detections]
        gt_index = torch.nonzero(gt_labels == c).flatten()
        match = torch.tensor(_greedy_match(boxes[mine], gt_boxes[gt_index], [iou_threshold])[0], dtype=torch.int64)
        visited.append(mine)
        hit = match >= 0
        claimed.append(torch.full_like(match, -1))
        claimed[-1][hit] = gt_index[match[hit]]
        taken[gt_index[match[hit]]] = True
    if not visited:
        visited, claimed = [torch.zeros(0, dtype=torch.int64)], [torch.zeros(0, dtype=torch.int64)]
    visited, claimed = torch.cat(visited), torch.cat(claimed)
    order = torch.sort(scores[visited], descending=True, stable=True).indices
    visited, claimed = visited[order], claimed[order]
    iou = box_iou(boxes[visited], gt_boxes) if len(gt_boxes) else torch.zeros(len(visited), 0, dtype=torch.float64)
    found, blamed = [], torch.zeros(len(gt_boxes), dtype=torch.bool)
    for row, (d, j) in enumerate(zip(visited.tolist(), claimed.tolist())):
        box, label = pred["boxes"][keep][d], int(labels[d])
        if j >= 0:
            found.append(("true positive", box, label))
            continue
        same = gt_labels == label
        same_iou = iou[row].masked_fill(~same, -1.0)
        other_iou = iou[row].masked_fill(same, -1.0)
        if len(gt_boxes) and same_iou.max() >= iou_threshold:
            kind = "duplicate"  # greedy matching left it nothing: the box it overlaps is taken
        elif len(gt_boxes) and other_iou.max() >= iou_threshold:
            kind = "wrong class"
            blamed[int(other_iou.argmax())] = True
        elif len(gt_boxes) and iou[row].max() >= background_iou:
            kind = "bad localisation"
            blamed[int(iou[row].argmax())] = True
        else:
            kind = "false alarm"
        found.append((kind, box, label))
    found += [("missed", target["boxes"][j], int(gt_labels[j])) for j in range(len(gt_boxes))
              if not taken[j] and not blamed[j]]
    return found


REDUCTIONS = ("none", "mean", "sum")


def focal_loss(
    logits: Tensor,
    targets: Tensor,
    gamma: float = 2.0,
    alpha: float | None = 0.25,
    reduction: str = "none",
) -> Tensor:
    """Binary focal loss (RetinaNet, Lin et al. 2017): ``-alpha_t (1 - p_t)^gamma log p_t`` per element.

    p_t is the predicted probability of the true label (sigmoid(logit) for a 1, one minus it for a 0), so
    well-classified examples (p_t near 1) are down-weighted; ``gamma = 0`` and ``alpha = None`` give plain
    binary cross-entropy. Equals ``torchvision.ops.sigmoid_focal_loss`` (which writes alpha < 0 for None).
    """
    if not isinstance(logits, Tensor) or not isinstance(targets, Tensor) or logits.shape != targets.shape:
        raise ValueError(f"logits and targets must be tensors of one shape, got "
                         f"{getattr(logits, 'shape', type(logits).__name__)} and "
                         f"{getattr(targets, 'shape', type(targets).__name__)}")
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or gamma < 0:
        raise ValueError(f"gamma must be a number >= 0, got {gamma!r}")
    if alpha is not None:
        _check_threshold(alpha, "alpha")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    targets = targets.to(logits.dtype)
    p = torch.sigmoid(logits)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# ------------------------------------------------------------------------------------ data for fit
class BoxDataset(torch.utils.data.Dataset):
    """Images with their boxes: item i is ``(image, {"boxes": (k, 4) xyxy, "labels": (k,)})``.

    The targets differ in length from image to image, so a DataLoader must batch them with ``collate_boxes``
    (``fit(..., collate_fn=collate_boxes)``).
    """

    def __init__(self, images: Tensor, boxes: Sequence[Tensor], labels: Sequence[Tensor]) -> None:
        if not isinstance(images, Tensor) or images.dim() != 4:
            raise ValueError(f"images must be a (N, C, H, W) tensor, got {getattr(images, 'shape', type(images))}")
        if len(boxes) != len(images) or len(labels) != len(images):
            raise ValueError(f"need one entry of boxes and labels per image: {len(images)} images, {len(boxes)} "
                             f"boxes, {len(labels)} labels")
        for i, (b, lab) in enumerate(zip(boxes, labels)):
            _check_boxes(b, f"boxes[{i}]")
            _check_vector(lab, b.shape[0], f"labels[{i}]", f"boxes[{i}]")
        self.images, self.boxes, self.labels = images, list(boxes), list(labels)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Tensor]]:
        return self.images[index], {"boxes": self.boxes[index], "labels": self.labels[index]}

    def targets(self) -> list[dict[str, Tensor]]:
        """Every image's ``{"boxes", "labels"}``, in order (the format of ``mean_average_precision``)."""
        return [{"boxes": b, "labels": lab} for b, lab in zip(self.boxes, self.labels)]


def collate_boxes(batch: Sequence[tuple[Tensor, Mapping[str, Tensor]]]) -> tuple[Tensor, list[dict[str, Tensor]]]:
    """Batch ``BoxDataset`` items: the images stacked into one tensor, the targets kept as a list of dicts."""
    if not batch:
        raise ValueError("collate_boxes got an empty batch")
    if any(not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[1], Mapping)
           for item in batch):
        raise ValueError("collate_boxes expects (image, {'boxes': ..., 'labels': ...}) pairs")
    return torch.stack([item[0] for item in batch]), [dict(item[1]) for item in batch]
