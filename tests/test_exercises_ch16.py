"""Chapter 16's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
import pytest

from cnnbook.exercises import ch16


def test_ex1_front():
    # torchvision top-1 / G MACs: ResNet-50 80.9 / 4.09, ConvNeXt-T 82.5 / 4.46, EfficientNet-B0 77.7 / 0.39,
    # MobileNetV3-L 75.3 / 0.22; AlexNet 56.5 / 0.71 is beaten by MobileNetV3-L; VGG-16 by ResNet-50
    right = ["mobilenet_v3_large", "efficientnet_b0", "resnet50", "convnext_tiny"]
    assert ch16.ex1(right)
    assert ch16.ex1(set(right))
    assert not ch16.ex1(right + ["alexnet"])
    assert not ch16.ex1(right[:-1])
    assert not ch16.ex1(None)


def test_ex2_pareto_function():
    def right(costs, scores):
        return [i for i, (c, s) in enumerate(zip(costs, scores))
                if not any(c2 <= c and s2 >= s and (c2, s2) != (c, s) for c2, s2 in zip(costs, scores))]

    def max_score_only(costs, scores):
        return [max(range(len(scores)), key=scores.__getitem__)]

    def forgets_ties(costs, scores):  # keeps points beaten by one of equal score and lower cost
        return [i for i, (c, s) in enumerate(zip(costs, scores))
                if not any(c2 < c and s2 > s for c2, s2 in zip(costs, scores))]

    assert ch16.ex2(right)
    assert not ch16.ex2(max_score_only)
    assert not ch16.ex2(forgets_ties)
    assert not ch16.ex2(None)


def test_ex3_resolution_scaling():
    # 2,608,132,096 / 4,089,184,256: layer4 runs at 6x6 (ceil of 11/2), not 5.5x5.5
    assert ch16.ex3(0.6378)
    assert not ch16.ex3((176 / 224) ** 2)  # the naive quadratic scaling, 0.617
    assert not ch16.ex3(176 / 224)
    assert not ch16.ex3(None)


def test_ex4_what_explains_the_excess(capsys):
    assert ch16.ex4("a")
    assert ch16.ex4({"A"})
    assert not ch16.ex4({"a", "b"})  # the classifier's 0.8 M extra MACs are 1% of the excess
    assert not ch16.ex4("c")
    assert not ch16.ex4("z")
    assert "choose among" in capsys.readouterr().out
    assert not ch16.ex4(None)


def test_ex4_the_last_stage_carries_most_of_the_excess():
    # The checker's answer, recounted per top-level part (layer4's share of the excess over the quadratic scaling).
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from cnnbook import zoo

    def parts(side):
        with torch.device("meta"):
            model = zoo.entry("resnet50").build().eval()
            x = torch.empty(1, 3, side, side)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(x)
        return {k: sum(v.values()) // 2 for k, v in counter.get_flop_counts().items() if k.count(".") == 1}

    small, full = parts(ch16.EX3_SIDE), parts(224)
    scale = (ch16.EX3_SIDE / 224) ** 2
    excess = {k: small[k] - scale * full[k] for k in full}
    assert excess["ResNet.layer4"] > 0.95 * sum(excess.values())
    assert 0 < excess["ResNet.fc"] < 0.02 * sum(excess.values())


def test_ex5_range_excludes_what_macs_predict():
    assert ch16.ex5_mac_ratio() == pytest.approx(0.0143, abs=5e-4)
    assert ch16.ex5_mac_ratio() < ch16.EX5_LOW
    assert ch16.ex5(0.1)  # the order of what a loaded 2-core machine measured
    assert not ch16.ex5(ch16.ex5_mac_ratio())  # what MACs alone predict
    assert not ch16.ex5(0.9)
    assert not ch16.ex5(7.0)  # the ratio the wrong way round
    assert not ch16.ex5(None)


def test_ex6_prediction_at_a_large_batch():
    assert ch16.ex6("a")
    assert ch16.ex6(["a"])
    assert not ch16.ex6("b")
    assert not ch16.ex6("c")
    assert not ch16.ex6({"a", "c"})
    assert not ch16.ex6(None)
    # the reasoning with the fit t(b) = f + b w, on numbers of the order this book's machine measured at 112 px
    small, large = (3.6, 0.9), (11.2, 41.5)  # (f, w) in ms
    fraction = [(small[0] + b * small[1]) / (large[0] + b * large[1]) for b in (1, 8, ch16.EX6_BATCH)]
    assert fraction == sorted(fraction, reverse=True)
