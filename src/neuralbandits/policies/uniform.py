"""The uniformly random policy (the floor every learner must beat) and the greedy oracle (tests)."""

from __future__ import annotations

import torch
from torch import Tensor

from neuralbandits.policies.base import PolicyBase, register
from neuralbandits.policies.selectors import argmax_random_ties
from neuralbandits.types import Context, Feedback, ProblemInfo, Selection


@register("random")
class RandomPolicy(PolicyBase):
    """Chooses an available arm uniformly at random; logs the propensity ``1/#available``."""

    seed_batchable = True

    def __init__(self, info: ProblemInfo, *, seed: int | None = None) -> None:
        super().__init__(info, seed=seed)

    def select_with_scores(self, context: Context) -> Selection:
        self.check_context(context)
        scores = torch.rand(context.batch_size, context.n_arms, generator=self.generator)
        available = torch.full_like(scores, float(context.n_arms))
        if context.arm_mask is not None:
            scores = scores.masked_fill(~context.arm_mask, float("-inf"))
            available = context.arm_mask.sum(1, keepdim=True).expand_as(scores).float()
        actions = argmax_random_ties(scores, self.generator)
        return Selection(actions=actions, scores=scores, probabilities=1.0 / available[:, 0])

    def update(self, feedback: Feedback) -> None:
        self.rounds_seen.add_(feedback.context.batch_size)


class GreedyOracle(PolicyBase):
    """Plays the arm with the highest *true* expected reward (reads the environment; tests only)."""

    def __init__(self, info: ProblemInfo, *, env, seed: int | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(info, seed=seed)
        self.env = env

    def select_with_scores(self, context: Context) -> Selection:
        scores: Tensor = self.env.expected_rewards().clone()
        if context.arm_mask is not None:
            scores = scores.masked_fill(~context.arm_mask, float("-inf"))
        return Selection(actions=argmax_random_ties(scores, self.generator), scores=scores)

    def update(self, feedback: Feedback) -> None:
        self.rounds_seen.add_(feedback.context.batch_size)
