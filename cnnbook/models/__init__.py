"""Reference implementations of the book's networks, named as torchvision names them."""
from cnnbook.models.weights import load_torchvision_weights

__all__ = ["load_torchvision_weights"]
