"""Tests of neuralbandits.datasets: transforms, loading, validation, converters, cache, checksums.

Nothing here touches the network: downloads go through ``file://`` URLs of tiny hand-made files.
Tests of the shipped data read the folder from ``NEURALBANDITS_DATA`` and skip without it.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import pickle
import random
import shutil
import struct
import subprocess
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import neuralbandits.datasets as datasets
from neuralbandits.datasets import loaders, registry
from neuralbandits.datasets.cache import atomic_write, cache_dir, resolve_data_dir
from neuralbandits.datasets.checksums import ChecksumError, sha256_file, verify_sha256
from neuralbandits.datasets.loaders import (
    ClassificationData,
    DatasetNotFoundError,
    DownloadError,
    convert_cifar10_python,
    convert_idx_gzip,
    convert_uci_letter,
    convert_uci_mushroom,
    convert_uci_shuttle,
    load,
    read_idx,
    uncompress_z,
)
from neuralbandits.datasets.registry import DatasetSpec, DownloadRecipe, RawFile, UnknownDatasetError
from neuralbandits.datasets.transforms import (
    average_pool,
    l2_normalize_rows,
    minmax_scale,
    random_category_values,
)
from neuralbandits.validation import InvalidParameterError

SHIPPED = os.environ.get("NEURALBANDITS_DATA", "")


@pytest.fixture(autouse=True)
def offline_and_isolated(tmp_path, monkeypatch):
    """Every test gets its own cache folder and may only open file:// URLs."""
    monkeypatch.setenv("NEURALBANDITS_CACHE", str(tmp_path / "cache"))
    original = urllib.request.urlopen

    def file_urls_only(request, *args, **kwargs):
        url = request.full_url if isinstance(request, urllib.request.Request) else request
        assert url.startswith("file:"), f"a test tried to download {url}"
        return original(request, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", file_urls_only)


def shipped_file(filename: str) -> Path:
    path = Path(SHIPPED) / filename
    if not SHIPPED or not path.is_file():
        pytest.skip(f"needs NEURALBANDITS_DATA pointing at a folder with {filename}")
    return path


# -- hand-made raw files ---------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), compresslevel=1)


def lzw_compress(data: bytes, max_bits: int = 16, clear_when_full: bool = True) -> bytes:
    """A Unix ``compress`` encoder (block mode), written to mirror ncompress' output routine."""
    out = bytearray()
    state = {"position": 0, "segment": 0, "n_bits": 9, "max_code": 511}

    def write(code: int) -> None:
        position = state["position"]
        out.extend(b"\0" * ((position + state["n_bits"] + 7) // 8 - len(out)))
        for k in range(state["n_bits"]):
            if code >> k & 1:
                out[(position + k) >> 3] |= 1 << ((position + k) & 7)
        state["position"] = position + state["n_bits"]

    def align() -> None:
        group = state["n_bits"] * 8
        used = state["position"] - state["segment"]
        state["position"] = state["segment"] = state["segment"] + -(-used // group) * group

    def emit(code: int, free: int, clear: bool = False) -> None:
        write(code)
        if clear:
            align()
            state["n_bits"], state["max_code"] = 9, 511
        elif free > state["max_code"]:
            align()
            state["n_bits"] += 1
            n_bits = state["n_bits"]
            state["max_code"] = 1 << max_bits if n_bits == max_bits else (1 << n_bits) - 1

    table = {bytes([i]): i for i in range(256)}
    free, current = 257, data[:1]
    for value in data[1:]:
        extended = current + bytes([value])
        if extended in table:
            current = extended
            continue
        emit(table[current], free)
        if free < 1 << max_bits:
            table[extended] = free
            free += 1
        elif clear_when_full:
            table, free = {bytes([i]): i for i in range(256)}, 257
            emit(256, free, clear=True)
        current = bytes([value])
    if current:
        emit(table[current], free)
    n_bytes = (state["position"] + 7) // 8
    return bytes([0x1F, 0x9D, 0x80 | max_bits]) + bytes(out[:n_bytes]).ljust(n_bytes, b"\0")


def wordy_text(n_lines: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghij0123456789 ") for _ in range(rng.randint(1, 8))) for _ in range(400)]
    return b"\n".join(b" ".join(rng.choice(words) for _ in range(10)) for _ in range(n_lines))


def save_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def cifar_tarball(path: Path, data: np.ndarray, labels: list[int], batch: object = None) -> Path:
    members = {
        "cifar-10-batches-py/test_batch": pickle.dumps(batch or {b"data": data, b"labels": labels}),
        "cifar-10-batches-py/batches.meta": pickle.dumps({b"label_names": [b"cat", b"dog", b"ship"]}),
    }
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


# -- transforms ------------------------------------------------------------------------------------


def test_l2_normalize_rows_hand_computed():
    X = np.array([[3, 4], [0, 0], [1, 0]])
    out = l2_normalize_rows(X)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [1.0, 0.0]])
    assert out.dtype == np.float32
    assert l2_normalize_rows(X.astype(np.float64)).dtype == np.float64


def test_minmax_scale_hand_computed_constant_column_is_zero():
    X = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 6.0], [2.0, 5.0, 4.0]], dtype=np.float32)
    before = X.copy()
    out = minmax_scale(X)
    np.testing.assert_allclose(out, [[0.0, 0.0, 0.0], [1.0, 0.0, 1.0], [0.5, 0.0, 0.5]])
    np.testing.assert_array_equal(X, before)


def test_average_pool_4x4():
    X = np.arange(16).reshape(1, 16)
    np.testing.assert_allclose(average_pool(X, (4, 4)), [[2.5, 4.5, 10.5, 12.5]])
    np.testing.assert_allclose(average_pool(X, (4, 4), factor=4), [[7.5]])


def test_average_pool_pools_channels_separately():
    X = np.arange(8).reshape(1, 8)  # one 2x2 image with 2 channels, (row, col, channel) order
    np.testing.assert_allclose(average_pool(X, (2, 2, 2)), [[3.0, 4.0]])


def test_average_pool_mnist_shape():
    X = np.ones((3, 784), dtype=np.float32)
    out = average_pool(X, (28, 28))
    assert out.shape == (3, 196) and out.dtype == np.float32
    np.testing.assert_allclose(out, 1.0)


def test_random_category_values_uses_a_seeded_table():
    codes = np.array([[0, 2], [1, 0], [0, 2]])
    table = np.random.default_rng(7).random((2, 3))
    expected = np.array([[table[0, 0], table[1, 2]], [table[0, 1], table[1, 0]], [table[0, 0], table[1, 2]]])
    out = random_category_values(codes, seed=7)
    np.testing.assert_allclose(out, expected.astype(np.float32))
    assert out.dtype == np.float32 and out.shape == (3, 2)
    assert ((out >= 0) & (out < 1)).all()
    assert not np.allclose(random_category_values(codes, seed=8), out)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: l2_normalize_rows(np.ones(3)), r"l2_normalize_rows needs a numeric 2-D array"),
        (lambda: minmax_scale(np.array([["a"]])), r"minmax_scale needs a numeric 2-D array"),
        (lambda: average_pool(np.ones((1, 9)), (3, 3)), r"not divisible into 2x2 blocks"),
        (lambda: average_pool(np.ones((1, 10)), (4, 4)), r"does not hold images of shape \(4, 4\)"),
        (lambda: average_pool(np.ones((1, 16)), (4, 4), factor=0), r"'factor' .* int >= 1; got 0"),
        (lambda: average_pool(np.ones((1, 16)), (16,)), r"image_shape must be \(height, width\)"),
        (lambda: random_category_values(np.ones((2, 2)), seed=0), r"integer array of shape"),
        (lambda: random_category_values(np.array([[-1]]), seed=0), r"non-negative; found -1"),
        (lambda: random_category_values(np.array([[1]]), seed=None), r"'seed' .* int >= 0; got None"),
    ],
)
def test_transform_rejects_bad_input(call, message):
    with pytest.raises(InvalidParameterError, match=message):
        call()


# -- loading -----------------------------------------------------------------------------------------


def test_load_digits_is_embedded():
    data = load("digits")
    assert data.X.shape == (1797, 64) and data.X.dtype == np.float32
    assert data.y.dtype == np.int64 and data.n_classes == 10
    assert data.image_shape == (8, 8) and data.source == "sklearn:digits"
    assert set(np.unique(data.y)) == set(range(10))


def test_load_npz_by_path(tmp_path):
    X = np.arange(24, dtype=np.float64).reshape(6, 4)
    path = save_npz(tmp_path / "tiny.npz", X=X, y=np.array([0, 1, 2, 0, 1, 2]), class_names=np.array(["a", "b", "c"]))
    data = load(str(path))
    assert isinstance(data, ClassificationData)
    assert data.name == "tiny" and data.source == str(path)
    assert data.X.dtype == np.float32 and data.X.shape == (6, 4) and data.dim == 4 and data.n_samples == 6
    np.testing.assert_array_equal(data.X, X)
    assert data.n_classes == 3 and data.class_names == ("a", "b", "c")
    assert data.image_shape is None and data.categorical is None
    assert load(path).n_samples == 6  # a Path works too
    assert "n_samples=6" in repr(data)


def test_image_like_X_is_flattened(tmp_path):
    X = np.random.default_rng(0).integers(0, 256, size=(4, 5, 6, 3), dtype=np.uint8)
    data = load(str(save_npz(tmp_path / "images.npz", X=X, y=np.array([0, 1, 0, 1]))))
    assert data.X.shape == (4, 90) and data.image_shape == (5, 6, 3)
    np.testing.assert_array_equal(data.X[1], X[1].reshape(-1))


def test_non_contiguous_labels_are_remapped_with_their_names(tmp_path):
    names = np.array([f"c{i}" for i in range(10)])
    path = save_npz(tmp_path / "gaps.npz", X=np.ones((4, 2)), y=np.array([9, 2, 5, 2]), class_names=names)
    data = load(str(path))
    np.testing.assert_array_equal(data.y, [2, 0, 1, 0])
    assert data.n_classes == 3 and data.class_names == ("c2", "c5", "c9")


def test_categorical_codes_are_kept(tmp_path):
    codes = np.array([[0, 3], [1, 0], [2, 1]], dtype=np.int8)
    data = load(str(save_npz(tmp_path / "cat.npz", X=np.eye(3), y=np.array([0, 1, 1]), X_categorical=codes)))
    np.testing.assert_array_equal(data.categorical, codes)
    assert data.categorical.dtype == np.int64


def _good() -> dict[str, np.ndarray]:
    return {"X": np.ones((4, 3)), "y": np.array([0, 1, 0, 1])}


def _with(**changes: object) -> dict[str, np.ndarray]:
    arrays = _good()
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = np.asarray(value)
    return arrays


def _nan_X() -> dict[str, np.ndarray]:
    arrays = _good()
    arrays["X"][1, 2] = np.nan
    return arrays


def _inf_X() -> dict[str, np.ndarray]:
    arrays = _good()
    arrays["X"][0, 0] = np.inf
    return arrays


E = InvalidParameterError

BAD_INPUTS = [
    pytest.param(lambda: _with(X=None), E, r"bad\.npz has no array 'X' \(arrays found: 'y'\)", id="no-X"),
    pytest.param(lambda: _with(y=None), E, r"bad\.npz has no array 'y' \(arrays found: 'X'\)", id="no-y"),
    pytest.param(
        lambda: _with(X=np.ones(4)), E, r"X in .*bad\.npz must be 2-D .*got shape \(4,\)", id="X-1d"
    ),
    pytest.param(
        lambda: _with(X=np.ones((4, 1, 1, 1, 1))), E, r"must be 2-D .*got shape \(4, 1, 1, 1, 1\)", id="X-5d"
    ),
    pytest.param(
        lambda: _with(X=np.ones((0, 3)), y=np.array([], dtype=int)), E, r"at least one row", id="X-empty"
    ),
    pytest.param(
        lambda: _with(X=np.array([["a"], ["b"], ["c"], ["d"]])), E, r"X in .* must be numeric; got dtype <U1",
        id="X-strings",
    ),
    pytest.param(
        lambda: _with(y=np.array([0, 1, 0])), E, r"X and y in .* differ in length: X has 4 rows, y has 3 labels",
        id="length-mismatch",
    ),
    pytest.param(_nan_X, E, r"X in .*bad\.npz must be finite; found 1 NaN or infinite values", id="X-nan"),
    pytest.param(_inf_X, E, r"must be finite; found 1 NaN or infinite values", id="X-inf"),
    pytest.param(
        lambda: _with(X=np.full((4, 3), 1e300)), E, r"X in .* has values beyond float32.s range", id="X-overflow"
    ),
    pytest.param(
        lambda: _with(y=np.array([0.0, 1.5, 0.0, 1.0])), E, r"integer class labels; found non-integer value 1\.5",
        id="y-fraction",
    ),
    pytest.param(
        lambda: _with(y=np.array(["a", "b", "a", "b"])), E, r"y in .* must hold integer class labels; got dtype <U1",
        id="y-strings",
    ),
    pytest.param(
        lambda: _with(y=np.array([0, -1, 0, 1])), E, r"non-negative class labels; found -1", id="y-negative"
    ),
    pytest.param(
        lambda: _with(y=np.array([3, 3, 3, 3])), E, r"at least 2 classes; found 1 \(\[3\]\)", id="y-one-class"
    ),
    pytest.param(
        lambda: _with(y=np.zeros((4, 1), dtype=int)), E, r"y in .* must be 1-D \(n_samples,\); got shape \(4, 1\)",
        id="y-2d",
    ),
    pytest.param(
        lambda: _with(class_names=np.array(["only"])), E, r"class_names in .* has 1 entries but y has 2 classes",
        id="class-names-short",
    ),
    pytest.param(
        lambda: _with(X_categorical=np.ones((3, 2), dtype=int)), E,
        r"X_categorical in .* shape \(4, n_features\); got shape \(3, 2\)", id="categorical-rows",
    ),
    pytest.param(
        lambda: _with(class_names=np.array([{}, {}], dtype=object)), E, r"Array 'class_names' in .* cannot be read",
        id="object-array",
    ),
]


@pytest.mark.parametrize(("setup", "error", "message"), BAD_INPUTS)
def test_bad_npz_is_rejected_with_a_clear_message(tmp_path, setup, error, message):
    path = save_npz(tmp_path / "bad.npz", **setup())
    with pytest.raises(error, match=message):
        load(str(path))


def test_float_labels_that_are_whole_numbers_are_accepted(tmp_path):
    data = load(str(save_npz(tmp_path / "f.npz", X=np.ones((3, 2)), y=np.array([1.0, 0.0, 1.0]))))
    np.testing.assert_array_equal(data.y, [1, 0, 1])


def test_a_file_that_is_not_an_npz_is_rejected(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(InvalidParameterError, match=r"Cannot read .*junk\.npz as an \.npz archive"):
        load(str(tmp_path / "junk.npz"))
    np.save(tmp_path / "single.npy", np.ones(3))
    with pytest.raises(InvalidParameterError, match=r"single \.npy array, not an \.npz archive"):
        load(str(tmp_path / "single.npy"))


def test_missing_path_raises_dataset_not_found(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"No such \.npz file: .*nothere\.npz"):
        load(str(tmp_path / "nothere.npz"))


@pytest.mark.parametrize(
    ("name", "hint"), [("mnsit", "Did you mean 'mnist'?"), ("fashion", "Did you mean 'fashion_mnist'?")]
)
def test_unknown_name_suggests_the_closest(name, hint):
    with pytest.raises(UnknownDatasetError) as caught:
        load(name)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(f"Unknown dataset {name!r}. {hint} Known: cifar10_test, digits,")


def test_unknown_name_without_a_close_match_lists_known_names():
    with pytest.raises(UnknownDatasetError, match=r"^Unknown dataset 'zzzz'\. Known: cifar10_test, .*shuttle\.$"):
        load("zzzz")


def test_names_are_case_and_dash_insensitive():
    assert load("DIGITS").name == "digits"
    assert registry.get_spec("Fashion-MNIST").name == "fashion_mnist"


def test_dataset_names_and_describe():
    names = datasets.dataset_names()
    assert names == sorted(names)
    assert set(names) == {
        "digits", "mnist", "fashion_mnist", "notmnist_small", "cifar10_test", "shuttle", "letter", "mushroom"
    }
    text = datasets.describe("mnist")
    assert "mnist.npz" in text and "t10k-images-idx3-ubyte.gz" in text and "10000 official test images" in text
    assert "embedded" in datasets.describe("digits")
    with pytest.raises(UnknownDatasetError):
        datasets.describe("mnsit")


def test_every_download_recipe_names_a_known_converter():
    for name in datasets.dataset_names():
        spec = registry.get_spec(name)
        if spec.download is not None:
            assert spec.download.converter in loaders.CONVERTERS, name
            assert all(raw.urls for raw in spec.download.files)


# -- where files are looked for -------------------------------------------------------------------


def test_resolve_data_dir_order(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURALBANDITS_DATA", os.pathsep.join([str(tmp_path / "env1"), str(tmp_path / "env2")]))
    assert resolve_data_dir(tmp_path / "explicit") == [
        tmp_path / "explicit", tmp_path / "env1", tmp_path / "env2", tmp_path / "cache"
    ]
    assert resolve_data_dir(None) == [tmp_path / "env1", tmp_path / "env2", tmp_path / "cache"]


def test_default_cache_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("NEURALBANDITS_CACHE")
    monkeypatch.delenv("NEURALBANDITS_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "neuralbandits"
    assert resolve_data_dir("") == [tmp_path / "home" / ".cache" / "neuralbandits"]


def test_missing_registered_file_lists_every_folder_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURALBANDITS_DATA", str(tmp_path / "envdata"))
    with pytest.raises(DatasetNotFoundError) as caught:
        load("mnist", data_dir=tmp_path / "given")
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    for folder in ("given", "envdata", "cache"):
        assert str(tmp_path / folder) in message
    for how in ("--data-dir DIR", "NEURALBANDITS_DATA=DIR", "download=True", "neuralbandits data download mnist"):
        assert how in message
    assert "\n" not in message


def fake_mnist(path: Path, n: int, value: float) -> Path:
    return save_npz(path, X=np.full((n, 784), value, dtype=np.uint8), y=np.arange(n) % 10, split=np.zeros(n, np.int8))


def test_data_dir_wins_over_environment_which_wins_over_cache(tmp_path, monkeypatch):
    for folder, n in (("given", 10), ("envdata", 20), ("cache", 30)):
        (tmp_path / folder).mkdir()
        fake_mnist(tmp_path / folder / "mnist.npz", n, 1)
    monkeypatch.setenv("NEURALBANDITS_DATA", str(tmp_path / "envdata"))
    assert load("mnist", data_dir=tmp_path / "given").n_samples == 10
    assert load("mnist").n_samples == 20
    monkeypatch.delenv("NEURALBANDITS_DATA")
    data = load("mnist")
    assert data.n_samples == 30 and data.image_shape == (28, 28)
    assert data.source == str(tmp_path / "cache" / "mnist.npz")


def test_registered_image_shape_must_fit(tmp_path):
    save_npz(tmp_path / "mnist.npz", X=np.ones((4, 100)), y=np.array([0, 1, 0, 1]))
    fits = r"has 100 features per row, which does not fit image shape \(28, 28\)"
    with pytest.raises(InvalidParameterError, match=fits):
        load("mnist", data_dir=tmp_path)


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    with atomic_write(target) as temporary:
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


# -- checksums ---------------------------------------------------------------------------------------

ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_sha256_file_and_verify(tmp_path):
    path = tmp_path / "abc.bin"
    path.write_bytes(b"abc")
    assert sha256_file(path) == ABC_SHA256
    verify_sha256(path, ABC_SHA256.upper())
    mismatch = rf"^Checksum mismatch for .*abc\.bin: expected sha256 {'0' * 64}, got {ABC_SHA256}\.$"
    with pytest.raises(ChecksumError, match=mismatch):
        verify_sha256(path, "0" * 64)
    with pytest.raises(ChecksumError, match=r"Checksum mismatch for https://example\.org/abc"):
        verify_sha256(path, "0" * 64, display_name="https://example.org/abc")


def test_verify_on_load(tmp_path):
    path = save_npz(tmp_path / "v.npz", **_good())
    with pytest.raises(InvalidParameterError, match=r"verify=True: no known sha256 for .*v\.npz"):
        load(str(path), verify=True)
    (tmp_path / "v.npz.sha256").write_text(f"{sha256_file(path)}  v.npz\n")
    assert load(str(path), verify=True).n_samples == 4
    (tmp_path / "v.npz.sha256").write_text(f"{'f' * 64}  v.npz\n")
    with pytest.raises(ChecksumError, match=r"v\.npz: expected sha256 f{64}, got"):
        load(str(path), verify=True)


def test_verify_registered_file_against_the_shipped_digest(tmp_path):
    fake_mnist(tmp_path / "mnist.npz", 10, 0)
    with pytest.raises(ChecksumError, match=r"mnist\.npz: expected sha256 a5a33cbd"):
        load("mnist", data_dir=tmp_path, verify=True)


# -- converters on tiny hand-made raw files ------------------------------------------------------------


def test_read_idx_and_convert_idx_pairs(tmp_path):
    images = np.arange(3 * 2 * 2).reshape(3, 2, 2)
    more = np.full((2, 2, 2), 200)
    files = {
        "a-images": idx_bytes(images), "a-labels": idx_bytes(np.array([1, 0, 2])),
        "b-images": idx_bytes(more), "b-labels": idx_bytes(np.array([2, 2])),
    }
    paths = []
    for name, payload in files.items():
        (tmp_path / name).write_bytes(payload)
        paths.append(tmp_path / name)
    np.testing.assert_array_equal(read_idx(paths[0]), images)
    arrays = convert_idx_gzip(paths)
    np.testing.assert_array_equal(arrays["X"], np.concatenate([images.reshape(3, 4), more.reshape(2, 4)]))
    assert arrays["X"].dtype == np.uint8
    np.testing.assert_array_equal(arrays["y"], [1, 0, 2, 2, 2])
    np.testing.assert_array_equal(arrays["split"], [0, 0, 0, 1, 1])


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "magic").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(InvalidParameterError, match=r"is not an idx file \(magic bytes 01020801\)"):
        read_idx(tmp_path / "magic")
    (tmp_path / "short").write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, 5) + b"\x01\x02")
    with pytest.raises(InvalidParameterError, match=r"promises shape \(5,\) \(13 bytes\) but the file has 10 bytes"):
        read_idx(tmp_path / "short")
    (tmp_path / "images").write_bytes(idx_bytes(np.zeros((3, 2, 2))))
    (tmp_path / "labels").write_bytes(idx_bytes(np.zeros(2)))
    with pytest.raises(InvalidParameterError, match=r"has shape \(3, 2, 2\) but .*labels has shape \(2,\)"):
        convert_idx_gzip([tmp_path / "images", tmp_path / "labels"])


def test_convert_uci_letter(tmp_path):
    path = tmp_path / "letter-recognition.data"
    path.write_text("T,2,8,3,5,1,8,13,0,6,6,10,8,0,8,0,8\nA,5,12,3,7,2,10,5,5,4,13,3,9,2,8,4,10\n\n")
    arrays = convert_uci_letter([path])
    np.testing.assert_array_equal(arrays["y"], [19, 0])
    np.testing.assert_array_equal(arrays["X"][1], [5, 12, 3, 7, 2, 10, 5, 5, 4, 13, 3, 9, 2, 8, 4, 10])
    assert arrays["X"].dtype == np.uint8 and len(arrays["class_names"]) == 26 and arrays["feature_names"][0] == "x.box"
    path.write_text("T,2,8\n")
    with pytest.raises(InvalidParameterError, match=r"line 1: expected 17 fields, found 3"):
        convert_uci_letter([path])
    path.write_text("T,2,8,3,5,1,8,13,0,6,6,10,8,0,8,0,x\n")
    with pytest.raises(InvalidParameterError, match=r"non-numeric value"):
        convert_uci_letter([path])


MUSHROOM_ROWS = [
    "p,x,s,n,t,p,f,c,n,k,e,e,s,s,w,w,p,w,o,p,k,s,u",
    "e,x,s,y,t,a,f,c,b,k,e,c,s,s,w,w,p,w,o,p,n,n,g",
    "e,b,s,w,t,l,f,c,b,n,e,?,s,s,w,w,p,w,o,p,n,n,m",
]


MUSHROOM_HEADER = ",".join(["class", *loaders._MUSHROOM_ATTRIBUTES]) + "\n"


@pytest.mark.parametrize("header", ["", MUSHROOM_HEADER])
def test_convert_uci_mushroom(tmp_path, header):
    path = tmp_path / "agaricus-lepiota.data"
    path.write_text(header + "\n".join(MUSHROOM_ROWS) + "\n")
    arrays = convert_uci_mushroom([path])
    np.testing.assert_array_equal(arrays["y"], [1, 0, 0])
    assert arrays["X_categorical"].shape == (3, 22) and arrays["X_categorical"].dtype == np.int8
    # cap-shape has categories b < x; cap-color n < w < y; stalk-root ? < c < e
    np.testing.assert_array_equal(arrays["X_categorical"][:, 0], [1, 1, 0])
    np.testing.assert_array_equal(arrays["X_categorical"][:, 2], [0, 2, 1])
    np.testing.assert_array_equal(arrays["X_categorical"][:, 10], [2, 1, 0])
    names = list(arrays["feature_names"])
    assert names[:5] == ["cap-shape=b", "cap-shape=x", "cap-surface=s", "cap-color=n", "cap-color=w"]
    assert "stalk-root=?" in names
    assert arrays["X"].shape == (3, len(names)) and (arrays["X"].sum(axis=1) == 22).all()
    np.testing.assert_array_equal(arrays["X"][0, :5], [0, 1, 1, 1, 0])


def test_convert_uci_shuttle_reads_compressed_and_plain_parts(tmp_path):
    train = b"50 21 77 0 28 0 27 48 22 2\n55 0 92 0 0 26 36 92 56 4\n"
    test = b"37 0 76 0 28 18 40 48 8 1\n"
    (tmp_path / "shuttle.trn.Z").write_bytes(lzw_compress(train))
    (tmp_path / "shuttle.tst").write_bytes(test)
    arrays = convert_uci_shuttle([tmp_path / "shuttle.trn.Z", tmp_path / "shuttle.tst"])
    assert arrays["X"].dtype == np.float32 and arrays["X"].shape == (3, 9)
    np.testing.assert_array_equal(arrays["X"][:, 0], [50, 55, 37])
    np.testing.assert_array_equal(arrays["y"], [1, 3, 0])
    (tmp_path / "shuttle.tst").write_bytes(b"1 2 3\n")
    with pytest.raises(InvalidParameterError, match=r"expected 10 numbers per row"):
        convert_uci_shuttle([tmp_path / "shuttle.trn.Z", tmp_path / "shuttle.tst"])


@pytest.mark.parametrize(("max_bits", "clear_when_full"), [(9, True), (9, False), (10, True), (12, False), (16, True)])
def test_uncompress_z_round_trip(max_bits, clear_when_full):
    data = wordy_text(1500)
    assert uncompress_z(lzw_compress(data, max_bits, clear_when_full)) == data


def test_uncompress_z_small_and_corrupt_inputs():
    assert uncompress_z(lzw_compress(b"a")) == b"a"
    assert uncompress_z(lzw_compress(b"ab" * 40)) == b"ab" * 40  # exercises the code-not-yet-in-table case
    with pytest.raises(InvalidParameterError, match=r"bad magic bytes"):
        uncompress_z(b"\x1f\x8b\x08")
    with pytest.raises(InvalidParameterError, match=r"maximum code width 20 bits"):
        uncompress_z(b"\x1f\x9d\x94")
    with pytest.raises(InvalidParameterError, match=r"Corrupt \.Z stream: code 300"):
        uncompress_z(b"\x1f\x9d\x90" + struct.pack("<H", 300) + b"\0")


@pytest.mark.skipif(shutil.which("gzip") is None, reason="needs GNU gzip, which can decode .Z files")
def test_test_encoder_agrees_with_gzip(tmp_path):
    """Anchors the hand-written encoder (and so the decoder tests) to an independent decoder."""
    data = wordy_text(1500, seed=1)
    for max_bits in (9, 12, 16):
        (tmp_path / "x.Z").write_bytes(lzw_compress(data, max_bits))
        assert subprocess.run(["gzip", "-dc", str(tmp_path / "x.Z")], capture_output=True, check=True).stdout == data


def test_convert_cifar10_python(tmp_path):
    data = np.arange(2 * 3072).astype(np.uint8).reshape(2, 3072)
    arrays = convert_cifar10_python([cifar_tarball(tmp_path / "c.tar.gz", data, [2, 0])])
    assert arrays["X"].shape == (2, 32, 32, 3) and arrays["X"].dtype == np.uint8
    # stored as R, G, B planes of 32x32: pixel (row 0, col 1) of image 1, blue
    assert arrays["X"][1, 0, 1, 2] == data[1, 2 * 1024 + 1]
    np.testing.assert_array_equal(arrays["y"], [2, 0])
    assert list(arrays["class_names"]) == ["cat", "dog", "ship"]


class _Sneaky:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_cifar_converter_refuses_pickles_that_run_code(tmp_path, capsys):
    path = cifar_tarball(tmp_path / "evil.tar.gz", np.zeros((1, 3072)), [0], batch={b"data": _Sneaky()})
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to unpickle builtins\.print"):
        convert_cifar10_python([path])
    assert "must never run" not in capsys.readouterr().out


# -- downloading through file:// URLs -------------------------------------------------------------------


def tiny_letter_spec(tmp_path: Path, sha256: str | None) -> DatasetSpec:
    raw = tmp_path / "source" / "letter-recognition.data"
    raw.parent.mkdir(exist_ok=True)
    raw.write_text("B,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,0\nA,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n")
    return DatasetSpec(
        name="tiny_letter",
        filename="tiny_letter.npz",
        sha256=None,
        summary="two rows of UCI letter",
        download=DownloadRecipe(
            files=(RawFile("letter-recognition.data", (raw.as_uri(),), sha256_file(raw) if sha256 == "auto" else sha256),),
            converter="uci_letter",
        ),
    )


def test_download_converts_into_the_cache_and_loads(tmp_path, monkeypatch):
    monkeypatch.setitem(registry._SPECS, "tiny_letter", tiny_letter_spec(tmp_path, "auto"))
    with pytest.raises(DatasetNotFoundError, match=r"tiny_letter\.npz"):
        load("tiny_letter")
    data = load("tiny_letter", download=True, verify=True)
    np.testing.assert_array_equal(data.y, [1, 0])
    assert data.n_classes == 2 and data.class_names == ("A", "B")  # labels B, A remapped with their names
    cache = tmp_path / "cache"
    assert (cache / "tiny_letter.npz").is_file()
    assert (cache / "raw" / "tiny_letter" / "letter-recognition.data").is_file()
    assert (cache / "tiny_letter.npz.sha256").read_text().split()[0] == sha256_file(cache / "tiny_letter.npz")
    assert not list(cache.rglob("*.part"))
    assert load("tiny_letter", verify=True).source == str(cache / "tiny_letter.npz")  # no download needed now


def test_download_with_a_wrong_digest_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(registry._SPECS, "tiny_letter", tiny_letter_spec(tmp_path, "0" * 64))
    failure = r"Could not download letter-recognition\.data\. file://.*: Checksum mismatch for file://"
    with pytest.raises(DownloadError, match=failure):
        load("tiny_letter", download=True)
    cache = tmp_path / "cache"
    assert not (cache / "tiny_letter.npz").exists()
    assert not [p for p in cache.rglob("*") if p.is_file()]


def test_download_reports_unreachable_urls(tmp_path, monkeypatch):
    spec = tiny_letter_spec(tmp_path, None)
    missing = RawFile("letter-recognition.data", ((tmp_path / "gone.data").as_uri(),), None)
    unreachable = dataclasses.replace(spec, download=DownloadRecipe((missing,), "uci_letter"))
    monkeypatch.setitem(registry._SPECS, "tiny_letter", unreachable)
    with pytest.raises(DownloadError, match=r"gone\.data"):
        loaders.download_dataset("tiny_letter")


def test_digits_has_nothing_to_download():
    with pytest.raises(InvalidParameterError, match=r"'digits' is embedded"):
        loaders.download_dataset("digits")


# -- the shipped data folder (NEURALBANDITS_DATA) ----------------------------------------------------

SHIPPED_SHAPES = [
    ("mnist", 15000, 784, 10, (28, 28)),
    ("fashion_mnist", 70000, 784, 10, (28, 28)),
    ("notmnist_small", 10000, 784, 10, (28, 28)),
    ("cifar10_test", 10000, 3072, 10, (32, 32, 3)),
    ("shuttle", 58000, 9, 7, None),
    ("letter", 20000, 16, 26, None),
    ("mushroom", 8124, 117, 2, None),
]


@pytest.mark.parametrize(("name", "n_samples", "dim", "n_classes", "image_shape"), SHIPPED_SHAPES)
def test_every_shipped_file_loads_and_verifies(name, n_samples, dim, n_classes, image_shape):
    path = shipped_file(registry.get_spec(name).filename)
    data = load(name, data_dir=path.parent, verify=True)
    assert (data.n_samples, data.dim, data.n_classes, data.image_shape) == (n_samples, dim, n_classes, image_shape)
    assert data.X.dtype == np.float32 and data.y.dtype == np.int64
    assert data.class_names is None or len(data.class_names) == n_classes
    assert (data.categorical is not None) == (name == "mushroom")


def test_shipped_mnist_loads_without_hashing_unless_asked(monkeypatch):
    """Loading stays fast because the 55 MB file is hashed only with ``verify=True`` (a behaviour
    check: timings belong in the benchmarks, not in tests)."""
    path = shipped_file("mnist.npz")
    calls = []
    monkeypatch.setattr(loaders, "_verify", lambda file, spec: calls.append(file))
    load("mnist", data_dir=path.parent)
    assert calls == []
    load("mnist", data_dir=path.parent, verify=True)
    assert calls == [path]


def test_mnist_converter_reproduces_the_shipped_test_rows(tmp_path):
    with np.load(shipped_file("mnist.npz")) as shipped:
        X, y = shipped["X"][:10000], shipped["y"][:10000]
    (tmp_path / "images").write_bytes(idx_bytes(X.reshape(-1, 28, 28)))
    (tmp_path / "labels").write_bytes(idx_bytes(y))
    arrays = convert_idx_gzip([tmp_path / "images", tmp_path / "labels"])
    np.testing.assert_array_equal(arrays["X"], X)
    np.testing.assert_array_equal(arrays["y"], y)


def test_letter_converter_reproduces_the_shipped_file(tmp_path):
    with np.load(shipped_file("letter.npz")) as shipped:
        arrays = dict(shipped)
    lines = [",".join([chr(65 + label), *map(str, row)]) for label, row in zip(arrays["y"], arrays["X"])]
    (tmp_path / "letter.data").write_text("\n".join(lines) + "\n")
    converted = convert_uci_letter([tmp_path / "letter.data"])
    for key in arrays:
        np.testing.assert_array_equal(converted[key], arrays[key], err_msg=key)


def test_mushroom_converter_reproduces_the_shipped_file(tmp_path):
    with np.load(shipped_file("mushroom.npz")) as shipped:
        arrays = dict(shipped)
    values = [name.split("=", 1) for name in arrays["feature_names"]]
    categories: dict[str, list[str]] = {}
    for attribute, value in values:
        categories.setdefault(attribute, []).append(value)
    columns = [[categories[a][code] for code in arrays["X_categorical"][:, j]] for j, a in enumerate(categories)]
    lines = [",".join(["ep"[label], *row]) for label, row in zip(arrays["y"], zip(*columns))]
    (tmp_path / "agaricus-lepiota.data").write_text("\n".join(lines) + "\n")
    converted = convert_uci_mushroom([tmp_path / "agaricus-lepiota.data"])
    for key in arrays:
        np.testing.assert_array_equal(converted[key], arrays[key], err_msg=key)


def test_shuttle_converter_reproduces_shipped_rows(tmp_path):
    with np.load(shipped_file("shuttle.npz")) as shipped:
        X, y = shipped["X"], shipped["y"]
    train, test = slice(0, 3000), slice(43500, 44000)  # subsets keep the pure-Python encoder quick

    def text(rows: slice) -> bytes:
        lines = (" ".join([*(str(int(v)) for v in X[i]), str(y[i] + 1)]) for i in range(rows.start, rows.stop))
        return "".join(line + "\n" for line in lines).encode()

    (tmp_path / "shuttle.trn.Z").write_bytes(lzw_compress(text(train)))
    (tmp_path / "shuttle.tst").write_bytes(text(test))
    converted = convert_uci_shuttle([tmp_path / "shuttle.trn.Z", tmp_path / "shuttle.tst"])
    np.testing.assert_array_equal(converted["X"], np.concatenate([X[train], X[test]]))
    np.testing.assert_array_equal(converted["y"], np.concatenate([y[train], y[test]]))
