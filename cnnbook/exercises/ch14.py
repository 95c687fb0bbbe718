"""Checkers for the exercises of chapter 14, "Object detection with a YOLO-style head".

Each expected answer is computed here with ``cnnbook.detection`` and ``cnnbook.models.yolo`` (the same code
the chapter teaches), out of the reader's sight.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from cnnbook.detection import (
    average_precision,
    box_cxcywh_to_xyxy,
    box_iou,
    decode_boxes,
    encode_targets,
    precision_recall,
)
from cnnbook.exercises import check, check_function
from cnnbook.models.yolo import reshape_head_output

# Exercise 1: two boxes, xyxy in pixels.
EX1_BOXES = ((10.0, 10.0, 40.0, 30.0), (20.0, 15.0, 50.0, 45.0))
# Exercise 2: a box (cx, cy, w, h) in a 64 px image, an 8 x 8 grid, one anchor (w, h).
EX2_BOX, EX2_ANCHOR, EX2_GRID, EX2_IMAGE = (27.0, 45.0, 24.0, 12.0), (16.0, 16.0), 8, 64
# Exercise 4: detections of one class sorted by score (1: true positive, 0: false positive), ground-truth boxes.
EX4_TP, EX4_GT = (1, 0, 1, 1, 0), 4
# Exercise 5: raw outputs (t_x, t_y, t_w, t_h) at cell (row, col) of an 8 x 8 grid, 64 px, anchor (w, h).
EX5_T, EX5_CELL, EX5_ANCHOR = (0.0, 0.0, math.log(2.0), 0.0), (2, 5), (10.0, 20.0)


def ex1(answer: Any) -> bool:
    """IoU of the two boxes of ``EX1_BOXES``."""
    a, b = (torch.tensor([box]) for box in EX1_BOXES)
    return check(answer, float(box_iou(a, b)), name="Exercise 1", rel_tol=1e-3,
                 hint="intersection = overlap width x overlap height; union = area A + area B - intersection.")


def ex2(answer: Any) -> bool:
    """(t_x, t_y, t_w, t_h) the network should output for ``EX2_BOX`` (a list of 4 floats)."""
    box = box_cxcywh_to_xyxy(torch.tensor([EX2_BOX]))
    t = encode_targets([box], [torch.tensor([0])], torch.tensor([EX2_ANCHOR]), EX2_GRID, EX2_IMAGE)
    expected = t[0][t[0, ..., 4] > 0.5][0, :4].tolist()
    return check(answer, expected, name="Exercise 2", rel_tol=1e-3, abs_tol=1e-4,
                 hint="cell = 8 px; the centre's offset inside its cell is a fraction f in (0, 1) and "
                      "t_x = logit(f) = log(f / (1 - f)); t_w = log(w / anchor width).")


def _channel(anchor: int, item: int, num_classes: int) -> int:
    a = anchor + 1
    depth = 5 + num_classes
    head_map = torch.arange(a * depth).view(1, a * depth, 1, 1)  # channel c holds the number c
    return int(reshape_head_output(head_map, a, num_classes)[0, 0, 0, anchor, item])


EX3_CASES = [(0, 0, 3), (0, 4, 3), (1, 0, 3), (2, 7, 3), (1, 5, 20), (4, 24, 20), (3, 2, 1)]


def ex3(fn: Callable | None) -> bool:
    """The reader's ``channel(anchor, item, num_classes)``: which head-map channel holds that number."""
    return check_function(fn, _channel, EX3_CASES, name="Exercise 3")


def ex4(answer: Any) -> bool:
    """Average precision (all-point interpolation) of ``EX4_TP`` with ``EX4_GT`` ground-truth boxes."""
    precision, recall = precision_recall(torch.tensor(EX4_TP, dtype=torch.bool), EX4_GT)
    return check(answer, average_precision(precision, recall, "all"), name="Exercise 4", rel_tol=1e-3,
                 hint="list precision and recall after each detection, replace each precision by the best one "
                      "at that recall or beyond, and add up precision x the recall gained at each step.")


def ex5(answer: Any) -> bool:
    """The xyxy box in pixels that ``EX5_T`` decodes to (a list of 4 floats)."""
    t = torch.zeros(8, 8, 1, 4)
    t[EX5_CELL[0], EX5_CELL[1], 0] = torch.tensor(EX5_T)
    boxes = decode_boxes(t, torch.tensor([EX5_ANCHOR]), 64)
    return check(answer, boxes[EX5_CELL[0], EX5_CELL[1], 0].tolist(), name="Exercise 5", rel_tol=1e-4, abs_tol=1e-3,
                 hint="b_x = (col + sigmoid(t_x)) x cell, b_y = (row + sigmoid(t_y)) x cell, b_w = p_w exp(t_w); "
                      "then corners = centre -/+ half the size.")
