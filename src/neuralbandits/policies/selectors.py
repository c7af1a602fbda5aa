"""Selectors: scores ``(B, K)`` → actions ``(B,)``, ties broken by the policy's seeded generator."""

from __future__ import annotations

import torch
from torch import Tensor


def argmax_random_ties(scores: Tensor, generator: torch.Generator) -> Tensor:
    """Index of the largest score per row; among equal maxima one is drawn uniformly.

    ``-inf`` marks unavailable arms (every row has at least one finite score).
    """
    best = scores.max(dim=1, keepdim=True).values
    ties = scores == best
    noise = torch.rand(scores.shape, generator=generator)
    return noise.masked_fill(~ties, -1.0).argmax(dim=1)
