"""Grad-CAM against the class activation map it reduces to, and against brute-force occlusion."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.cam import agreement, grad_cam, occlusion_map
from cnnbook.models import small_cnn


def _blob_detector() -> nn.Sequential:
    """A network whose evidence is known: class 0 counts bright pixels in channel 0, class 1 is their negative."""
    conv = nn.Conv2d(1, 4, 3, padding=1)
    model = nn.Sequential(conv, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[:, 0] = torch.tensor([1.0, 0.5, 0.25, 0.125])[:, None, None] / 9
        model[4].weight.copy_(torch.tensor([[1.0, 1, 1, 1], [-1, -1, -1, -1]]))
        model[4].bias.zero_()
    return model


def _blobs() -> torch.Tensor:
    x = torch.zeros(3, 1, 16, 16)
    x[0, 0, 3:7, 9:13] = 1
    x[1, 0, 10:14, 2:6] = 1
    x[2, 0, 1:4, 1:4] = 1
    return x


def test_grad_cam_and_occlusion_agree_on_a_known_case():
    model, x = _blob_detector(), _blobs()
    cam = grad_cam(model, x, model[0], target=0)
    occ = occlusion_map(model, x, target=0, patch=3, stride=1)
    assert cam.shape == occ.shape == (3, 16, 16)
    for i in range(3):
        a = agreement(cam[i], occ[i])
        assert a["correlation"] > 0.9 and a["peak_distance"] <= 1.5
    centre = cam[0, 3:7, 9:13].mean()
    assert centre > 0.5 and cam[0, 12:, :4].max() == 0  # evidence on the blob, none far from it


def test_grad_cam_equals_cam_for_global_pooling_and_linear_head():
    # With global average pooling then a linear layer, Grad-CAM is the CAM of Zhou et al.: relu(sum_k w_ck A_k)
    torch.manual_seed(0)
    model = small_cnn(widths=(4, 6))
    x = torch.rand(2, 3, 8, 8)
    model.eval()
    activation = model.features(x)
    w = model.fc.weight[1]
    expected = F.relu((w[None, :, None, None] * activation).sum(1)).detach()
    expected = expected / expected.flatten(1).max(1).values[:, None, None]
    got = grad_cam(model, x, model.features, target=1, upsample=False)
    assert torch.allclose(got, expected, atol=1e-5)


def test_hooks_and_mode_are_restored():
    model = _blob_detector().train()
    grad_cam(model, _blobs(), model[0])
    occlusion_map(model, _blobs(), patch=4, stride=4)
    assert model.training
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())


def test_frozen_weights_still_get_a_map():
    model = _blob_detector()
    for p in model.parameters():
        p.requires_grad_(False)
    assert grad_cam(model, _blobs(), model[0], target=0)[0].max() == 1


def test_occlusion_by_hand_on_a_linear_model():
    # a linear two-class model on one pixel: only patches covering that pixel change the probability
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.zero_()
        model[1].weight[0, 5] = 4.0  # pixel (1, 1) of a 4x4 image
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 1] = 1
    occ = occlusion_map(model, x, target=0, patch=1, stride=1, fill=0.0)
    assert occ[0, 1, 1] == 1 and occ.sum() == 1


def test_occlusion_without_normalising_gives_the_probability_drop():
    # one pixel decides: covering it moves class 0 from sigmoid(4) to 1/2; a 1x1 patch covers it alone
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.zero_()
        model[1].weight[0, 5] = 4.0
    x = torch.zeros(2, 1, 4, 4)
    x[:, 0, 1, 1] = torch.tensor([1.0, 0.5])
    raw = occlusion_map(model, x, target=0, patch=1, stride=1, fill=0.0, normalise=False)
    expected = torch.sigmoid(torch.tensor([4.0, 2.0])) - 0.5
    assert torch.allclose(raw[:, 1, 1], expected) and raw.sum() == pytest.approx(float(expected.sum()))
    scaled = occlusion_map(model, x, target=0, patch=1, stride=1, fill=0.0)
    assert torch.allclose(scaled, raw / raw.flatten(1).max(1).values[:, None, None])
    with pytest.raises(ValueError, match="normalise"):
        occlusion_map(model, x, normalise=1)


def test_agreement_by_hand():
    a = torch.zeros(4, 4)
    a[1, 2] = 1
    b = torch.zeros(4, 4)
    b[3, 2] = 1
    assert agreement(a, a) == {"correlation": pytest.approx(1.0), "peak_distance": 0.0}
    assert agreement(a, b)["peak_distance"] == 2.0


def test_bad_input():
    model, x = _blob_detector(), _blobs()
    with pytest.raises(ValueError, match="submodule"):
        grad_cam(model, x, nn.Conv2d(1, 1, 1))
    with pytest.raises(ValueError, match="output"):
        grad_cam(model, x, model[3])  # Flatten: no spatial map
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        grad_cam(model, x[0], model[0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        grad_cam(model, x, model[0], target=5)
    with pytest.raises(ValueError, match="one per image"):
        occlusion_map(model, x, target=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="fit"):
        occlusion_map(model, x, patch=20)
    with pytest.raises(ValueError, match="stride"):
        occlusion_map(model, x, stride=0)
    with pytest.raises(ValueError, match="same shape"):
        agreement(torch.zeros(3, 3), torch.zeros(4, 4))
    with pytest.raises(TypeError):
        grad_cam("model", x, model[0])
