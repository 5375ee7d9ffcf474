"""The paper's protocol: vgg5 against the stated network, the SpinalNet recipe's pieces (random restarts
steered by validation, perspective + rotation augmentation, 62 outputs) and its config file."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from infoloss.experiments.augment import perspective_rotation
from infoloss.experiments.config import CompareConfig, TrainConfig, from_dict, load_toml
from infoloss.experiments.models import build_model
from infoloss.experiments.train import _restart_lr, train

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_vgg5_is_the_stated_network():
    # conv blocks of 2/2/3/3 layers (64-64, 128-128, 256x3, 256x3) with BN, ReLU and max-pool, then
    # Dropout(0.5), Linear(256, 512), BN, ReLU, Dropout, Linear(512, C)
    m = build_model("vgg5", (1, 28, 28), 62)
    feats = list(m.features)
    convs = [x for x in feats if isinstance(x, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
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
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) and c.bias is not None for c in convs)
    kinds = "".join({nn.Conv2d: "c", nn.BatchNorm2d: "b", nn.ReLU: "r", nn.MaxPool2d: "M"}[type(x)] for x in feats)
    assert kinds == "cbrcbrMcbrcbrMcbrcbrcbrMcbrcbrcbrM"
    head = [type(x) for x in m.classifier]
    assert head == [nn.Flatten, nn.Dropout, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout, nn.Linear]
    assert m.classifier[1].p == 0.5 and m.classifier[5].p == 0.5
    assert (m.classifier[2].in_features, m.classifier[2].out_features) == (256, 512)
    assert (m.classifier[6].in_features, m.classifier[6].out_features) == (512, 62)
    # SpinalNet's initialization of the convolutions: N(0, 2 / (9 * out_channels))
    torch.manual_seed(0)
    w = build_model("vgg5", (1, 28, 28), 26).features[3].weight  # 64 -> 64
    assert w.std().item() == pytest.approx(math.sqrt(2 / (9 * 64)), rel=0.05)


def test_paper_protocol_config():
    cc = from_dict(CompareConfig, load_toml(CONFIGS / "emnist-letters-spinal-protocol.toml"))
    t = cc.train
    assert (t.optimizer, t.lr, t.batch_size, t.schedule, t.augment, t.num_outputs) == (
        "adam",
        0.005,
        100,
        "random-restart",
        "perspective-rotation",
        62,
    )
    assert t.val_fraction > 0 and cc.select == "best-val" and cc.select_metric == "val_acc"
    assert all("learnable" in loss for loss in cc.losses if loss not in ("ce",))
    assert t.model == "vgg5" and t.weight_decay == 0.0 and len(cc.seeds) >= 5


def test_random_restart_is_steered_by_validation(tiny):
    cfg = TrainConfig(
        model="mlp",
        epochs=6,
        batch_size=32,
        optimizer="adam",
        lr=0.005,
        schedule="random-restart",
        val_fraction=0.25,
        progress=False,
        device="cpu",
        num_outputs=12,
    )
    h = train(cfg, None, dataset=tiny).history
    best, lr = -math.inf, 0.005
    for e, row in enumerate(h):
        assert row["lr"] == pytest.approx(lr)  # the lr this epoch trained with
        if row["val_acc"] > best:
            best = row["val_acc"]
        else:
            lr = _restart_lr(0.005, cfg.seed, e)
    assert _restart_lr(0.005, 0, 3) == _restart_lr(0.005, 0, 3) != _restart_lr(0.005, 1, 3)
    assert 0 <= _restart_lr(0.005, 0, 3) < 0.005


def test_augmentation_is_reproducible_and_off_means_identity(tiny):
    x = tiny.x_train[:16]
    a = perspective_rotation(x, torch.Generator().manual_seed(1))
    b = perspective_rotation(x, torch.Generator().manual_seed(1))
    c = perspective_rotation(x, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c) and a.shape == x.shape
    same = perspective_rotation(x, torch.Generator().manual_seed(1), p=0.0, degrees=0.0)
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    # the background stays background: a blank image is unchanged by any draw
    blank = torch.full((3, 1, 28, 28), -0.42)
    torch.testing.assert_close(perspective_rotation(blank, torch.Generator().manual_seed(3), p=1.0), blank)
    cfg = TrainConfig(
        model="mlp", epochs=1, batch_size=32, augment="perspective-rotation", progress=False, device="cpu"
    )
    r1 = train(cfg, None, dataset=tiny).final
    r2 = train(cfg, None, dataset=tiny).final
    assert r1["test_acc"] == r2["test_acc"] and r1["train_loss"] == r2["train_loss"]
