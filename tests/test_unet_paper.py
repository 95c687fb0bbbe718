import math

import pytest
import torch
import torch.nn.functional as F

from cnnbook.unet_paper import (
    border_weight_map,
    class_balance_weights,
    elastic_deform,
    elastic_field,
    nearest_instance_distances,
    weighted_cross_entropy,
)


def _two_squares(gap: int) -> torch.Tensor:
    """Two 5x4 objects side by side, ``gap`` background columns between them, a background frame above and below."""
    inst = torch.zeros(7, 8 + gap, dtype=torch.long)
    inst[1:6, 0:4] = 1
    inst[1:6, 4 + gap:8 + gap] = 2
    return inst


@pytest.mark.parametrize("gap, d2", [(1, 1.0), (2, 2.0)])
def test_gap_pixels_get_the_papers_weight_by_hand(gap, d2):
    inst = _two_squares(gap)
    w = border_weight_map(inst, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0))
    # The gap pixel next to the left square: d1 = 1 (left square), d2 = the distance across the gap.
    want = 1.0 + 10.0 * math.exp(-((1.0 + d2) ** 2) / (2 * 5.0**2))
    assert w[3, 4].item() == pytest.approx(want, rel=1e-6)
    assert torch.all(w[inst > 0] == 1.0)  # object pixels: w_c only
    # A frame pixel above the left square's corner: d1 = 1, d2 = the distance to the right square's corner.
    d2_frame = math.hypot(1, 4 + gap - 3)
    assert w[0, 3].item() == pytest.approx(1.0 + 10.0 * math.exp(-((1 + d2_frame) ** 2) / 50), rel=1e-6)


def test_default_class_weights_balance_background_and_objects():
    inst = _two_squares(1)  # 40 object pixels, 23 background
    w = border_weight_map(inst, w0=0.0)
    assert w[inst > 0].unique().tolist() == pytest.approx([63 / (2 * 40)])
    assert w[inst == 0].unique().tolist() == pytest.approx([63 / (2 * 23)])
    wc = class_balance_weights(inst)
    assert wc.mean().item() == pytest.approx(1.0)
    assert wc[inst > 0].sum().item() == pytest.approx(wc[inst == 0].sum().item())
    assert torch.equal(class_balance_weights(torch.zeros(4, 5, dtype=torch.long)), torch.ones(4, 5))
    assert torch.equal(class_balance_weights(torch.full((4, 5), 3)), torch.ones(4, 5))
    gap_weight = border_weight_map(inst)[3, 4].item()
    assert gap_weight == pytest.approx(63 / 46 + 10 * math.exp(-4 / 50), rel=1e-6)


def test_one_object_gets_no_border_term_and_w0_zero_leaves_w_c():
    inst = torch.zeros(9, 9, dtype=torch.long)
    inst[2:5, 2:6] = 4  # ids need not start at 1
    assert torch.allclose(border_weight_map(inst), class_balance_weights(inst))
    two = _two_squares(1)
    assert torch.allclose(border_weight_map(two, w0=0.0, class_weights=(0.5, 2.0)),
                          torch.where(two > 0, 2.0, 0.5))


def _brute_distances(inst: torch.Tensor):
    """For every pixel, the distances to every object over all of its pixels (no boundary shortcut)."""
    h, w = inst.shape
    d1, d2 = torch.full((h, w), math.inf, dtype=torch.float64), torch.full((h, w), math.inf, dtype=torch.float64)
    ids = [int(k) for k in inst.unique() if k > 0]
    for y in range(h):
        for x in range(w):
            dist = sorted(min(math.hypot(y - py, x - px) for py, px in torch.nonzero(inst == k).tolist()) for k in ids)
            if dist:
                d1[y, x] = dist[0]
            if len(dist) > 1:
                d2[y, x] = dist[1]
    return d1, d2


@pytest.mark.parametrize("seed, chunk", [(0, None), (1, None), (2, 7)])
def test_distances_equal_a_brute_force_search(seed, chunk, monkeypatch):
    if chunk:  # few distances per step: the chunked path gives the same answer
        monkeypatch.setattr("cnnbook.unet_paper._CHUNK", chunk)
    g = torch.Generator().manual_seed(seed)
    inst = torch.zeros(11, 13, dtype=torch.long)
    for k in range(1, 4):  # random blobs, some at the image edge, some ring-shaped (non-convex)
        y, x = torch.randint(0, 11, (1,), generator=g).item(), torch.randint(0, 13, (1,), generator=g).item()
        inst[max(0, y - 2):y + 3, max(0, x - 3):x + 3] = k
        if k == 2:
            inst[y, x] = 0
    d1, d2 = nearest_instance_distances(inst)
    b1, b2 = _brute_distances(inst)
    assert torch.allclose(d1, b1) and torch.equal(torch.isinf(d2), torch.isinf(b2))
    assert torch.allclose(d2[~torch.isinf(b2)], b2[~torch.isinf(b2)])
    assert torch.all(d1[inst > 0] == 0)


def test_a_batch_equals_its_images_one_by_one_and_keeps_the_shape():
    batch = torch.stack([_two_squares(2)[:, :9], torch.zeros(7, 9, dtype=torch.long), _two_squares(1)[:, :9]])
    w = border_weight_map(batch)
    assert w.shape == batch.shape and w.dtype == torch.float32
    for i in range(3):
        assert torch.allclose(w[i], border_weight_map(batch[i]))
    d1, d2 = nearest_instance_distances(batch)
    assert torch.isinf(d1[1]).all() and torch.isinf(d2[1]).all()
    assert torch.equal(w[1], torch.ones(7, 9))  # no object: w_c = 1 and no border term


@pytest.mark.parametrize("bad", [
    torch.zeros(4, 4),  # float ids
    torch.zeros(4, 4, dtype=torch.bool),
    torch.zeros(4, dtype=torch.long),
    torch.zeros(1, 1, 4, 4, dtype=torch.long),
    torch.full((4, 4), -1),
    torch.zeros(0, 4, 4, dtype=torch.long),
    [[0, 1], [1, 0]],
])
def test_bad_instances_raise(bad):
    for fn in (border_weight_map, nearest_instance_distances, class_balance_weights):
        with pytest.raises(ValueError, match="instance"):
            fn(bad)


@pytest.mark.parametrize("kwargs, match", [
    ({"w0": -1.0}, "w0"), ({"w0": float("nan")}, "w0"), ({"w0": True}, "w0"),
    ({"sigma": 0.0}, "sigma"), ({"sigma": float("inf")}, "sigma"), ({"sigma": "5"}, "sigma"),
    ({"class_weights": (1.0,)}, "class_weights"), ({"class_weights": "ab"}, "class_weights"),
    ({"class_weights": (1.0, -2.0)}, "class_weights"), ({"class_weights": (0.0, 1.0)}, "class_weights"),
])
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        border_weight_map(_two_squares(1), **kwargs)


def test_weighted_cross_entropy():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, generator=g)
    target = torch.randint(0, 3, (2, 4, 5), generator=g)
    ones = torch.ones(2, 4, 5)
    assert torch.allclose(weighted_cross_entropy(logits, target, ones), F.cross_entropy(logits, target))
    weights = torch.rand(2, 4, 5, generator=g) * 3
    per_pixel = -torch.log_softmax(logits, 1).gather(1, target[:, None])[:, 0]
    assert torch.allclose(weighted_cross_entropy(logits, target, weights), (weights * per_pixel).sum() / 40)
    assert weighted_cross_entropy(logits, target, torch.zeros(2, 4, 5)).item() == 0.0
    flat = torch.zeros(1, 4, 2, 2)  # no opinion: ln 4 per pixel, times the mean weight
    w = torch.tensor([[[1.0, 2.0], [3.0, 6.0]]])
    loss = weighted_cross_entropy(flat, torch.zeros(1, 2, 2, dtype=torch.long), w)
    assert loss.item() == pytest.approx(3 * math.log(4))


@pytest.mark.parametrize("args, match", [
    ((torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3)), "logits"),
    ((torch.zeros(1, 3, 2, 2, dtype=torch.long), torch.zeros(1, 2, 2, dtype=torch.long), torch.ones(1, 2, 2)),
     "logits"),
    ((torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 3, dtype=torch.long), torch.ones(1, 2, 2)), "target"),
    ((torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2), torch.ones(1, 2, 2)), "target"),
    ((torch.zeros(1, 3, 2, 2), torch.full((1, 2, 2), 3), torch.ones(1, 2, 2)), "class ids"),
    ((torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), torch.ones(2, 2)), "weights"),
    ((torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), -torch.ones(1, 2, 2)), "non-negative"),
    ((torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), torch.full((1, 2, 2), math.nan)), "finite"),
])
def test_weighted_cross_entropy_bad_input_raises(args, match):
    with pytest.raises(ValueError, match=match):
        weighted_cross_entropy(*args)


def test_elastic_field_is_the_coarse_grid_interpolated():
    field = elastic_field(17, 21, alpha=10.0, grid=3, seed=5)
    assert field.shape == (2, 17, 21) and field.dtype == torch.float64
    coarse = torch.randn(1, 2, 3, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)[0] * 10.0
    for (cy, cx), (y, x) in {(0, 0): (0, 0), (0, 2): (0, 20), (1, 1): (8, 10), (2, 2): (16, 20)}.items():
        assert torch.allclose(field[:, y, x], coarse[:, cy, cx])  # the control points sit at the corners and centre
    assert torch.equal(field, elastic_field(17, 21, alpha=10.0, grid=3, seed=5))
    assert not torch.equal(field, elastic_field(17, 21, alpha=10.0, grid=3, seed=6))
    assert torch.all(elastic_field(9, 9, alpha=0.0) == 0)
    assert torch.allclose(elastic_field(9, 9, alpha=2.0, seed=1), 2 * elastic_field(9, 9, alpha=1.0, seed=1))


def _scene(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(24, 30, dtype=torch.long)
    mask[3:12, 4:14], mask[14:22, 10:26], mask[5:10, 18:28] = 1, 3, 2
    image = torch.rand(3, 24, 30, generator=g)
    return image, mask


def test_elastic_deform_alpha_zero_is_the_identity():
    image, mask = _scene()
    out, out_mask = elastic_deform(image, mask, alpha=0.0, seed=3)
    assert torch.allclose(out, image, atol=1e-6) and torch.equal(out_mask, mask)
    assert out.dtype == image.dtype and out_mask.dtype == mask.dtype


def test_elastic_deform_keeps_mask_classes_and_is_reproducible():
    image, mask = _scene()
    for seed in range(5):
        out, out_mask = elastic_deform(image, mask, alpha=3.0, grid=3, seed=seed)
        assert out.shape == image.shape and out_mask.shape == mask.shape
        assert set(out_mask.unique().tolist()) <= set(mask.unique().tolist())  # nearest: never a blend of two ids
        assert (out_mask != mask).any()
        again = elastic_deform(image, mask, alpha=3.0, grid=3, seed=seed)
        assert torch.equal(again[0], out) and torch.equal(again[1], out_mask)
    assert not torch.equal(elastic_deform(image, mask, 3.0, 3, 0)[1], elastic_deform(image, mask, 3.0, 3, 1)[1])
    out, none = elastic_deform(image, None, alpha=3.0)
    assert none is None and torch.equal(out, elastic_deform(image, mask, alpha=3.0)[0])


def test_elastic_deform_moves_image_and_mask_together():
    _, mask = _scene()
    one_hot = F.one_hot(mask, 4).permute(2, 0, 1).float()  # an image that is the mask
    out, out_mask = elastic_deform(one_hot, mask, alpha=3.0, seed=2)
    pure = out.max(0).values > 0.999  # pixels whose bilinear neighbours all had one class
    assert pure.float().mean() > 0.5
    assert torch.equal(out.argmax(0)[pure], out_mask[pure])


@pytest.mark.parametrize("args, kwargs, match", [
    ((torch.zeros(4, 4),), {}, "image"),
    ((torch.zeros(3, 4, 4, dtype=torch.long),), {}, "image"),
    ((torch.zeros(3, 4, 4), torch.zeros(4, 5, dtype=torch.long)), {}, "mask"),
    ((torch.zeros(3, 4, 4), torch.zeros(4, 4)), {}, "mask"),
    ((torch.zeros(3, 1, 4),), {}, "2x2"),
    ((torch.zeros(3, 4, 4),), {"alpha": -1.0}, "alpha"),
    ((torch.zeros(3, 4, 4),), {"grid": 1}, "grid"),
    ((torch.zeros(3, 4, 4),), {"seed": -1}, "seed"),
])
def test_elastic_deform_bad_input_raises(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        elastic_deform(*args, **kwargs)


@pytest.mark.parametrize("args, match", [((1, 5), "height"), ((5, 0), "width"), ((5, 5, float("nan")), "alpha"),
                                         ((5, 5, 1.0, 2.5), "grid"), ((5, 5, 1.0, 3, True), "seed")])
def test_elastic_field_bad_input_raises(args, match):
    with pytest.raises(ValueError, match=match):
        elastic_field(*args)
