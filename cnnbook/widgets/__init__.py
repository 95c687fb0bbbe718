"""Interactive explorers (ipywidgets), each with a static figure for the HTML book."""
