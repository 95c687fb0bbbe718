"""Reference implementations of the book's networks, named as torchvision names them."""
from cnnbook.models.weights import load_torchvision_weights
from cnnbook.models.resnet import (
    BasicBlock, Bottleneck, PlainBlock, PreActBasicBlock, PreActBottleneck, ResNet, SqueezeExcitation,
    ZeroPadShortcut, cifar_resnet, resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d,
)
from cnnbook.models.densenet import (
    DenseBlock, DenseLayer, DenseNet, Transition, densenet121, densenet161, densenet169, densenet201,
)

__all__ = ["load_torchvision_weights"]

__all__ += [
    "BasicBlock", "Bottleneck", "PlainBlock", "PreActBasicBlock", "PreActBottleneck", "ResNet",
    "SqueezeExcitation", "ZeroPadShortcut", "cifar_resnet", "resnet18", "resnet34", "resnet50", "resnet101",
    "resnet152", "resnext50_32x4d",
    "DenseBlock", "DenseLayer", "DenseNet", "Transition", "densenet121", "densenet161", "densenet169",
    "densenet201",
]
from cnnbook.models.simple_cnn import SimpleCNN, simple_cnn  # noqa: E402
__all__ += ["SimpleCNN", "simple_cnn"]
from cnnbook.models.lenet import LeNet5, lenet5  # noqa: E402
from cnnbook.models.alexnet import AlexNet, alexnet  # noqa: E402  (the builder shadows the module, as in torchvision)
from cnnbook.models.vgg import (  # noqa: E402
    VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn,
)
from cnnbook.models.googlenet import (  # noqa: E402
    GoogLeNet, GoogLeNetOutputs, Inception, InceptionAux, NaiveInception, googlenet,
)
__all__ += [
    "LeNet5", "lenet5", "AlexNet", "alexnet",
    "VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "GoogLeNet", "GoogLeNetOutputs", "Inception", "InceptionAux", "NaiveInception", "googlenet",
]
