"""Receptive-field explorer: which input pixels one unit of a chosen layer sees, drawn on a photo."""
from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.patches as patches
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn

from cnnbook.receptive_field import LayerField, _check_input_size, _pair, receptive_field_layers
from cnnbook.widgets import fallback_text, figure_png

__all__ = ["plot_receptive_field", "receptive_field_explorer", "ReceptiveFieldExplorer"]


def _canvas(image: Any, input_size: tuple[int, int, int]) -> np.ndarray:
    """The picture as an (H, W, 3) float array in [0, 1]; a grey canvas when `image` is None."""
    height, width = input_size[1:]
    if image is None:
        return np.full((height, width, 3), 0.5)
    if isinstance(image, torch.Tensor):
        array = image.detach().cpu().numpy()
        if array.ndim == 3 and array.shape[0] in (1, 3):  # torch layout (C, H, W)
            array = array.transpose(1, 2, 0)
    else:
        array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 4:
        array = array[..., :3]
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(
            f"image must be a (3, H, W) tensor or an (H, W, 3) / (H, W) array, got shape {tuple(np.shape(image))}"
        )
    if array.shape[:2] != (height, width):
        raise ValueError(f"image must be {height}x{width} to match input_size {input_size}, got {array.shape[:2]}")
    if array.dtype == np.uint8:
        return array.astype(float) / 255.0
    array = array.astype(float)
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 1:  # e.g. a normalised tensor: stretch it back for display
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return array


def _find(rows: list[LayerField], layer: str | None) -> LayerField:
    if not rows:
        raise ValueError("the model has no layer with a spatial output")
    if layer is None:
        return rows[-1]
    for row in rows:
        if row.name == layer:
            return row
    names = [row.name for row in rows]
    raise ValueError(f"layer must be a module with a spatial output, one of {names[:6]}... got {layer!r}")


def _draw(ax: Axes, row: LayerField, unit: Any, picture: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    """Draw `picture` and the field of `unit` of `row`; return its unclipped ((top, bottom), (left, right))."""
    r, c = _pair(unit, "unit", minimum=0)
    if r >= row.out_size[0] or c >= row.out_size[1]:
        raise ValueError(f"unit must lie inside {row.name}'s output map of size {row.out_size}, got {unit!r}")
    (top, bottom), (left, right) = row.field.bounds((r, c))
    height, width = picture.shape[:2]
    ax.clear()
    ax.imshow(picture, interpolation="nearest")
    full = patches.Rectangle(
        (left - 0.5, top - 0.5), right - left + 1, bottom - top + 1,
        fill=False, linestyle="--", linewidth=1.2, edgecolor="tab:orange", gid="receptive-field-full",
    )
    inner_top, inner_bottom = max(top, 0), min(bottom, height - 1)
    inner_left, inner_right = max(left, 0), min(right, width - 1)
    ax.add_patch(full)
    if inner_top <= inner_bottom and inner_left <= inner_right:
        ax.add_patch(
            patches.Rectangle(
                (inner_left - 0.5, inner_top - 0.5), inner_right - inner_left + 1, inner_bottom - inner_top + 1,
                fill=True, facecolor=(1.0, 0.5, 0.0, 0.18), edgecolor="tab:orange", linewidth=2.0,
                gid="receptive-field",
            )
        )
    ax.plot([(left + right) / 2], [(top + bottom) / 2], marker="+", markersize=12, color="tab:red")
    margin = 2
    ax.set_xlim(min(-0.5, left - 0.5) - margin, max(width - 0.5, right + 0.5) + margin)
    ax.set_ylim(max(height - 0.5, bottom + 0.5) + margin, min(-0.5, top - 0.5) - margin)
    size, stride = row.field.size, row.field.stride
    ax.set_title(f"{row.name}: unit ({r}, {c}), field {size}, stride {stride}", fontsize=10)
    return (top, bottom), (left, right)


def plot_receptive_field(
    model: nn.Module,
    input_size: Sequence[int],
    layer: str | None,
    unit: int | tuple[int, int],
    image: Any = None,
    ax: Axes | None = None,
) -> Figure:
    """Draw `image` (or a grey canvas) and the input pixels that unit (row, col) of module `layer` sees.

    The part inside the image is filled; the whole field, reaching into the padding, is dashed.
    `layer=None` picks the last layer with a spatial output.
    """
    input_size = _check_input_size(input_size)
    picture = _canvas(image, input_size)
    row = _find(receptive_field_layers(model, input_size), layer)
    if ax is None:
        figure = Figure(figsize=(5, 5))
        ax = figure.subplots()
    _draw(ax, row, unit, picture)
    return ax.figure


class ReceptiveFieldExplorer(widgets.VBox):
    """A layer dropdown and row/column sliders that redraw the field of the chosen unit."""

    def __init__(self, model: nn.Module, input_size: Sequence[int], image: Any = None, layers: Any = None):
        input_size = _check_input_size(input_size)
        self.picture = _canvas(image, input_size)
        rows = receptive_field_layers(model, input_size)
        if layers is not None:
            if isinstance(layers, str) or not isinstance(layers, (list, tuple)) or not layers:
                raise ValueError(f"layers must be a non-empty list of module names, got {layers!r}")
            rows = [_find(rows, name) for name in layers]
        if not rows:
            raise ValueError("the model has no layer with a spatial output")
        self.rows = {row.name: row for row in rows}
        self.bounds: tuple[tuple[int, int], tuple[int, int]] | None = None
        self._holding = False
        last = rows[-1]
        self.layer_dropdown = widgets.Dropdown(options=list(self.rows), value=last.name, description="layer")
        self.row_slider = widgets.IntSlider(
            value=last.out_size[0] // 2, min=0, max=last.out_size[0] - 1, description="unit row"
        )
        self.col_slider = widgets.IntSlider(
            value=last.out_size[1] // 2, min=0, max=last.out_size[1] - 1, description="unit col"
        )
        self.message = widgets.HTML()
        self.picture_widget = widgets.Image(format="png")
        self.figure = Figure(figsize=(5, 5))
        self.ax = self.figure.subplots()
        self.layer_dropdown.observe(self._on_layer, names="value")
        self.row_slider.observe(self._on_unit, names="value")
        self.col_slider.observe(self._on_unit, names="value")
        super().__init__(
            [self.layer_dropdown, self.row_slider, self.col_slider, self.message, self.picture_widget]
        )
        self.update()

    def __repr__(self) -> str:
        return fallback_text(self)

    def _on_layer(self, change: dict) -> None:
        row = self.rows[change["new"]]
        self._holding = True
        try:
            for slider, n in ((self.row_slider, row.out_size[0]), (self.col_slider, row.out_size[1])):
                slider.max = max(n - 1, 0)
                slider.value = min(slider.value, n - 1)
        finally:
            self._holding = False
        self.update()

    def _on_unit(self, change: dict) -> None:
        if not self._holding:
            self.update()

    def update(self) -> None:
        """Redraw the figure for the current layer and unit; errors appear as text."""
        try:
            row = self.rows[self.layer_dropdown.value]
            unit = (self.row_slider.value, self.col_slider.value)
            self.bounds = _draw(self.ax, row, unit, self.picture)
            size, stride, padding = row.field
            self.message.value = (
                f"<b>{html.escape(row.name)}</b> ({row.kind}, output {row.out_size[0]}x{row.out_size[1]}): "
                f"field {size}, stride {stride}, padding {padding}; unit {unit} sees rows "
                f"{self.bounds[0][0]}..{self.bounds[0][1]}, columns {self.bounds[1][0]}..{self.bounds[1][1]}"
            )
            png, width = figure_png(self.figure)
            self.picture_widget.value = png
            self.picture_widget.layout.width = width
        except ValueError as err:
            self.message.value = f"<b>Error:</b> {html.escape(str(err))}"


def receptive_field_explorer(
    model: nn.Module, input_size: Sequence[int], image: Any = None, layers: Sequence[str] | None = None
) -> ReceptiveFieldExplorer:
    """An ipywidgets explorer: pick a layer (default: every module with a spatial output) and a unit."""
    return ReceptiveFieldExplorer(model, input_size, image=image, layers=layers)
