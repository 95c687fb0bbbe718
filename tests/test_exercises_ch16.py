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


def _timing(name, ms, side=ch16.EX5_SIDE, batch=1):
    from cnnbook import zoo

    return zoo.Timing(name, side, batch, ms, zoo.count(name, (3, side, side))[1])


def test_ex5_range_excludes_what_macs_predict():
    assert ch16.ex5_mac_ratio() == pytest.approx(0.0143, abs=5e-4)
    assert ch16.ex5_mac_ratio() < ch16.EX5_LOW
    small, large = _timing("mobilenet_v3_small", 10.0), _timing("resnet50", 100.0)
    assert ch16.ex5([small, large])  # 0.1, the order of what a loaded 2-core machine measured
    assert ch16.ex5((large, small))  # in any order
    assert ch16.ex5([small, large, _timing("resnet50", 700.0, batch=8)])  # other batch sizes are left aside
    assert not ch16.ex5([_timing("mobilenet_v3_small", 100 * ch16.ex5_mac_ratio()), large])  # what MACs predict
    assert not ch16.ex5([_timing("mobilenet_v3_small", 90.0), large])  # 0.9
    assert not ch16.ex5([small, _timing("resnet50", 100.0 / 7)])  # the ratio the wrong way round
    assert not ch16.ex5(None)


def test_ex5_takes_only_the_measurement_it_asks_for(capsys):
    small, large = _timing("mobilenet_v3_small", 10.0), _timing("resnet50", 100.0)
    assert not ch16.ex5(0.1)  # a number copied from the page
    assert "list of Timing results" in capsys.readouterr().out
    for wrong in ([_timing("mobilenet_v3_small", 10.0, side=224), _timing("resnet50", 100.0, side=224)],  # cell 33
                  [_timing("mobilenet_v3_small", 10.0, side=112), _timing("resnet50", 100.0, side=112)],  # cell 40
                  [_timing("mobilenet_v3_small", 80.0, batch=8), _timing("resnet50", 800.0, batch=8)],
                  [small, _timing("resnet18", 40.0)],  # another network
                  [small],  # one network only
                  [small, large, _timing("resnet50", 90.0)]):  # two batch-1 timings of one network
        assert not ch16.ex5(wrong)
        assert "at batch 1 and 160x160" in capsys.readouterr().out
    from cnnbook import zoo

    forged = zoo.Timing("mobilenet_v3_small", ch16.EX5_SIDE, 1, 10.0, 1)  # MACs that zoo.measure never reports
    assert not ch16.ex5([forged, large])


FIT_112 = {"mobilenet_v3_small": (4.3, 1.04), "resnet50": (18.7, 27.32)}  # (f, w) in ms, as this book's machine fit


def test_ex6_batch_from_the_readers_fit():
    # fraction - limit = (w_l f_s - w_s f_l) / (w_l (f_l + b w_l)): 90% of the way down once f_l + b w_l has grown
    # tenfold from b = 1, at b >= 10 + 9 f_l / w_l = 16.16
    assert ch16.ex6_batch(FIT_112) == 17
    assert ch16.ex6(17, FIT_112)
    assert ch16.ex6(17, {name: {"f": f, "w": w, "t1": f + w} for name, (f, w) in FIT_112.items()})  # `split`'s form
    assert ch16.ex6(17.0, FIT_112)
    assert not ch16.ex6(16, FIT_112)
    assert not ch16.ex6(18, FIT_112)
    assert not ch16.ex6("17", FIT_112)
    assert not ch16.ex6(None, FIT_112)
    # another machine's fit, another answer: nothing printed on the page answers it
    other = {"mobilenet_v3_small": (3.0, 0.5), "resnet50": (5.0, 50.0)}
    assert ch16.ex6_batch(other) == 11
    assert not ch16.ex6(17, other)


def test_ex6_needs_a_usable_fit(capsys):
    assert not ch16.ex6(17)  # no fit given
    assert "second argument" in capsys.readouterr().out
    assert not ch16.ex6(17, {"mobilenet_v3_small": (4.3, 1.04)})
    assert not ch16.ex6(17, {"mobilenet_v3_small": (4.3, 1.04), "resnet50": (18.7, -1.0)})
    assert "does not fall" in capsys.readouterr().out.split("\n")[-2]
    flat = {"mobilenet_v3_small": (1.0, 1.0), "resnet50": (10.0, 10.0)}  # the fraction does not move with b
    assert ch16.ex6_batch(flat) is None and not ch16.ex6(1, flat)


def test_ex6_the_answer_does_not_depend_on_the_small_network():
    for small in [(4.3, 1.04), (1.0, 0.1), (20.0, 5.0)]:
        assert ch16.ex6_batch({"mobilenet_v3_small": small, "resnet50": FIT_112["resnet50"]}) == 17
