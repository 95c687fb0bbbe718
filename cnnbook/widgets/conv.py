"""The convolution explorer: which input cells one output cell reads, as a static figure and a widget."""
from __future__ import annotations

from numbers import Integral

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from cnnbook.conv import IntOrPair, Padding, _pair, _resolve_padding, conv_output_size
from cnnbook.widgets import fallback_text, figure_png

PADDING_COLOR = to_rgb("#d0d0d0")
INPUT_COLOR = to_rgb("#f4f4f4")
READ_COLOR = to_rgb("#f28e2b")
READ_PADDING_COLOR = to_rgb("#b35806")
OUTPUT_COLOR = to_rgb("#dbe9f6")
CHOSEN_COLOR = READ_COLOR


def _geometry(input_size, kernel_size, stride, padding, dilation, output_index):
    """Validated numbers shared by input_cells_read and plot_conv_windows."""
    sizes = _pair(input_size, "input_size", 1)
    kernels = _pair(kernel_size, "kernel_size", 1)
    strides = _pair(stride, "stride", 1)
    dilations = _pair(dilation, "dilation", 1)
    pads = _resolve_padding(padding, kernels, dilations, strides)
    out = conv_output_size(sizes, kernels, strides, padding, dilations)
    if (
        not isinstance(output_index, (tuple, list))
        or len(output_index) != 2
        or not all(isinstance(v, Integral) and not isinstance(v, bool) for v in output_index)
    ):
        raise ValueError(f"output_index must be a (row, col) pair of ints, got {output_index!r}")
    row, col = output_index
    if not (0 <= row < out[0] and 0 <= col < out[1]):
        raise ValueError(
            f"output_index {tuple(output_index)} lies outside the {out[0]}x{out[1]} output "
            f"(rows 0..{out[0] - 1}, cols 0..{out[1] - 1})"
        )
    return sizes, kernels, strides, pads, dilations, out, (int(row), int(col))


def input_cells_read(
    input_size: IntOrPair = 7,
    kernel_size: IntOrPair = 3,
    stride: IntOrPair = 1,
    padding: Padding = 0,
    dilation: IntOrPair = 1,
    output_index: tuple[int, int] = (0, 0),
) -> list[tuple[int, int]]:
    """The (row, col) cells of the *padded* input that one output cell reads, in kernel order (row by row)."""
    _, kernels, strides, _, dilations, _, (row, col) = _geometry(
        input_size, kernel_size, stride, padding, dilation, output_index
    )
    return [
        (row * strides[0] + a * dilations[0], col * strides[1] + b * dilations[1])
        for a in range(kernels[0])
        for b in range(kernels[1])
    ]


def _grid_lines(ax: Axes, x0: float, rows: int, cols: int) -> None:
    ax.hlines(range(rows + 1), x0, x0 + cols, color="0.55", linewidth=0.8)
    ax.vlines([x0 + c for c in range(cols + 1)], 0, rows, color="0.55", linewidth=0.8)


def plot_conv_windows(
    input_size: IntOrPair = 7,
    kernel_size: IntOrPair = 3,
    stride: IntOrPair = 1,
    padding: Padding = 0,
    dilation: IntOrPair = 1,
    output_index: tuple[int, int] = (0, 0),
    ax: Axes | None = None,
) -> Figure:
    """Draw the padded input, the cells one output cell reads (dilation gaps included) and the output grid.

    Draws into ax if given, else into a new figure that pyplot does not keep open; returns the Figure.
    """
    sizes, kernels, strides, pads, dilations, out, (row, col) = _geometry(
        input_size, kernel_size, stride, padding, dilation, output_index
    )
    (top, bottom), (left, right) = pads
    rows_p, cols_p = sizes[0] + top + bottom, sizes[1] + left + right
    gap = 2
    x_out = cols_p + gap

    if ax is None:
        width = max(5.0, 0.4 * (x_out + out[1]) + 1.0)
        height = max(3.0, 0.4 * max(rows_p, out[0]) + 1.6)
        # Made through pyplot so that Jupyter's inline backend is set up and displays the returned figure,
        # then closed at once: the figure leaks nothing and is not shown a second time at the end of the cell.
        fig, ax = plt.subplots(figsize=(width, height))
        plt.close(fig)
    fig = ax.figure

    inside = np.zeros((rows_p, cols_p), dtype=bool)
    inside[top : top + sizes[0], left : left + sizes[1]] = True
    picture = np.where(inside[..., None], INPUT_COLOR, PADDING_COLOR)
    for r, c in input_cells_read(sizes, kernels, strides, padding, dilations, (row, col)):
        picture[r, c] = READ_COLOR if inside[r, c] else READ_PADDING_COLOR
    output_picture = np.tile(np.array(OUTPUT_COLOR), (out[0], out[1], 1))
    output_picture[row, col] = CHOSEN_COLOR

    ax.imshow(picture, extent=(0, cols_p, rows_p, 0), interpolation="nearest")
    ax.imshow(output_picture, extent=(x_out, x_out + out[1], out[0], 0), interpolation="nearest")
    _grid_lines(ax, 0, rows_p, cols_p)
    _grid_lines(ax, x_out, out[0], out[1])
    # The real input inside the padding, and the full (dilated) span of the window.
    ax.add_patch(Rectangle((left, top), sizes[1], sizes[0], fill=False, edgecolor="0.15", linewidth=2))
    span_h, span_w = dilations[0] * (kernels[0] - 1) + 1, dilations[1] * (kernels[1] - 1) + 1
    r0, c0 = row * strides[0], col * strides[1]
    ax.add_patch(
        Rectangle((c0, r0), span_w, span_h, fill=False, edgecolor=READ_PADDING_COLOR, linewidth=2, linestyle="--")
    )
    ax.annotate(
        "",
        xy=(x_out + col + 0.5, row + 0.5),
        xytext=(c0 + span_w, r0 + span_h / 2),
        arrowprops=dict(arrowstyle="->", color=READ_PADDING_COLOR, linewidth=1.5, connectionstyle="arc3,rad=-0.2"),
    )

    if top == bottom == left == right:
        pad_text = f" + padding {top}" if top else ""
    elif top == bottom and left == right:
        pad_text = f" + padding ({top}, {left})"
    else:
        pad_text = f" + padding ({top}, {bottom}) rows, ({left}, {right}) cols"
    ax.text(cols_p / 2, -0.4, f"input {sizes[0]}x{sizes[1]}{pad_text}", ha="center", va="bottom", fontsize=9)
    ax.text(x_out + out[1] / 2, -0.4, f"output {out[0]}x{out[1]}", ha="center", va="bottom", fontsize=9)
    ax.set_title(
        f"kernel {_fmt(kernels)}, stride {_fmt(strides)}, padding {_fmt_padding(padding)}, "
        f"dilation {_fmt(dilations)}: {sizes[0]}x{sizes[1]} -> {out[0]}x{out[1]}",
        fontsize=10,
        pad=18,
    )
    handles = [
        Patch(facecolor=INPUT_COLOR, edgecolor="0.4", label="input"),
        Patch(facecolor=PADDING_COLOR, edgecolor="0.4", label="padding"),
        Patch(facecolor=READ_COLOR, edgecolor="0.4", label=f"read by output ({row}, {col})"),
        Patch(facecolor=READ_PADDING_COLOR, edgecolor="0.4", label="padding read"),
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, frameon=False, fontsize=8)
    ax.set_xlim(-0.3, x_out + out[1] + 0.3)
    ax.set_ylim(max(rows_p, out[0]) + 0.3, -0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig


def _fmt(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def _fmt_padding(padding: Padding) -> str:
    if isinstance(padding, str):
        return repr(padding)
    return _fmt(_pair(padding, "padding", 0))


class ConvExplorer(widgets.VBox):
    """Sliders for a convolution's settings and an output cell; shows plot_conv_windows or the error."""

    def __init__(
        self, input_size: int = 7, kernel_size: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1
    ) -> None:
        super().__init__()

        def slider(description: str, value: int, low: int, high: int) -> widgets.IntSlider:
            return widgets.IntSlider(
                value=value, min=low, max=high, description=description, continuous_update=False,
                style={"description_width": "90px"},
            )

        self.sliders = {
            "input_size": slider("input size", input_size, 1, 12),
            "kernel_size": slider("kernel size", kernel_size, 1, 7),
            "stride": slider("stride", stride, 1, 4),
            "padding": slider("padding", padding, 0, 3),
            "dilation": slider("dilation", dilation, 1, 3),
            "row": slider("output row", 0, 0, 0),
            "col": slider("output col", 0, 0, 0),
        }
        self.message = widgets.HTML()
        self.image = widgets.Image(format="png")
        self._busy = False
        for s in self.sliders.values():
            s.observe(self._on_change, names="value")
        sliders = list(self.sliders.values())
        self.children = [
            widgets.HBox([widgets.VBox(sliders[:3]), widgets.VBox(sliders[3:5]), widgets.VBox(sliders[5:])]),
            self.message,
            self.image,
        ]
        self.redraw()

    def __repr__(self) -> str:
        return fallback_text(self)

    def _on_change(self, change: dict) -> None:
        if not self._busy:
            self.redraw()

    def settings(self) -> dict[str, int]:
        """The current slider values by name."""
        return {name: s.value for name, s in self.sliders.items()}

    def redraw(self) -> None:
        """Clamp the output-cell sliders to the current output size, then draw (or show the error)."""
        v = self.settings()
        try:
            out = conv_output_size(v["input_size"], v["kernel_size"], v["stride"], v["padding"], v["dilation"])
        except ValueError as error:
            self.message.value = f"<b style='color:#b30000'>Invalid setting:</b> {error}"
            self.image.layout.display = "none"
            return
        self._busy = True  # lowering max clamps the value, which would redraw in the middle of this one
        try:
            for name in ("row", "col"):
                self.sliders[name].max = out - 1
        finally:
            self._busy = False
        v = self.settings()
        fig = plot_conv_windows(
            v["input_size"], v["kernel_size"], v["stride"], v["padding"], v["dilation"], (v["row"], v["col"])
        )
        png, width = figure_png(fig, tight=True)
        plt.close(fig)  # already closed by plot_conv_windows; kept so that no redraw can ever leak a figure
        self.image.value = png
        self.image.layout.width = width  # shown at its natural size, not stretched to the output's width
        self.image.layout.display = None
        self.message.value = (
            f"output size = floor(({v['input_size']} + 2*{v['padding']} - {v['dilation']}*({v['kernel_size']} - 1)"
            f" - 1) / {v['stride']} + 1) = <b>{out}</b>"
        )


def conv_explorer(
    input_size: int = 7, kernel_size: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1
) -> ConvExplorer:
    """An ipywidgets explorer: sliders for input size, kernel, stride, padding, dilation and the output cell.

    Invalid settings show the ValueError's message instead of the figure.
    """
    return ConvExplorer(input_size, kernel_size, stride, padding, dilation)
