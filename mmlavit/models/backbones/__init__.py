from .cifar_resnet import CifarResNet
from .conv4 import Conv4
from .lavit import LaViT
from .resnet12 import ResNet12

__all__ = ['LaViT', 'CifarResNet', 'Conv4', 'ResNet12']
