"""Contract tests for every environment: determinism, shapes, regret ≥ 0, oracle regret 0."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from neuralbandits.datasets import DatasetNotFoundError
from neuralbandits.envs.registry import ENVIRONMENTS, build_env
from neuralbandits.policies import GreedyOracle, RandomPolicy

SPECS = [k for k in ENVIRONMENTS if not k.startswith("combinatorial:")] + [
    "classification:digits",
    "recommendation:movielens_latest_small",
    "recommendation:facebook_ego",
]


def small(spec: str):  # type: ignore[no-untyped-def]
    """The environment, or a skip when it needs a dataset that ``NEURALBANDITS_DATA`` does not hold."""
    family, _, name = spec.partition(":")
    if family == "recommendation":
        folder = os.environ.get("NEURALBANDITS_DATA", "")
        if not (Path(folder) / f"{name}.npz").exists():
            pytest.skip(f"{name}.npz is not in NEURALBANDITS_DATA")
    try:
        return build_env(spec)
    except DatasetNotFoundError:
        pytest.skip(f"{spec} needs a dataset that NEURALBANDITS_DATA does not hold")


@pytest.mark.parametrize("spec", SPECS)
def test_reset_is_deterministic_and_shapes_match_info(spec: str) -> None:
    env = small(spec)
    first = env.reset(seed=3)
    again = env.reset(seed=3)
    assert torch.equal(first.dense_arm_features(), again.dense_arm_features())
    assert first.n_arms == env.info.n_arms and first.dim == env.info.dim
    if first.user_ids is not None:
        assert int(first.user_ids.max()) < env.info.n_users


@pytest.mark.parametrize("spec", SPECS)
def test_regret_nonnegative_and_oracle_has_zero_regret(spec: str) -> None:
    env = small(spec)
    random_policy = RandomPolicy(env.info, seed=0)
    context = env.reset(seed=1)
    for _ in range(30):
        outcome = env.step(random_policy.select(context))
        assert float(outcome.regret.min()) >= -1e-7
        context = outcome.next_context
    oracle = GreedyOracle(env.info, env=env, seed=0)
    context = env.reset(seed=1)
    for _ in range(30):
        outcome = env.step(oracle.select(context))
        assert float(outcome.regret.abs().max()) == 0.0
        context = outcome.next_context


@pytest.mark.parametrize("bad,message", [(torch.tensor([99]), r"lie in \[0, 10\)"),
                                         (torch.tensor([0, 1]), r"shape \(1,\)"),
                                         (torch.tensor([0.0]), "int64")])
def test_step_rejects_bad_actions(bad: torch.Tensor, message: str) -> None:
    env = build_env("classification:digits")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(bad)


def test_classification_users_label_single_random() -> None:
    for users, n_users in [("label", 10), ("single", 1), ("random", 7)]:
        env = build_env("classification:digits", users=users, n_users=7)
        assert env.info.n_users == n_users
        context = env.reset(seed=0, batch_size=50)
        if users == "label":
            assert torch.equal(context.user_ids, env.expected_rewards().argmax(1))
        assert int(context.user_ids.max()) < n_users
    env = build_env("classification:digits")
    assert env.info.block_dim == 64 and env.info.dim == 640
    norms = env.features.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms), atol=1e-5, rtol=0)


def test_classification_stream_covers_every_sample_once_per_pass() -> None:
    env = build_env("classification:digits")
    env.reset(seed=0, batch_size=1)
    seen = [int(env._order[env._cursor - 1])]  # the first drawn row
    for _ in range(len(env.labels) - 1):
        env.step(torch.zeros(1, dtype=torch.int64))
        seen.append(int(env._order[env._cursor - 1]))
    assert sorted(seen) == list(range(len(env.labels)))
