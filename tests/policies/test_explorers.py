"""Explorers turn a belief into scores: greedy, UCB and Thompson, against values computed by hand."""

from __future__ import annotations

import pytest
import torch

from neuralbandits.policies.explorers import UCB, Greedy, Thompson
from neuralbandits.types import Belief

MEAN = torch.tensor([[0.1, 0.5, 0.3], [1.0, -1.0, 0.0]])
WIDTH = torch.tensor([[0.4, 0.0, 0.3], [0.0, 2.0, 1.0]])


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_greedy_scores_are_the_means() -> None:
    assert torch.equal(Greedy()(Belief(MEAN, WIDTH), generator=generator()), MEAN)


def test_ucb_adds_the_scaled_width_and_needs_one() -> None:
    scores = UCB(2.0)(Belief(MEAN, WIDTH), generator=generator())
    assert torch.allclose(scores, torch.tensor([[0.9, 0.5, 0.9], [1.0, 3.0, 2.0]]))
    with pytest.raises(ValueError, match="width"):
        UCB()(Belief(MEAN), generator=generator())


def test_thompson_draws_have_the_belief_mean_and_the_scaled_width_as_spread() -> None:
    explorer, g = Thompson(0.5), generator(3)
    draws = torch.stack([explorer(Belief(MEAN, WIDTH), generator=g) for _ in range(20_000)])
    assert torch.allclose(draws.mean(0), MEAN, atol=0.02)
    assert torch.allclose(draws.std(0), 0.5 * WIDTH, atol=0.02)
    assert torch.equal(draws[:, WIDTH == 0], MEAN[WIDTH == 0].expand(20_000, -1))  # no width, no noise


def test_thompson_uses_the_beliefs_own_sampler_and_is_reproducible() -> None:
    sampled = Belief(MEAN, sample=lambda g: torch.full_like(MEAN, 7.0))
    assert torch.equal(Thompson()(sampled, generator=generator()), torch.full_like(MEAN, 7.0))
    first = Thompson()(Belief(MEAN, WIDTH), generator=generator(5))
    assert torch.equal(first, Thompson()(Belief(MEAN, WIDTH), generator=generator(5)))
    with pytest.raises(ValueError, match="width or a sampler"):
        Thompson()(Belief(MEAN), generator=generator())
