"""Chapter 14's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
import math

from cnnbook.exercises import ch14


def test_ex1_iou():
    # overlap x 20..40 = 20, y 15..30 = 15 -> 300; areas 600 and 900 -> 300 / 1200
    assert ch14.ex1(0.25)
    assert not ch14.ex1(300 / 600)  # intersection over the first box only
    assert not ch14.ex1(None)


def test_ex2_encoding():
    # centre (27, 45) / 8 = (3.375, 5.625): offsets 0.375, 0.625; sizes 24/16 and 12/16
    right = [math.log(0.375 / 0.625), math.log(0.625 / 0.375), math.log(1.5), math.log(0.75)]
    assert ch14.ex2(right)
    assert not ch14.ex2([0.375, 0.625, 1.5, 0.75])  # the offsets and ratios, without logit and log
    assert not ch14.ex2([3.0, 3.0, 8.0, -4.0])  # pixel offsets and differences
    assert not ch14.ex2(None)


def test_ex3_coco_ap_of_one_detection():
    # IoU 72 / 100 = 0.72: a true positive at 0.50 ... 0.70 (5 of the 10 thresholds), a miss above
    assert ch14.ex3((1.0, 0.5))
    assert ch14.ex3([1, 0.5])
    assert not ch14.ex3((1.0, 0.72))  # the IoU itself
    assert not ch14.ex3((1.0, 0.6))  # counts 0.75 as passed
    assert not ch14.ex3((0.72, 0.5))
    assert not ch14.ex3(None)


def test_ex4_average_precision():
    # precision 1, 1/2, 2/3, 3/4, 3/5 at recall 1/4, 1/4, 1/2, 3/4, 3/4; envelope 1, 3/4, 3/4
    assert ch14.ex4(0.25 * 1 + 0.25 * 0.75 + 0.25 * 0.75)
    assert not ch14.ex4(0.25 * 1 + 0.25 * 2 / 3 + 0.25 * 0.75)  # no envelope
    assert not ch14.ex4(None)


def test_ex5_decoding():
    # centre ((5 + 0.5) 8, (2 + 0.5) 8) = (44, 20), size (20, 20)
    assert ch14.ex5([34.0, 10.0, 54.0, 30.0])
    assert not ch14.ex5([44.0, 20.0, 20.0, 20.0])  # cxcywh, not corners
    assert not ch14.ex5([39.0, 10.0, 49.0, 30.0])  # forgot exp: the width stays the anchor's 10
    assert not ch14.ex5(None)


def test_ex6_map_lost_without_nms():
    low, high = ch14.EX6_RANGE
    assert ch14.ex6((low + high) / 2) and ch14.ex6(0.06)
    assert not ch14.ex6(0.0)  # NMS changes nothing
    assert not ch14.ex6(0.49)  # the mAP without NMS, not the difference
    assert not ch14.ex6(-0.06)  # the difference the wrong way round
    assert not ch14.ex6(None)
