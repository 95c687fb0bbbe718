"""erf_on_images: the effective receptive field of a network's own weights, measured on real images."""
import pytest
import torch
from torch import nn

from cnnbook.receptive_field import (
    effective_receptive_field,
    erf_on_images,
    erf_std,
    gradient_support,
    receptive_field_of,
)


def relu_stack(channels=3, width=4, depth=3, batch_norm=False):
    layers, previous = [], channels
    for _ in range(depth):
        layers += [nn.Conv2d(previous, width, 3, padding=1)]
        layers += [nn.BatchNorm2d(width)] if batch_norm else []
        layers += [nn.ReLU()]
        previous = width
    return nn.Sequential(*layers)


def by_hand(model, images, layer_index=None, unit=None, channel=None):
    """The same map, one image at a time, with a forward pass cut at the layer (a second route)."""
    body = model if layer_index is None else model[: layer_index + 1]
    total = torch.zeros(images.shape[2:], dtype=torch.float64)
    body.eval()
    for image in images:
        x = image[None].clone().requires_grad_(True)
        out = body(x)
        row, col = unit if unit is not None else (out.shape[-2] // 2, out.shape[-1] // 2)
        picked = out[0, :, row, col] if channel is None else out[0, channel, row, col]
        picked.sum().backward()
        total += x.grad[0].abs().sum(0).double()
    return (total / len(images)).float()


def test_equals_a_per_image_computation_and_the_average_over_images():
    torch.manual_seed(0)
    net = relu_stack()
    images = torch.rand(5, 3, 12, 12)
    erf = erf_on_images(net, images)
    assert erf.shape == (12, 12) and erf.dtype == torch.float32
    assert torch.allclose(erf, by_hand(net, images), atol=1e-6)
    singles = torch.stack([erf_on_images(net, images[i : i + 1]) for i in range(5)])
    assert torch.allclose(erf, singles.mean(0), atol=1e-6)
    # the batch size changes the work per backward pass, not the answer
    assert torch.allclose(erf, erf_on_images(net, images, batch_size=2), atol=1e-6)
    assert torch.allclose(erf, erf_on_images(net, images, batch_size=1), atol=1e-6)


def test_a_linear_network_has_the_same_erf_on_any_input():
    # without a non-linearity the gradient does not depend on the input: images and noise agree
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Conv2d(3, 2, 3, padding=1))
    on_images = erf_on_images(net, torch.rand(4, 2, 11, 11))
    on_noise = effective_receptive_field(net, (2, 11, 11), n_samples=3)
    assert torch.allclose(on_images, on_noise, atol=1e-6)


def test_the_erf_lies_inside_the_theoretical_field():
    torch.manual_seed(2)
    net = relu_stack(depth=3)
    erf = erf_on_images(net, torch.rand(8, 3, 16, 16))
    top, bottom, left, right = gradient_support(net, (3, 16, 16), unit=(8, 8))
    assert (bottom - top + 1, right - left + 1) == (receptive_field_of(net, (3, 16, 16)).size,) * 2 == (7, 7)
    outside = erf.clone()
    outside[top : bottom + 1, left : right + 1] = 0
    assert outside.sum() == 0 and erf[top : bottom + 1, left : right + 1].sum() > 0


def test_layer_unit_and_channel():
    torch.manual_seed(3)
    net = relu_stack(depth=3)
    images = torch.rand(3, 3, 10, 10)
    after_first = erf_on_images(net, images, layer="1")  # the first ReLU: a 3x3 field
    assert torch.allclose(after_first, by_hand(net, images, layer_index=1), atol=1e-6)
    assert int((after_first > 0).sum()) <= 9
    corner = erf_on_images(net, images, unit=(0, 9))
    assert torch.allclose(corner, by_hand(net, images, unit=(0, 9)), atol=1e-6)
    assert corner[:, :6].sum() == 0 and corner[4:, :].sum() == 0  # 3 layers: 3 pixels from the corner at most
    one = erf_on_images(net, images, channel=2)
    assert torch.allclose(one, by_hand(net, images, channel=2), atol=1e-6)
    assert not torch.allclose(one, erf_on_images(net, images))


def test_batchnorm_uses_its_running_statistics_and_the_model_keeps_its_mode():
    torch.manual_seed(4)
    net = relu_stack(batch_norm=True)
    images = torch.rand(6, 3, 12, 12)
    net.train()
    net(images)  # moves the running statistics away from (0, 1)
    erf = erf_on_images(net, images, batch_size=3)
    assert net.training and all(m.training for m in net.modules())
    # in eval mode each image's gradient is its own, so any batching gives the per-image answer
    assert torch.allclose(erf, by_hand(net, images), atol=1e-6)
    net.train()
    assert erf_std(erf) > 0


def test_the_weights_are_not_changed_and_get_no_gradient():
    torch.manual_seed(5)
    net = relu_stack()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    erf_on_images(net, torch.rand(2, 3, 9, 9))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())


def test_works_under_no_grad_and_on_double_images():
    torch.manual_seed(6)
    net = relu_stack()
    images = torch.rand(2, 3, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        erf = erf_on_images(net, images)
    assert torch.allclose(erf, by_hand(net, images.float()), atol=1e-5)


def test_rejects_bad_requests():
    net = relu_stack()
    good = torch.rand(2, 3, 9, 9)
    for images in (None, [good], good[0], torch.ones(2, 3, 9, 9, dtype=torch.int64), torch.rand(0, 3, 9, 9)):
        with pytest.raises(ValueError, match="images must"):
            erf_on_images(net, images)
    for batch_size in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            erf_on_images(net, good, batch_size=batch_size)
    with pytest.raises(ValueError, match="channel must"):
        erf_on_images(net, good, channel=-1)
    with pytest.raises(ValueError, match="channel must be < 4"):
        erf_on_images(net, good, channel=4)
    with pytest.raises(ValueError, match="unit must"):
        erf_on_images(net, good, unit=(9, 0))
    with pytest.raises(ValueError, match="layer must"):
        erf_on_images(net, good, layer="nope")
    with pytest.raises(ValueError, match="model must"):
        erf_on_images("net", good)
    with pytest.raises(ValueError, match="could not run"):
        erf_on_images(net, torch.rand(2, 1, 9, 9))  # 1 channel into a 3-channel network
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) map"):
        erf_on_images(nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten()), good)
