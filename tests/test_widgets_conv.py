"""Tests of the convolution explorer: the cells it highlights, its figure and its widget."""
import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnnbook.conv import conv_output_size  # noqa: E402
from cnnbook.widgets.conv import (  # noqa: E402
    CHOSEN_COLOR,
    INPUT_COLOR,
    PADDING_COLOR,
    READ_COLOR,
    READ_PADDING_COLOR,
    ConvExplorer,
    conv_explorer,
    input_cells_read,
    plot_conv_windows,
)

SETTINGS = list(itertools.product(range(1, 8), range(1, 4), range(1, 3), range(0, 2), range(1, 3)))


def _valid(size, k, s, p, d):
    try:
        return conv_output_size(size, k, s, p, d)
    except ValueError:
        return None


def test_input_cells_read_matches_unfold():
    """Unfold a padded grid of cell numbers: column j of the result lists the cells output j reads."""
    checked = 0
    for size, k, s, p, d in SETTINGS:
        out = _valid(size, k, s, p, d)
        if out is None:
            continue
        side = size + 2 * p
        numbers = torch.arange(side * side, dtype=torch.float64).reshape(1, 1, side, side)
        columns = F.unfold(numbers, k, dilation=d, stride=s)[0].long()  # (k*k, out*out)
        for row, col in itertools.product(range(out), repeat=2):
            expected = [(int(v) // side, int(v) % side) for v in columns[:, row * out + col]]
            assert input_cells_read(size, k, s, p, d, (row, col)) == expected, (size, k, s, p, d, row, col)
            checked += 1
    assert checked > 500


def test_input_cells_read_matches_a_gradient_probe():
    """The input pixels whose gradient is non-zero for one output are the non-padding cells it reads."""
    cases = [(7, 3, 1, 0, 1, (2, 3)), (7, 3, 2, 1, 2, (1, 2)), (5, 2, 1, 2, 1, (0, 5)), (8, 3, 3, 1, 1, (2, 0)),
             ((5, 8), (2, 3), (1, 2), (1, 0), (2, 1), (3, 1)), (4, 1, 1, 1, 1, (0, 0))]
    for size, k, s, p, d, index in cases:
        h, w = (size, size) if isinstance(size, int) else size
        ph, pw = (p, p) if isinstance(p, int) else p
        kh, kw = (k, k) if isinstance(k, int) else k
        x = torch.zeros(1, 1, h, w, dtype=torch.float64, requires_grad=True)
        y = F.conv2d(x, torch.ones(1, 1, kh, kw, dtype=torch.float64), stride=s, padding=p, dilation=d)
        y[0, 0][index].backward()
        touched = {tuple(rc) for rc in torch.nonzero(x.grad[0, 0]).tolist()}
        cells = input_cells_read(size, k, s, p, d, index)
        inside = {(r - ph, c - pw) for r, c in cells if 0 <= r - ph < h and 0 <= c - pw < w}
        assert touched == inside, (size, k, s, p, d, index)


def test_input_cells_read_hand_cases():
    assert input_cells_read(5, 3, 1, 0, 1, (0, 0)) == [(r, c) for r in range(3) for c in range(3)]
    # stride 2, dilation 2: output (1, 1) starts at (2, 2) and skips every other cell
    assert input_cells_read(9, 2, 2, 0, 2, (1, 1)) == [(2, 2), (2, 4), (4, 2), (4, 4)]
    # "same" padding with an even kernel pads one more cell at the bottom/right, as torch does
    assert input_cells_read(4, 2, padding="same", output_index=(3, 3)) == [(3, 3), (3, 4), (4, 3), (4, 4)]


def _cell_colors(image):
    return np.asarray(image.get_array())[..., :3]


@pytest.mark.parametrize(
    "size, k, s, p, d, index",
    [(7, 3, 1, 0, 1, (0, 0)), (7, 3, 2, 1, 2, (1, 2)), (5, 3, 1, 0, 1, (2, 2)), (4, 2, 1, 2, 1, (0, 0)),
     ((6, 9), (2, 4), 1, "same", 1, (5, 8)), (1, 1, 1, 0, 1, (0, 0))],
)
def test_plot_conv_windows_highlights_the_cells_read(size, k, s, p, d, index):
    fig = plot_conv_windows(size, k, s, p, d, index)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    padded, output = ax.images
    colors = _cell_colors(padded)
    read = set(input_cells_read(size, k, s, p, d, index))
    highlighted = {
        (r, c)
        for r, c in np.ndindex(colors.shape[:2])
        if np.allclose(colors[r, c], READ_COLOR) or np.allclose(colors[r, c], READ_PADDING_COLOR)
    }
    assert highlighted == read
    # every other cell is plain input or padding, and padding read is marked apart from input read
    others = [colors[rc] for rc in np.ndindex(colors.shape[:2]) if rc not in read]
    assert all(np.allclose(c, INPUT_COLOR) or np.allclose(c, PADDING_COLOR) for c in others)
    out = conv_output_size(size, k, s, p, d)
    out = (out, out) if isinstance(out, int) else out
    out_colors = _cell_colors(output)
    assert out_colors.shape[:2] == out
    chosen = {rc for rc in np.ndindex(out) if np.allclose(out_colors[rc], CHOSEN_COLOR)}
    assert chosen == {index}
    assert f"-> {out[0]}x{out[1]}" in ax.get_title()
    fig.canvas.draw()  # the whole figure renders


def test_plot_conv_windows_shades_padding_cells():
    fig = plot_conv_windows(3, 3, 1, 1, 1, (1, 1))  # the window of the centre output touches no padding
    colors = _cell_colors(fig.axes[0].images[0])
    assert colors.shape[:2] == (5, 5)
    ring = [(r, c) for r, c in np.ndindex(5, 5) if r in (0, 4) or c in (0, 4)]
    assert all(np.allclose(colors[rc], PADDING_COLOR) for rc in ring)
    fig = plot_conv_windows(3, 3, 1, 1, 1, (0, 0))  # the corner output reads 5 padding cells
    colors = _cell_colors(fig.axes[0].images[0])
    assert sum(np.allclose(colors[rc], READ_PADDING_COLOR) for rc in np.ndindex(5, 5)) == 5


def test_plot_conv_windows_into_given_axes_and_no_pyplot_leak():
    before = plt.get_fignums()
    plot_conv_windows().canvas.draw()
    assert plt.get_fignums() == before  # pyplot does not keep the figure open
    fig, axes = plt.subplots(1, 2)
    assert plot_conv_windows(5, 3, ax=axes[1]) is fig
    assert len(axes[1].images) == 2 and len(axes[0].images) == 0
    plt.close(fig)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_size=7, kernel_size=3, output_index=(5, 0)), r"output_index \(5, 0\) lies outside the 5x5 output"),
        (dict(input_size=7, kernel_size=3, output_index=(0, -1)), "outside the 5x5 output"),
        (dict(input_size=7, kernel_size=3, output_index=(1,)), r"output_index must be a \(row, col\) pair of ints"),
        (dict(input_size=7, kernel_size=3, output_index=(1.0, 0)), "pair of ints, got"),
        (dict(input_size=7, kernel_size=3, output_index=(True, 0)), "pair of ints, got"),
        (dict(input_size=3, kernel_size=5), "kernel spans 5 cells"),
        (dict(input_size=7, kernel_size=3, stride=0), "stride must be a positive"),
        (dict(input_size=7, kernel_size=3, padding=-1), "padding must be a non-negative"),
        (dict(input_size=7, kernel_size=3, dilation=0), "dilation must be a positive"),
        (dict(input_size=0, kernel_size=1), "input_size must be a positive"),
    ],
)
def test_bad_input_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_conv_windows(**kwargs)
    with pytest.raises(ValueError, match=match):
        input_cells_read(**kwargs)


def test_explorer_builds_and_reacts():
    before = plt.get_fignums()
    explorer = conv_explorer()
    assert isinstance(explorer, ConvExplorer)
    sliders = explorer.sliders
    assert set(sliders) == {"input_size", "kernel_size", "stride", "padding", "dilation", "row", "col"}
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert sliders["row"].max == sliders["col"].max == 4  # 7x7 input, 3x3 kernel -> 5x5 output
    assert "<b>5</b>" in explorer.message.value

    first = bytes(explorer.image.value)
    sliders["row"].value, sliders["col"].value = 4, 3
    assert bytes(explorer.image.value) != first

    # a bigger stride shrinks the output: the output-cell sliders clamp to it
    sliders["stride"].value = 2
    assert conv_output_size(7, 3, 2) == 3
    assert (sliders["row"].max, sliders["row"].value, sliders["col"].value) == (2, 2, 2)

    # an impossible setting shows the error as text instead of raising
    sliders["input_size"].value = 3
    sliders["dilation"].value = 3
    assert "Invalid setting" in explorer.message.value and "kernel spans 7 cells" in explorer.message.value
    assert explorer.image.layout.display == "none"

    # and a valid one brings the figure back
    sliders["padding"].value = 2
    assert conv_output_size(3, 3, 2, 2, 3) == 1
    assert explorer.image.layout.display is None
    assert sliders["row"].max == 0 and sliders["row"].value == 0
    assert "<b>1</b>" in explorer.message.value
    assert plt.get_fignums() == before


def test_explorer_initial_values():
    explorer = conv_explorer(input_size=9, kernel_size=5, stride=2, padding=2, dilation=1)
    assert explorer.settings() == dict(input_size=9, kernel_size=5, stride=2, padding=2, dilation=1, row=0, col=0)
    assert explorer.sliders["col"].max == conv_output_size(9, 5, 2, 2) - 1
    bad = conv_explorer(input_size=2, kernel_size=5)
    assert "Invalid setting" in bad.message.value


def test_explorers_show_sharp_unstretched_pictures_and_a_readable_fallback():
    from cnnbook.widgets import SHARPNESS, fallback_text, figure_png

    explorer = conv_explorer(input_size=7, kernel_size=3)
    png = explorer.image.value
    width_px = int.from_bytes(png[16:20], "big")
    assert explorer.image.layout.width == f"{width_px // SHARPNESS}px"  # twice the pixels it is shown at
    assert repr(explorer) == fallback_text(explorer) == explorer._repr_mimebundle_()["text/plain"]  # not cut short
    assert repr(explorer).startswith("ConvExplorer: run this cell")
    fig = Figure(figsize=(2, 1))
    fig.subplots()
    assert figure_png(fig)[1] == f"{2 * 80}px"
