"""Load classification data as :class:`ClassificationData`; download and convert public sources.

``load(name_or_path)`` accepts a registered name (see :func:`dataset_names`) or the path of any
``.npz`` holding arrays ``X`` (``(N, d)``, or image-like ``(N, H, W[, C])`` which is flattened) and
``y`` (``(N,)`` integer labels); optional arrays ``class_names`` (strings) and ``X_categorical``
(``(N, F)`` integer codes) are read too. Features become float32 with their stored values (pixels
stay in 0..255; rescaling is the job of :mod:`neuralbandits.datasets.transforms`).

Labels that are not the contiguous range ``0..C-1`` (say ``{1, 3, 7}``) are remapped to it in sorted
order with ``np.unique(y, return_inverse=True)``, so ``n_classes`` counts the classes present. A
``class_names`` with one entry per present class is kept as is; a longer one is indexed by the original
labels (``names[1], names[3], names[7]``), dropping the names of absent classes.

The ``convert_*`` functions turn raw public files into that ``.npz`` layout, one function per source
format; :func:`download_dataset` fetches a registered dataset's raw files into the cache folder,
checks their SHA-256 where it is published and converts them.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import pickle
import shutil
import struct
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from neuralbandits.datasets.cache import atomic_write, cache_dir, search_folders
from neuralbandits.datasets.checksums import ChecksumError, sha256_file, verify_sha256
from neuralbandits.datasets.registry import DatasetSpec, RawFile, get_spec, is_registered
from neuralbandits.validation import InvalidParameterError, check_finite

_USER_AGENT = "neuralbandits-datasets (python urllib)"
_TIMEOUT_SECONDS = 60


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file that is in none of the searched folders; the message says how to get it."""


class DownloadError(OSError):
    """Every URL of a raw source file failed; the message lists each URL and its error."""


@dataclass(frozen=True, eq=False)
class ClassificationData:
    """A labelled classification dataset, validated.

    ``X`` is float32 ``(N, d)`` (images flattened row-major, ``image_shape`` keeps their shape),
    ``y`` int64 ``(N,)`` with labels ``0..n_classes-1``, ``categorical`` the optional ``(N, F)``
    integer codes of categorical attributes (mushroom), ``source`` a path or ``"sklearn:digits"``.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    n_classes: int
    class_names: tuple[str, ...] | None
    image_shape: tuple[int, ...] | None
    categorical: np.ndarray | None
    source: str

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])

    def __repr__(self) -> str:
        return (
            f"ClassificationData(name={self.name!r}, n_samples={self.n_samples}, dim={self.dim}, "
            f"n_classes={self.n_classes}, source={self.source!r})"
        )

    @classmethod
    def from_arrays(
        cls,
        name: str,
        X: Any,
        y: Any,
        *,
        source: str = "arrays",
        class_names: Sequence[str] | None = None,
        image_shape: tuple[int, ...] | None = None,
        categorical: Any = None,
    ) -> ClassificationData:
        """Validate and convert raw arrays; every problem raises ``InvalidParameterError``.

        A float32 ``X`` that is already 2-D is used without a copy.
        """
        features, inferred_shape = _features(np.asarray(X), source)
        labels, present = _labels(np.asarray(y), source)
        if features.shape[0] != labels.shape[0]:
            raise InvalidParameterError(
                f"X and y in {source} differ in length: X has {features.shape[0]} rows, "
                f"y has {labels.shape[0]} labels."
            )
        n_classes = int(present.size)
        shape = image_shape or inferred_shape
        if shape is not None and math.prod(shape) != features.shape[1]:
            raise InvalidParameterError(
                f"X in {source} has {features.shape[1]} features per row, which does not fit "
                f"image shape {tuple(shape)} ({math.prod(shape)} values)."
            )
        return cls(
            name=name,
            X=features,
            y=labels,
            n_classes=n_classes,
            class_names=_class_names(class_names, present, source),
            image_shape=None if shape is None else tuple(int(s) for s in shape),
            categorical=None if categorical is None else _categorical(categorical, len(labels), source),
            source=source,
        )


def load(
    name_or_path: str | os.PathLike[str],
    *,
    data_dir: str | Path | None = None,
    download: bool = False,
    verify: bool = False,
) -> ClassificationData:
    """Load a registered dataset by name, or any classification ``.npz`` by path.

    A registered file is looked for in ``data_dir``, then ``$NEURALBANDITS_DATA``, then the cache
    folder. If it is in none of them: with ``download=True`` its public source is downloaded into
    the cache folder and converted (see :func:`download_dataset`), otherwise
    :class:`DatasetNotFoundError` lists the folders searched. ``verify=True`` checks the file's
    SHA-256 against the registered digest of the shipped copy, or against the ``<file>.sha256``
    written next to a downloaded copy (the only digest a plain path can be checked against).
    ``"digits"`` is scikit-learn's bundled ``load_digits`` and needs no file.
    """
    if _is_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise DatasetNotFoundError(f"No such .npz file: {path}.")
        if verify:
            _verify(path, None)
        return _load_npz(path, name=path.stem, spec=None)
    spec = get_spec(str(name_or_path))
    if spec.filename is None:
        return _load_digits()
    path = _find_file(spec.filename, data_dir)
    if path is None:
        if not download:
            raise DatasetNotFoundError(_not_found_message(spec, data_dir))
        path = download_dataset(spec.name)
    if verify:
        _verify(path, spec)
    return _load_npz(path, name=spec.name, spec=spec)


def download_dataset(name: str, *, force: bool = False) -> Path:
    """Download a registered dataset's raw files into the cache folder and convert them to ``.npz``.

    Raw files go to ``<cache>/raw/<name>/`` and are reused when present (and matching their known
    SHA-256); the converted file is ``<cache>/<filename>``, written atomically with its digest in
    ``<filename>.sha256``. Returns the ``.npz`` path. ``force=True`` downloads and converts again.
    A downloaded copy can differ from the shipped one (see ``describe(name)``; for mnist it holds
    only the 10000 official test images).
    """
    spec = get_spec(name)
    if spec.download is None or spec.filename is None:
        raise InvalidParameterError(
            f"Dataset {spec.name!r} is embedded; there is nothing to download."
        )
    target = cache_dir() / spec.filename
    if target.is_file() and not force:
        return target
    raw_folder = cache_dir() / "raw" / spec.name
    paths = [_fetch_raw(raw, raw_folder / raw.filename, force=force) for raw in spec.download.files]
    arrays = CONVERTERS[spec.download.converter](paths)
    _write_npz(target, arrays)
    return target


# -- finding and reading files -----------------------------------------------------------------


def _is_path(name_or_path: str | os.PathLike[str]) -> bool:
    if not isinstance(name_or_path, str):
        if isinstance(name_or_path, os.PathLike):
            return True
        raise InvalidParameterError(
            f"load() needs a dataset name or a path to an .npz file; got {type(name_or_path).__name__}."
        )
    if is_registered(name_or_path):
        return False
    looks_like_path = name_or_path.endswith(".npz") or "/" in name_or_path or os.sep in name_or_path
    return looks_like_path or Path(name_or_path).is_file()


def _find_file(filename: str, data_dir: str | Path | None) -> Path | None:
    for folder, _ in search_folders(data_dir):
        if (folder / filename).is_file():
            return folder / filename
    return None


def _not_found_message(spec: DatasetSpec, data_dir: str | Path | None) -> str:
    looked = "; ".join(f"{folder} ({origin})" for folder, origin in search_folders(data_dir))
    return (
        f"Dataset {spec.name!r} needs {spec.filename}, which is in none of the folders searched: "
        f"{looked}. To get it, point --data-dir DIR or NEURALBANDITS_DATA=DIR at a folder holding "
        f"{spec.filename}, or download it with load({spec.name!r}, download=True) or "
        f"`neuralbandits data download {spec.name}`."
    )


def _verify(path: Path, spec: DatasetSpec | None) -> None:
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.is_file():
        expected = (sidecar.read_text().split() or [""])[0]
    elif spec is not None and spec.sha256 is not None:
        expected = spec.sha256
    else:
        raise InvalidParameterError(
            f"verify=True: no known sha256 for {path} (no registered digest and no {sidecar.name})."
        )
    verify_sha256(path, expected)


def _load_npz(path: Path, *, name: str, spec: DatasetSpec | None) -> ClassificationData:
    source = str(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InvalidParameterError(f"Cannot read {source} as an .npz archive: {error}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InvalidParameterError(
            f"{source} is a single .npy array, not an .npz archive with X and y."
        )
    with archive:
        for key in ("X", "y"):
            if key not in archive.files:
                found = ", ".join(repr(f) for f in archive.files) or "none"
                raise InvalidParameterError(
                    f"{source} has no array {key!r} (arrays found: {found}); "
                    "a classification .npz needs arrays 'X' and 'y'."
                )
        wanted = [key for key in ("X", "y", "class_names", "X_categorical") if key in archive.files]
        arrays = {key: _read_array(archive, key, source) for key in wanted}
    if "class_names" in arrays:
        class_names: Sequence[str] | None = [str(c) for c in arrays["class_names"]]
    else:
        class_names = spec.class_names if spec is not None else None
    return ClassificationData.from_arrays(
        name,
        arrays["X"],
        arrays["y"],
        source=source,
        class_names=class_names,
        image_shape=spec.image_shape if spec is not None else None,
        categorical=arrays.get("X_categorical"),
    )


def _read_array(archive: Any, key: str, source: str) -> np.ndarray:
    try:
        return archive[key]
    except ValueError as error:  # object arrays need pickle, which we never allow for data files
        raise InvalidParameterError(f"Array {key!r} in {source} cannot be read: {error}") from None


def _load_digits() -> ClassificationData:
    from sklearn.datasets import load_digits  # imported here: scikit-learn is slow to import

    bunch = load_digits()
    return ClassificationData.from_arrays(
        "digits", bunch.data, bunch.target, source="sklearn:digits", image_shape=(8, 8)
    )


# -- validation --------------------------------------------------------------------------------


def _features(X: np.ndarray, source: str) -> tuple[np.ndarray, tuple[int, ...] | None]:
    if X.dtype.kind not in "biuf":
        raise InvalidParameterError(f"X in {source} must be numeric; got dtype {X.dtype}.")
    if X.ndim not in (2, 3, 4):
        raise InvalidParameterError(
            f"X in {source} must be 2-D (n_samples, n_features) or image-like "
            f"(n_samples, height, width[, channels]); got shape {X.shape}."
        )
    if X.shape[0] == 0 or math.prod(X.shape[1:]) == 0:
        raise InvalidParameterError(
            f"X in {source} must have at least one row and one feature; got shape {X.shape}."
        )
    image_shape = tuple(int(s) for s in X.shape[1:]) if X.ndim > 2 else None
    if X.dtype.kind == "f":
        check_finite(f"X in {source}", X)
    with np.errstate(over="ignore"):
        features = np.asarray(X.reshape(X.shape[0], -1), dtype=np.float32)
    if X.dtype.kind == "f" and X.dtype.itemsize > 4 and not np.isfinite(features).all():
        raise InvalidParameterError(f"X in {source} has values beyond float32's range (about 3.4e38).")
    return features, image_shape


def _labels(y: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """int64 labels 0..C-1, and the original label of each class (sorted)."""
    if y.ndim != 1:
        raise InvalidParameterError(f"y in {source} must be 1-D (n_samples,); got shape {y.shape}.")
    if y.dtype.kind not in "biuf":
        raise InvalidParameterError(
            f"y in {source} must hold integer class labels; got dtype {y.dtype}."
        )
    if y.dtype.kind == "f":
        bad = y[~np.isfinite(y) | (y != np.round(y))] if y.size else y
        if bad.size:
            raise InvalidParameterError(
                f"y in {source} must hold integer class labels; "
                f"found non-integer value {bad[0].item()!r}."
            )
    if y.size and y.min() < 0:
        raise InvalidParameterError(
            f"y in {source} must hold non-negative class labels; found {y.min().item()!r}."
        )
    labels = y.astype(np.int64, copy=False)
    present = np.unique(labels)
    if present.size < 2:
        raise InvalidParameterError(
            f"y in {source} must hold at least 2 classes; found {present.size} ({present.tolist()})."
        )
    if present[-1] == present.size - 1:
        return labels, present
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), present


def _class_names(
    names: Sequence[str] | None, present: np.ndarray, source: str
) -> tuple[str, ...] | None:
    """One name per class: as given if the counts match, else picked by the original labels."""
    if names is None:
        return None
    names = tuple(str(n) for n in names)
    if len(names) == present.size:
        return names
    if len(names) > int(present[-1]):
        return tuple(names[i] for i in present)
    raise InvalidParameterError(
        f"class_names in {source} has {len(names)} entries but y has {present.size} classes."
    )


def _categorical(categorical: Any, n_samples: int, source: str) -> np.ndarray:
    codes = np.asarray(categorical)
    if codes.ndim != 2 or codes.shape[0] != n_samples or codes.dtype.kind not in "iu":
        raise InvalidParameterError(
            f"X_categorical in {source} must be integer codes of shape ({n_samples}, n_features); "
            f"got shape {codes.shape}, dtype {codes.dtype}."
        )
    if codes.size and codes.min() < 0:
        raise InvalidParameterError(
            f"X_categorical in {source} must hold non-negative codes; found {codes.min().item()}."
        )
    return codes.astype(np.int64)


# -- downloading -------------------------------------------------------------------------------


def _fetch_raw(raw: RawFile, destination: Path, *, force: bool) -> Path:
    if destination.is_file() and not force:
        if raw.sha256 is None or sha256_file(destination) == raw.sha256:
            return destination
    errors = []
    for url in raw.urls:
        try:
            with atomic_write(destination) as temporary:
                _copy_url(url, temporary)
                if raw.sha256 is not None:
                    verify_sha256(temporary, raw.sha256, display_name=url)
            return destination
        except (OSError, ChecksumError) as error:  # urllib's URLError and timeouts are OSErrors
            errors.append(f"{url}: {error}")
    raise DownloadError(f"Could not download {raw.filename}. " + " | ".join(errors))


def _copy_url(url: str, destination: Path) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
        with open(destination, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)


def _write_npz(target: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with atomic_write(target) as temporary:
        with open(temporary, "wb") as handle:  # a handle, because savez appends ".npz" to names
            np.savez_compressed(handle, **arrays)
        # The digest lands first, so a reader never sees the new .npz next to a stale digest.
        with atomic_write(target.with_name(target.name + ".sha256")) as digest_file:
            digest_file.write_text(f"{sha256_file(temporary)}  {target.name}\n")


# -- converters: raw public files -> the .npz layout (one function per source format) -----------

_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an idx file (the MNIST format), gzip-compressed or not, as a native-endian array."""
    data = _read_bytes(path)
    if len(data) < 4 or data[0] or data[1] or data[2] not in _IDX_DTYPES:
        raise InvalidParameterError(f"{path} is not an idx file (magic bytes {data[:4].hex()}).")
    ndim = data[3]
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise InvalidParameterError(f"{path} is truncated inside its idx header.")
    shape = struct.unpack(f">{ndim}I", data[4:offset])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = offset + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        raise InvalidParameterError(
            f"{path}: the idx header promises shape {shape} ({expected} bytes) "
            f"but the file has {len(data)} bytes."
        )
    return np.frombuffer(data, dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def convert_idx_gzip(paths: Sequence[Path]) -> dict[str, np.ndarray]:
    """MNIST-family idx files given as (images, labels) pairs -> ``X`` (N, H*W) uint8, ``y``, ``split``.

    Pairs are stacked in order; ``split`` is the pair index (0 for the first pair: t10k first,
    as in the shipped files).
    """
    if len(paths) % 2:
        raise InvalidParameterError(f"idx files come in (images, labels) pairs; got {len(paths)} files.")
    images, labels, split = [], [], []
    for index in range(0, len(paths), 2):
        block, block_labels = read_idx(paths[index]), read_idx(paths[index + 1])
        if block.ndim < 2 or block_labels.ndim != 1 or len(block) != len(block_labels):
            raise InvalidParameterError(
                f"{paths[index]} has shape {block.shape} "
                f"but {paths[index + 1]} has shape {block_labels.shape}."
            )
        images.append(block.reshape(len(block), -1))
        labels.append(block_labels.astype(np.int64))
        split.append(np.full(len(block), index // 2, dtype=np.int8))
    return {"X": np.concatenate(images), "y": np.concatenate(labels), "split": np.concatenate(split)}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists and NumPy arrays only: a downloaded pickle cannot run other code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(1))[0],
        ("numpy._core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(1))[0],
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return self._ALLOWED[(module, name)]


def _unpickle(payload: bytes) -> dict[Any, Any]:
    loaded = _ArrayUnpickler(io.BytesIO(payload), encoding="bytes").load()
    if not isinstance(loaded, dict):
        raise InvalidParameterError(f"expected a pickled dict, got {type(loaded).__name__}.")
    return {key.decode() if isinstance(key, bytes) else key: value for key, value in loaded.items()}


def convert_cifar10_python(paths: Sequence[Path]) -> dict[str, np.ndarray]:
    """``cifar-10-python.tar.gz`` -> its ``test_batch``: ``X`` (N, 32, 32, 3) uint8, ``y``, names."""
    with tarfile.open(paths[0], "r:*") as archive:
        members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
        missing = [m for m in ("test_batch", "batches.meta") if m not in members]
        if missing:
            raise InvalidParameterError(f"{paths[0]} has no {' or '.join(missing)} member.")
        batch, meta = (_unpickle(_member_bytes(archive, members[m])) for m in ("test_batch", "batches.meta"))
    pixels = np.asarray(batch["data"], dtype=np.uint8)
    images = pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # stored channel-major: R, G, B planes
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta["label_names"]]
    return {
        "X": np.ascontiguousarray(images),
        "y": np.asarray(batch["labels"], dtype=np.int64),
        "class_names": np.asarray(names),
    }


def _member_bytes(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = archive.extractfile(member)
    if handle is None:
        raise InvalidParameterError(f"{member.name} in the archive is not a regular file.")
    return handle.read()


def convert_uci_shuttle(paths: Sequence[Path]) -> dict[str, np.ndarray]:
    """UCI ``shuttle.trn.Z`` (or uncompressed) and ``shuttle.tst`` -> ``X`` (N, 9) float32, ``y``.

    Rows are the training part then the test part; ``y`` is the UCI class number minus 1.
    """
    rows = []
    for path in paths:
        data = _read_bytes(path)
        if data[:2] == b"\x1f\x9d":
            data = uncompress_z(data)
        values = _numbers(data.split(), np.float64, path)
        if values.size % 10:
            raise InvalidParameterError(
                f"{path}: expected 10 numbers per row (9 attributes and the class)."
            )
        rows.append(values.reshape(-1, 10))
    table = np.concatenate(rows)
    spec = get_spec("shuttle")
    return {
        "X": table[:, :9].astype(np.float32),
        "y": table[:, 9].astype(np.int64) - 1,
        "class_names": np.asarray(spec.class_names),
    }


_LETTER_FEATURES = (
    "x.box", "y.box", "width", "high", "onpix", "x.bar", "y.bar", "x2bar",
    "y2bar", "xybar", "x2ybr", "xy2br", "x.ege", "xegvy", "y.ege", "yegvx",
)


def convert_uci_letter(paths: Sequence[Path]) -> dict[str, np.ndarray]:
    """UCI ``letter-recognition.data`` (letter, then 16 integers 0..15) -> ``X`` uint8, ``y`` (A = 0)."""
    rows = _csv_rows(paths[0], n_fields=17)
    letters = np.array([row[0] for row in rows])
    if not np.all(np.char.isupper(letters)) or any(len(letter) != 1 for letter in letters):
        raise InvalidParameterError(f"{paths[0]}: the first field must be a capital letter A..Z.")
    features = _numbers([row[1:] for row in rows], np.int64, paths[0])
    if features.min() < 0 or features.max() > 255:
        raise InvalidParameterError(f"{paths[0]}: features must be integers in 0..255.")
    return {
        "X": features.astype(np.uint8),
        "y": np.array([ord(letter) - ord("A") for letter in letters], dtype=np.int64),
        "class_names": np.array([chr(ord("A") + i) for i in range(26)]),
        "feature_names": np.array(_LETTER_FEATURES),
    }


_MUSHROOM_ATTRIBUTES = (
    "cap-shape", "cap-surface", "cap-color", "bruises", "odor", "gill-attachment", "gill-spacing",
    "gill-size", "gill-color", "stalk-shape", "stalk-root", "stalk-surface-above-ring",
    "stalk-surface-below-ring", "stalk-color-above-ring", "stalk-color-below-ring", "veil-type",
    "veil-color", "ring-number", "ring-type", "spore-print-color", "population", "habitat",
)


def convert_uci_mushroom(paths: Sequence[Path]) -> dict[str, np.ndarray]:
    """UCI ``agaricus-lepiota.data`` (class e/p, 22 letters) -> one-hot ``X``, ``X_categorical``, ``y``.

    ``y``: 0 edible, 1 poisonous. Per attribute, categories are sorted and the missing value ``?``
    is a category of its own; ``X`` holds their one-hot columns (``feature_names`` "attribute=value"),
    ``X_categorical`` the integer codes. A header line, if present, is skipped.
    """
    rows = _csv_rows(paths[0], n_fields=23)
    if rows and rows[0][0] not in ("e", "p"):
        rows = rows[1:]
    table = np.array(rows)
    if not np.isin(table[:, 0], ["e", "p"]).all():
        raise InvalidParameterError(f"{paths[0]}: the first field must be the class 'e' or 'p'.")
    codes, one_hot, names = [], [], []
    for column, attribute in enumerate(_MUSHROOM_ATTRIBUTES, start=1):
        categories, code = np.unique(table[:, column], return_inverse=True)
        codes.append(code.reshape(-1))
        one_hot.append(np.eye(len(categories), dtype=np.uint8)[code.reshape(-1)])
        names.extend(f"{attribute}={category}" for category in categories)
    return {
        "X": np.concatenate(one_hot, axis=1),
        "y": (table[:, 0] == "p").astype(np.int64),
        "X_categorical": np.stack(codes, axis=1).astype(np.int8),
        "feature_names": np.array(names),
        "class_names": np.array(["edible", "poisonous"]),
    }


def _read_bytes(path: str | Path) -> bytes:
    data = Path(path).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _numbers(values: Any, dtype: type, path: Path) -> np.ndarray:
    try:
        return np.array(values, dtype=dtype)
    except ValueError as error:
        raise InvalidParameterError(f"{path}: non-numeric value ({error}).") from None


def _csv_rows(path: Path, *, n_fields: int) -> list[list[str]]:
    rows = []
    for number, line in enumerate(_read_bytes(path).decode("latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != n_fields:
            raise InvalidParameterError(
                f"{path}, line {number}: expected {n_fields} fields, found {len(fields)}."
            )
        rows.append(fields)
    if not rows:
        raise InvalidParameterError(f"{path} holds no data rows.")
    return rows


def uncompress_z(data: bytes) -> bytes:
    """Decode the Unix ``compress`` format (``.Z``, adaptive LZW); the standard library has no reader.

    Codes are packed least-significant bit first, starting at 9 bits and widening (up to the header's
    maximum) once the table outgrows the current width; code 256 clears the table in block mode.
    Codes of one width are written in groups of ``n_bits`` bytes, so a width change or a clear skips
    to the end of the current group. Widths follow gzip's ``unlzw.c``, the reference decoder.
    """
    if len(data) < 3 or data[:2] != b"\x1f\x9d":
        raise InvalidParameterError("Not a .Z (compress) stream: bad magic bytes.")
    max_bits, block_mode = data[2] & 0x1F, bool(data[2] & 0x80)
    if not 9 <= max_bits <= 16:
        raise InvalidParameterError(f"Corrupt .Z stream: maximum code width {max_bits} bits.")
    stream, total_bits = data[3:] + b"\0\0\0", (len(data) - 3) * 8
    first_free = 257 if block_mode else 256
    table = [bytes([i]) for i in range(256)] + [b""] * (first_free - 256)
    out = bytearray()
    n_bits, max_code, position, segment_start = 9, 511, 0, 0
    previous: bytes | None = None
    while position + n_bits <= total_bits:
        if len(table) > max_code:  # the encoder widened after creating this entry
            position = segment_start = _next_group(position, segment_start, n_bits)
            n_bits += 1
            max_code = 1 << max_bits if n_bits == max_bits else (1 << n_bits) - 1
            continue
        byte = position >> 3
        window = int.from_bytes(stream[byte : byte + 3], "little")
        code = (window >> (position & 7)) & ((1 << n_bits) - 1)
        position += n_bits
        if block_mode and code == 256:
            position = segment_start = _next_group(position, segment_start, n_bits)
            n_bits, max_code, previous = 9, 511, None
            del table[first_free:]
            continue
        if code < len(table):
            entry = table[code]
        elif code == len(table) and previous is not None:  # the string being defined right now
            entry = previous + previous[:1]
        else:
            raise InvalidParameterError(
                f"Corrupt .Z stream: code {code} with {len(table)} table entries."
            )
        if previous is not None and len(table) < 1 << max_bits:
            table.append(previous + entry[:1])
        out += entry
        previous = entry
    return bytes(out)


def _next_group(position: int, segment_start: int, n_bits: int) -> int:
    group = n_bits * 8
    return segment_start + -(-(position - segment_start) // group) * group


CONVERTERS: dict[str, Callable[[Sequence[Path]], dict[str, np.ndarray]]] = {
    "idx_gzip": convert_idx_gzip,
    "cifar10_python": convert_cifar10_python,
    "uci_shuttle": convert_uci_shuttle,
    "uci_letter": convert_uci_letter,
    "uci_mushroom": convert_uci_mushroom,
}
