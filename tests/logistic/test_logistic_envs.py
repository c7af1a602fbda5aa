"""Paper 003 environments: registration, mushroom preparation, κ diagnostics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralbandits.datasets import ClassificationData
from neuralbandits.envs.logistic import (
    kappa_env,
    kappa_star,
    logistic_mushroom,
    logistic_synthetic,
    register_logistic,
)
from neuralbandits.registry import Registry
from neuralbandits.validation import InvalidParameterError


def test_register_logistic_adds_the_six_keys() -> None:
    registry = Registry("environment")
    register_logistic(registry)
    assert sorted(registry) == [f"logistic:{n}" for n in ("h1", "h2", "h3", "mnist", "mushroom", "shuttle")]
    env = registry.build("logistic:h3", n_pool=10, dim=6)
    assert env.info.n_arms == 4 and env.info.dim == 6 and env.noise == "bernoulli" and env.reward == "cosine"


def test_synthetic_is_deterministic_and_bernoulli() -> None:
    env = logistic_synthetic("h2", n_pool=50)
    first = env.reset(seed=4).dense_arm_features()
    assert torch.equal(first, env.reset(seed=4).dense_arm_features())
    rewards = torch.cat([env.step(torch.zeros(1, dtype=torch.int64)).rewards for _ in range(30)])
    assert set(rewards.tolist()) <= {0.0, 1.0}
    with pytest.raises(InvalidParameterError, match="fixed by logistic:h2"):
        logistic_synthetic("h2", noise="gaussian")
    with pytest.raises(InvalidParameterError, match="'h1', 'h2', 'h3'"):
        logistic_synthetic("h4")


def test_mushroom_random_values_and_flipped_labels() -> None:
    codes = np.array([[0, 2], [1, 0], [0, 1], [2, 2]])
    data = ClassificationData.from_arrays("mushroom", np.zeros((4, 2)), np.array([0, 1, 1, 0]),
                                          categorical=codes, class_names=["e", "p"])
    env = logistic_mushroom(data=data, value_seed=3)
    assert env.info.n_arms == 2 and env.info.block_dim == 2
    assert env.labels.tolist() == [1, 0, 0, 1]  # edible → 1 as in the paper
    assert env.data.class_names == ("p", "e")
    values = env.features.numpy()
    assert ((values >= 0) & (values <= 1)).all()
    assert values[0, 0] == values[2, 0] and values[0, 0] != values[1, 0]  # one value per category
    again = logistic_mushroom(data=data, value_seed=3).features
    assert torch.equal(env.features, again)


def test_kappa_diagnostics() -> None:
    env = logistic_synthetic("h1", n_pool=20, dim=5)
    mu = torch.sigmoid(env.latent(env.pool))
    assert kappa_env(env) == pytest.approx(float((1 / (mu * (1 - mu))).max()))
    value = kappa_star(env, 25, env_seed=0)
    assert 4.0 <= value <= kappa_env(env) + 1e-6
    with pytest.raises(InvalidParameterError, match="context pool"):
        kappa_env(logistic_synthetic("h1", n_pool=None))
