"""Relative clusters of users (paper 000, Algorithm 1 line 7).

A relative cluster is defined per arm: the users whose learner predicts, on that arm, a reward within
a threshold of the served user's prediction.  Given the prediction matrix of every user on every arm
(one forward of a :class:`~neuralbandits.models.bank.LearnerBank`), all clusters of all arms are one
comparison.
"""

from __future__ import annotations

import torch
from torch import Tensor


def relative_cluster(predictions: Tensor, served: Tensor, threshold: float) -> Tensor:
    """``N̂_{u_t}(x_{t,i}) = {u : |f(x_{t,i}; θ^u) − f(x_{t,i}; θ^{u_t})| ≤ threshold}`` for every arm.

    Args:
        predictions: ``(M, K)`` predictions of the ``M`` users on the ``K`` arms (shared by every
            round of the batch) or ``(B, M, K)`` (one matrix per round).
        served: ``(B,)`` the served user ``u_t`` of every round.
        threshold: the cluster radius (paper 000: ``(ν − 1)/ν · γ``).

    Returns:
        ``(B, K, M)`` bool; ``[b, i, u]`` is ``True`` when user ``u`` is in the relative cluster of arm
        ``i`` in round ``b``.  The served user always belongs to its own clusters (also when its
        prediction is not finite).
    """
    if predictions.ndim == 2:
        predictions = predictions.unsqueeze(0).expand(served.shape[0], -1, -1)
    if predictions.ndim != 3 or predictions.shape[0] != served.shape[0]:
        raise ValueError(
            "relative_cluster needs predictions of shape (M, K) or (B, M, K) with B = len(served); "
            f"got {tuple(predictions.shape)} and served of shape {tuple(served.shape)}."
        )
    rows = torch.arange(served.shape[0], device=predictions.device)
    own = predictions[rows, served]  # (B, K)
    members = (predictions - own[:, None, :]).abs() <= threshold  # (B, M, K)
    members[rows, served] = True
    return members.transpose(1, 2)
