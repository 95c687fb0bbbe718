"""Chapter 17's exercise checkers: right answers (worked by hand) pass, wrong ones and None fail."""
import torch

from cnnbook.exercises import ch17


def test_ex1_ece_by_hand():
    # (0.8, 1]: 0.95 right, 0.90 wrong -> |0.5 - 0.925| * 2/4; (0.6, 0.8]: 0.65 right -> 0.35 / 4; (0.4, 0.6]: 0.45 / 4
    assert ch17.ex1(0.425 * 0.5 + 0.35 * 0.25 + 0.45 * 0.25)
    assert not ch17.ex1(abs(0.75 - (0.95 + 0.9 + 0.65 + 0.55) / 4))  # one bin for everything
    assert not ch17.ex1(None)


def test_ex2_per_class_accuracy():
    assert ch17.ex2(20 / 50)
    assert not ch17.ex2(20 / 35)  # divided by the column (precision)
    assert not ch17.ex2(None)


def test_ex3_most_confused():
    def right(cm):
        best, pair = -1, None
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                if i != j and cm[i, j] > best:
                    best, pair = int(cm[i, j]), (i, j)
        return pair

    def includes_diagonal(cm):
        i = int(cm.argmax())
        return i // cm.shape[1], i % cm.shape[1]

    assert ch17.ex3(right)
    assert not ch17.ex3(includes_diagonal)
    assert not ch17.ex3(lambda cm: (0, 1))
    assert not ch17.ex3(None)


def test_ex4_occlusion_forward_passes():
    assert ch17.ex4(7 * 7 + 1)
    assert not ch17.ex4(7 * 7)  # forgets the unoccluded image
    assert not ch17.ex4(8 * 8 + 1)
    assert not ch17.ex4(None)


def test_ex5_a_uniform_model_is_perfectly_calibrated():
    assert ch17.ex5(0.0)
    assert ch17.ex5(1e-9)
    assert not ch17.ex5(0.9)  # one minus the accuracy
    assert not ch17.ex5(0.1)
    assert not ch17.ex5(None)


def test_ex6_the_shifted_networks_test_loss():
    low, high = ch17.EX6_SHIFTED_RANGE
    assert 2.0 < low < high  # above every test loss (NLL) the page prints, 1.15 to 2.00
    assert ch17.ex6(3.02) and ch17.ex6(low) and ch17.ex6(high)  # seed 0 gives 3.02
    assert not ch17.ex6(low - 0.1) and not ch17.ex6(high + 0.1)
    assert not ch17.ex6(4.86) and not ch17.ex6(4.20)  # without the shift: seed 0, and the lowest of seeds 0-5
    assert not ch17.ex6(0.349) and not ch17.ex6(0.337)  # accuracies, not losses
    assert not ch17.ex6(1.154) and not ch17.ex6(1.989)  # test NLLs the page prints for its 30-epoch small VGG
    assert not ch17.ex6((3.02, 4.86)) and not ch17.ex6("4.0") and not ch17.ex6(True) and not ch17.ex6(-4.0)
    assert not ch17.ex6(None)


def test_ex7_label_preserving_transformations():
    assert ch17.ex7({"b", "d", "e"})
    assert ch17.ex7(["E", "b", "d"])  # any container, any case
    assert not ch17.ex7({"a", "b", "d", "e"})  # the mirror turns a left arrow into a right one
    assert not ch17.ex7({"b", "c", "d", "e"})  # so does a half turn
    assert not ch17.ex7({"b", "d"})
    assert not ch17.ex7({"b", "z"})
    assert not ch17.ex7(3)
    assert not ch17.ex7(None)
