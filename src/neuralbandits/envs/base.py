"""The environment template: turns data into rounds, keeps true expected rewards, reports regret.

A subclass says how a batch of rounds is drawn (:meth:`BanditEnv._draw`) and, if rewards are random,
how they are sampled (:meth:`BanditEnv._sample_rewards`); :meth:`BanditEnv.step` validates the
actions, computes the pseudo-regret against the best available arm and draws the next context.  The
policy only ever sees ``Outcome.rewards`` and the next context.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from neuralbandits.rng import make_generator, spawn_seeds
from neuralbandits.types import Context, Outcome, ProblemInfo
from neuralbandits.validation import InvalidParameterError, value_range


class BanditEnv(ABC):
    """Base class of single-arm environments (``actions`` of shape ``(B,)``).

    Subclasses set ``self.info`` in ``__init__`` and implement :meth:`_draw`.
    """

    info: ProblemInfo

    def __init__(self) -> None:
        self._generator: torch.Generator | None = None
        self._reward_generator: torch.Generator | None = None
        self._context: Context | None = None
        self._expected: Tensor | None = None
        self._batch_size = 1

    # -- the protocol --------------------------------------------------------------------------
    @property
    def n_arms(self) -> int:
        return self.info.n_arms

    @property
    def dim(self) -> int:
        return self.info.dim

    def reset(self, *, seed: int | None = None, batch_size: int = 1) -> Context:
        """Start a new stream; the same ``seed`` gives the same sequence of contexts and rewards."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidParameterError(f"batch_size must be an int >= 1; got {batch_size!r}.")
        # separate streams: the reward noise never shifts the sequence of contexts
        context_seed, reward_seed = spawn_seeds(seed, 2)
        self._generator = make_generator(context_seed)
        self._reward_generator = make_generator(reward_seed)
        self._batch_size = batch_size
        self._on_reset(self._generator)
        self._context, self._expected = self._draw(batch_size, self._generator)
        return self._context

    def step(self, actions: Tensor) -> Outcome:
        """Play ``actions`` ``(B,)`` in the current context and move to the next one."""
        context, expected = self._require_started()
        actions = self._check_actions(actions, context)
        chosen = expected.gather(1, actions[:, None]).squeeze(1)
        available = expected if context.arm_mask is None else expected.masked_fill(
            ~context.arm_mask, float("-inf")
        )
        best = available.max(dim=1).values
        assert self._generator is not None and self._reward_generator is not None
        if type(self)._sample_rewards is BanditEnv._sample_rewards:  # deterministic: reuse the gather
            rewards = chosen
        else:
            rewards = self._sample_rewards(expected, actions, context, self._reward_generator)
        self._context, self._expected = self._draw(self._batch_size, self._generator)
        return Outcome(
            rewards=rewards,
            expected_rewards=chosen,
            best_expected_rewards=best,
            next_context=self._context,
        )

    def expected_rewards(self) -> Tensor:
        """``(B, K)`` true expected rewards of the current context (for oracles and tests only)."""
        return self._require_started()[1].clone()

    # -- what subclasses provide ---------------------------------------------------------------
    @abstractmethod
    def _draw(self, batch_size: int, generator: torch.Generator) -> tuple[Context, Tensor]:
        """Draw ``batch_size`` rounds: the context and the ``(B, K)`` expected rewards."""

    def _sample_rewards(
        self, expected: Tensor, actions: Tensor, context: Context, generator: torch.Generator
    ) -> Tensor:
        """Observed rewards ``(B,)`` of ``actions``; deterministic rewards by default."""
        return expected.gather(1, actions[:, None]).squeeze(1)

    def _on_reset(self, generator: torch.Generator) -> None:
        """Hook for per-stream state (a shuffled order, say), drawn from ``generator``."""

    # -- checks ------------------------------------------------------------------------------
    def _require_started(self) -> tuple[Context, Tensor]:
        if self._context is None or self._expected is None:
            raise RuntimeError(f"{type(self).__name__}.step() called before reset().")
        return self._context, self._expected

    @staticmethod
    def _check_actions(actions: Tensor, context: Context) -> Tensor:
        if not isinstance(actions, Tensor):
            actions = torch.as_tensor(actions)
        if tuple(actions.shape) != (context.batch_size,):
            raise ValueError(
                f"actions must have shape ({context.batch_size},); got {tuple(actions.shape)}."
            )
        if actions.dtype != torch.int64:
            raise ValueError(f"actions must be int64 arm indices; got {actions.dtype}.")
        n_arms = context.n_arms
        low, high = value_range(actions)
        if low < 0 or high >= n_arms:
            raise ValueError(f"actions must lie in [0, {n_arms}); got {actions.tolist()}.")
        if context.arm_mask is not None and not bool(
            context.arm_mask.gather(1, actions[:, None]).all()
        ):
            raise ValueError("actions include an arm that arm_mask marks unavailable.")
        return actions
