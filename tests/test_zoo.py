"""cnnbook.zoo: every count the chapter 16 table shows, checked against torchvision, papers and brute force."""
import random
import re
from pathlib import Path

import pytest
import torch
import torchvision
from torchvision.models import get_model_weights

from cnnbook import zoo
from cnnbook.profile import count_params, macs

WITH_TV = [e for e in zoo.ZOO if e.torchvision is not None]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rows():
    return {r.name: r for r in zoo.table()}


@pytest.mark.parametrize("e", WITH_TV, ids=lambda e: e.name)
def test_params_equal_torchvision_builder_and_metadata(e, rows):
    with torch.device("meta"):
        tv = torchvision.models.get_model(e.torchvision, **dict(e.kwargs), **(
            {"init_weights": False} if e.name == "googlenet" else {}))
    assert rows[e.name].params == count_params(tv) == e.weights().meta["num_params"]


@pytest.mark.parametrize("e", WITH_TV, ids=lambda e: e.name)
def test_macs_match_torchvision_ops_which_are_macs(e, rows):
    w = e.weights()
    r = rows[e.name]
    assert round(r.macs / 1e9, 3) == pytest.approx(w.meta["_ops"], abs=1e-9)  # "GFLOPS" that are G MACs
    assert r.flops == 2 * r.macs


@pytest.mark.parametrize("e", WITH_TV, ids=lambda e: e.name)
def test_input_size_and_top1_from_weights_metadata(e, rows):
    w = get_model_weights(e.torchvision).DEFAULT
    assert list(e.input_size[1:]) == list(w.transforms().crop_size) * 2
    assert rows[e.name].top1 == w.meta["_metrics"]["ImageNet-1K"]["acc@1"]


def test_networks_without_torchvision_twin_against_papers(rows):
    assert rows["lenet5"].params == 61_706  # the modern fully connected variant (chapter 3)
    assert round(rows["mobilenet_v1"].params / 1e5) == 42 and round(rows["mobilenet_v1"].macs / 1e6) == 569
    lite, b0 = rows["efficientnet_lite0"], rows["efficientnet_b0"]
    assert lite.macs < b0.macs and lite.params < b0.params  # Lite drops squeeze-and-excitation
    assert rows["lenet5"].top1 is None and zoo.entry("lenet5").paper_top1 is None


def test_macs_equal_torchvision_model_counted_independently():
    # the same counter on torchvision's own module, at a size that is not the registry's
    for name in ("resnet18", "mobilenet_v3_small"):
        with torch.device("meta"):
            tv = torchvision.models.get_model(name)
        assert zoo.count(name, (3, 160, 160))[1] == macs(tv, (3, 160, 160))


def test_registry_facts():
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    assert all(e.cite in keys for e in zoo.ZOO)
    years = [e.year for e in zoo.ZOO]
    assert years == sorted(years) and years[0] == 1998
    assert all(e.paper_top1 is not None or e.paper_note for e in zoo.ZOO)
    assert all(0 < e.paper_top1.value < 100 for e in zoo.ZOO if e.paper_top1)
    assert len(zoo.REGISTRY) == len(zoo.ZOO)


def _brute_front(costs, scores):
    keep = []
    for i, (c, s) in enumerate(zip(costs, scores)):
        if s is None:
            continue
        dominated = any(scores[j] is not None and costs[j] <= c and scores[j] >= s
                        and (costs[j] < c or scores[j] > s) for j in range(len(costs)))
        if not dominated:
            keep.append(i)
    return keep


def test_pareto_front_against_brute_force():
    rng = random.Random(0)
    for trial in range(300):
        n = rng.randint(1, 12)
        costs = [rng.choice([1, 2, 3, 4, 5]) if trial % 2 else rng.random() for _ in range(n)]
        scores = [rng.choice([None, 50, 60, 70, 70.0, 80]) if trial % 3 == 0 else rng.random() for _ in range(n)]
        front = zoo.pareto_front(costs, scores)
        # exact duplicates are not dominated by each other: the helper keeps the first, brute force keeps both
        brute = _brute_front(costs, scores)
        assert set(front) <= set(brute)
        assert {(costs[i], scores[i]) for i in front} == {(costs[i], scores[i]) for i in brute}
        assert [costs[i] for i in front] == sorted(costs[i] for i in front)


def test_pareto_front_hand_example_and_bad_input():
    assert zoo.pareto_front([1, 2, 3, 4], [50, 40, 70, 70]) == [0, 2]
    assert zoo.pareto_front([], []) == []
    with pytest.raises(ValueError, match="same length"):
        zoo.pareto_front([1, 2], [3])
    with pytest.raises(ValueError, match="non-negative"):
        zoo.pareto_front([-1], [3])


def test_best_within_against_brute_force(rows):
    rs = list(rows.values())
    for budget in (0.05e9, 0.3e9, 1e9, 5e9, 100e9):
        got = zoo.best_within(rs, budget, cost=lambda r: r.macs, score=lambda r: r.top1)
        fits = [r for r in rs if r.top1 is not None and r.macs <= budget]
        best = max((r.top1 for r in fits), default=None)
        assert (got is None and best is None) or got.top1 == best
    assert zoo.best_within(rs, 1e3, cost=lambda r: r.macs, score=lambda r: r.top1) is None
    with pytest.raises(ValueError, match="positive"):
        zoo.best_within(rs, 0, cost=lambda r: r.macs, score=lambda r: r.top1)


def test_measure_small_networks_and_threads_restored():
    before = torch.get_num_threads()
    t = zoo.measure(["mobilenet_v3_small", "lenet5"], resolution=32, batch_sizes=(1, 2), repeats=1, warmup=0)
    assert torch.get_num_threads() == before
    assert [(x.name, x.batch_size, x.resolution) for x in t] == [
        ("mobilenet_v3_small", 1, 32), ("mobilenet_v3_small", 2, 32), ("lenet5", 1, 32), ("lenet5", 2, 32)]
    assert all(x.ms > 0 and x.gmacs_per_s > 0 for x in t)
    assert t[0].macs == zoo.count("mobilenet_v3_small", (3, 32, 32))[1]
    assert t[1].ms_per_image == t[1].ms / 2


def test_bad_input():
    with pytest.raises(ValueError, match="unknown network"):
        zoo.entry("resnet51")
    with pytest.raises(TypeError, match="list of network names"):
        zoo.table("resnet50")
    with pytest.raises(ValueError, match="resolution"):
        zoo.measure(["resnet18"], resolution=0)
    with pytest.raises(ValueError, match="batch_sizes"):
        zoo.measure(["resnet18"], batch_sizes=(0,))
    with pytest.raises(ValueError, match="threads"):
        zoo.measure(["resnet18"], threads=0)


def test_count_bad_input_size_and_cache():
    with pytest.raises(ValueError, match="channels, height, width"):
        zoo.count("resnet18", (224, 224))
    assert zoo.count("resnet18", [3, 64, 64]) == zoo.count("resnet18", (3, 64, 64))


def test_photo_check_loads_torchvision_weights_into_the_book_network(monkeypatch):
    import torchvision

    # no download in tests: torchvision's builder gets random weights instead of the DEFAULT ones, and
    # the book's network must still agree with it on every photo once those weights are copied over
    real_get_model = torchvision.models.get_model
    monkeypatch.setattr(torchvision.models, "get_model", lambda name, weights=None: real_get_model(name, weights=None))
    torch.manual_seed(0)
    checks = zoo.photo_check("resnet18", photos=["coffee", "rocket"], top=2)
    assert [c.photo for c in checks] == ["coffee", "rocket"] and all(c.agrees for c in checks)
    categories = zoo.entry("resnet18").weights().meta["categories"]
    for c in checks:
        assert len(c.top) == 2 and c.top[0][1] >= c.top[1][1] and c.top[0][0] in categories
    with pytest.raises(ValueError, match="no torchvision weights"):
        zoo.photo_check("lenet5")


def test_vit_paper_figures_are_imagenet_only_and_below_torchvisions_recipe():
    # Dosovitskiy et al. 2021, Table 5: pre-trained on ImageNet-1k alone, fine-tuned at 384
    for name, value in (("vit_b_16", 77.9), ("vit_b_32", 73.4)):
        e = zoo.entry(name)
        assert e.paper_top1.value == value and "ImageNet-1k only" in e.paper_top1.protocol
        assert e.torchvision_top1() - value > 2  # torchvision's DeiT-style recipe on the same data
