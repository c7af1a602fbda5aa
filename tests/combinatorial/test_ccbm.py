"""CCBM, CC-MAB and the slate baselines: the K(n) rule by hand, determinism, bad input, state
round trips, the oracle's zero regret, and CC-MAB's rules against a naive loop."""

from __future__ import annotations

import math

import pytest
import torch

from neuralbandits.envs.combinatorial import SyntheticCombinatorialEnv
from neuralbandits.policies import POLICIES, build_policy, load_policy, save_policy
from neuralbandits.policies.combinatorial import CCBM, CCMAB, OracleSlate
from neuralbandits.types import Context, Feedback, ProblemInfo
from neuralbandits.validation import InvalidParameterError

SLATE_KEYS = ["ccbm", "ccmab", "random-slate", "linucb-slate", "neuucb-slate"]


def small_env(**kwargs) -> SyntheticCombinatorialEnv:  # type: ignore[no-untyped-def]
    return SyntheticCombinatorialEnv(**{"n_users": 3, "budget": 2, "arm_rate": 6.0, "max_arms": 12,
                                        "horizon": 256, **kwargs})


def play(policy, env, rounds: int, seed: int) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    context = env.reset(seed=seed)
    slates, regrets = [], []
    for _ in range(rounds):
        slate = policy.select(context)
        outcome = env.step(slate)
        policy.update(Feedback(context, slate, outcome.rewards))
        slates.append(slate.tolist())
        regrets.append(outcome.regret.tolist())
        context = outcome.next_context
    return slates, regrets


def two_cube_round(n_rows: int = 1) -> Context:
    """Every row: arm 0 in cube 0 (context 0.25), arm 1 in cube 1 (context 0.75)."""
    features = torch.tensor([[[0.25], [0.75]]]).expand(n_rows, -1, -1).clone()
    return Context(arm_features=features, user_ids=torch.arange(n_rows))


# -- the K(n) rule ------------------------------------------------------------------------------
def test_exploration_counts_follow_k_of_n_by_hand() -> None:
    """Two cubes (h = 2), one arm in each, B = 1; cube 0 always pays 1, cube 1 pays 0.

    K(n) = √n ln n: K(0) = K(1) = 0, K(2) = 0.98, K(3) = 1.90, K(4) = 2.77, K(5) = 3.60.
    n = 0: C = (0, 0) ≤ 0 → explore at random.      n = 1: the unplayed cube is the only one ≤ 0.
    n = 2: C = (1, 1) > 0.98 → exploit cube 0.       n = 3: C = (2, 1), C(1) ≤ 1.90 → explore cube 1.
    n = 4: C = (2, 2) ≤ 2.77 → explore at random.
    """
    policy = CCBM(ProblemInfo(n_arms=2, dim=1, slate_size=1), cubes_per_dim=2, seed=0)
    context = two_cube_round()
    choices, explored = [], []
    for _ in range(5):
        arm = int(policy.select(context)[0, 0])
        choices.append(arm)
        explored.append(bool(policy.last_explored[0]))
        policy.update(Feedback(context, torch.tensor([[arm]]), torch.tensor([[1.0 - arm]])))
    assert explored == [True, True, False, True, True]
    assert choices[1] == 1 - choices[0] and choices[2:4] == [0, 1]
    assert policy.cubes.counts[0].tolist() in ([3, 2], [2, 3])
    assert policy.decisions.tolist() == [5] and policy.observations.tolist() == [5]


@pytest.mark.parametrize("count_index,expected_n", [("decisions", 6), ("observations", 12), ("round", 3)])
def test_count_index_counts_decisions_observations_or_rounds(count_index: str, expected_n: int) -> None:
    info = ProblemInfo(n_arms=2, dim=1, n_users=3, slate_size=2)
    policy = CCBM(info, count_index=count_index, cubes_per_dim=2, seed=0)
    context = two_cube_round(3)
    for _ in range(2):  # two rounds of three users, slates of two arms
        policy.update(Feedback(context, policy.select(context), torch.ones(3, 2)))
    assert policy.count_values(torch.zeros(1, dtype=torch.int64)).tolist() == [expected_n]


def test_sequential_timing_sees_the_plays_of_earlier_users() -> None:
    """Two users, both cubes unplayed (K = 0): sequentially, user 2 must take the other cube."""
    info = ProblemInfo(n_arms=2, dim=1, n_users=2, slate_size=1)
    for seed in range(10):
        policy = CCBM(info, cubes_per_dim=2, update_timing="sequential", seed=seed)
        slates = policy.select(two_cube_round(2))
        assert sorted(slates[:, 0].tolist()) == [0, 1]
    batched = [CCBM(info, cubes_per_dim=2, seed=s).select(two_cube_round(2))[:, 0].tolist() for s in range(10)]
    assert any(a == b for a, b in batched)  # end-of-round: both users may explore the same cube


def test_per_user_statistics_are_separate() -> None:
    info = ProblemInfo(n_arms=2, dim=1, n_users=2, slate_size=1)
    policy = CCBM(info, shared_stats=False, cubes_per_dim=2, seed=0)
    context = two_cube_round(2)
    policy.update(Feedback(context, torch.tensor([[0], [1]]), torch.tensor([[1.0], [0.5]])))
    assert policy.cubes.counts.tolist() == [[1, 0], [0, 1]]
    assert policy.cubes.means.tolist() == [[1.0, 0.0], [0.0, 0.5]]


def test_ccmab_matches_the_rules_of_a_naive_cc_mab_loop() -> None:
    """One task, D = 2, CC-MAB's rules: at every round the policy's slate is the random B of the
    under-explored arms or all of them plus the best cube means, as a dictionary-based loop says."""
    env = SyntheticCombinatorialEnv(n_users=1, budget=3, dim=2, arm_rate=8.0, max_arms=20, horizon=400)
    policy = CCMAB(env.info, seed=1)
    h = math.ceil(400 ** (1 / 5))
    assert policy.cubes.cubes_per_dim == h == 4
    counts: dict[tuple, int] = {}
    means: dict[tuple, float] = {}
    context = env.reset(seed=2)
    for t in range(1, 401):
        features = context.arm_features[0]
        arms = context.arm_mask[0].nonzero().squeeze(1).tolist()
        cube = {a: tuple(min(int(v * h), h - 1) for v in features[a].tolist()) for a in arms}
        under = {a for a in arms if counts.get(cube[a], 0) <= t ** (2 / 5) * math.log(t)}
        slate = policy.select(context)
        chosen = set(slate[0].tolist())
        if len(under) >= 3:
            assert chosen <= under
        else:
            assert under <= chosen
            rest = sorted((means.get(cube[a], 0.0) for a in arms if a not in under), reverse=True)
            picked = sorted((means.get(cube[a], 0.0) for a in chosen - under), reverse=True)
            assert picked == pytest.approx(rest[: 3 - len(under)])
        outcome = env.step(slate)
        for a, r in zip(slate[0].tolist(), outcome.rewards[0].tolist()):
            counts[cube[a]] = counts.get(cube[a], 0) + 1
            means[cube[a]] = means.get(cube[a], 0.0) + (r - means.get(cube[a], 0.0)) / counts[cube[a]]
        policy.update(Feedback(context, slate, outcome.rewards))
        context = outcome.next_context
    assert sum(counts.values()) == 1200


# -- generic slate contract -------------------------------------------------------------------
def build(key: str, info: ProblemInfo, seed: int = 0):  # type: ignore[no-untyped-def]
    return build_policy(key, info, seed=seed, **POLICIES.get(key).test_params)


@pytest.mark.parametrize("key", SLATE_KEYS)
def test_slates_are_valid_distinct_available_and_deterministic(key: str) -> None:
    env = small_env()
    first_slates, first_regrets = play(build(key, env.info, seed=3), env, 25, seed=4)
    context = env.reset(seed=4)
    slate = build(key, env.info, seed=3).select(context)
    assert slate.shape == (3, 2) and slate.dtype == torch.int64
    assert bool(context.arm_mask.gather(1, slate).all()) and bool((slate[:, 0] != slate[:, 1]).all())
    again = play(build(key, env.info, seed=3), env, 25, seed=4)
    assert (first_slates, first_regrets) == again
    if key != "random-slate":
        assert min(min(r) for r in first_regrets) >= -1e-6


@pytest.mark.parametrize("key", SLATE_KEYS)
def test_state_round_trip_gives_identical_next_choices(key: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = small_env()
    policy = build(key, env.info, seed=5)
    play(policy, env, 12, seed=6)
    save_policy(policy, tmp_path / "policy.pt")
    restored = load_policy(tmp_path / "policy.pt")
    assert type(restored) is type(policy) and restored.params() == policy.params()
    assert play(restored, env, 8, seed=7) == play(policy, env, 8, seed=7)


def test_sequential_ccbm_state_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = small_env()
    policy = build_policy("ccbm", env.info, seed=1, update_timing="sequential", shared_stats=False,
                          count_index="observations", horizon=64)
    play(policy, env, 10, seed=2)
    save_policy(policy, tmp_path / "p.pt")
    assert play(load_policy(tmp_path / "p.pt"), env, 6, seed=3) == play(policy, env, 6, seed=3)


@pytest.mark.parametrize("set_reward", ["coverage", "sum"])
def test_oracle_slate_has_zero_plain_regret(set_reward: str) -> None:
    env = small_env(set_reward=set_reward)
    oracle = OracleSlate(env.info, env=env, set_reward=set_reward, seed=0)
    context = env.reset(seed=1)
    for _ in range(30):
        outcome = env.step(oracle.select(context))
        assert float(outcome.regret.abs().max()) <= 1e-6
        alpha = outcome.extras["alpha_regret"]
        torch.testing.assert_close(alpha, -outcome.best_expected_rewards / math.e)
        context = outcome.next_context


def test_budget_defaults_to_the_problem_and_single_arm_problems_get_one() -> None:
    assert build("ccbm", ProblemInfo(n_arms=5, dim=1, slate_size=3)).slate_size == 3
    assert build("ccbm", ProblemInfo(n_arms=5, dim=1)).info.slate_size == 1
    assert build_policy("random-slate", ProblemInfo(n_arms=5, dim=1, slate_size=3), budget=2).slate_size == 2


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("key", SLATE_KEYS)
def test_budget_larger_than_the_available_arms_is_an_error_naming_budget(key: str) -> None:
    policy = build(key, ProblemInfo(n_arms=4, dim=1, slate_size=3))
    mask = torch.tensor([[True, True, True, True], [True, False, True, False]])
    context = Context(arm_features=torch.rand(2, 4, 1), arm_mask=mask)
    with pytest.raises(InvalidParameterError, match=r"'budget' of .* \(B = 3\) exceeds the available arms of row 1"):
        policy.select(context)


@pytest.mark.parametrize("key", ["ccbm", "ccmab"])
def test_contexts_outside_the_unit_cube_are_an_error_naming_the_field(key: str) -> None:
    policy = build(key, ProblemInfo(n_arms=3, dim=2, slate_size=1))
    features = torch.tensor([[[0.1, 0.2], [0.5, 1.2], [0.3, 0.3]]])
    with pytest.raises(InvalidParameterError, match=r"Context.arm_features must lie in the unit cube"):
        policy.select(Context(arm_features=features))
    # an unavailable arm may carry any padding
    mask = torch.tensor([[True, False, True]])
    assert policy.select(Context(arm_features=features, arm_mask=mask)).shape == (1, 1)


@pytest.mark.parametrize(
    "key,params,message",
    [
        ("ccbm", {"count_index": "steps"}, "'count_index' parameter of CCBM must be one of"),
        ("ccbm", {"budget": 0}, "'budget' parameter of CCBM"),
        ("ccmab", {"h_rule": "paper"}, "'h_rule' parameter of CCMAB"),
        ("linucb-slate", {"alpha": -1.0}, "'alpha' parameter of LinUCBSlate"),
        ("neuucb-slate", {"set_reward": "max"}, "'set_reward' parameter of NeuralUCBSlate"),
    ],
)
def test_bad_hyperparameters_are_rejected(key: str, params: dict, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        build_policy(key, ProblemInfo(n_arms=4, dim=1, slate_size=2), **params)


def test_feedback_must_be_slates() -> None:
    policy = build("ccbm", ProblemInfo(n_arms=2, dim=1, slate_size=1))
    context = two_cube_round()
    with pytest.raises(InvalidParameterError, match=r"Feedback.actions of CCBM must be slates"):
        policy.update(Feedback(context, torch.tensor([0]), torch.tensor([1.0])))


@pytest.mark.slow
def test_ccbm_learns_better_than_random_slates() -> None:
    env = SyntheticCombinatorialEnv(n_users=5, budget=3, horizon=600, set_reward="sum")
    totals = {}
    for key in ("ccbm", "random-slate"):
        regrets = play(build_policy(key, env.info, seed=0, set_reward="sum") if key == "ccbm"
                       else build_policy(key, env.info, seed=0), env, 600, seed=1)[1]
        totals[key] = sum(sum(r) for r in regrets)
    assert totals["ccbm"] < 0.7 * totals["random-slate"]
