"""Training-time augmentation on batches of tensors (no torchvision): SpinalNet's EMNIST recipe.

``perspective-rotation`` is ``RandomPerspective()`` then ``RandomRotation(10)`` as in the SpinalNet
EMNIST scripts (torchvision's defaults: distortion scale 0.5, applied with probability 0.5; rotation
uniform in [-10, 10] degrees; fill 0 = background). Differences from torchvision, stated: both
transforms are composed into **one** bilinear resampling per image (torchvision resamples twice, the
rotation with nearest-neighbour interpolation), the work happens on whole batches on the training device,
and the background fill is each image's minimum (its standardized black) because the harness's images
are already standardized. The random draws come from a ``torch.Generator`` seeded per (seed, epoch), so
runs stay reproducible and resumable.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["perspective_rotation", "apply_augment"]


def _perspective_endpoints(n: int, h: int, w: int, distortion: float, g: torch.Generator) -> torch.Tensor:
    """(n, 4, 2) corner positions (x, y) of the distorted image, drawn as torchvision's RandomPerspective."""
    dw, dh = int(distortion * (w // 2)), int(distortion * (h // 2))

    def ri(lo: int, hi: int) -> torch.Tensor:  # integers in [lo, hi)
        return torch.randint(lo, hi, (n,), generator=g).double()

    tl = torch.stack([ri(0, dw + 1), ri(0, dh + 1)], 1)
    tr = torch.stack([ri(w - dw - 1, w), ri(0, dh + 1)], 1)
    br = torch.stack([ri(w - dw - 1, w), ri(h - dh - 1, h)], 1)
    bl = torch.stack([ri(0, dw + 1), ri(h - dh - 1, h)], 1)
    return torch.stack([tl, tr, br, bl], 1)


def _homography(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """(n, 3, 3) homographies H with H(src_k) = dst_k for the 4 point pairs of each of n images."""
    n = src.shape[0]
    u, v = src[..., 0], src[..., 1]
    x, y = dst[..., 0], dst[..., 1]
    zero, one = torch.zeros_like(u), torch.ones_like(u)
    rows_x = torch.stack([u, v, one, zero, zero, zero, -u * x, -v * x], -1)
    rows_y = torch.stack([zero, zero, zero, u, v, one, -u * y, -v * y], -1)
    a = torch.cat([rows_x, rows_y], 1)  # (n, 8, 8)
    b = torch.cat([x, y], 1)  # (n, 8)
    coef = torch.linalg.solve(a, b)
    return torch.cat([coef, torch.ones(n, 1, dtype=coef.dtype)], 1).reshape(n, 3, 3)


def perspective_rotation(
    x: torch.Tensor,
    generator: torch.Generator,
    *,
    distortion: float = 0.5,
    p: float = 0.5,
    degrees: float = 10.0,
) -> torch.Tensor:
    """Apply a random perspective (probability ``p``) then a random rotation to each image, in one resampling.

    The corners move as in torchvision's ``RandomPerspective``; the angle is uniform in
    ``[-degrees, degrees]``; the composed map is sampled bilinearly (``grid_sample``, align_corners) and
    pixels from outside the image take each image's minimum.

    Args:
        x: float images, shape ``(N, C, H, W)``, any device.
        generator: CPU generator for the random parameters.
        distortion: perspective distortion scale (torchvision's ``distortion_scale``), in [0, 1].
        p: probability that an image is perspective-distorted.
        degrees: rotation angle range ``[-degrees, degrees]``.

    Returns:
        Augmented images, shape ``(N, C, H, W)`` (same dtype and device).

    Example:
        >>> x = torch.zeros(2, 1, 28, 28); x[:, :, 10:18, 10:18] = 1
        >>> perspective_rotation(x, torch.Generator().manual_seed(0)).shape
        torch.Size([2, 1, 28, 28])
        >>> out = perspective_rotation(x, torch.Generator().manual_seed(0), p=0.0, degrees=0.0)
        >>> (out - x).abs().max()  # no distortion, no rotation: the identity
        tensor(0.)
    """
    n, _, h, w = x.shape
    corners = torch.tensor([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=torch.float64)
    ends = _perspective_endpoints(n, h, w, distortion, generator)
    apply = torch.rand(n, generator=generator) < p
    ends = torch.where(apply[:, None, None], ends, corners.expand(n, 4, 2))
    hom = _homography(ends, corners.expand(n, 4, 2))  # output (distorted) -> input coordinates
    angle = (torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1) * math.radians(degrees)

    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    cx, cy = (w - 1) / 2, (h - 1) / 2
    dx, dy = xs - cx, ys - cy  # (H, W)
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    rx = cx + cos * dx + sin * dy  # rotation: output pixel -> position in the perspective image
    ry = cy - sin * dx + cos * dy
    pts = torch.stack([rx, ry, torch.ones_like(rx)], -1)  # (N, H, W, 3)
    src = torch.einsum("nij,nhwj->nhwi", hom, pts)
    sx, sy = src[..., 0] / src[..., 2], src[..., 1] / src[..., 2]
    grid = torch.stack([2 * sx / (w - 1) - 1, 2 * sy / (h - 1) - 1], -1).to(x.device, x.dtype)
    fill = x.amin(dim=(1, 2, 3), keepdim=True)
    out = F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out + fill


def apply_augment(name: str, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Apply the augmentation called ``name`` (``none`` or ``perspective-rotation``) to a batch.

    Args:
        name: ``"none"`` (``x`` is returned as is) or ``"perspective-rotation"`` (:func:`perspective_rotation`
            with its defaults).
        x: images, shape ``(N, C, H, W)``.
        generator: CPU generator for the random parameters.

    Returns:
        The augmented batch, shape ``(N, C, H, W)``.

    Raises:
        ValueError: if ``name`` is unknown.

    Example:
        >>> x = torch.ones(1, 1, 4, 4)
        >>> apply_augment("none", x, torch.Generator()).sum()
        tensor(16.)
        >>> apply_augment("flip", x, torch.Generator())
        Traceback (most recent call last):
        ...
        ValueError: unknown augment 'flip'; valid: none, perspective-rotation
    """
    if name == "none":
        return x
    if name == "perspective-rotation":
        return perspective_rotation(x, generator)
    raise ValueError(f"unknown augment {name!r}; valid: none, perspective-rotation")
