"""Typed records exchanged between environments, policies, the runner and reporting.

Shape letters, used in every docstring of the library:

* ``B`` rounds in a batch (a single round is ``B = 1``, never a missing dimension)
* ``K`` candidate arms of a round
* ``d`` feature dimension of an arm (for block-encoded arms, ``d = K * d_x``)
* ``d_x`` dimension of the raw context behind a block encoding
* ``S`` slate size (combinatorial policies)
* ``M`` members of a bank (users, arms or clusters)
* ``p`` number of network parameters
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from neuralbandits.validation import value_range


@dataclass(frozen=True)
class BlockArms:
    """The disjoint "K long vectors" encoding ``x_{t,a} = (0, …, x_t, …, 0) ∈ R^{K·d_x}``.

    Arm ``a`` of round ``b`` is the raw context ``contexts[b]`` placed in block ``a``; the dense
    ``(B, K, K·d_x)`` tensor is never built on the hot path.  Models that understand the structure
    (ridge statistics, first-layer gradients) use ``contexts`` and the block index directly; everything
    else can call :meth:`dense`.

    References: paper 000 §6 and paper 003 §8 ("K long vectors"); Zhou et al. 2020, NeuralUCB.
    """

    contexts: Tensor  # (B, d_x)
    n_arms: int

    @property
    def batch_size(self) -> int:
        return int(self.contexts.shape[0])

    @property
    def block_dim(self) -> int:
        return int(self.contexts.shape[1])

    @property
    def dim(self) -> int:
        return self.n_arms * self.block_dim

    def dense(self) -> Tensor:
        """Materialise the ``(B, K, K·d_x)`` encoding (tests and small problems only)."""
        eye = torch.eye(self.n_arms, dtype=self.contexts.dtype, device=self.contexts.device)
        return torch.einsum("ak,bd->bakd", eye, self.contexts).reshape(
            self.batch_size, self.n_arms, self.dim
        )

    def index(self, rows: Tensor | slice) -> "BlockArms":
        return BlockArms(self.contexts[rows], self.n_arms)


ArmFeatures = Tensor | BlockArms


@dataclass(frozen=True)
class Context:
    """What a policy sees before choosing.

    ``arm_features`` is either a dense ``(B, K, d)`` float tensor or :class:`BlockArms`.
    ``user_ids`` ``(B,)`` int64 names the served user (clustered and meta policies need it);
    ``user_features`` ``(B, d_u)`` is optional side information; ``arm_mask`` ``(B, K)`` bool marks the
    arms available this round (``True`` = available).
    """

    arm_features: ArmFeatures
    user_ids: Tensor | None = None
    user_features: Tensor | None = None
    arm_mask: Tensor | None = None

    def __post_init__(self) -> None:
        features = self.arm_features
        if isinstance(features, Tensor):
            if features.ndim != 3:
                raise ValueError(
                    f"Context.arm_features must have shape (B, K, d); got {tuple(features.shape)}."
                )
            if not features.is_floating_point():
                raise ValueError(f"Context.arm_features must be floating point; got {features.dtype}.")
        elif isinstance(features, BlockArms):
            if features.contexts.ndim != 2:
                raise ValueError(
                    "BlockArms.contexts must have shape (B, d_x); "
                    f"got {tuple(features.contexts.shape)}."
                )
        else:
            raise TypeError(
                "Context.arm_features must be a (B, K, d) tensor or BlockArms; "
                f"got {type(features).__name__}."
            )
        batch, n_arms = self.batch_size, self.n_arms
        if self.user_ids is not None and tuple(self.user_ids.shape) != (batch,):
            raise ValueError(
                f"Context.user_ids must have shape ({batch},); got {tuple(self.user_ids.shape)}."
            )
        if self.user_features is not None and (
            self.user_features.ndim != 2 or self.user_features.shape[0] != batch
        ):
            raise ValueError(
                f"Context.user_features must have shape ({batch}, d_u); "
                f"got {tuple(self.user_features.shape)}."
            )
        if self.arm_mask is not None:
            if tuple(self.arm_mask.shape) != (batch, n_arms) or self.arm_mask.dtype != torch.bool:
                raise ValueError(
                    f"Context.arm_mask must be a bool tensor of shape ({batch}, {n_arms}); "
                    f"got {self.arm_mask.dtype} {tuple(self.arm_mask.shape)}."
                )
            if not bool(self.arm_mask.any(dim=1).all()):
                raise ValueError("Context.arm_mask leaves a round with no available arm.")

    @property
    def batch_size(self) -> int:
        f = self.arm_features
        return f.batch_size if isinstance(f, BlockArms) else int(f.shape[0])

    @property
    def n_arms(self) -> int:
        f = self.arm_features
        return f.n_arms if isinstance(f, BlockArms) else int(f.shape[1])

    @property
    def dim(self) -> int:
        f = self.arm_features
        return f.dim if isinstance(f, BlockArms) else int(f.shape[2])

    def dense_arm_features(self) -> Tensor:
        """``(B, K, d)`` arm features, materialising a block encoding if needed."""
        f = self.arm_features
        return f.dense() if isinstance(f, BlockArms) else f

    def index(self, rows: Tensor | slice) -> "Context":
        """The sub-batch ``rows`` of this context (used to split delayed feedback)."""
        f = self.arm_features
        return Context(
            arm_features=f.index(rows) if isinstance(f, BlockArms) else f[rows],
            user_ids=None if self.user_ids is None else self.user_ids[rows],
            user_features=None if self.user_features is None else self.user_features[rows],
            arm_mask=None if self.arm_mask is None else self.arm_mask[rows],
        )


@dataclass(frozen=True)
class Feedback:
    """The result of playing ``actions`` in ``context``; may arrive rounds later (delayed)."""

    context: Context
    actions: Tensor  # (B,) int64, or (B, S) for slates
    rewards: Tensor  # same shape as actions, float

    def __post_init__(self) -> None:
        batch = self.context.batch_size
        if self.actions.shape[:1] != (batch,):
            raise ValueError(
                f"Feedback.actions must have {batch} rows like its context; "
                f"got shape {tuple(self.actions.shape)}."
            )
        if self.rewards.shape != self.actions.shape:
            raise ValueError(
                f"Feedback.rewards must have the shape of actions {tuple(self.actions.shape)}; "
                f"got {tuple(self.rewards.shape)}."
            )
        if self.actions.numel():
            low, high = value_range(self.actions)
            if low < 0 or high >= self.context.n_arms:
                raise ValueError(
                    f"Feedback.actions must lie in [0, {self.context.n_arms}); got values in [{low}, {high}]."
                )


@dataclass(frozen=True)
class Belief:
    """An estimator's belief about every arm: a mean, optionally a confidence width or a sampler."""

    mean: Tensor  # (B, K)
    width: Tensor | None = None  # (B, K), e.g. sqrt(gᵀ Z⁻¹ g)
    sample: Callable[[torch.Generator], Tensor] | None = None  # -> (B, K)


@dataclass(frozen=True)
class Selection:
    """Chosen arms with what led to them, for logging and off-policy evaluation.

    ``scores`` ``(B, K)`` are the values the selector maximised (``-inf`` on masked arms);
    ``probabilities`` ``(B,)`` is the probability with which each chosen arm was drawn, for
    randomised policies (``None`` for deterministic ones, where it is 1 up to tie-breaking).
    """

    actions: Tensor  # (B,) or (B, S)
    scores: Tensor  # (B, K)
    probabilities: Tensor | None = None


@dataclass(frozen=True)
class Outcome:
    """What the environment returns after ``step``; only ``rewards`` may reach the policy."""

    rewards: Tensor  # (B,) or (B, S)
    expected_rewards: Tensor  # (B,) true expected reward of what was chosen
    best_expected_rewards: Tensor  # (B,) best achievable in the same context
    next_context: Context
    #: further per-round diagnostics, each ``(B,)`` (e.g. ``"alpha_regret"``); recorded by the runner
    #: under their own names, which may not start with ``policy_`` (the policy's own diagnostics)
    extras: dict[str, Tensor] = field(default_factory=dict)

    @property
    def regret(self) -> Tensor:
        """``(B,)`` pseudo-regret ``best_expected_rewards − expected_rewards`` (≥ 0)."""
        return self.best_expected_rewards - self.expected_rewards


@dataclass(frozen=True)
class ProblemInfo:
    """Static facts about an environment that a policy needs to build its state.

    ``n_arms`` K, ``dim`` d (for block encodings ``K·d_x``), ``n_users`` (1 when the environment has no
    users), ``user_dim`` d_u (0 without user features), ``block_dim`` d_x when the arms use the block
    encoding (``None`` otherwise), ``slate_size`` S (``None`` for single-arm problems).
    """

    n_arms: int
    dim: int
    n_users: int = 1
    user_dim: int = 0
    block_dim: int | None = None
    slate_size: int | None = None
    extras: dict[str, float] = field(default_factory=dict)
