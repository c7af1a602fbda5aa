"""The combinatorial environments (synthetic and Gowalla), their registration, and Theorem 1's bound."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
import torch

from neuralbandits.envs.combinatorial import (
    GowallaCombinatorialEnv,
    SyntheticCombinatorialEnv,
    read_gowalla_checkins,
    register_combinatorial,
)
from neuralbandits.experiments.runner import run_policy
from neuralbandits.policies import build_policy
from neuralbandits.policies.combinatorial import RandomSlate
from neuralbandits.policies.selectors_submodular import greedy_submodular, set_reward_value
from neuralbandits.registry import Registry
from neuralbandits.reporting.bounds import ccbm_bound, ccbm_bound_terms, fit_bound_shape, loglog_slope
from neuralbandits.validation import InvalidParameterError


def test_reset_is_deterministic_and_serves_m_users_whatever_the_batch_size() -> None:
    env = SyntheticCombinatorialEnv()
    first = env.reset(seed=3)
    again = env.reset(seed=3, batch_size=5)
    assert torch.equal(first.arm_features, again.arm_features) and torch.equal(first.arm_mask, again.arm_mask)
    assert first.arm_features.shape == (5, 50, 1) and first.user_ids.tolist() == [0, 1, 2, 3, 4]
    assert env.info.n_arms == 50 and env.info.slate_size == 3 and env.info.n_users == 5
    with pytest.raises(InvalidParameterError, match="batch_size must be 1 or 5"):
        env.reset(seed=0, batch_size=2)


def test_rounds_have_more_than_b_arms_in_the_unit_cube_and_poisson_counts() -> None:
    env = SyntheticCombinatorialEnv(dim=2)
    context = env.reset(seed=0)
    policy = RandomSlate(env.info, seed=0)
    counts = []
    for _ in range(200):
        available = context.arm_mask.sum(1)
        assert bool((available > 3).all()) and bool((available <= 50).all())
        assert float(context.arm_features.min()) >= 0 and float(context.arm_features.max()) <= 1
        counts.append(available.double())
        context = env.step(policy.select(context)).next_context
    assert float(torch.cat(counts).mean()) == pytest.approx(20.0, abs=0.5)


@pytest.mark.parametrize("set_reward", ["coverage", "sum"])
def test_regret_is_against_the_greedy_oracle_on_true_means(set_reward: str) -> None:
    env = SyntheticCombinatorialEnv(set_reward=set_reward)
    context = env.reset(seed=1)
    policy = RandomSlate(env.info, seed=2)
    for _ in range(20):
        means = env.expected_rewards()
        slates = policy.select(context)
        outcome = env.step(slates)
        chosen = torch.zeros_like(context.arm_mask).scatter(1, slates, True)
        torch.testing.assert_close(outcome.expected_rewards, set_reward_value(means, chosen, set_reward))
        greedy = greedy_submodular(means, 3, set_reward=set_reward, mask=context.arm_mask)
        best = set_reward_value(means, torch.zeros_like(chosen).scatter(1, greedy, True), set_reward)
        torch.testing.assert_close(outcome.best_expected_rewards, best)
        assert float(outcome.regret.min()) >= -1e-6
        torch.testing.assert_close(outcome.extras["alpha_regret"],
                                   (1 - 1 / math.e) * best - outcome.expected_rewards)
        assert set(outcome.rewards.unique().tolist()) <= {0.0, 1.0} and outcome.rewards.shape == (5, 3)
        context = outcome.next_context


def test_quality_functions() -> None:
    env = SyntheticCombinatorialEnv()
    o = torch.tensor([[0.7], [0.2], [1.0]])
    torch.testing.assert_close(env.quality_of(o), 0.1 + 0.8 * torch.exp(-2 * torch.tensor([0.0, 0.5, 0.3])))
    wave = SyntheticCombinatorialEnv(quality="wave", dim=2)
    torch.testing.assert_close(wave.quality_of(torch.tensor([[0.0, 0.25]])), torch.tensor([0.5 + 0.4 * math.cos(math.pi)]))
    assert wave.info.extras["lipschitz"] == pytest.approx(0.8 * math.pi * 4 / 2)


@pytest.mark.parametrize(
    "actions,message",
    [
        (torch.zeros(5, 2, dtype=torch.int64), r"slates of shape \(5, 3\)"),
        (torch.zeros(5, 3), "int64"),
        (torch.full((5, 3), 60), r"lie in \[0, 50\)"),
        (torch.tensor([[0, 1, 1]] * 5), "repeat"),
        (torch.tensor([[0, 1, 49]] * 5), "unavailable"),
    ],
)
def test_step_rejects_bad_slates(actions: torch.Tensor, message: str) -> None:
    env = SyntheticCombinatorialEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(actions)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"max_arms": 3}, "'max_arms' parameter of SyntheticCombinatorialEnv must exceed budget"),
        ({"arm_rate": 100.0}, "'arm_rate' parameter"),
        ({"set_reward": "max"}, "'set_reward' parameter"),
        ({"dim": 0}, "'dim' parameter"),
    ],
)
def test_bad_environment_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        SyntheticCombinatorialEnv(**kwargs)


def test_registration_and_runner() -> None:
    registry = Registry("environment")
    register_combinatorial(registry)
    assert {"combinatorial:synthetic", "combinatorial:synthetic-wave", "combinatorial:gowalla"} <= set(registry)
    env = registry.build("combinatorial:synthetic", n_users=2, horizon=50)
    assert registry.build("combinatorial:synthetic-wave").quality == "wave"
    with pytest.raises(InvalidParameterError, match="checkins_path"):
        registry.build("combinatorial:gowalla")
    result = run_policy(env, build_policy("ccbm", env.info, seed=0), 40, env_seed=1)
    assert result.actions.shape == (40, 3) and "alpha_regret" in result.extras
    assert np.all(result.regrets >= -1e-6)


# -- Gowalla ----------------------------------------------------------------------------------
def write_checkins(path, n: int, seed: int = 0) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    lines = [
        f"{i % 7}\t2010-10-{10 + i % 9:02d}T12:00:00Z\t{rng.uniform(-40, 60):.6f}\t{rng.uniform(-120, 150):.6f}\t{1000 + i}"
        for i in range(n)
    ]
    text = "\n".join(lines) + "\n"
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)


def test_gowalla_loader_reads_snap_format_and_scales_to_unit_square(tmp_path) -> None:  # type: ignore[no-untyped-def]
    write_checkins(tmp_path / "c.txt.gz", 50)
    coordinates = read_gowalla_checkins(tmp_path / "c.txt.gz")
    assert coordinates.shape == (50, 2)
    assert float(coordinates.min()) == 0.0 and float(coordinates.max()) == 1.0
    (tmp_path / "bad.txt").write_text("0\t2010\tnorth\t3\t4\n")
    with pytest.raises(InvalidParameterError, match="not a SNAP Gowalla check-in file"):
        read_gowalla_checkins(tmp_path / "bad.txt")
    with pytest.raises(FileNotFoundError, match="snap.stanford.edu"):
        read_gowalla_checkins(tmp_path / "missing.txt")


def test_gowalla_env_uses_each_checkin_once_and_follows_cc_mab_quality(tmp_path) -> None:  # type: ignore[no-untyped-def]
    write_checkins(tmp_path / "c.txt", 400)
    env = GowallaCombinatorialEnv(tmp_path / "c.txt", n_users=2, budget=2, arm_rate=10.0, max_arms=25)
    context = env.reset(seed=0)
    policy = build_policy("ccmab", env.info, seed=0)
    used = int(context.arm_mask.sum())
    for _ in range(10):
        features = context.arm_features[context.arm_mask]
        assert float(features.min()) >= 0 and float(features.max()) <= 1
        means = env.expected_rewards()[context.arm_mask]
        torch.testing.assert_close(means, torch.exp(-features[:, 0] ** 2 / 2) * features[:, 1] ** 2)
        assert env._cursor == used and len(set(env._order[:used].tolist())) == used
        outcome = env.step(policy.select(context))
        assert float(outcome.regret.min()) >= -1e-6
        context = outcome.next_context
        used += int(context.arm_mask.sum())
    with pytest.raises(RuntimeError, match="used all 400 check-ins"):
        for _ in range(100):
            context = env.step(policy.select(context)).next_context
    reuse = GowallaCombinatorialEnv(tmp_path / "c.txt", arm_rate=10.0, max_arms=25, reuse_checkins=True)
    context = reuse.reset(seed=0)
    for _ in range(100):
        context = reuse.step(RandomSlate(reuse.info, seed=0).select(context)).next_context


# -- Theorem 1 --------------------------------------------------------------------------------
def test_ccbm_bound_matches_the_printed_formula() -> None:
    T, M, B, r_max, L, n = 10_000.0, 5, 3, 0.9, 1.6, 50
    a = 1 - 1 / math.e
    printed = (a * B * r_max * 2 * M * (math.sqrt(M) * math.log(M * T) * T**0.75 + T**0.25)
               + a * B * r_max * M * math.comb(n, B) * math.pi**2 / 3
               + (3 * B * L + 8 / 3 * B * (r_max + L)) * M * T**0.75)
    assert float(ccbm_bound(T, M, B, r_max, L, n)) == pytest.approx(printed)
    terms = ccbm_bound_terms([T], M, B, r_max, L, n, variant="proof_end")
    assert float(ccbm_bound(T, M, B, r_max, L, n, variant="proof_end")) == pytest.approx(
        printed - (M - 1) * float(terms["near_optimal"][0]))
    with pytest.raises(InvalidParameterError, match="variant"):
        ccbm_bound(T, M, B, r_max, L, n, variant="final")


def test_slope_and_shape_fits() -> None:
    T = np.array([1e3, 1e4, 1e5])
    slope, intercept = loglog_slope(T, 2.0 * T**0.75)
    assert slope == pytest.approx(0.75) and intercept == pytest.approx(math.log(2.0))
    assert fit_bound_shape(T, 3.0 * T**0.75 * np.log(T)) == pytest.approx(3.0)
    with pytest.raises(InvalidParameterError, match="positive"):
        loglog_slope(T, np.array([1.0, 0.0, 2.0]))
