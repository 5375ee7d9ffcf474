"""Models by name: ``mlp``, ``cnn`` (small, CPU-friendly, any image size >= 4x4), ``vgg5`` and
``spinal-vgg5`` (the VGG of the MIN-ENT/MIX-ENT paper, for 28x28 single-channel input)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["MODELS", "MLP", "SmallCNN", "VGG5", "SpinalHead", "build_model"]


class MLP(nn.Module):
    """Multilayer perceptron: Flatten, Linear(C*H*W -> hidden), ReLU, Linear(hidden -> num_classes).

    Args:
        in_shape: ``(C, H, W)`` of one image.
        num_classes: number of logits.
        hidden: width of the hidden layer.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, num_classes)`` logits.

    Example:
        >>> model = MLP((1, 8, 8), 10)
        >>> model(torch.zeros(4, 1, 8, 8)).shape, sum(p.numel() for p in model.parameters())
        (torch.Size([4, 10]), 19210)
    """

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, hidden: int = 256) -> None:
        super().__init__()
        c, h, w = in_shape
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits (N, num_classes) for images (N, C, H, W)."""
        logits: torch.Tensor = self.net(x)
        return logits


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """Small CNN: two conv blocks (conv3x3-BN-ReLU, max-pool 2) of ``width`` and ``2 * width`` channels,
    then Linear(-> 128), ReLU and Linear(-> num_classes).

    Works for 8x8 digits (features 2x2x32) and 28x28 images (7x7x32).

    Args:
        in_shape: ``(C, H, W)`` of one image, H and W >= 4.
        num_classes: number of logits.
        width: channels of the first block.

    Raises:
        ValueError: if the image is smaller than 4x4.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, num_classes)`` logits.

    Example:
        >>> SmallCNN((1, 28, 28), 10)(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, width: int = 16) -> None:
        super().__init__()
        c, h, w = in_shape
        if h < 4 or w < 4:
            raise ValueError(f"cnn needs images of at least 4x4, got {h}x{w}")
        self.features = nn.Sequential(
            *_conv_bn_relu(c, width), nn.MaxPool2d(2), *_conv_bn_relu(width, 2 * width), nn.MaxPool2d(2)
        )
        flat = 2 * width * (h // 4) * (w // 4)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, 128), nn.ReLU(inplace=True), nn.Linear(128, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits (N, num_classes) for images (N, C, H, W)."""
        logits: torch.Tensor = self.classifier(self.features(x))
        return logits


def vgg5_features(in_channels: int = 1) -> nn.Sequential:
    """Build the VGG feature extractor of the MIN-ENT/MIX-ENT paper.

    Blocks 64-64 / 128-128 / 256x3 / 256x3 of conv3x3 (padding 1) + BatchNorm + ReLU, each block followed
    by a 2x2 max-pool: a 28x28 input gives ``(N, 256, 1, 1)``. Initialized as in the SpinalNet EMNIST
    script the paper's code descends from: conv weights ``N(0, 2 / (3 * 3 * out_channels))`` (conv biases
    keep torch's default), BatchNorm weight 1, bias 0.

    Args:
        in_channels: channels of the input images.

    Returns:
        The ``nn.Sequential`` of the four blocks.

    Example:
        >>> vgg5_features()(torch.zeros(1, 1, 28, 28)).shape
        torch.Size([1, 256, 1, 1])
    """
    layers: list[nn.Module] = []
    cin = in_channels
    for block in ((64, 64), (128, 128), (256, 256, 256), (256, 256, 256)):
        for cout in block:
            layers += _conv_bn_relu(cin, cout)
            cin = cout
        layers.append(nn.MaxPool2d(2))
    for m in layers:
        if isinstance(m, nn.Conv2d):
            fan = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan))
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return nn.Sequential(*layers)


class VGG5(nn.Module):
    """VGG with 4 conv blocks (:func:`vgg5_features`) and the classifier Dropout, Linear(256->512),
    BatchNorm1d, ReLU, Dropout, Linear(512->num_classes), as used for EMNIST-Letters in the MIN-ENT/MIX-ENT
    paper.

    Args:
        in_shape: ``(C, H, W)`` of one image; H and W in 16..31 (they reach 1x1 after four 2x2 pools).
        num_classes: number of logits.
        dropout: dropout probability of the classifier.

    Raises:
        ValueError: if H or W is outside 16..31.

    Shape:
        - Input: ``(N, C, H, W)``, e.g. ``(N, 1, 28, 28)``.
        - Output: ``(N, num_classes)`` logits.

    Example:
        >>> VGG5((1, 28, 28), 26)(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 26])

    References:
        - I. A. Oladipupo, "Regularizing cross entropy loss via minimum entropy and K-L divergence", 2025.
          https://arxiv.org/abs/2501.13709
    """

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        c, h, w = in_shape
        if not (16 <= h < 32 and 16 <= w < 32):
            raise ValueError(f"vgg5 needs images of 16..31 pixels per side (28x28 for EMNIST), got {h}x{w}")
        self.features = vgg5_features(c)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(256, 512),
            nn.BatchNorm1d(512),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(N, num_classes)`` for images ``(N, C, H, W)``."""
        logits: torch.Tensor = self.classifier(self.features(x))
        return logits


class SpinalHead(nn.Module):
    """SpinalNet classifier head: the features are split in halves; layer k takes one half (alternating)
    concatenated with layer k-1's output; the outputs of all layers are concatenated and mapped to logits.

    Each spinal layer is Dropout, Linear, BatchNorm1d, ReLU; the output layer Dropout, Linear.

    Args:
        in_features: number of input features (even).
        num_classes: number of logits.
        width: output width of each spinal layer.
        layers: number of spinal layers.
        dropout: dropout probability.

    Raises:
        ValueError: if ``in_features`` is odd.

    Shape:
        - Input: ``(N, in_features)``.
        - Output: ``(N, num_classes)`` logits.

    Example:
        >>> SpinalHead(256, 26).eval()(torch.zeros(3, 256)).shape
        torch.Size([3, 26])
    """

    def __init__(
        self, in_features: int, num_classes: int, width: int = 128, layers: int = 4, dropout: float = 0.5
    ) -> None:
        super().__init__()
        if in_features % 2:
            raise ValueError(f"SpinalHead needs an even number of features, got {in_features}")
        self.half_width = in_features // 2
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.Dropout(dropout),
                nn.Linear(self.half_width + (0 if k == 0 else width), width),
                nn.BatchNorm1d(width),
                nn.ReLU(inplace=True),
            )
            for k in range(layers)
        )
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(layers * width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits (N, num_classes) for features (N, in_features)."""
        halves = (x[:, : self.half_width], x[:, self.half_width :])
        outs: list[torch.Tensor] = []
        for k, layer in enumerate(self.layers):
            inp = halves[k % 2] if k == 0 else torch.cat([halves[k % 2], outs[-1]], dim=1)
            outs.append(layer(inp))
        logits: torch.Tensor = self.out(torch.cat(outs, dim=1))
        return logits


class SpinalVGG5(nn.Module):
    """The VGG5 feature extractor with a :class:`SpinalHead` classifier (Spinal-VGG).

    Args:
        in_shape: ``(C, H, W)`` of one image; H and W in 16..31.
        num_classes: number of logits.

    Raises:
        ValueError: if H or W is outside 16..31.

    Shape:
        - Input: ``(N, C, H, W)``, e.g. ``(N, 1, 28, 28)``.
        - Output: ``(N, num_classes)`` logits.
    """

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        c, h, w = in_shape
        if not (16 <= h < 32 and 16 <= w < 32):
            raise ValueError(f"spinal-vgg5 needs images of 16..31 pixels per side, got {h}x{w}")
        self.features = vgg5_features(c)
        self.head = SpinalHead(256, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(N, num_classes)`` for images ``(N, C, H, W)``."""
        logits: torch.Tensor = self.head(torch.flatten(self.features(x), 1))
        return logits


MODELS: dict[str, Callable[[tuple[int, int, int], int], nn.Module]] = {
    "mlp": MLP,
    "cnn": SmallCNN,
    "vgg5": VGG5,
    "spinal-vgg5": SpinalVGG5,
}


def build_model(name: str, in_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """Build a model by registry name.

    Args:
        name: one of ``MODELS`` (``mlp``, ``cnn``, ``vgg5``, ``spinal-vgg5``).
        in_shape: (channels, height, width) of one image.
        num_classes: C, the number of logits.

    Returns:
        The model, in training mode, on CPU.

    Raises:
        ValueError: unknown name (lists the valid ones) or an input size the model cannot take.

    Example:
        >>> build_model("cnn", (1, 8, 8), 10)(torch.zeros(4, 1, 8, 8)).shape
        torch.Size([4, 10])
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    return MODELS[name](in_shape, num_classes)
