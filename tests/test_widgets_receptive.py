"""Tests for cnnbook.widgets.receptive: the drawn field must be the brute-force gradient support."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

from cnnbook.receptive_field import gradient_support, receptive_field_of  # noqa: E402
from cnnbook.widgets.receptive import (  # noqa: E402
    ReceptiveFieldExplorer,
    plot_receptive_field,
    receptive_field_explorer,
)

SIZE = (3, 24, 20)


def small_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.Conv2d(4, 4, 3, stride=2),
    )


def rectangle(fig: Figure, gid: str):
    found = [p for p in fig.axes[0].patches if p.get_gid() == gid]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("layer, unit", [("4", (2, 1)), ("4", (0, 0)), ("4", (4, 3)), ("2", (0, 9)), ("0", (23, 0))])
def test_drawn_rectangle_is_the_gradient_support(layer, unit):
    net = small_net()
    fig = plot_receptive_field(net, SIZE, layer, unit)
    assert isinstance(fig, Figure)
    top, bottom, left, right = gradient_support(net, SIZE, unit, layer=layer)
    inside = rectangle(fig, "receptive-field")
    assert (inside.get_x(), inside.get_y()) == (left - 0.5, top - 0.5)
    assert (inside.get_width(), inside.get_height()) == (right - left + 1, bottom - top + 1)
    full = rectangle(fig, "receptive-field-full")
    size = receptive_field_of(net, SIZE, layer=layer).size
    assert (full.get_width(), full.get_height()) == (size, size)
    assert full.get_linestyle() == "--"
    assert full.get_x() <= inside.get_x() and full.get_y() <= inside.get_y()


def test_images_axes_and_defaults():
    net = small_net()
    photo = torch.rand(3, 24, 20)
    fig = plot_receptive_field(net, SIZE, "3", (1, 1), image=photo)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), photo.permute(1, 2, 0).numpy(), atol=1e-6)
    array = (np.arange(24 * 20 * 3) % 256).astype(np.uint8).reshape(24, 20, 3)
    fig = plot_receptive_field(net, SIZE, "3", (1, 1), image=array)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), array / 255.0)
    grey = plot_receptive_field(net, SIZE, None, (0, 0))  # the last spatial layer, on a grey canvas
    assert float(np.asarray(grey.axes[0].images[0].get_array()).mean()) == 0.5
    assert "4: unit (0, 0)" in grey.axes[0].get_title()
    own = Figure()
    ax = own.subplots()
    assert plot_receptive_field(net, SIZE, "4", (1, 1), image=torch.randn(24, 20), ax=ax) is own


def test_plot_rejects_bad_requests():
    net = small_net()
    with pytest.raises(ValueError, match="must be 24x20"):
        plot_receptive_field(net, SIZE, "4", (0, 0), image=torch.rand(3, 20, 20))
    with pytest.raises(ValueError, match="image must be"):
        plot_receptive_field(net, SIZE, "4", (0, 0), image=np.zeros((24, 20, 5)))
    with pytest.raises(ValueError, match="layer must be a module"):
        plot_receptive_field(net, SIZE, "9", (0, 0))
    with pytest.raises(ValueError, match="unit must lie inside"):
        plot_receptive_field(net, SIZE, "4", (5, 0))
    with pytest.raises(ValueError, match="input_size"):
        plot_receptive_field(net, (24, 20), "4", (0, 0))


def test_explorer_reacts_to_its_controls():
    net = small_net()
    explorer = receptive_field_explorer(net, SIZE, image=torch.rand(3, 24, 20))
    assert isinstance(explorer, ReceptiveFieldExplorer)
    assert list(explorer.layer_dropdown.options) == ["0", "1", "2", "3", "4"]
    assert explorer.layer_dropdown.value == "4"
    assert (explorer.row_slider.max, explorer.col_slider.max) == (4, 3)
    first_png = explorer.picture_widget.value
    assert first_png[:4] == b"\x89PNG"
    assert "field 12, stride 4" in explorer.message.value

    explorer.layer_dropdown.value = "0"
    assert (explorer.row_slider.max, explorer.col_slider.max) == (23, 19)
    explorer.row_slider.value, explorer.col_slider.value = 23, 0
    top, bottom, left, right = gradient_support(net, SIZE, (23, 0), layer="0")
    (r0, r1), (c0, c1) = explorer.bounds
    assert (max(r0, 0), min(r1, 23), max(c0, 0), min(c1, 19)) == (top, bottom, left, right)
    assert explorer.picture_widget.value != first_png

    explorer.layer_dropdown.value = "2"  # 12x10: the sliders are clamped
    assert (explorer.row_slider.value, explorer.col_slider.value) == (11, 0)
    assert explorer.bounds == receptive_field_of(net, SIZE, layer="2").bounds((11, 0))


def test_explorer_layers_and_errors():
    net = small_net()
    explorer = receptive_field_explorer(net, SIZE, layers=["2", "4"])
    assert list(explorer.layer_dropdown.options) == ["2", "4"]
    explorer.rows["4"] = explorer.rows["4"]._replace(out_size=(1, 1))  # pretend a 1x1 map: row 1 is outside
    explorer.row_slider.value = 1
    assert explorer.message.value.startswith("<b>Error:</b>") and "unit must lie inside" in explorer.message.value
    with pytest.raises(ValueError, match="layer must be a module"):
        receptive_field_explorer(net, SIZE, layers=["nope"])
    with pytest.raises(ValueError, match="layers must be"):
        receptive_field_explorer(net, SIZE, layers="2")
    with pytest.raises(ValueError, match="image must be"):
        receptive_field_explorer(net, SIZE, image=np.zeros(5))


def test_the_explorer_falls_back_to_a_readable_line_and_shows_a_sharp_picture():
    from cnnbook.widgets import SHARPNESS, fallback_text

    explorer = receptive_field_explorer(small_net(), SIZE)
    assert explorer._repr_mimebundle_()["text/plain"] == fallback_text(explorer)  # short enough not to be cut
    assert repr(explorer).startswith("ReceptiveFieldExplorer: run this cell")
    width_px = int.from_bytes(explorer.picture_widget.value[16:20], "big")
    assert explorer.picture_widget.layout.width == f"{width_px // SHARPNESS}px" == "400px"
