"""The IDX reader on files written here (plain, .gz, bad magic, truncated) and the dataset loaders."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from infoloss.experiments.data import (
    DatasetError,
    IDXError,
    load_dataset,
    read_idx,
    write_idx,
)


def _write_raw(path: Path, data: bytes, gz: bool = False) -> Path:
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def _idx_bytes(arr: np.ndarray) -> bytes:
    # hand-built header: 0, 0, type 0x08 (uint8), ndim, then big-endian uint32 dims
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_images_and_labels(tmp_path, gz):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    labels = np.array([7, 0, 255], dtype=np.uint8)
    suffix = ".gz" if gz else ""
    pi = _write_raw(tmp_path / f"img{suffix}", _idx_bytes(images), gz)
    pl = _write_raw(tmp_path / f"lab{suffix}", _idx_bytes(labels), gz)
    np.testing.assert_array_equal(read_idx(pi), images)
    np.testing.assert_array_equal(read_idx(pl), labels)
    assert read_idx(pi).dtype == np.uint8


def test_read_idx_int32_big_endian(tmp_path):
    a = np.array([[1, -2], [70000, 3]], dtype=np.int32)
    write_idx(tmp_path / "a.idx", a)
    raw = (tmp_path / "a.idx").read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0C, 2]) and raw[4:8] == (2).to_bytes(4, "big")
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), a)


def test_read_idx_bad_magic(tmp_path):
    p = _write_raw(tmp_path / "bad", b"\x12\x34\x08\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(IDXError, match=r"bad magic number in .*bad"):
        read_idx(p)
    p2 = _write_raw(tmp_path / "badtype", b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(IDXError, match="bad magic number"):
        read_idx(p2)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_truncated(tmp_path, gz):
    data = _idx_bytes(np.zeros((4, 3, 3), dtype=np.uint8))
    p = _write_raw(tmp_path / ("t.gz" if gz else "t"), data[:-5], gz)
    with pytest.raises(IDXError, match=r"truncated: dimensions \(4, 3, 3\) need 36 data bytes, found 31"):
        read_idx(p)
    p2 = _write_raw(tmp_path / "h", data[:6])
    with pytest.raises(IDXError, match="truncated inside its header"):
        read_idx(p2)
    p3 = _write_raw(tmp_path / "tiny", b"\x00\x00")
    with pytest.raises(IDXError, match="no complete header"):
        read_idx(p3)


def test_read_idx_extra_bytes_and_missing(tmp_path):
    p = _write_raw(tmp_path / "long", _idx_bytes(np.zeros(3, dtype=np.uint8)) + b"\x00")
    with pytest.raises(IDXError, match="longer than its header says"):
        read_idx(p)
    with pytest.raises(FileNotFoundError, match="nope"):
        read_idx(tmp_path / "nope")


def test_read_idx_corrupt_gzip(tmp_path):
    p = _write_raw(tmp_path / "x.gz", b"not gzip at all")
    with pytest.raises(IDXError, match=r"cannot read IDX file .*x\.gz"):
        read_idx(p)


def _write_mnist_like(d: Path, prefix: str, gz: bool, n_train=6, n_test=4, label_offset=0, n_classes=10):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    out = {}
    for split, n in (("train", n_train), ("t10k" if prefix == "" else "test", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % n_classes + label_offset).astype(np.uint8)
        write_idx(d / f"{prefix}{split}-images-idx3-ubyte{suffix}", x)
        write_idx(d / f"{prefix}{split}-labels-idx1-ubyte{suffix}", y)
        out[split] = (x, y)
    return out


@pytest.mark.parametrize("gz", [False, True])
def test_fashion_mnist_loader_reads_written_files(tmp_path, gz):
    arrays = _write_mnist_like(tmp_path, "", gz)
    ds = load_dataset("fashion-mnist", str(tmp_path))
    assert ds.x_train.shape == (6, 1, 28, 28) and ds.x_test.shape == (4, 1, 28, 28)
    assert ds.num_classes == 10 and ds.classes[0] == "T-shirt/top"
    assert ds.y_train.tolist() == arrays["train"][1].tolist()
    assert abs(float(ds.x_train.mean())) < 1e-5  # standardized with the training statistics
    # same pixel order as the file (no transpose for Fashion-MNIST): compare after undoing the affine map
    raw = arrays["train"][0].astype(np.float32)
    corr = np.corrcoef(ds.x_train[:, 0].numpy().ravel(), raw.ravel())[0, 1]
    assert corr > 0.9999


def test_emnist_letters_transposed_and_relabelled(tmp_path):
    arrays = _write_mnist_like(tmp_path, "emnist-letters-", gz=True, label_offset=1, n_classes=26)
    ds = load_dataset("emnist-letters", str(tmp_path))
    assert ds.num_classes == 26
    assert ds.y_train.tolist() == (arrays["train"][1].astype(int) - 1).tolist()  # 1..26 -> 0..25
    raw = arrays["train"][0].astype(np.float32)
    corr_t = np.corrcoef(ds.x_train[:, 0].numpy().ravel(), raw.transpose(0, 2, 1).ravel())[0, 1]
    assert corr_t > 0.9999  # EMNIST stores images transposed


def test_emnist_balanced_in_torchvision_layout(tmp_path):
    raw = tmp_path / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    _write_mnist_like(raw, "emnist-balanced-", gz=False, n_classes=47, n_train=47, n_test=5)
    ds = load_dataset("emnist-balanced", str(tmp_path))
    assert ds.num_classes == 47 and int(ds.y_train.max()) == 46


def test_missing_directory_names_the_path(tmp_path):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(DatasetError, match=f"data directory {missing} does not exist"):
        load_dataset("fashion-mnist", str(missing))


def test_missing_file_names_the_directory(tmp_path):
    with pytest.raises(DatasetError, match=rf"train-images-idx3-ubyte\[\.gz\] not found in {tmp_path}"):
        load_dataset("fashion-mnist", str(tmp_path))


def test_emnist_missing_without_download(tmp_path):
    with pytest.raises(DatasetError, match=rf"emnist-letters-train-images-idx3-ubyte\[\.gz\] not found in {tmp_path}"):
        load_dataset("emnist-letters", str(tmp_path), download=False)


def test_emnist_missing_with_download_names_path_and_cause(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torchvision(name, *args, **kwargs):
        if name.startswith("torchvision"):
            raise ImportError("No module named 'torchvision'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchvision)
    with pytest.raises(DatasetError, match=rf"not found in {tmp_path} .*torchvision is not installed"):
        load_dataset("emnist-letters", str(tmp_path), download=True)


def test_label_out_of_range(tmp_path):
    _write_mnist_like(tmp_path, "emnist-letters-", gz=False, label_offset=5, n_classes=26, n_train=30)
    with pytest.raises(DatasetError, match=r"labels span .* expected 0\.\.25"):
        load_dataset("emnist-letters", str(tmp_path))


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(DatasetError, match="unknown dataset 'cifar'; valid datasets: digits, fashion-mnist"):
        load_dataset("cifar")


def test_digits_split_is_fixed_and_stratified():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert a.x_train.shape == (1347, 1, 8, 8) and a.x_test.shape == (450, 1, 8, 8)
    assert a.y_test.tolist() == b.y_test.tolist()
    from sklearn.datasets import load_digits

    per_class = np.bincount(load_digits().target, minlength=10)
    counts = np.bincount(a.y_test.numpy(), minlength=10)
    assert np.all(np.abs(counts - 0.25 * per_class) <= 1)  # stratified: 25% of every class


def test_installed_fashion_mnist_if_present():
    d = Path("/usr/share/datasets/fashion-mnist")
    if not d.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    x = read_idx(d / "t10k-labels-idx1-ubyte.gz")
    assert x.shape == (10000,) and x.max() == 9
