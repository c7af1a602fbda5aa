"""NeuralLinear: embedding, rebuilt ridge statistics, learning."""

from __future__ import annotations

import torch

from neuralbandits.envs.registry import build_env
from neuralbandits.experiments.runner import run_policy
from neuralbandits.models.bank import LearnerBank, SampleInputs, members_as_modules
from neuralbandits.models.networks import NetworkConfig
from neuralbandits.policies import build_policy
from neuralbandits.types import BlockArms


def test_embedding_is_the_last_hidden_layer() -> None:
    network = NetworkConfig(width=6, depth=3, bias=True, init="pytorch")
    bank = LearnerBank(4, 2, network=network, identical=False, seed=0)
    module = members_as_modules(bank, network)[1]
    arms = torch.randn(1, 3, 4)
    expected = module.tail[:-1](module.first(arms[0])).relu()
    torch.testing.assert_close(bank.embed_arms(torch.tensor([1]), arms)[0], expected)


def test_embedded_samples_are_their_own_arms_embedding() -> None:
    """φ of stored block samples by block = φ of every arm of each sample, read at its own block (the
    slow way: K arms per sample); blocks 1 and 4 hold no sample.  Dense samples: φ of the rows."""
    network = NetworkConfig(width=6, depth=3, bias=True, init="pytorch")
    n_blocks, d_x = 5, 3
    bank = LearnerBank(n_blocks * d_x, 2, network=network, n_blocks=n_blocks, identical=False, seed=0)
    g = torch.Generator().manual_seed(1)
    contexts = torch.randn(7, d_x, generator=g)
    blocks = torch.tensor([3, 0, 2, 2, 0, 3, 3])
    slow = bank.embed_arms(torch.ones(7, dtype=torch.int64), BlockArms(contexts, n_blocks))[torch.arange(7), blocks]
    fast = bank.embed_samples(1, SampleInputs(contexts[None], blocks[None]))
    torch.testing.assert_close(fast, slow)
    dense = LearnerBank(4, 2, network=network, identical=False, seed=0)
    rows = torch.randn(1, 5, 4, generator=g)
    torch.testing.assert_close(dense.embed_samples(1, SampleInputs(rows)), dense.embed_arms(torch.tensor([1]), rows)[0])


def test_ridge_statistics_are_rebuilt_under_the_new_embedding() -> None:
    env = build_env("synthetic:clustered", n_users=6, n_clusters=2, dim=4, n_arms=5)
    policy = build_policy("neurallinear", env.info, seed=0, width=8, n_steps=5, train_every=25)
    run_policy(env, policy, 50, env_seed=0)  # trains at rounds 25 and 50
    n = policy.buffer.n_samples
    phi = policy.network.embed_arms(torch.zeros(1, dtype=torch.int64), policy.buffer.features[:n][None])[0]
    users = policy.sample_users[:n]
    for user in range(6):
        rows = users == user
        gram = torch.eye(8) + phi[rows].T @ phi[rows]
        torch.testing.assert_close(policy.linear.ridge.gram[user], gram, atol=1e-4, rtol=1e-4)
        assert int(policy.linear.ridge.counts[user]) == int(rows.sum())


def test_neurallinear_beats_random_on_clustered_users() -> None:
    env = build_env("synthetic:clustered", n_users=10, n_clusters=2, dim=5, n_arms=5, gap=0.4, noise_std=0.05)
    regret = {key: run_policy(env, build_policy(key, env.info, seed=1, **params), 600, env_seed=2).cumulative_regret[-1]
              for key, params in [("random", {}), ("neurallinear", {"width": 32, "n_steps": 20})]}
    assert regret["neurallinear"] < 0.8 * regret["random"]
