"""Chapter 16's exercise checkers: right answers (derived by hand) pass, wrong ones and None fail."""
from cnnbook.exercises import ch16


def test_ex1_flops_are_twice_the_macs():
    assert ch16.ex1(2 * 4.089)
    assert not ch16.ex1(4.089)  # torchvision's "GFLOPS", which are MACs
    assert not ch16.ex1(None)


def test_ex2_front():
    # torchvision top-1 / G MACs: ResNet-50 80.9 / 4.09, ConvNeXt-T 82.5 / 4.46, EfficientNet-B0 77.7 / 0.39,
    # MobileNetV3-L 75.3 / 0.22; AlexNet 56.5 / 0.71 is beaten by MobileNetV3-L; VGG-16 by ResNet-50
    right = ["mobilenet_v3_large", "efficientnet_b0", "resnet50", "convnext_tiny"]
    assert ch16.ex2(right)
    assert ch16.ex2(set(right))
    assert not ch16.ex2(right + ["alexnet"])
    assert not ch16.ex2(right[:-1])
    assert not ch16.ex2(None)


def test_ex3_pareto_function():
    def right(costs, scores):
        return [i for i, (c, s) in enumerate(zip(costs, scores))
                if not any(c2 <= c and s2 >= s and (c2, s2) != (c, s) for c2, s2 in zip(costs, scores))]

    def max_score_only(costs, scores):
        return [max(range(len(scores)), key=scores.__getitem__)]

    def forgets_ties(costs, scores):  # keeps points beaten by one of equal score and lower cost
        return [i for i, (c, s) in enumerate(zip(costs, scores))
                if not any(c2 < c and s2 > s for c2, s2 in zip(costs, scores))]

    assert ch16.ex3(right)
    assert not ch16.ex3(max_score_only)
    assert not ch16.ex3(forgets_ties)
    assert not ch16.ex3(None)


def test_ex4_resolution_scaling():
    # 1,077,899,264 / 4,089,184,256: the last stage runs at 4x4 (ceil of 7/2), not 3.5x3.5
    assert ch16.ex4(0.2636)
    assert not ch16.ex4(0.25)  # the naive quarter
    assert not ch16.ex4(0.5)
    assert not ch16.ex4(None)
