"""A small YOLO-style detector for the 64 px scenes of chapter 14 (after YOLOv2/v3, Redmon & Farhadi 2017, 2018).

A backbone of Conv-BN-ReLU blocks and 2x2 max-pools shrinks the image to an S x S grid (64 px -> 8 x 8,
one cell per 8 px); a head of one 3x3 block and a 1x1 convolution predicts, for each cell and each of A
anchors, 5 + C numbers: (t_x, t_y, t_w, t_h, objectness, class scores). The target coding lives in
``cnnbook.detection`` (``encode_targets``, ``decode_boxes``); this module adds the model, the reshaping of
its output, the loss and the decoding into boxes.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnbook.detection import batched_nms, decode_boxes, encode_targets
from cnnbook.models._checks import check_counts, check_images
from cnnbook.models.mobilenet import ConvNormAct

torch.fx.wrap("check_images")

# Anchor shapes (w, h) in pixels for the 64 px scenes; chapter 14 fits its own with kmeans_anchors.
DEFAULT_ANCHORS = ((14.0, 14.0), (24.0, 24.0), (36.0, 36.0))
SCENE_ANCHORS = ((15.3, 15.5), (20.4, 20.2), (25.7, 25.7))
"""k-means anchors (k = 3, distance 1 - IoU) of 1,000 training scenes at 64 px (make_scenes seed 1), to 0.1 px."""


def reshape_head_output(x: Tensor, num_anchors: int, num_classes: int) -> Tensor:
    """Head map (N, A * (5 + C), S, S) -> (N, S, S, A, 5 + C), so ``out[n, row, col, a]`` is one anchor's guess.

    The convolution stacks the anchors along channels, anchor by anchor: channels 0 .. 4 + C belong to
    anchor 0, the next 5 + C to anchor 1, and so on. ``view`` splits the channels into (A, 5 + C) and
    ``permute`` moves the grid first; each anchor's vector is (t_x, t_y, t_w, t_h, objectness, C class logits).
    """
    check_counts(num_anchors=num_anchors, num_classes=num_classes)
    depth = 5 + num_classes
    if x.dim() != 4 or x.shape[1] != num_anchors * depth or x.shape[2] != x.shape[3]:
        raise ValueError(f"expected a head map (N, {num_anchors} * {depth} = {num_anchors * depth}, S, S), "
                         f"got {tuple(x.shape)}")
    n, _, s, _ = x.shape
    return x.reshape(n, num_anchors, depth, s, s).permute(0, 3, 4, 1, 2)  # reshape: a channels-last map has no view


torch.fx.wrap("reshape_head_output")  # one leaf call in a traced graph (its shape checks are Python control flow)


class YOLO(nn.Module):
    """``features`` (Conv-BN-ReLU blocks, a 2x2 max-pool between them) -> ``head`` -> (N, S, S, A, 5 + C).

    ``widths`` are the blocks' channels: k widths give k - 1 poolings, so S = image_size / 2^(k - 1).
    ``anchors`` (A pairs (w, h) in pixels) are kept as a buffer and saved with the weights.
    """

    def __init__(
        self,
        num_classes: int = 3,
        anchors: Sequence[Sequence[float]] | Tensor = DEFAULT_ANCHORS,
        in_channels: int = 3,
        image_size: int = 64,
        widths: Sequence[int] = (16, 32, 64, 128),
    ) -> None:
        super().__init__()
        check_counts(num_classes=num_classes, in_channels=in_channels, image_size=image_size)
        widths = tuple(widths)
        if not widths:
            raise ValueError("widths must name at least one block")
        check_counts(**{f"widths[{i}]": w for i, w in enumerate(widths)})
        anchors = torch.as_tensor(anchors, dtype=torch.float32, device="cpu")
        if anchors.dim() != 2 or anchors.shape[1] != 2 or len(anchors) < 1 or (anchors <= 0).any():
            raise ValueError(f"anchors must be (w, h) pairs > 0, shape (A, 2), got {tuple(anchors.shape)}")
        self.stride = 2 ** (len(widths) - 1)
        if image_size % self.stride:
            raise ValueError(f"image_size must be a multiple of {self.stride} ({len(widths) - 1} poolings), "
                             f"got {image_size}")
        self.num_classes = num_classes
        self.num_anchors = len(anchors)
        self.in_channels = in_channels
        self.image_size = image_size
        self.grid_size = image_size // self.stride
        self.register_buffer("anchors", anchors)
        layers: list[nn.Module] = []
        prev = in_channels
        for i, width in enumerate(widths):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            layers.append(ConvNormAct(prev, width, 3))
            prev = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            ConvNormAct(prev, prev, 3),
            nn.Conv2d(prev, self.num_anchors * (5 + num_classes), 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.in_channels, self.image_size, "YOLO", exact=True)
        x = self.head(self.features(x))
        return reshape_head_output(x, self.num_anchors, self.num_classes)


def small_yolo(
    num_classes: int = 3,
    anchors: Sequence[Sequence[float]] | Tensor = DEFAULT_ANCHORS,
    image_size: int = 64,
    **kwargs,
) -> YOLO:
    """The chapter's detector: 4 blocks (16-32-64-128 channels), 8 x 8 grid at 64 px, 3 anchors by default."""
    return YOLO(num_classes=num_classes, anchors=anchors, image_size=image_size, **kwargs)


def _check_pred(pred: Tensor, name: str = "pred") -> None:
    if not isinstance(pred, Tensor) or pred.dim() != 5 or pred.shape[1] != pred.shape[2] or pred.shape[-1] < 6:
        raise ValueError(f"{name} must have shape (N, S, S, A, 5 + C) with C >= 1, got "
                         f"{getattr(pred, 'shape', type(pred).__name__)}")


def yolo_loss(
    pred: Tensor,
    targets: Tensor,
    box_weight: float = 5.0,
    noobj_weight: float = 0.5,
    return_parts: bool = False,
) -> Tensor | tuple[Tensor, dict[str, float]]:
    """YOLO loss of raw outputs (N, S, S, A, 5 + C) against ``encode_targets`` (N, S, S, A, 6), per image.

    objectness: binary cross-entropy on every anchor (empty ones weighted by ``noobj_weight``: YOLOv1's 0.5,
    as the many empty anchors would otherwise drown the few with objects);
    on the responsible anchors only: squared error of the centre offsets sigmoid(t_x), sigmoid(t_y) and of
    the log-sizes t_w, t_h (weighted by ``box_weight``), and cross-entropy of the class.
    ``return_parts=True`` also returns the four terms as floats.
    """
    _check_pred(pred)
    if not isinstance(targets, Tensor) or targets.shape != (*pred.shape[:-1], 6):
        raise ValueError(f"targets must have shape {(*pred.shape[:-1], 6)} (from encode_targets), got "
                         f"{getattr(targets, 'shape', type(targets).__name__)}")
    n = pred.shape[0]
    obj = targets[..., 4]
    pos = obj > 0.5
    weight = torch.where(pos, torch.ones_like(obj), torch.full_like(obj, noobj_weight))
    obj_loss = F.binary_cross_entropy_with_logits(pred[..., 4], obj, weight=weight, reduction="sum") / n
    p, t = pred[pos], targets[pos]
    if len(p):
        xy_loss = ((torch.sigmoid(p[:, :2]) - torch.sigmoid(t[:, :2])) ** 2).sum() / n
        wh_loss = ((p[:, 2:4] - t[:, 2:4]) ** 2).sum() / n
        cls_loss = F.cross_entropy(p[:, 5:], t[:, 5].long(), reduction="sum") / n
    else:
        xy_loss = wh_loss = cls_loss = pred.sum() * 0.0
    total = box_weight * (xy_loss + wh_loss) + obj_loss + cls_loss
    if return_parts:
        parts = {name: value.item() for name, value in
                 (("xy", xy_loss.detach()), ("wh", wh_loss.detach()), ("objectness", obj_loss.detach()),
                  ("class", cls_loss.detach()))}
        return total, parts
    return total


def target_logits(targets: Tensor, num_classes: int, margin: float = 12.0) -> Tensor:
    """Turn ``encode_targets`` output into the raw prediction a perfect network would make (for checks).

    Box numbers are copied; objectness is +margin where a box is and -margin elsewhere; the true class
    gets +margin, the others -margin. ``decode_predictions`` of it returns the encoded boxes with score ~1.
    """
    check_counts(num_classes=num_classes)
    if not isinstance(targets, Tensor) or targets.dim() != 5 or targets.shape[-1] != 6:
        raise ValueError(f"targets must have shape (N, S, S, A, 6), got {getattr(targets, 'shape', targets)}")
    pos = targets[..., 4] > 0.5
    out = torch.full((*targets.shape[:-1], 5 + num_classes), -margin)
    out[..., :4] = targets[..., :4]
    out[..., 4] = torch.where(pos, margin, -margin)
    cls = targets[..., 5].long().clamp(min=0)
    out[..., 5:] = torch.where(F.one_hot(cls, num_classes).bool() & pos[..., None], margin, -margin)
    return out


def decode_predictions(
    pred: Tensor,
    anchors: Tensor,
    image_size: float,
    score_threshold: float = 0.25,
    iou_threshold: float = 0.45,
    max_detections: int = 100,
    apply_nms: bool = True,
    per_class: bool = True,
) -> list[dict[str, Tensor]]:
    """Raw outputs (N, S, S, A, 5 + C) -> one dict per image of "boxes" (xyxy px), "scores", "labels".

    ``per_class=True`` (Darknet, SSD): every slot proposes its box once for every class, scored
    sigmoid(objectness) x that class's softmax probability; ``False``: only for its most probable class.
    Boxes come from ``decode_boxes``, clipped to the image; those with score >= ``score_threshold`` go through
    NMS within each class (``batched_nms``; skipped when ``apply_nms=False``) and the best ``max_detections``
    are kept, in torchmetrics' format, ready for ``mean_average_precision``.
    """
    _check_pred(pred)
    if not isinstance(anchors, Tensor) or anchors.shape != (pred.shape[3], 2):
        raise ValueError(f"anchors must have shape ({pred.shape[3]}, 2) for this prediction, got "
                         f"{getattr(anchors, 'shape', anchors)}")
    for name, value in (("score_threshold", score_threshold), ("iou_threshold", iou_threshold)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    if not isinstance(per_class, bool):
        raise ValueError(f"per_class must be True or False, got {per_class!r}")
    check_counts(max_detections=max_detections)
    pred = pred.detach().float().cpu()  # decoded on the CPU (NMS is a Python loop), wherever the network ran
    num_classes = pred.shape[-1] - 5
    boxes = decode_boxes(pred[..., :4], anchors.float(), image_size).clamp(0, image_size)
    probs = torch.softmax(pred[..., 5:], dim=-1)
    if per_class:  # (N, slots * C): slot-major, class-minor
        scores = (torch.sigmoid(pred[..., 4:5]) * probs).flatten(1)
        labels = torch.arange(num_classes).repeat(scores.shape[1] // num_classes).expand_as(scores)
        boxes = boxes.flatten(1, 3).repeat_interleave(num_classes, dim=1)
    else:
        class_prob, labels = probs.max(dim=-1)
        scores = (torch.sigmoid(pred[..., 4]) * class_prob).flatten(1)
        labels, boxes = labels.flatten(1), boxes.flatten(1, 3)
    results = []
    for b, s, lab in zip(boxes, scores, labels):
        keep = s >= score_threshold
        b, s, lab = b[keep], s[keep], lab[keep]
        if apply_nms:
            order = batched_nms(b, s, lab, iou_threshold)
        else:
            order = torch.sort(s, descending=True, stable=True).indices
        order = order[:max_detections]
        results.append({"boxes": b[order], "scores": s[order], "labels": lab[order]})
    return results


class YOLOLoss(nn.Module):
    """``yolo_loss`` of raw outputs against boxes: targets are one ``{"boxes", "labels"}`` dict per image.

    Each image's boxes are coded with ``encode_targets`` for the prediction's grid and these ``anchors``, so
    :func:`cnnbook.train.fit` can train a detector on a ``BoxDataset`` (with ``collate_fn=collate_boxes``).
    The coding of a CPU image is kept and reused while its box and label tensors are unchanged (same objects,
    not modified in place), so each image is coded once, not once per epoch.
    """

    def __init__(self, anchors: Sequence[Sequence[float]] | Tensor, image_size: int, box_weight: float = 5.0,
                 noobj_weight: float = 0.5) -> None:
        super().__init__()
        anchors = torch.as_tensor(anchors, dtype=torch.float32, device="cpu")
        if anchors.dim() != 2 or anchors.shape[1] != 2 or len(anchors) < 1 or (anchors <= 0).any():
            raise ValueError(f"anchors must be (w, h) pairs > 0, shape (A, 2), got {tuple(anchors.shape)}")
        check_counts(image_size=image_size)
        for name, value in (("box_weight", box_weight), ("noobj_weight", noobj_weight)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        self.register_buffer("anchors", anchors)
        self.image_size, self.box_weight, self.noobj_weight = image_size, box_weight, noobj_weight
        self._coded: dict[tuple, tuple[Tensor, Tensor, Tensor]] = {}

    def _code(self, boxes: Tensor, labels: Tensor, grid: int) -> Tensor:
        if boxes.device.type != "cpu" or labels.device.type != "cpu":  # moved per batch: nothing to reuse
            return encode_targets([boxes.cpu()], [labels.cpu()], self.anchors.cpu(), grid, self.image_size)[0]
        key = (id(boxes), boxes._version, id(labels), labels._version, grid)  # _version counts in-place changes
        if key not in self._coded:  # the entry holds the tensors, so their ids stay theirs while it lives
            coded = encode_targets([boxes], [labels], self.anchors.cpu(), grid, self.image_size)[0]
            self._coded[key] = (boxes, labels, coded)
        return self._coded[key][2]

    def forward(self, pred: Tensor, targets: Sequence[dict[str, Tensor]]) -> Tensor:
        _check_pred(pred)
        if pred.shape[3] != len(self.anchors) or len(targets) != len(pred):
            raise ValueError(f"expected {len(pred)} targets for a prediction with {len(self.anchors)} anchors, got "
                             f"{len(targets)} targets and shape {tuple(pred.shape)}")
        coded = torch.stack([self._code(t["boxes"], t["labels"], pred.shape[1]) for t in targets])
        return yolo_loss(pred, coded.to(pred.device), self.box_weight, self.noobj_weight)


class WindowDetector(nn.Module):
    """The pixel yardsticks of detection: every grid cell's 5 + C numbers per anchor from the pixels of a window.

    The window is ``window`` pixels wide, centred on the cell and zero-padded at the border; the map from its
    pixels to the head's outputs is linear (``hidden=None``) or an MLP with one hidden ReLU layer, the same at
    every cell (a strided convolution). Output (N, S, S, A, 5 + C) as :class:`YOLO`'s.
    """

    def __init__(self, num_classes: int = 3, anchors: Sequence[Sequence[float]] | Tensor = SCENE_ANCHORS,
                 image_size: int = 64, stride: int = 8, window: int = 24, hidden: int | None = None,
                 in_channels: int = 3) -> None:
        super().__init__()
        check_counts(num_classes=num_classes, image_size=image_size, stride=stride, window=window,
                     in_channels=in_channels, **({"hidden": hidden} if hidden is not None else {}))
        if image_size % stride or window < stride or (window - stride) % 2:
            raise ValueError(f"need image_size a multiple of stride and window = stride + an even number, got "
                             f"image_size {image_size}, stride {stride}, window {window}")
        anchors = torch.as_tensor(anchors, dtype=torch.float32, device="cpu")
        if anchors.dim() != 2 or anchors.shape[1] != 2 or len(anchors) < 1 or (anchors <= 0).any():
            raise ValueError(f"anchors must be (w, h) pairs > 0, shape (A, 2), got {tuple(anchors.shape)}")
        self.register_buffer("anchors", anchors)
        self.num_classes, self.num_anchors, self.in_channels = num_classes, len(anchors), in_channels
        self.image_size, self.grid_size = image_size, image_size // stride
        out = self.num_anchors * (5 + num_classes)
        pad = (window - stride) // 2
        if hidden is None:
            self.head = nn.Conv2d(in_channels, out, window, stride, padding=pad)
        else:
            self.head = nn.Sequential(nn.Conv2d(in_channels, hidden, window, stride, padding=pad), nn.ReLU(),
                                      nn.Conv2d(hidden, out, 1))

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.in_channels, self.image_size, "WindowDetector", exact=True)
        return reshape_head_output(self.head(x), self.num_anchors, self.num_classes)
