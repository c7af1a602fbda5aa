"""Seeds as one batched computation: streams equal their separate runs where the policy draws
nothing, the training schedule counts rounds per stream, and unsupported policies are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralbandits.envs.registry import build_env
from neuralbandits.experiments.parallel_seeds import run_seeds_batched, stack_contexts
from neuralbandits.experiments.runner import run_policy, run_seeds
from neuralbandits.policies import build_policy
from neuralbandits.types import BlockArms, Context
from neuralbandits.validation import InvalidParameterError

torch.set_num_threads(1)
NO_TRAINING = dict(width=8, train_every=10**6, train_switch_at=0, train_every_after=10**6)


def test_stack_contexts_shifts_users_and_keeps_blocks() -> None:
    a = Context(BlockArms(torch.ones(1, 3), 4), user_ids=torch.tensor([2]))
    b = Context(BlockArms(torch.zeros(1, 3), 4), user_ids=torch.tensor([1]))
    stacked = stack_contexts([a, b], n_users=5)
    assert stacked.user_ids.tolist() == [2, 6]
    assert isinstance(stacked.arm_features, BlockArms) and stacked.arm_features.contexts.shape == (2, 3)


def test_batched_streams_equal_separate_runs_without_training() -> None:
    env = build_env("classification:digits", users="label")
    seeds = [0, 1, 2]
    batched = run_seeds_batched(env, "neuucb-ind", seeds, 60, params=NO_TRAINING)
    for seed, result in zip(seeds, batched):
        env_seed, policy_seed = run_seeds(seed)
        policy = build_policy("neuucb-ind", env.info, seed=policy_seed, **NO_TRAINING)
        alone = run_policy(env, policy, 60, env_seed=env_seed, seed=seed)
        np.testing.assert_array_equal(result.actions, alone.actions)
        np.testing.assert_allclose(result.regrets, alone.regrets)
    assert len({tuple(r.actions) for r in batched}) == 3  # three different streams
    assert all(r.diagnostics == {} for r in batched)  # a batched policy's diagnostics are no one seed's


def test_training_schedule_counts_rounds_of_one_stream(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from neuralbandits.policies.neural import NeuralEstimatorPolicy

    calls: list[int] = []
    original = NeuralEstimatorPolicy.train

    def counting(self):  # type: ignore[no-untyped-def]
        calls.append(int(self.rounds_seen) // self.streams)
        original(self)

    monkeypatch.setattr(NeuralEstimatorPolicy, "train", counting)
    env = build_env("classification:digits", users="label")
    results = run_seeds_batched(env, "neuucb-ind", [0, 1, 2, 3], 45, params=dict(width=8, n_steps=2, train_every=10))
    assert calls == [10, 20, 30, 40]  # once per 10 rounds of each stream, not per 10 rows
    assert all((r.regrets >= 0).all() and len(r.regrets) == 45 for r in results)


def test_policies_with_shared_state_are_refused() -> None:
    env = build_env("classification:digits", users="label")
    with pytest.raises(InvalidParameterError, match="'linucb' shares state between users.*neuucb-ind"):
        run_seeds_batched(env, "linucb", [0, 1], 5)
