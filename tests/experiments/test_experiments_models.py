"""Models: VGG5's parameter count derived by hand from its layer sizes, output shapes, errors."""

from __future__ import annotations

import pytest
import torch

from infoloss.experiments.models import build_model


def _conv(cin, cout):  # 3x3 conv with bias, then BatchNorm2d (weight + bias)
    return cin * cout * 9 + cout + 2 * cout


def test_vgg5_parameter_count():
    channels = [
        (1, 64),
        (64, 64),
        (64, 128),
        (128, 128),
        (128, 256),
        (256, 256),
        (256, 256),
        (256, 256),
        (256, 256),
        (256, 256),
    ]
    features = sum(_conv(a, b) for a, b in channels)
    classifier = (256 * 512 + 512) + 2 * 512 + (512 * 26 + 26)  # Linear, BatchNorm1d, Linear
    model = build_model("vgg5", (1, 28, 28), 26)
    assert sum(p.numel() for p in model.parameters()) == features + classifier == 3_654_362


def test_vgg5_output_shape_and_features_are_1x1():
    model = build_model("vgg5", (1, 28, 28), 26).eval()
    x = torch.zeros(3, 1, 28, 28)
    assert model.features(x).shape == (3, 256, 1, 1)
    assert model(x).shape == (3, 26)


def test_spinal_vgg5_head():
    model = build_model("spinal-vgg5", (1, 28, 28), 47).eval()
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 47)
    head = model.head
    # layer 0 takes half of the 256 features; later layers take a half plus the previous output (128)
    assert [layer[1].in_features for layer in head.layers] == [128, 256, 256, 256]
    assert head.out[1].in_features == 4 * 128


@pytest.mark.parametrize("name", ["mlp", "cnn"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28)])
def test_small_models_take_digits_and_mnist_sizes(name, shape):
    model = build_model(name, shape, 10)
    out = model(torch.zeros(4, *shape))
    assert out.shape == (4, 10)


def test_vgg5_rejects_8x8():
    with pytest.raises(ValueError, match="vgg5 needs images of 16..31 pixels per side .* got 8x8"):
        build_model("vgg5", (1, 8, 8), 10)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match="unknown model 'resnet'; valid models: mlp, cnn, vgg5, spinal-vgg5"):
        build_model("resnet", (1, 8, 8), 10)
