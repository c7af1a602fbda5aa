"""Pure NumPy feature transforms applied by the classification environments.

Paper numbers are the project's: 000 is M-CNB (Ban et al., *Meta Clustering of Neural Bandits*,
KDD 2024), 003 is Neural Logistic Bandits (Bae & Lee, arXiv 2505.02069). Floating inputs keep their
dtype; integer or boolean inputs become float32. Inputs are never modified.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from neuralbandits.validation import InvalidParameterError


def l2_normalize_rows(X: Any) -> np.ndarray:
    """Scale every row of ``X`` ``(N, d)`` to unit Euclidean norm; all-zero rows stay zero.

    Used by paper 000 (M-CNB, preprocessing after ``uclaml/NeuralUCB:data_multi.py``): every context is
    row-L2-normalised before the block ("K long vectors") encoding.
    """
    features = _as_float_2d(X, "l2_normalize_rows")
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    out = np.zeros_like(features)
    np.divide(features, norms, out=out, where=norms > 0)
    return out


def minmax_scale(X: Any) -> np.ndarray:
    """Rescale every column of ``X`` ``(N, d)`` to [0, 1] by ``(x - min) / (max - min)``.

    A constant column (``max == min``) becomes 0. Used by paper 003 (Neural Logistic Bandits): every
    feature of the real datasets is min-max rescaled "for consistency with the synthetic environment".
    """
    features = _as_float_2d(X, "minmax_scale")
    low = features.min(axis=0)
    span = features.max(axis=0) - low
    out = np.zeros_like(features)
    np.divide(features - low, span, out=out, where=span > 0)
    return out


def average_pool(X: Any, image_shape: tuple[int, ...], factor: int = 2) -> np.ndarray:
    """Average-pool flattened images over ``factor x factor`` blocks; returns ``(N, H/f * W/f [* C])``.

    ``X`` is ``(N, H*W[*C])`` (or already ``(N, H, W[, C])``) with ``image_shape = (H, W[, C])``;
    ``H`` and ``W`` must be multiples of ``factor``; channels are pooled separately. Used by paper 003
    (Neural Logistic Bandits): mnist 28x28 -> 14x14 by 2x2 averaging, so ``d = 196``.
    """
    shape = tuple(int(s) for s in image_shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise InvalidParameterError(
            f"image_shape must be (height, width) or (height, width, channels); got {image_shape!r}."
        )
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise InvalidParameterError(
            f"The 'factor' parameter of average_pool must be an int >= 1; got {factor!r}."
        )
    height, width = shape[:2]
    if height % factor or width % factor:
        raise InvalidParameterError(
            f"image_shape {shape} is not divisible into {factor}x{factor} blocks."
        )
    images = np.asarray(X)
    if images.ndim < 2 or math.prod(images.shape[1:]) != math.prod(shape):
        raise InvalidParameterError(
            f"X of shape {images.shape} does not hold images of shape {shape} "
            f"({math.prod(shape)} values per row)."
        )
    n_images = len(images)
    blocks = _as_float(images).reshape(n_images, height // factor, factor, width // factor, factor, -1)
    return blocks.mean(axis=(2, 4)).reshape(n_images, -1)


def random_category_values(categorical: Any, seed: int) -> np.ndarray:
    """Replace each integer category code by a fixed random value in [0, 1); returns float32 ``(N, F)``.

    The value table, ``(F, max code + 1)`` uniform draws from ``np.random.default_rng(seed)``, gives
    feature ``j``'s category ``c`` the value ``table[j, c]``: one fixed seeded table per feature, so
    equal categories always map to equal values. The table depends on the seed and on the largest
    code, so call this once on the whole dataset. Used by paper 003 (Neural Logistic Bandits) for
    mushroom's 22 categorical attributes (``ClassificationData.categorical``).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidParameterError(
            f"The 'seed' parameter of random_category_values must be an int >= 0; got {seed!r}."
        )
    codes = np.asarray(categorical)
    if codes.ndim != 2 or codes.dtype.kind not in "iu":
        raise InvalidParameterError(
            "categorical must be an integer array of shape (n_samples, n_features); "
            f"got shape {codes.shape}, dtype {codes.dtype}."
        )
    if codes.size and codes.min() < 0:
        raise InvalidParameterError(
            f"categorical codes must be non-negative; found {codes.min().item()}."
        )
    n_values = int(codes.max()) + 1 if codes.size else 1
    table = np.random.default_rng(seed).random((codes.shape[1], n_values))
    return table[np.arange(codes.shape[1]), codes].astype(np.float32)


def _as_float(array: np.ndarray) -> np.ndarray:
    return array if array.dtype.kind == "f" else array.astype(np.float32)


def _as_float_2d(X: Any, caller: str) -> np.ndarray:
    features = np.asarray(X)
    if features.ndim != 2 or features.dtype.kind not in "biuf":
        raise InvalidParameterError(
            f"{caller} needs a numeric 2-D array (n_samples, n_features); "
            f"got shape {features.shape}, dtype {features.dtype}."
        )
    return _as_float(features)
