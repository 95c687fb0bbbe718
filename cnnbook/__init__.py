"""cnnbook: the helper package of the book *CNN Architectures, Hands-On*."""
__version__ = "0.1.0"

from cnnbook.env import env_report, get_device, set_seed
from cnnbook.i18n import use_language

__all__ = ["env_report", "get_device", "set_seed", "use_language", "__version__"]
