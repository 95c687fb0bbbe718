"""Interactive explorers (ipywidgets), each with a static figure for the HTML book."""
from __future__ import annotations

import io
import struct

from matplotlib.figure import Figure

SHARPNESS = 2
"""Explorer figures are rendered at twice the pixels they are shown at: sharp on high-density screens."""
SCREEN_DPI = 80
"""Pixels per inch of figure at which an explorer shows its picture (before SHARPNESS)."""
FALLBACK = "{name}: run this cell (Jupyter or Colab, notebook trusted) to use the explorer."
"""What a notebook shows for an explorer where widgets cannot render (an untrusted notebook, a static viewer);
ipywidgets cuts this text after 110 characters."""


def figure_png(figure: Figure, tight: bool = False) -> tuple[bytes, str]:
    """The figure as PNG bytes at SHARPNESS times SCREEN_DPI, and the CSS width that shows it at SCREEN_DPI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=SCREEN_DPI * SHARPNESS, bbox_inches="tight" if tight else None)
    png = buffer.getvalue()
    width = struct.unpack(">I", png[16:20])[0]  # the IHDR chunk: width, then height, as big-endian 32-bit ints
    return png, f"{width // SHARPNESS}px"


def fallback_text(widget: object) -> str:
    """The readable stand-in for an explorer's output where widgets cannot render."""
    return FALLBACK.format(name=type(widget).__name__)
