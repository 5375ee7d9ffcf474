"""Models by name: ``mlp``, ``cnn`` (small, CPU-friendly, any image size >= 4x4), ``vgg5`` and
``spinal-vgg5`` (the VGG of the MIN-ENT/MIX-ENT paper, for 28x28 single-channel input)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["MODELS", "MLP", "SmallCNN", "VGG5", "SpinalHead", "build_model"]


class MLP(nn.Module):
    """Flatten, Linear(C*H*W -> hidden), ReLU, Linear(hidden -> num_classes).

    Shape: input (N, C, H, W), output (N, num_classes) logits.
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
    """Two conv blocks (conv3x3-BN-ReLU, max-pool 2) of 16 and 32 channels, then Linear(-> 128) and output.

    Works for 8x8 digits (features 2x2x32) and 28x28 images (7x7x32).
    Shape: input (N, C, H, W), output (N, num_classes).
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
    """The paper's VGG feature extractor: blocks 64-64 / 128-128 / 256x3 / 256x3 of conv3x3 (padding 1)
    + BatchNorm + ReLU, each block followed by 2x2 max-pool. 28x28 input -> (N, 256, 1, 1).

    Initialized as in the SpinalNet EMNIST script the paper's code descends from: conv weights
    ``N(0, 2 / (3 * 3 * out_channels))`` (conv biases keep torch's default), BatchNorm weight 1, bias 0."""
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
    """VGG with 4 conv blocks and the classifier Dropout, Linear(256->512), BatchNorm1d, ReLU, Dropout,
    Linear(512->num_classes), as used for EMNIST-Letters in the MIN-ENT/MIX-ENT paper.

    Shape: input (N, 1, 28, 28) (any size that reaches 1x1 after four 2x2 pools, i.e. 16..31 pixels),
    output (N, num_classes).

    Example:
        >>> VGG5((1, 28, 28), 26)(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 26])
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
        """Return logits (N, num_classes) for images (N, 1, 28, 28)."""
        logits: torch.Tensor = self.classifier(self.features(x))
        return logits


class SpinalHead(nn.Module):
    """SpinalNet classifier head: the features are split in halves; layer k takes one half (alternating)
    concatenated with layer k-1's output; the outputs of all layers are concatenated and mapped to logits.

    Each spinal layer is Dropout, Linear, BatchNorm1d, ReLU.
    Shape: input (N, in_features) with in_features even, output (N, num_classes).
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

    Shape: input (N, 1, 28, 28), output (N, num_classes).
    """

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        c, h, w = in_shape
        if not (16 <= h < 32 and 16 <= w < 32):
            raise ValueError(f"spinal-vgg5 needs images of 16..31 pixels per side, got {h}x{w}")
        self.features = vgg5_features(c)
        self.head = SpinalHead(256, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits (N, num_classes) for images (N, 1, 28, 28)."""
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

    Raises:
        ValueError: unknown name (lists the valid ones) or an input size the model cannot take.

    Example:
        >>> build_model("cnn", (1, 8, 8), 10)(torch.zeros(4, 1, 8, 8)).shape
        torch.Size([4, 10])
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    return MODELS[name](in_shape, num_classes)
