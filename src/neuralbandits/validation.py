"""Declarative parameter constraints with one error wording for the whole library.

A class lists its constraints once (``alpha=Interval(0, None)``); :func:`check_params` checks them all
before anything is mutated and raises ``InvalidParameterError`` naming the field, the expected value
and what was received.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence


class InvalidParameterError(ValueError):
    """A hyperparameter or input outside its documented range."""


@dataclass(frozen=True)
class Interval:
    """A real (or, with ``integer=True``, whole) number in ``[low, high]`` (``None`` = unbounded)."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    low_open: bool = False

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def describe(self) -> str:
        kind = "an int" if self.integer else "a float"
        left = "(" if self.low_open or self.low is None else "["
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        right = ")" if self.high is None else "]"
        return f"{kind} in {left}{low}, {high}{right}"


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of values."""

    options: Sequence[Any]

    def accepts(self, value: Any) -> bool:
        return value in self.options

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)


@dataclass(frozen=True)
class Optional:
    """``None`` or a value the inner constraint accepts."""

    inner: Interval | OneOf

    def accepts(self, value: Any) -> bool:
        return value is None or self.inner.accepts(value)

    def describe(self) -> str:
        return f"None or {self.inner.describe()}"


Constraint = Interval | OneOf | Optional


def check_params(owner: str, values: Mapping[str, Any], constraints: Mapping[str, Constraint]) -> None:
    """Raise ``InvalidParameterError`` for the first value its constraint rejects."""
    for name, constraint in constraints.items():
        if name in values and not constraint.accepts(values[name]):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be {constraint.describe()}; "
                f"got {values[name]!r}."
            )


def check_finite(name: str, array: Any) -> None:
    """Raise ``InvalidParameterError`` if ``array`` (NumPy or torch) holds NaN or infinite values."""
    import numpy as np

    values = array.detach().cpu().numpy() if hasattr(array, "detach") else np.asarray(array)
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise InvalidParameterError(f"{name} must be finite; found {bad} NaN or infinite values.")


def value_range(values: Any) -> tuple[int, int]:
    """``(min, max)`` of a non-empty integer tensor, cheaply: per-round checks run thousands of
    times a second, and for a handful of values a Python list beats two tensor reductions."""
    import torch

    if values.numel() <= 64:
        items = values.reshape(-1).tolist()
        return min(items), max(items)
    low, high = torch.aminmax(values)
    return int(low), int(high)
