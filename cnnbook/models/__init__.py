"""Reference implementations of the book's networks, named as torchvision names them.

As in torchvision, a builder shadows its module's name (``cnnbook.models.alexnet`` is the function);
import classes from the modules, e.g. ``from cnnbook.models.alexnet import AlexNet``.
"""
from cnnbook.models.weights import calibrate_batchnorm, load_torchvision_weights
from cnnbook.models.simple_cnn import SimpleCNN, SmallCNN, SmallFCN, simple_cnn, small_cnn, small_fcn
from cnnbook.models.lenet import LeNet5, lenet5
from cnnbook.models.alexnet import AlexNet, alexnet
from cnnbook.models.vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from cnnbook.models.googlenet import GoogLeNet, GoogLeNetOutputs, Inception, InceptionAux, NaiveInception, googlenet
from cnnbook.models.resnet import (
    BasicBlock, Bottleneck, PlainBlock, PreActBasicBlock, PreActBottleneck, ResNet, SqueezeExcitation,
    ZeroPadShortcut, cifar_resnet, resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d,
)
from cnnbook.models.densenet import (
    DenseBlock, DenseLayer, DenseNet, Transition, densenet121, densenet161, densenet169, densenet201,
)
from cnnbook.models.mobilenet import (
    ConvNormAct, DepthwiseSeparable, InvertedResidual, MobileNetV1, MobileNetV2, MobileNetV3, make_divisible,
    mobilenet_v1, mobilenet_v2, mobilenet_v3_large, mobilenet_v3_small,
)
from cnnbook.models.efficientnet import (
    EfficientNet, FusedMBConv, MBConv, StochasticDepth, efficientnet_b0, efficientnet_b1, efficientnet_b2,
    efficientnet_b3, efficientnet_b4, efficientnet_b5, efficientnet_b6, efficientnet_b7, efficientnet_lite0,
    efficientnet_v2_s, load_lite0_weights,
)
from cnnbook.models.convnext import (
    CNBlock, ConvNeXt, ConvNeXtDownsample, ConvNeXtStem, LadderBlock, LadderConfig, LadderNet, LayerNorm2d,
    convnext_base, convnext_ladder, convnext_large, convnext_mini, convnext_small, convnext_tiny,
)
from cnnbook.models.unet import (
    DoubleConv, Down, UNet, UNetSizes, Up, center_crop, nearest_valid_sizes, overlap_tile_predict, unet, unet_sizes,
)
from cnnbook.models.yolo import (
    DEFAULT_ANCHORS, YOLO, decode_predictions, reshape_head_output, small_yolo, target_logits, yolo_loss,
)
from cnnbook.models.vit import (
    EncoderBlock, MLPBlock, SelfAttention, VisionTransformer, attention_rollout, interpolate_embeddings,
    small_vit, vit_b_16, vit_b_32, vit_h_14, vit_l_16, vit_l_32,
)

__all__ = [
    "load_torchvision_weights", "calibrate_batchnorm",
    "SimpleCNN", "simple_cnn", "SmallCNN", "small_cnn", "SmallFCN", "small_fcn",
    "LeNet5", "lenet5",
    "AlexNet", "alexnet",
    "VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "GoogLeNet", "GoogLeNetOutputs", "Inception", "InceptionAux", "NaiveInception", "googlenet",
    "BasicBlock", "Bottleneck", "PlainBlock", "PreActBasicBlock", "PreActBottleneck", "ResNet",
    "SqueezeExcitation", "ZeroPadShortcut", "cifar_resnet", "resnet18", "resnet34", "resnet50", "resnet101",
    "resnet152", "resnext50_32x4d",
    "DenseBlock", "DenseLayer", "DenseNet", "Transition", "densenet121", "densenet161", "densenet169",
    "densenet201",
    "ConvNormAct", "DepthwiseSeparable", "InvertedResidual", "MobileNetV1", "MobileNetV2", "MobileNetV3",
    "make_divisible", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
    "EfficientNet", "FusedMBConv", "MBConv", "StochasticDepth", "efficientnet_b0", "efficientnet_b1",
    "efficientnet_b2", "efficientnet_b3", "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
    "efficientnet_lite0", "efficientnet_v2_s", "load_lite0_weights",
    "CNBlock", "ConvNeXt", "ConvNeXtDownsample", "ConvNeXtStem", "LadderBlock", "LadderConfig", "LadderNet",
    "LayerNorm2d", "convnext_base", "convnext_ladder", "convnext_large", "convnext_mini", "convnext_small",
    "convnext_tiny",
    "DoubleConv", "Down", "UNet", "UNetSizes", "Up", "center_crop", "nearest_valid_sizes", "overlap_tile_predict",
    "unet", "unet_sizes",
    "DEFAULT_ANCHORS", "YOLO", "decode_predictions", "reshape_head_output", "small_yolo", "target_logits",
    "yolo_loss",
    "EncoderBlock", "MLPBlock", "SelfAttention", "VisionTransformer", "attention_rollout", "interpolate_embeddings",
    "small_vit", "vit_b_16", "vit_b_32", "vit_h_14", "vit_l_16", "vit_l_32",
]
