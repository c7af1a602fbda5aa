"""Explorers: a belief about every arm → scores ``(B, K)`` (greedy, UCB, Thompson)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from neuralbandits.types import Belief


class Explorer(Protocol):
    def __call__(self, belief: Belief, *, generator: torch.Generator) -> Tensor: ...


@dataclass(frozen=True)
class Greedy:
    """Scores are the means."""

    def __call__(self, belief: Belief, *, generator: torch.Generator) -> Tensor:
        return belief.mean


@dataclass(frozen=True)
class UCB:
    """``mean + coefficient · width`` (optimism in the face of uncertainty)."""

    coefficient: float = 1.0

    def __call__(self, belief: Belief, *, generator: torch.Generator) -> Tensor:
        if belief.width is None:
            raise ValueError("UCB needs a belief with a width.")
        return belief.mean + self.coefficient * belief.width


@dataclass(frozen=True)
class Thompson:
    """A Gaussian posterior draw ``N(mean, (coefficient · width)²)`` per arm, or the belief's own sampler."""

    coefficient: float = 1.0

    def __call__(self, belief: Belief, *, generator: torch.Generator) -> Tensor:
        if belief.sample is not None:
            return belief.sample(generator)
        if belief.width is None:
            raise ValueError("Thompson sampling needs a belief with a width or a sampler.")
        noise = torch.randn(belief.mean.shape, generator=generator, dtype=belief.mean.dtype)
        return belief.mean + self.coefficient * belief.width * noise
