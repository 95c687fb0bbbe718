"""Chapter 15's exercise checkers: right answers (worked out by hand) pass, wrong ones and None fail."""
import torch

from cnnbook.exercises import ch15


def test_ex1_trainable_ratio():
    # by hand: features[7] (1 MBConv 192->1152->320, BN 2 params/channel) + features[8] (1x1 320->1280 + BN) + head
    stage7 = 192 * 1152 + 2 * 1152 + 9 * 1152 + 2 * 1152 + 1152 * 320 + 2 * 320
    head_conv = 320 * 1280 + 2 * 1280
    head = 1280 * 8 + 8
    total = 3_381_256  # Lite0 with an 8-class head (its 1000-class count, 4,652,008, less 1280 * 992 + 992)
    assert total == 4_652_008 - 1280 * 992 - 992
    assert ch15.ex1((stage7 + head_conv + head) / total)
    assert not ch15.ex1((head_conv + head) / total)  # one stage only
    assert not ch15.ex1(None)


def test_ex2_head_parameters():
    assert ch15.ex2(47_397)
    assert not ch15.ex2(1280 * 37)  # forgets the bias
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
