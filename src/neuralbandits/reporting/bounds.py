"""Theoretical regret bounds for plotting, and growth-rate fits of empirical regret curves.

* :func:`ccbm_bound` — Theorem 1 of paper 004 (CCBM), as printed, or as the proof's last line.
* :func:`loglog_slope` — least-squares slope of ``ln R`` against ``ln T`` (1 = linear growth).
* :func:`fit_bound_shape` — the constant ``c`` of ``c · T^{3/4} ln T`` (or any shape) fitted to a curve.

Only NumPy; inputs are scalars or arrays of horizons.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from neuralbandits.validation import InvalidParameterError

__all__ = ["ccbm_bound", "ccbm_bound_terms", "fit_bound_shape", "loglog_slope", "t34_log_t"]

_ALPHA = 1.0 - 1.0 / math.e


def ccbm_bound_terms(T, M: int, B: int, r_max: float, L: float, n_avail: int,  # type: ignore[no-untyped-def]
                     *, variant: str = "theorem") -> dict[str, np.ndarray]:
    """The three terms of Theorem 1 (paper 004) at horizons ``T`` (scalar or array).

    * ``explore``   ``(1 − 1/e)·B r_max·2M·(√M ln(MT) T^{3/4} + T^{1/4})``
    * ``suboptimal`` ``(1 − 1/e)·B r_max·M·C(n_avail, B)·π²/3``
    * ``near_optimal`` ``(3BL + (8/3)·B(r_max + L))·M·T^{3/4}``; ``variant="proof_end"`` drops the
      factor ``M``, as the proof's final line does (paper-notes §3.5 and §4, CCBM item 2).

    ``M`` users, budget ``B``, quality bound ``r_max``, Lipschitz constant ``L`` (L1), ``n_avail``
    the largest number of available arms ``|A_m^t|``; ``ln`` natural.
    """
    if variant not in ("theorem", "proof_end"):
        raise InvalidParameterError(f"variant must be 'theorem' or 'proof_end'; got {variant!r}.")
    if n_avail < B:
        raise InvalidParameterError(f"n_avail must be >= B = {B}; got {n_avail}.")
    T = np.asarray(T, dtype=np.float64)
    if np.any(T < 1):
        raise InvalidParameterError("T must be >= 1.")
    explore = _ALPHA * B * r_max * 2 * M * (math.sqrt(M) * np.log(M * T) * T**0.75 + T**0.25)
    suboptimal = np.full_like(T, _ALPHA * B * r_max * M * math.comb(n_avail, B) * math.pi**2 / 3)
    last = (3 * B * L + 8.0 / 3.0 * B * (r_max + L)) * T**0.75
    near_optimal = last * (M if variant == "theorem" else 1)
    return {"explore": explore, "suboptimal": suboptimal, "near_optimal": near_optimal}


def ccbm_bound(T, M: int, B: int, r_max: float, L: float, n_avail: int,  # type: ignore[no-untyped-def]
               *, variant: str = "theorem") -> np.ndarray:
    """Theorem 1 of paper 004: ``R(T) ≤`` the sum of :func:`ccbm_bound_terms` (leading order
    ``O(T^{3/4} ln T)``).

    Example: ``ccbm_bound([1e3, 1e4], M=5, B=3, r_max=0.9, L=1.6, n_avail=50)``.
    """
    terms = ccbm_bound_terms(T, M, B, r_max, L, n_avail, variant=variant)
    return terms["explore"] + terms["suboptimal"] + terms["near_optimal"]


def t34_log_t(T) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The leading shape ``T^{3/4} ln T`` of Theorem 1."""
    T = np.asarray(T, dtype=np.float64)
    return T**0.75 * np.log(T)


def loglog_slope(T, regret) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Least-squares fit ``ln R = slope · ln T + intercept``; returns ``(slope, intercept)``.

    A slope below 1 means sublinear growth (``T^{3/4} ln T`` has a local slope of
    ``3/4 + 1/ln T``, about 0.86–0.90 over ``T ∈ [10³, 10⁵]``).  Needs at least two horizons and
    positive regret.
    """
    T = np.asarray(T, dtype=np.float64)
    regret = np.asarray(regret, dtype=np.float64)
    if T.shape != regret.shape or T.ndim != 1 or T.size < 2:
        raise InvalidParameterError("T and regret must be 1-D arrays of one length >= 2.")
    if np.any(T <= 0) or np.any(regret <= 0):
        raise InvalidParameterError("loglog_slope needs positive horizons and positive regret.")
    slope, intercept = np.polyfit(np.log(T), np.log(regret), 1)
    return float(slope), float(intercept)


def fit_bound_shape(T, regret,  # type: ignore[no-untyped-def]
                    shape: Callable[[np.ndarray], np.ndarray] = t34_log_t) -> float:
    """Least-squares constant ``c`` of ``regret ≈ c · shape(T)`` (through the origin)."""
    T = np.asarray(T, dtype=np.float64)
    regret = np.asarray(regret, dtype=np.float64)
    g = shape(T)
    denominator = float(np.dot(g, g))
    if denominator == 0.0:
        raise InvalidParameterError("The shape is zero at every T; cannot fit a constant.")
    return float(np.dot(g, regret) / denominator)
