"""The table of known classification datasets: file, digest, summary and how to download the source.

Each :class:`DatasetSpec` names the ``.npz`` file shipped in the shared data folder (and its SHA-256),
and a :class:`DownloadRecipe`: the canonical public URL(s) of the raw files, their SHA-256 where it is
published, and the name of the converter in :mod:`neuralbandits.datasets.loaders` that turns them into
the same ``.npz`` layout. ``digits`` is embedded (scikit-learn's ``load_digits``) and needs no file.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

_UCI = "https://archive.ics.uci.edu/ml/machine-learning-databases"
_FASHION = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion",
)
_NOTMNIST = (
    "https://raw.githubusercontent.com/davidflanagan/notMNIST-to-MNIST/"
    "17823f4d4a3acd8317c07866702d2eb2ac79c7a0"
)


class UnknownDatasetError(ValueError):
    """A dataset name that is not registered; the message suggests the closest registered names."""


@dataclass(frozen=True)
class RawFile:
    """One raw source file: its name in the download folder, URLs tried in order, known SHA-256."""

    filename: str
    urls: tuple[str, ...]
    sha256: str | None = None


@dataclass(frozen=True)
class DownloadRecipe:
    """How to rebuild a dataset's ``.npz`` from its public source.

    ``converter`` is a key of ``neuralbandits.datasets.loaders.CONVERTERS``; ``note`` says how a
    downloaded copy differs from the shipped one, if it does.
    """

    files: tuple[RawFile, ...]
    converter: str
    note: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    """A registered classification dataset.

    ``filename``/``sha256`` describe the shipped ``.npz`` (``None`` for the embedded ``digits``);
    ``image_shape`` and ``class_names`` fill in what the ``.npz`` itself does not store.
    """

    name: str
    filename: str | None
    sha256: str | None
    summary: str
    download: DownloadRecipe | None = None
    image_shape: tuple[int, ...] | None = None
    class_names: tuple[str, ...] | None = None


def _mirrored(filename: str, bases: tuple[str, ...], sha256: str | None) -> RawFile:
    return RawFile(filename, tuple(f"{base}/{filename}" for base in bases), sha256)


_MNIST_BASES = (
    "https://storage.googleapis.com/cvdf-datasets/mnist",
    "https://ossci-datasets.s3.amazonaws.com/mnist",
    "http://yann.lecun.com/exdb/mnist",
)

_SPECS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="digits",
            filename=None,
            sha256=None,
            summary="scikit-learn's bundled 8x8 digits (UCI optical digits test part), 1797 images, "
            "10 classes; embedded, needs no file",
            image_shape=(8, 8),
        ),
        DatasetSpec(
            name="mnist",
            filename="mnist.npz",
            sha256="a5a33cbd22ae332047d905bfb3237557727ae6bb32872b01eb4b5d66daa13189",
            summary="MNIST handwritten digits, 28x28, 10 classes: official test set (10000) "
            "+ a 5000-image training subset in the shipped copy",
            download=DownloadRecipe(
                files=(
                    _mirrored(
                        "t10k-images-idx3-ubyte.gz",
                        _MNIST_BASES,
                        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                    ),
                    _mirrored(
                        "t10k-labels-idx1-ubyte.gz",
                        _MNIST_BASES,
                        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                    ),
                ),
                converter="idx_gzip",
                note="a downloaded copy holds only the 10000 official test images; the shipped "
                "copy also has a 5000-image training subset (rows 10000..14999, split=1)",
            ),
            image_shape=(28, 28),
        ),
        DatasetSpec(
            name="fashion_mnist",
            filename="fashion_mnist.npz",
            sha256="992c625f371ea0b1376c22691902cafa1de91422a68157105a816a4b71cc1ff2",
            summary="Fashion-MNIST (Zalando), 28x28, 10 classes, complete: 10000 test "
            "then 60000 train",
            download=DownloadRecipe(
                files=(
                    _mirrored(
                        "t10k-images-idx3-ubyte.gz",
                        _FASHION,
                        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                    ),
                    _mirrored(
                        "t10k-labels-idx1-ubyte.gz",
                        _FASHION,
                        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                    ),
                    _mirrored(
                        "train-images-idx3-ubyte.gz",
                        _FASHION,
                        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                    ),
                    _mirrored(
                        "train-labels-idx1-ubyte.gz",
                        _FASHION,
                        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                    ),
                ),
                converter="idx_gzip",
            ),
            image_shape=(28, 28),
            class_names=(
                "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
            ),
        ),
        DatasetSpec(
            name="notmnist_small",
            filename="notmnist_small.npz",
            sha256="012374188d127e70cbf0ef7a1629eeea4b3864002bae4d0f94e338158dc11f3c",
            summary="notMNIST (small) letters A..J, 28x28, 10 classes, 1000 images each",
            download=DownloadRecipe(
                files=(
                    _mirrored(
                        "t10k-images-idx3-ubyte.gz",
                        (_NOTMNIST,),
                        "70ae9e06201f2827e5b0a3781a3169d735dd2efc69996b9eeaee7f10ed4044d7",
                    ),
                    _mirrored(
                        "t10k-labels-idx1-ubyte.gz",
                        (_NOTMNIST,),
                        "1fa03836e01c862542f8eb83463bb951bebec6fcb3efa28dad748c6b38a9021b",
                    ),
                ),
                converter="idx_gzip",
                note="idx files sampled from notMNIST_small (Bulatov 2011) by "
                "github.com/davidflanagan/notMNIST-to-MNIST",
            ),
            image_shape=(28, 28),
            class_names=tuple("ABCDEFGHIJ"),
        ),
        DatasetSpec(
            name="cifar10_test",
            filename="cifar10_test.npz",
            sha256="15aa42314de9dd9e197fa61efa6ae27a94239351ab24b4de5f037da6cc2d945e",
            summary="CIFAR-10 test set, 32x32x3 RGB, 10 classes, 1000 images each",
            download=DownloadRecipe(
                files=(
                    RawFile(
                        "cifar-10-python.tar.gz",
                        ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                    ),
                ),
                converter="cifar10_python",
                note="a downloaded copy has the original pixels in test_batch order; the shipped copy "
                "was decoded from JPEG re-encodings (close, not bit-identical) and is sorted by class",
            ),
            image_shape=(32, 32, 3),
        ),
        DatasetSpec(
            name="shuttle",
            filename="shuttle.npz",
            sha256="0cffe41a64f647668c1bdbca5bd5203a847bdb57044678a8e81cdc53c49e9ec2",
            summary="UCI Statlog (Shuttle): 9 numeric attributes, 7 very unbalanced classes, "
            "58000 rows (train + test)",
            download=DownloadRecipe(
                files=(
                    RawFile("shuttle.trn.Z", (f"{_UCI}/statlog/shuttle/shuttle.trn.Z",)),
                    RawFile("shuttle.tst", (f"{_UCI}/statlog/shuttle/shuttle.tst",)),
                ),
                converter="uci_shuttle",
                note="UCI publishes no checksum: the raw files are not verified",
            ),
            class_names=("Rad.Flow", "Fpv.Close", "Fpv.Open", "High", "Bypass", "Bpv.Close", "Bpv.Open"),
        ),
        DatasetSpec(
            name="letter",
            filename="letter.npz",
            sha256="20d11216147c6e25824a9e7fa447218b2d82912fe153f14fb1fc4c92aab72647",
            summary="UCI Letter Recognition: 16 integer features, 26 classes A..Z, 20000 rows "
            "(stand-in for EMNIST Letters)",
            download=DownloadRecipe(
                files=(
                    RawFile(
                        "letter-recognition.data",
                        (f"{_UCI}/letter-recognition/letter-recognition.data",),
                    ),
                ),
                converter="uci_letter",
                note="UCI publishes no checksum: the raw file is not verified",
            ),
        ),
        DatasetSpec(
            name="mushroom",
            filename="mushroom.npz",
            sha256="566a4682114e7dff9c421ca7179ef0d9ab8eeedc111c8bb7732afe7af1c73ffb",
            summary="UCI Mushroom: 22 categorical attributes (one-hot X, integer X_categorical), "
            "edible/poisonous, 8124 rows",
            download=DownloadRecipe(
                files=(RawFile("agaricus-lepiota.data", (f"{_UCI}/mushroom/agaricus-lepiota.data",)),),
                converter="uci_mushroom",
                note="UCI publishes no checksum: the raw file is not verified",
            ),
        ),
    )
}


def dataset_names() -> list[str]:
    """Sorted names of every registered classification dataset."""
    return sorted(_SPECS)


def normalize_name(name: str) -> str:
    """Registered names are lower-case with underscores; ``"Fashion-MNIST"`` -> ``"fashion_mnist"``."""
    return name.strip().lower().replace("-", "_")


def is_registered(name: str) -> bool:
    """Whether ``name`` (case and ``-``/``_`` ignored) is a registered dataset."""
    return normalize_name(name) in _SPECS


def get_spec(name: str) -> DatasetSpec:
    """The spec registered under ``name``; :class:`UnknownDatasetError` with suggestions otherwise."""
    spec = _SPECS.get(normalize_name(name))
    if spec is None:
        raise UnknownDatasetError(unknown_message(name))
    return spec


def unknown_message(name: str) -> str:
    """"Unknown dataset 'mnsit'. Did you mean 'mnist'? Known: ..." (the "did you mean" part if any)."""
    close = difflib.get_close_matches(normalize_name(name), list(_SPECS), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"Unknown dataset {name!r}.{hint} Known: {', '.join(dataset_names())}."


def describe(name: str) -> str:
    """A few lines on a registered dataset: summary, shipped file and digest, download sources."""
    spec = get_spec(name)
    lines = [f"{spec.name}: {spec.summary}"]
    if spec.filename is None:
        lines.append("  file: none (embedded)")
    else:
        lines.append(f"  file: {spec.filename} (sha256 {spec.sha256})")
    if spec.download is not None:
        lines.append(f"  download (converter {spec.download.converter!r}):")
        for raw in spec.download.files:
            lines.append(f"    {raw.filename}: {raw.urls[0]} (sha256 {raw.sha256 or 'not published'})")
        if spec.download.note:
            lines.append(f"  note: {spec.download.note}")
    return "\n".join(lines)
