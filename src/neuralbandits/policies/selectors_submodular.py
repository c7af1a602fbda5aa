"""Algorithm 1 of paper 004: the greedy slate under a budget for a monotone submodular set reward.

``greedy_submodular`` builds, for every row of a batch at once, the slate
``S ← S₀; B − |S₀| times: S ← S ∪ {argmax_{a ∈ A \\ S} R(S ∪ {a}, q) − R(S, q)}``.
For a monotone submodular ``R`` with ``R(∅) = 0`` the result satisfies
``R(S, q) ≥ (1 − 1/e) · max_{|S'| ≤ B} R(S', q)`` (Nemhauser, Wolsey & Fisher 1978, started from
``S₀ = ∅``); for the modular ``"sum"`` it is exactly optimal (the top-``B`` arms).

Set rewards (``q`` are per-arm qualities in ``[0, 1]``; with a trailing target axis ``J`` and
weights ``w``, ``q_{a,j}`` is the probability that arm ``a`` covers target ``j``):

* ``"coverage"`` — probabilistic coverage ``R(S) = Σ_j w_j (1 − Π_{a∈S} (1 − q_{a,j}))``; with one
  target it is ``1 − Π_{a∈S}(1 − q_a)`` (paper-notes §3.3; CC-MAB's crowdsourcing reward), and
  greedy then equals the top-``B`` arms, because the marginal gain ``q_a · Π_{b∈S}(1 − q_b)`` orders
  the arms by ``q_a``.
* ``"sum"`` — ``R(S) = Σ_j w_j Σ_{a∈S} q_{a,j}``.

All marginal gains of a step are one batched ``(rows, K, J)`` product, so there is no lazy-greedy
priority queue: a lazy evaluation saves set-function calls, which here cost less than its
bookkeeping would.  The ``B`` steps are the only Python loop.

References: paper 004 appendix ("Algorithm 1", the ``(1 − 1/e)`` guarantee); Chen, Xu & Lu,
NeurIPS 2018 (CC-MAB); Nemhauser, Wolsey & Fisher, "An analysis of approximations for maximizing
submodular set functions", Math. Programming 14, 1978; Minoux 1978 (lazy greedy).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from neuralbandits.validation import InvalidParameterError

__all__ = ["GREEDY_FACTOR", "SET_REWARDS", "greedy_submodular", "set_reward_value"]

SET_REWARDS = ("coverage", "sum")

#: (1 − 1/e), the greedy approximation factor
GREEDY_FACTOR = 1.0 - 1.0 / math.e


def _with_targets(qualities: Tensor, weights: Tensor | None) -> tuple[Tensor, Tensor]:
    """``(R, K, J)`` qualities and ``(J,)`` weights (a single target when ``qualities`` is 2-D)."""
    if qualities.ndim == 2:
        qualities = qualities.unsqueeze(-1)
    if qualities.ndim != 3:
        raise InvalidParameterError(
            f"qualities must have shape (rows, K) or (rows, K, J); got {tuple(qualities.shape)}."
        )
    n_targets = qualities.shape[-1]
    if weights is None:
        weights = torch.ones(n_targets, dtype=qualities.dtype)
    if tuple(weights.shape) != (n_targets,):
        raise InvalidParameterError(
            f"weights must have shape ({n_targets},) like the target axis of qualities; "
            f"got {tuple(weights.shape)}."
        )
    return qualities, weights.to(qualities.dtype)


def set_reward_value(
    qualities: Tensor, chosen: Tensor, set_reward: str = "coverage", *, weights: Tensor | None = None
) -> Tensor:
    """``R(S, q)`` per row: qualities ``(R, K)`` or ``(R, K, J)``, ``chosen`` ``(R, K)`` bool → ``(R,)``."""
    q, w = _with_targets(qualities, weights)
    picked = chosen.unsqueeze(-1).to(q.dtype)
    if set_reward == "coverage":
        uncovered = torch.prod(1.0 - picked * q, dim=1)  # (R, J)
        return ((1.0 - uncovered) * w).sum(-1)
    if set_reward == "sum":
        return ((picked * q).sum(1) * w).sum(-1)
    raise InvalidParameterError(
        f"set_reward must be one of {', '.join(map(repr, SET_REWARDS))}; got {set_reward!r}."
    )


def greedy_submodular(
    qualities: Tensor,
    budget: int,
    *,
    set_reward: str = "coverage",
    mask: Tensor | None = None,
    selected: Tensor | None = None,
    weights: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Complete every row's slate to ``budget`` arms greedily (Algorithm 1); returns ``(R, budget)`` int64.

    Args:
        qualities: ``(R, K)`` per-arm qualities ``q_a`` (estimates ``q̂`` or true means ``μ``), or
            ``(R, K, J)`` per-target coverage probabilities; in ``[0, 1]`` for ``"coverage"``.
        budget: ``B``, the slate size (``1 ≤ B ≤`` available arms of every row).
        set_reward: ``"coverage"`` or ``"sum"`` (module docstring).
        mask: ``(R, K)`` bool, ``True`` = available (default: all).
        selected: ``(R, K)`` bool initial set ``S₀ ⊆`` available arms, kept in the slate; ``B − |S₀|``
            arms are added (``|S₀| ≤ B``).  Default: empty.
        weights: ``(J,)`` target weights ``w_j`` (default: ones).
        generator: breaks ties between equal marginal gains uniformly at random; ``None`` takes the
            lowest index.

    Returns:
        ``(R, B)`` arm indices: the arms of ``S₀`` (ascending), then the greedy picks in pick order.

    Raises:
        InvalidParameterError: ``budget`` exceeds a row's available arms, ``selected`` exceeds the
            budget or includes an unavailable arm, or a shape does not fit.
    """
    if set_reward not in SET_REWARDS:
        raise InvalidParameterError(
            f"set_reward must be one of {', '.join(map(repr, SET_REWARDS))}; got {set_reward!r}."
        )
    q, w = _with_targets(qualities, weights)
    n_rows, n_arms, _ = q.shape
    if mask is None:
        mask = torch.ones(n_rows, n_arms, dtype=torch.bool)
    if tuple(mask.shape) != (n_rows, n_arms) or mask.dtype != torch.bool:
        raise InvalidParameterError(
            f"mask must be a bool tensor of shape ({n_rows}, {n_arms}); "
            f"got {mask.dtype} {tuple(mask.shape)}."
        )
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise InvalidParameterError(f"budget must be an int >= 1; got {budget!r}.")
    available = mask.sum(1)
    if n_rows and int(available.min()) < budget:
        row = int(available.argmin())
        raise InvalidParameterError(
            f"budget B = {budget} exceeds the number of available arms (arm_mask) of row {row}, "
            f"which has {int(available[row])}."
        )
    chosen = torch.zeros(n_rows, n_arms, dtype=torch.bool) if selected is None else selected.clone()
    if tuple(chosen.shape) != (n_rows, n_arms) or chosen.dtype != torch.bool:
        raise InvalidParameterError(
            f"selected must be a bool tensor of shape ({n_rows}, {n_arms}); "
            f"got {chosen.dtype} {tuple(chosen.shape)}."
        )
    if bool((chosen & ~mask).any()):
        raise InvalidParameterError("selected includes an arm that mask marks unavailable.")
    remaining = budget - chosen.sum(1)
    if n_rows and int(remaining.min()) < 0:
        raise InvalidParameterError(
            f"selected holds {budget - int(remaining.min())} arms in a row, more than budget B = {budget}."
        )

    # pick order: S₀ first (order 0), then step s gets order s + 1; never chosen = n_arms + budget
    order = torch.where(chosen, 0, n_arms + budget)
    uncovered = torch.prod(1.0 - chosen.unsqueeze(-1).to(q.dtype) * q, dim=1)  # (R, J)
    rows = torch.arange(n_rows)
    for step in range(int(remaining.max()) if n_rows else 0):
        # ALGO LOGIC: marginal gain of adding arm a to S, for every row and arm at once
        if set_reward == "coverage":
            gains = (q * uncovered.unsqueeze(1) * w).sum(-1)
        else:
            gains = (q * w).sum(-1)
        gains = gains.masked_fill(~mask | chosen, float("-inf"))
        pick = _argmax(gains, generator)
        active = remaining > step
        chosen[rows[active], pick[active]] = True
        order[rows[active], pick[active]] = step + 1
        if set_reward == "coverage":
            factor = torch.where(active[:, None], 1.0 - q[rows, pick], torch.ones_like(uncovered))
            uncovered = uncovered * factor
    slates = torch.sort(order, dim=1, stable=True).indices[:, :budget]
    return slates


def _argmax(scores: Tensor, generator: torch.Generator | None) -> Tensor:
    """Row-wise argmax; equal maxima are broken uniformly with ``generator`` (lowest index if ``None``)."""
    if generator is None:
        return scores.argmax(dim=1)
    best = scores.max(dim=1, keepdim=True).values
    noise = torch.rand(scores.shape, generator=generator)
    return noise.masked_fill(scores != best, -1.0).argmax(dim=1)
