import pytest
import torch
from torch import nn

from cnnbook.models.unet import (
    DoubleConv,
    Down,
    UNet,
    Up,
    center_crop,
    nearest_valid_sizes,
    overlap_tile_predict,
    unet,
    unet_sizes,
)
from cnnbook.profile import count_params


def test_2015_network_parameter_count_on_meta():
    with torch.device("meta"):
        model = unet()
    assert count_params(model) == 31_030_658
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the 2015 network had none


def test_2015_sizes_by_arithmetic():
    sizes = unet_sizes(572)
    assert sizes.output == 388
    assert sizes.encoder == (568, 280, 136, 64) and sizes.bottom == 28
    assert sizes.crops == ((568, 392), (280, 200), (136, 104), (64, 56))
    assert sizes.decoder == ((56, 52), (104, 100), (200, 196), (392, 388))


def test_2015_sizes_by_a_meta_forward():
    with torch.device("meta"):
        model = unet()
        crops = []
        for up in model.ups:  # record (encoder map, cropped to) at every join
            up.register_forward_pre_hook(lambda m, args: crops.append((args[1].shape[-1], 2 * args[0].shape[-1])))
        out = model(torch.empty(1, 1, 572, 572))
    assert out.shape == (1, 2, 388, 388)
    assert crops[::-1] == list(unet_sizes(572).crops)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_valid_sides_are_2_to_the_depth_k_plus_offset(depth):
    step, offset = 2**depth, 4 * (2 ** (depth + 1) - 1)  # 16k + 124 for depth 4
    k_min = 4 * (step - 1) // step + 1  # the decoder's output must keep at least 1 pixel
    for side in range(1, 700):
        expected = (side - offset) % step == 0 and (side - offset) // step >= k_min
        try:
            sizes = unet_sizes(side, depth)
        except ValueError:
            assert not expected, side
        else:
            assert expected, side
            assert sizes.bottom == (side - offset) // step and sizes.output == side - 8 * (2 * step - 1) + 4 * step
    assert nearest_valid_sizes(0, depth)[1] == offset + step * k_min


def test_real_forward_on_a_small_valid_network_matches_the_arithmetic():
    torch.manual_seed(0)
    model = unet(in_channels=3, num_classes=4, base_channels=4, depth=4).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 188, 204))
    assert out.shape == (1, 4, unet_sizes(188).output, unet_sizes(204).output) == (1, 4, 4, 20)


def test_bad_side_names_the_nearest_valid_sides():
    with pytest.raises(ValueError, match=r"16k \+ 124.*nearest: 556 or 572"):
        unet_sizes(571)
    with pytest.raises(ValueError, match="nearest: 492 or 508"):
        with torch.device("meta"):
            unet()(torch.empty(1, 1, 500, 500))
    with pytest.raises(ValueError, match="nearest: 188"):
        unet_sizes(100)
    with pytest.raises(ValueError, match="multiples of 16; nearest: 64 or 80"):
        unet_sizes(70, padding=True)


@pytest.mark.parametrize("side", [16, 32, 48, 64])
def test_padded_unet_keeps_the_size(side):
    torch.manual_seed(0)
    model = unet(in_channels=3, num_classes=4, padding=True, base_channels=4, depth=4)
    assert model(torch.rand(2, 3, side, side)).shape == (2, 4, side, side)
    assert unet_sizes(side, 4, padding=True).output == side


def test_padded_unet_refuses_non_multiples_and_non_square_works():
    model = unet(in_channels=1, num_classes=2, padding=True, base_channels=2, depth=3)
    assert model(torch.rand(1, 1, 24, 40)).shape == (1, 2, 24, 40)
    with pytest.raises(ValueError, match="multiples of 8"):
        model(torch.rand(1, 1, 24, 36))


@pytest.mark.parametrize("upsample", ["transpose", "resize"])
@pytest.mark.parametrize("skips", [True, False])
def test_options_keep_sizes_and_change_what_they_say(upsample, skips):
    torch.manual_seed(0)
    model = unet(3, 3, padding=True, base_channels=4, depth=2, upsample=upsample, skips=skips,
                 norm_layer=nn.BatchNorm2d)
    out = model(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 3, 32, 32)
    ups = list(model.ups)
    assert all(isinstance(u.up, nn.ConvTranspose2d) == (upsample == "transpose") for u in ups)
    # Without skips the decoder's convolutions see only the upsampled map.
    assert ups[-1].conv.conv1.in_channels == (8 if skips else 4)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_skips_change_the_output_and_the_parameter_count():
    with torch.device("meta"):
        assert count_params(unet(skips=False)) < count_params(unet())
        assert count_params(unet(upsample="resize")) != count_params(unet())
    torch.manual_seed(0)
    model = unet(1, 2, base_channels=4, depth=2).eval()  # valid convolutions: the skip is cropped
    seen = {}
    model.first.register_forward_hook(lambda m, args, out: seen.update(first=out))
    model.ups[-1].conv.register_forward_hook(lambda m, args, out: seen.update(joined=args[0]))
    model(torch.rand(1, 1, 60, 60))
    joined, first = seen["joined"], seen["first"]
    # The last decoder block sees the full-resolution encoder map, centre-cropped, beside the upsampled one.
    assert joined.shape[1] == 4 + 4 and first.shape[-1] > joined.shape[-1]
    assert torch.equal(joined[:, :4], center_crop(first, *joined.shape[-2:]))


def test_blocks():
    block = DoubleConv(3, 5)
    assert [n for n, _ in block.named_children()] == ["conv1", "relu1", "conv2", "relu2"]
    assert block(torch.rand(1, 3, 10, 10)).shape == (1, 5, 6, 6)
    assert DoubleConv(3, 5, padding=True)(torch.rand(1, 3, 10, 10)).shape == (1, 5, 10, 10)
    assert Down(5, 7)(torch.rand(1, 5, 12, 12)).shape == (1, 7, 2, 2)
    up = Up(8, 4, skip_channels=4)
    assert up(torch.rand(1, 8, 6, 6), torch.rand(1, 4, 16, 16)).shape == (1, 4, 8, 8)
    with pytest.raises(ValueError, match="encoder map"):
        up(torch.rand(1, 8, 6, 6))
    assert torch.equal(center_crop(torch.arange(36.0).reshape(1, 1, 6, 6), 2, 2),
                       torch.tensor([[[[14.0, 15.0], [20.0, 21.0]]]]))
    with pytest.raises(ValueError):
        center_crop(torch.zeros(1, 1, 4, 4), 6, 6)


@pytest.mark.parametrize(
    "kwargs",
    [{"num_classes": 0}, {"in_channels": 0}, {"depth": 0}, {"base_channels": 2.5}, {"upsample": "bilinear"}],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        unet(**kwargs)


def test_bad_images():
    model = unet(1, 2, padding=True, base_channels=2, depth=2)
    with pytest.raises(ValueError, match="input channels"):
        model(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="4-D"):
        model(torch.rand(1, 16, 16))
    with pytest.raises(ValueError):
        unet_sizes(0)


def test_overlap_tile_is_seamless():
    """Any tiling gives the logits of one pass over the mirror-padded image: the tiles leave no seams."""
    torch.manual_seed(0)
    model = unet(1, 2, base_channels=2, depth=2).eval()
    h, w = 61, 53
    image = torch.rand(1, 1, h, w)
    smallest = unet_sizes(nearest_valid_sizes(0, 2)[1], 2)  # 44 -> 4
    margin = (smallest.input - smallest.output) // 2
    big = unet_sizes(104, 2)  # 104 -> 64: one pass covers the whole image
    with torch.no_grad():
        small = overlap_tile_predict(model, image, tile=smallest.output)
        large = overlap_tile_predict(model, image, tile=unet_sizes(64, 2).output)
        padded = torch.nn.functional.pad(image, (margin, big.output - w + margin, margin, big.output - h + margin),
                                         mode="reflect")
        whole = model(padded)[..., :h, :w]
    assert small.shape == large.shape == (1, 2, h, w)
    torch.testing.assert_close(small, whole, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(large, whole, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="output side"):
        overlap_tile_predict(model, image, tile=5)
    with pytest.raises(ValueError):
        overlap_tile_predict(nn.Identity(), image, tile=4)


def test_class_and_builder_agree():
    with torch.device("meta"):
        a, b = unet(3, 5, padding=True, depth=3), UNet(3, 5, True, 64, 3)
    assert count_params(a) == count_params(b)
    assert a.sizes(64).output == 64


def test_traces_with_fx_and_draws():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnbook.diagram import draw_network

    torch.manual_seed(0)
    for padding, side in ((True, 32), (False, 60)):
        model = unet(3, 2, padding=padding, base_channels=4, depth=2).eval()
        traced = torch.fx.symbolic_trace(model)
        x = torch.rand(1, 3, side, side)
        assert torch.equal(traced(x), model(x))
    fig = draw_network(model, (3, 60, 60))
    plt.close(fig)


def test_transposed_upsampling_makes_a_checkerboard_and_resize_does_not():
    """On a constant map a stride-2 transposed conv repeats its 2x2 kernel: a period-2 pattern. Resize + conv
    gives a constant interior (Odena et al., 2016)."""
    torch.manual_seed(0)
    flat = torch.ones(1, 4, 8, 8)
    with torch.no_grad():
        tiled = Up(4, 2, 0, upsample="transpose").up(flat)[0, 0]
        smooth = Up(4, 2, 0, upsample="resize").up(flat)[0, 0]
    assert torch.equal(tiled, tiled[:2, :2].repeat(8, 8)) and tiled[:2, :2].std() > 1e-3
    interior = smooth[1:-1, 1:-1]
    torch.testing.assert_close(interior, torch.full_like(interior, float(interior[0, 0])))
