"""Selectors: scores ``(B, K)`` → actions ``(B,)``, ties broken by the policy's seeded generator."""

from __future__ import annotations

import torch
from torch import Tensor


def argmax_random_ties(scores: Tensor, generator: torch.Generator) -> Tensor:
    """Index of the largest score per row; among equal maxima one is drawn uniformly.

    ``-inf`` marks unavailable arms (every row has at least one finite score).  The generator is
    only drawn from when some row has a tie, which keeps the common case to three tensor operations.
    """
    best, index = scores.max(dim=1)
    ties = scores == best[:, None]
    if int(ties.sum(1).max()) == 1:
        return index
    noise = torch.rand(scores.shape, generator=generator)
    return noise.masked_fill(~ties, -1.0).argmax(dim=1)
