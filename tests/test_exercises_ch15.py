"""Chapter 15's exercise checkers: right answers (worked out by hand) pass, wrong ones and None fail."""
import torch

from cnnbook.exercises import ch15


def test_ex1_adam_ignores_a_gradient_scale():
    # Adam's first step is lr * g / (|g| + eps) per weight: the same for g and 0.1 g, so the ratio is 1
    assert abs(ch15.adam_update_ratio() - 1.0) < 1e-3
    assert abs(ch15.adam_update_ratio(factor=10.0) - 1.0) < 1e-3
    assert ch15.ex1(1.0) and ch15.ex1(1)
    assert not ch15.ex1(0.1)  # what SGD would do
    assert not ch15.ex1(0.01)
    assert not ch15.ex1(None)


def test_ex2_stage7_cells_at_224_px():
    # five stride-2 steps before stage 7 ends: 224 / 32 = 7 per side, 49 cells (64 / 32 = 2 per side on the page)
    assert ch15.ex2(49)
    assert not ch15.ex2(4)
    assert not ch15.ex2(14 * 14)  # one halving too few
    assert not ch15.ex2(None)


def test_ex3_k_per_class():
    def right(labels, k):
        labels = torch.as_tensor(labels)
        out = []
        for c in sorted(set(labels.tolist())):
            idx = [i for i, v in enumerate(labels.tolist()) if v == c]
            if len(idx) < k:
                raise ValueError("too few")
            out += idx[:k]
        return torch.tensor(out)

    def no_check(labels, k):
        labels = torch.as_tensor(labels)
        return torch.cat([torch.nonzero(labels == c).flatten()[:k] for c in torch.unique(labels)])

    def last_k(labels, k):
        labels = torch.as_tensor(labels)
        return torch.cat([torch.nonzero(labels == c).flatten()[-k:] for c in torch.unique(labels)])

    assert ch15.ex3(right)
    assert not ch15.ex3(no_check)  # never refuses a k too large
    assert not ch15.ex3(last_k)
    assert not ch15.ex3(None)


def test_ex4_accepts_the_measured_range_only():
    low, high = ch15.EX4_RANGE
    assert ch15.ex4(0.641) and ch15.ex4(low) and ch15.ex4(high)
    # the accuracies the page prints for other runs nearby: the last-layer probe (live mean 0.587, record mean 0.599,
    # best seed 0.626), the last stage retrained (0.590, 0.593, best seed 0.614), a texture run's seed (0.660)
    for printed in (0.587, 0.599, 0.626, 0.590, 0.593, 0.614, 0.660):
        assert not ch15.ex4(printed)
    assert not ch15.ex4(0.50)
    assert not ch15.ex4(0.95)
    assert not ch15.ex4(64.1)  # a percentage, not a fraction
    assert not ch15.ex4(None)
