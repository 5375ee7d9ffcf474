"""Datasets by name: ``digits`` (offline), ``fashion-mnist``, ``emnist-letters``, ``emnist-balanced``.

Every loader returns a :class:`Dataset` of in-memory float tensors, standardized with the training
split's mean and standard deviation, images shaped (N, 1, H, W) and labels int64 in ``0..C-1``.
The MNIST family is read by one IDX reader, :func:`read_idx` (plain or gzip files).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetError",
    "IDXError",
    "load_dataset",
    "read_idx",
    "write_idx",
    "FASHION_MNIST_DIR",
    "Splits",
    "make_splits",
]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
EMNIST_DIR = os.path.join("data", "emnist")

_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class IDXError(ValueError):
    """Raised when an IDX file is malformed (bad magic number, truncated, wrong dimensions); names the file.

    A subclass of ``ValueError``.
    """


class DatasetError(ValueError):
    """Raised when a dataset cannot be loaded (unknown name, missing directory or file, bad labels).

    A subclass of ``ValueError``; the message names what was looked for.
    """


@dataclass
class Dataset:
    """Train and test tensors of one dataset.

    Attributes:
        name: registry name.
        x_train: (N, 1, H, W) float32, standardized.
        y_train: (N,) int64 in ``0..num_classes-1``.
        x_test, y_test: the same for the test split.
        classes: class names, ``len(classes) == num_classes``.

    Example:
        >>> ds = load_dataset("digits")
        >>> ds.name, ds.input_shape, ds.num_classes, len(ds.y_train), len(ds.y_test)
        ('digits', (1, 8, 8), 10, 1347, 450)
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: list[str]

    @property
    def num_classes(self) -> int:
        """Number of classes C (``len(classes)``)."""
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of one image."""
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST family's format), plain or gzip-compressed (``.gz``).

    The header is two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions, then one
    big-endian uint32 per dimension; the data follow in C order.

    Args:
        path: file path; ``.gz`` files are decompressed.

    Returns:
        ndarray with the stored dtype (native byte order) and shape (d0, d1, ...).

    Raises:
        FileNotFoundError: the file is missing (the message names it).
        IDXError: bad magic number, unknown type code, or data shorter/longer than the dimensions say.

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_idx(pathlib.Path(d, "x.idx.gz"), np.arange(6, dtype=np.uint8).reshape(2, 3))
        ...     print(repr(read_idx(pathlib.Path(d, "x.idx.gz"))))
        array([[0, 1, 2],
               [3, 4, 5]], dtype=uint8)
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"IDX file not found: {p}")
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise IDXError(f"cannot read IDX file {p}: {e}") from None
    if len(raw) < 4:
        raise IDXError(f"IDX file {p} is truncated: {len(raw)} bytes, no complete header")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise IDXError(
            f"bad magic number in {p}: {raw[:4].hex()} (expected 0000 then a type code in "
            f"{sorted(hex(k) for k in _IDX_DTYPES)}, then the number of dimensions)"
        )
    dtype = _IDX_DTYPES[raw[2]]
    ndim = raw[3]
    if ndim == 0:
        raise IDXError(f"bad IDX header in {p}: zero dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"IDX file {p} is truncated inside its header ({len(raw)} < {header} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "longer than its header says"
        raise IDXError(f"IDX file {p} is {what}: dimensions {dims} need {expected} data bytes, found {got}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``); for tests and tools.

    The inverse of :func:`read_idx`: header ``00 00 <type code> <ndim>``, one big-endian uint32 per
    dimension, then the data big-endian in C order.

    Args:
        path: destination (its directory must exist).
        array: uint8, int8, int16, int32, float32 or float64 array of at least one dimension.

    Raises:
        TypeError: if the array's dtype is not one of those (e.g. int64); the message names it.
        ValueError: if the array is 0-d (IDX needs at least one dimension).
        OSError: if the file cannot be written.

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_idx(pathlib.Path(d, "x.idx"), np.arange(6, dtype=np.uint8).reshape(2, 3))
        ...     print(pathlib.Path(d, "x.idx").read_bytes().hex())
        000008020000000200000003000102030405
    """
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    a = np.asarray(array)
    code = codes.get(a.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(
            f"write_idx cannot store dtype {a.dtype} (IDX supports uint8, int8, int16, int32, float32, float64)"
        )
    if a.ndim == 0:
        raise ValueError("write_idx needs an array of at least one dimension, got a 0-d array")
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    body = a.astype(_IDX_DTYPES[code]).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + body)


def _find(directory: Path, stem: str, dataset: str) -> Path:
    for candidate in (directory / stem, directory / (stem + ".gz")):
        if candidate.is_file():
            return candidate
    raise DatasetError(
        f"{dataset}: file {stem}[.gz] not found in {directory} "
        f"(pass --data-dir to point at the directory holding the IDX files)"
    )


def _standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    xtr = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    xte = torch.from_numpy(np.ascontiguousarray(x_test, dtype=np.float32))
    mean, std = xtr.mean(), xtr.std().clamp_min(1e-8)
    return ((xtr - mean) / std).unsqueeze(1), ((xte - mean) / std).unsqueeze(1)


def _from_arrays(name: str, xtr, ytr, xte, yte, classes: list[str]) -> Dataset:  # type: ignore[no-untyped-def]
    x_train, x_test = _standardize(xtr, xte)
    y_train = torch.from_numpy(np.asarray(ytr, dtype=np.int64))
    y_test = torch.from_numpy(np.asarray(yte, dtype=np.int64))
    for split, y in (("train", y_train), ("test", y_test)):
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= len(classes)):
            raise DatasetError(
                f"{name}: {split} labels span {int(y.min())}..{int(y.max())}, expected 0..{len(classes) - 1}"
            )
    return Dataset(name, x_train, y_train, x_test, y_test, classes)


def load_digits(data_dir: str | None = None, download: bool = False) -> Dataset:
    """Load scikit-learn's bundled 8x8 digits (1797 images, 10 classes), offline.

    A fixed stratified split (25% test, ``random_state=0``: 1347 train, 450 test) so every run sees the
    same test set; pixels are scaled to [0, 1] and then standardized.

    Args:
        data_dir: unused (the data ship with scikit-learn).
        download: unused.

    Returns:
        The :class:`Dataset`.
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    images = bunch.images.astype(np.float32) / 16.0
    xtr, xte, ytr, yte = train_test_split(images, bunch.target, test_size=0.25, random_state=0, stratify=bunch.target)
    return _from_arrays("digits", xtr, ytr, xte, yte, [str(i) for i in range(10)])


FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def _check_dir(name: str, directory: Path) -> None:
    if not directory.is_dir():
        raise DatasetError(
            f"{name}: data directory {directory} does not exist "
            f"(pass --data-dir to point at the directory holding the IDX files)"
        )


def load_fashion_mnist(data_dir: str | None = None, download: bool = False) -> Dataset:
    """Load Fashion-MNIST (60000/10000 28x28 images, 10 classes) from its four IDX files.

    Args:
        data_dir: directory with ``train-images-idx3-ubyte[.gz]`` etc.; default
            ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``).
        download: unused (Fashion-MNIST is read from local files only).

    Returns:
        The :class:`Dataset`.

    Raises:
        DatasetError: if the directory or a file is missing, or images and labels do not match.
        IDXError: if a file is malformed.

    References:
        - H. Xiao, K. Rasul, R. Vollgraf, "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine
          Learning Algorithms", 2017. https://arxiv.org/abs/1708.07747
    """
    d = Path(data_dir or FASHION_MNIST_DIR)
    _check_dir("fashion-mnist", d)
    arrays = [
        read_idx(_find(d, stem, "fashion-mnist"))
        for stem in (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        )
    ]
    _check_pairs("fashion-mnist", d, arrays)
    xtr, ytr, xte, yte = arrays
    return _from_arrays("fashion-mnist", xtr / 255.0, ytr, xte / 255.0, yte, list(FASHION_CLASSES))


def _check_pairs(name: str, d: Path, arrays: list[np.ndarray]) -> None:
    xtr, ytr, xte, yte = arrays
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise DatasetError(
                f"{name} in {d}: {split} images {x.shape} and labels {y.shape} do not match "
                f"(expected (N, H, W) and (N,))"
            )


def _emnist_dir(data_dir: str | None, split: str, download: bool) -> Path:
    d = Path(data_dir or EMNIST_DIR)
    stem = f"emnist-{split}-train-images-idx3-ubyte"
    for candidate in (d, d / "EMNIST" / "raw", d / "gzip"):
        if (candidate / stem).is_file() or (candidate / (stem + ".gz")).is_file():
            return candidate
    where = f"{stem}[.gz] not found in {d} (nor in {d / 'EMNIST' / 'raw'}, {d / 'gzip'})"
    if not download:
        raise DatasetError(f"emnist-{split}: {where}; pass --data-dir, or --download to fetch it with torchvision")
    try:
        from torchvision.datasets import EMNIST  # optional: only this download path needs torchvision
    except ImportError:
        raise DatasetError(
            f"emnist-{split}: {where}, and torchvision is not installed to download it; install torchvision "
            f"(with a network) or place the official EMNIST IDX files in {d} (--data-dir)"
        ) from None
    try:
        d.mkdir(parents=True, exist_ok=True)
        EMNIST(str(d), split=split, train=True, download=True)  # writes d/EMNIST/raw/*-idx?-ubyte
    except Exception as e:  # no network, proxy, disk full...
        raise DatasetError(f"emnist-{split}: {where}, and downloading it into {d} failed: {e}") from None
    return d / "EMNIST" / "raw"


def _load_emnist(split: str, classes: list[str], label_offset: int, data_dir: str | None, download: bool) -> Dataset:
    name = f"emnist-{split}"
    d = _emnist_dir(data_dir, split, download)
    arrays = [
        read_idx(_find(d, f"emnist-{split}-{part}", name))
        for part in (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "test-images-idx3-ubyte",
            "test-labels-idx1-ubyte",
        )
    ]
    _check_pairs(name, d, arrays)
    xtr, ytr, xte, yte = arrays
    # EMNIST images are stored transposed (column-major) relative to MNIST: swap H and W.
    xtr, xte = xtr.transpose(0, 2, 1), xte.transpose(0, 2, 1)
    ytr = ytr.astype(np.int64) - label_offset
    yte = yte.astype(np.int64) - label_offset
    return _from_arrays(name, xtr / 255.0, ytr, xte / 255.0, yte, classes)


def load_emnist_letters(data_dir: str | None = None, download: bool = False) -> Dataset:
    """Load EMNIST-Letters (124800/20800 28x28 images, 26 classes; labels 1..26 mapped to 0..25).

    The images are transposed to MNIST's orientation.

    Args:
        data_dir: directory with the official ``emnist-letters-train-images-idx3-ubyte[.gz]`` etc.
            (also searched: ``<dir>/EMNIST/raw`` and ``<dir>/gzip``); default ``data/emnist``.
        download: when the files are missing, download them with torchvision (when installed; needs a
            network); False: fail with the path instead.

    Returns:
        The :class:`Dataset`.

    Raises:
        DatasetError: if the files are missing (and not downloaded), images and labels do not match, or
            a label is out of range.
        IDXError: if a file is malformed.

    References:
        - G. Cohen, S. Afshar, J. Tapson, A. van Schaik, "EMNIST: an extension of MNIST to handwritten
          letters", 2017. https://arxiv.org/abs/1702.05373
    """
    letters = [chr(ord("a") + i) for i in range(26)]
    return _load_emnist("letters", letters, 1, data_dir, download)


def load_emnist_balanced(data_dir: str | None = None, download: bool = False) -> Dataset:
    """Load EMNIST-Balanced (112800/18800 28x28 images, 47 classes, labels 0..46).

    Arguments, return value and errors as :func:`load_emnist_letters`.

    References:
        - G. Cohen, S. Afshar, J. Tapson, A. van Schaik, "EMNIST: an extension of MNIST to handwritten
          letters", 2017. https://arxiv.org/abs/1702.05373
    """
    chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghnqrt"
    return _load_emnist("balanced", list(chars), 0, data_dir, download)


DATASETS: dict[str, Callable[[str | None, bool], Dataset]] = {
    "digits": load_digits,
    "fashion-mnist": load_fashion_mnist,
    "emnist-letters": load_emnist_letters,
    "emnist-balanced": load_emnist_balanced,
}


def load_dataset(name: str, data_dir: str | None = None, download: bool = False) -> Dataset:
    """Load a dataset by registry name.

    Args:
        name: one of ``DATASETS`` (``digits``, ``fashion-mnist``, ``emnist-letters``, ``emnist-balanced``).
        data_dir: directory of the IDX files (None: the dataset's default location).
        download: EMNIST only, fetch missing files through torchvision.

    Returns:
        The :class:`Dataset`: standardized float32 images ``(N, 1, H, W)``, int64 labels.

    Raises:
        DatasetError: unknown name (lists the valid ones), missing files (names the path), or
            mismatched images and labels.
        IDXError: a malformed IDX file.

    Example:
        >>> ds = load_dataset("digits")
        >>> ds.x_train.shape[1:], ds.num_classes
        (torch.Size([1, 8, 8]), 10)
    """
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")
    return DATASETS[name](data_dir, download)


@dataclass
class Splits:
    """The tensors one run trains, validates and tests on (see :func:`make_splits`).

    Attributes:
        x_train, y_train: training examples (after the subset and without the validation examples).
        x_val, y_val: the validation split (empty when ``val_fraction`` is 0).
        x_test, y_test: the dataset's test split, untouched.
        info: sizes, seeds and a SHA-256 of the validation indices (recorded in ``config.json``).

    Example:
        >>> s = make_splits(load_dataset("digits"), train_subset=100, val_fraction=0.2)
        >>> s.x_train.shape, s.x_val.shape, s.info["n_test"]
        (torch.Size([80, 1, 8, 8]), torch.Size([20, 1, 8, 8]), 450)
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    info: dict[str, Any]


def make_splits(ds: Dataset, train_subset: int | None = None, val_fraction: float = 0.0, val_seed: int = 0) -> Splits:
    """Carve the run's training and validation sets out of the dataset's training split.

    1. ``train_subset`` N: the first N of a fixed permutation (``torch.randperm`` with seed 0), the same
       for every loss and seed;
    2. ``val_fraction`` f: ``round(f * N)`` of those, chosen by a permutation seeded with ``val_seed``,
       form the validation set; the rest (in their original order) are trained on.

    The split depends only on (dataset, ``train_subset``, ``val_fraction``, ``val_seed``), never on the run's
    seed or loss, so every run of a comparison validates on the same examples. The test split is never
    touched. (Images were standardized with the whole training split's mean and std at load time.)

    Args:
        ds: the loaded dataset.
        train_subset: N or None (all).
        val_fraction: in [0, 1).
        val_seed: seed of the validation permutation.

    Returns:
        The run's :class:`Splits`.

    Raises:
        ConfigError: a subset larger than the training split, a split leaving no validation or no
            training example, or an empty test split.

    Example:
        >>> s = make_splits(load_dataset("digits"), val_fraction=0.1, val_seed=0)
        >>> len(s.y_train), len(s.y_val), len(s.y_test)
        (1212, 135, 450)
    """
    import hashlib

    from infoloss.experiments.config import ConfigError

    n_all = len(ds.y_train)
    if len(ds.y_test) == 0:
        raise ConfigError(f"{ds.name}: the test split is empty; nothing to evaluate on")
    if n_all == 0:
        raise ConfigError(f"{ds.name}: the training split is empty")
    if train_subset is not None:
        if not 1 <= train_subset <= n_all:
            raise ConfigError(f"train_subset must lie in 1..{n_all} (the {ds.name} training split), got {train_subset}")
    if train_subset is not None and train_subset < n_all:
        idx = torch.randperm(n_all, generator=torch.Generator().manual_seed(0))[:train_subset]
    else:
        idx = torch.arange(n_all)
    n = len(idx)
    n_val = int(round(val_fraction * n))
    if val_fraction > 0 and n_val < 1:
        raise ConfigError(f"val_fraction {val_fraction} of {n} training images leaves no validation example")
    if n - n_val < 1:
        raise ConfigError(f"val_fraction {val_fraction} of {n} training images leaves no training example")
    if n_val:
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(val_seed))
        val_idx = idx[perm[:n_val].sort().values]
        train_idx = idx[perm[n_val:].sort().values]
    else:
        val_idx, train_idx = idx[:0], idx
    info = {
        "dataset": ds.name,
        "n_train": int(len(train_idx)),
        "n_val": int(n_val),
        "n_test": int(len(ds.y_test)),
        "train_subset": train_subset,
        "val_fraction": val_fraction,
        "val_seed": val_seed,
        "val_indices_sha256": hashlib.sha256(val_idx.numpy().astype("<i8").tobytes()).hexdigest(),
    }
    return Splits(
        ds.x_train[train_idx],
        ds.y_train[train_idx],
        ds.x_train[val_idx],
        ds.y_train[val_idx],
        ds.x_test,
        ds.y_test,
        info,
    )
