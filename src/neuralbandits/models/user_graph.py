"""User graphs and cluster statistics shared by the clustered linear bandits (paper 000 §6, notes §1.4).

The four linear baselines of M-CNB (CLUB, SCLUB, LOCB, COFIBA) keep per-user ridge statistics in one
:class:`~neuralbandits.models.ridge.RidgeBank` and differ only in the rule that groups users.  This
module holds the pieces they share:

* :func:`confidence_factor` ``F(N) = √((1 + ln(1 + N)) / (1 + N))`` — the edge-deletion / split radius;
* :func:`beta_factor` ``β(N, t) = √(d ln(1 + N/d) + 4 ln t + ln 2) + 1`` (``t`` clamped to ``≥ 1``);
* :func:`connected_components` — component labels of a dense boolean adjacency (``scipy``, used off
  the hot path: only when an edge was deleted);
* :func:`cut_edges` — the vectorised CLUB deletion ``‖θ_i − θ_j‖ > α_e (F(N_i) + F(N_j))``;
* :func:`random_graph` — a seeded symmetric Erdős–Rényi adjacency (COFIBA's re-initialisation).

Cluster statistics ``S_c = λI + Σ_{k∈c}(S_k − λI)``, ``b_c = Σ b_k``, ``N_c = Σ N_k`` live in
:class:`~neuralbandits.models.cluster_stats.ClusterStats`.  Statistics may be *grouped*: ``gram`` ``(n, G, e, e)``, ``moment`` ``(n, G, e)``.  ``G = 1, e = d`` for
dense arm features; for block-encoded arms (``d = K·d_x``) the per-user design matrix is block-diagonal,
so ``G = K`` blocks of size ``e = d_x`` hold exactly the same information as the ``(K·d_x)²`` matrix.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components as _scipy_components
from torch import Tensor


def confidence_factor(counts: Tensor) -> Tensor:
    """``F(N) = √((1 + ln(1 + N)) / (1 + N))`` element-wise (``counts`` of any shape)."""
    n = counts.to(torch.float64 if counts.dtype == torch.float64 else torch.float32)
    return torch.sqrt((1.0 + torch.log1p(n)) / (1.0 + n))


def beta_factor(counts: Tensor, t: int | float | Tensor, dim: int) -> Tensor:
    """``β(N, t) = √(d ln(1 + N/d) + 4 ln max(t, 1) + ln 2) + 1`` (``d`` = feature dimension)."""
    n = counts.to(torch.float32)
    if isinstance(t, Tensor):
        rounds = 4.0 * torch.log(t.to(torch.float32).clamp_min(1.0)) + math.log(2.0)
    else:
        rounds = 4.0 * math.log(max(float(t), 1.0)) + math.log(2.0)
    return torch.sqrt(dim * torch.log1p(n / dim) + rounds) + 1.0


def connected_components(adjacency: Tensor) -> Tensor:
    """Component label of every node of a dense symmetric bool adjacency ``(n, n)`` → ``(n,)`` int64.

    Labels are canonical: a component is labelled by the smallest node index it contains, so the same
    graph always gives the same labels (deterministic state, comparable across runs).
    """
    n = adjacency.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.int64)
    matrix = csr_matrix(adjacency.detach().cpu().numpy().astype(np.int8))
    _, raw = _scipy_components(matrix, directed=False)
    raw_t = torch.as_tensor(raw, dtype=torch.int64)
    smallest = torch.full((int(raw.max()) + 1,), n, dtype=torch.int64)
    smallest.scatter_reduce_(0, raw_t, torch.arange(n), reduce="amin")
    return smallest[raw_t].to(adjacency.device)


def cut_edges(adjacency: Tensor, users: Tensor, far: Tensor) -> bool:
    """Delete the edges ``(users[b], j)`` where ``far[b, j]`` (both directions, in place).

    ``users`` ``(B,)``, ``far`` ``(B, n)`` bool.  Returns whether any existing edge was deleted.
    """
    doomed = adjacency[users] & far
    if not bool(doomed.any()):
        return False
    rows, cols = doomed.nonzero(as_tuple=True)
    adjacency[users[rows], cols] = False
    adjacency[cols, users[rows]] = False
    return True


def club_far(theta: Tensor, counts: Tensor, users: Tensor, scale: float) -> Tensor:
    """The CLUB deletion test for served ``users`` ``(B,)`` against everyone: ``(B, n)`` bool.

    ``‖θ_i − θ_j‖ > α_e (F(N_i) + F(N_j))``, only where both counts are positive (Gentile et al. 2014,
    Algorithm 1; official ``club.py``).  ``theta`` ``(n, d)``, ``counts`` ``(n,)``.
    """
    distance = (theta[users][:, None, :] - theta[None, :, :]).norm(dim=-1)  # (B, n)
    factor = confidence_factor(counts)
    threshold = scale * (factor[users][:, None] + factor[None, :])
    seen = counts > 0
    return (distance > threshold) & seen[users][:, None] & seen[None, :]


def random_graph(n: int, probability: float, generator: torch.Generator) -> Tensor:
    """A symmetric Erdős–Rényi ``G(n, p)`` adjacency ``(n, n)`` bool (self-loops on; ``p ≥ 1`` complete)."""
    if probability >= 1.0:
        return torch.ones(n, n, dtype=torch.bool)
    upper = torch.rand(n, n, generator=generator) < probability
    upper = torch.triu(upper, diagonal=1)
    return upper | upper.T | torch.eye(n, dtype=torch.bool)


def edge_probability(n: int) -> float:
    """``3 ln n / n`` capped at 1 — the density of COFIBA's fresh user graphs (Li et al. 2016)."""
    if n <= 1:
        return 1.0
    return min(1.0, 3.0 * math.log(n) / n)


def compact_labels(labels: Tensor) -> tuple[Tensor, int]:
    """Map arbitrary int labels ``(n,)`` to ``0..C−1`` in order of their smallest value; returns ``C``."""
    unique, inverse = torch.unique(labels, return_inverse=True)
    return inverse, int(unique.numel())


def canonical_labels(labels: Tensor) -> Tensor:
    """Relabel groups ``(n,)`` by the smallest member index of each group (deterministic labels)."""
    n = labels.shape[0]
    inverse, groups = compact_labels(labels)
    smallest = torch.full((groups,), n, dtype=torch.int64, device=labels.device)
    smallest.scatter_reduce_(0, inverse, torch.arange(n, device=labels.device), reduce="amin")
    return smallest[inverse]
