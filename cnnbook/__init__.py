"""cnnbook: the helper package of the book *CNN Architectures, Hands-On*."""
__version__ = "0.1.0"

from cnnbook.env import env_report, get_device, set_seed

__all__ = ["env_report", "get_device", "set_seed", "__version__"]
