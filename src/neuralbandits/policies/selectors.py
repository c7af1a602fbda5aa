"""Selectors: scores ``(B, K)`` → actions ``(B,)``, ties broken by the policy's seeded generator."""

from __future__ import annotations

import torch
from torch import Tensor


def argmax_random_ties(scores: Tensor, generator: torch.Generator) -> Tensor:
    """Index of the largest score per row; among equal maxima one is drawn uniformly.

    ``-inf`` marks unavailable arms (every row has at least one finite score).  For a single round
    the generator is only drawn from when the two best scores tie, which keeps the common case to one
    tensor operation.
    """
    if scores.shape[0] == 1 and scores.shape[1] > 1:  # one round: compare the two best in Python
        values, indices = scores[0].topk(2)
        first, second = values.tolist()
        if first > second:
            return indices[:1]
    best = scores.max(dim=1, keepdim=True).values
    ties = scores == best
    noise = torch.rand(scores.shape, generator=generator)
    return noise.masked_fill(~ties, -1.0).argmax(dim=1)
