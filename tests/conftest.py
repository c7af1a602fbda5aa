"""Shared fixtures.  Tests run single-threaded: per-round work is made of tiny tensor operations, for
which extra threads only add contention on shared CI cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def data_dir() -> Path:
    """The folder of the shipped datasets, from ``NEURALBANDITS_DATA``; skips when unset."""
    value = os.environ.get("NEURALBANDITS_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("NEURALBANDITS_DATA is not set to the datasets folder")
    return Path(value)


def shuffled_dataset(data_dir: Path, name: str) -> Path:
    path = data_dir / f"{name}.npz"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path
