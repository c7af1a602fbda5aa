"""Runner invariants: regret ≥ 0, monotone cumulative regret, determinism, resume, delayed feedback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from neuralbandits.envs.registry import build_env
from neuralbandits.experiments.records import records_frame, summary_frame
from neuralbandits.experiments.runner import run_policy
from neuralbandits.experiments.spec import ExperimentSpec, PolicySpec
from neuralbandits.policies import GreedyOracle, build_policy, load_policy, save_policy
from neuralbandits.types import Feedback
from neuralbandits.validation import InvalidParameterError

FAST_NEURAL = {"width": 16, "n_steps": 5}


@pytest.fixture(scope="module")
def env():  # type: ignore[no-untyped-def]
    return build_env("classification:digits")


@pytest.mark.parametrize("key,params", [("random", {}), ("linucb", {}), ("neuucb-one", FAST_NEURAL)])
def test_regret_invariants_and_determinism(env, key: str, params: dict) -> None:  # type: ignore[no-untyped-def]
    runs = [run_policy(env, build_policy(key, env.info, seed=1, **params), 150, env_seed=2) for _ in range(2)]
    assert (runs[0].regrets >= 0).all()
    assert (np.diff(runs[0].cumulative_regret) >= 0).all()
    np.testing.assert_array_equal(runs[0].cumulative_regret, runs[1].cumulative_regret)
    np.testing.assert_array_equal(runs[0].actions, runs[1].actions)
    other = run_policy(env, build_policy(key, env.info, seed=7, **params), 150, env_seed=3)
    assert not np.array_equal(other.actions, runs[0].actions)


def test_oracle_gets_zero_regret(env) -> None:  # type: ignore[no-untyped-def]
    result = run_policy(env, GreedyOracle(env.info, env=env, seed=0), 300, env_seed=0)
    assert result.cumulative_regret[-1] == 0.0


def play(env, policy, rounds: int, context):  # type: ignore[no-untyped-def]
    regrets = []
    for _ in range(rounds):
        actions = policy.select(context)
        outcome = env.step(actions)
        policy.update(Feedback(context, actions, outcome.rewards))
        regrets.append(float(outcome.regret[0]))
        context = outcome.next_context
    return regrets, context


@pytest.mark.parametrize("key,params", [("linucb", {}), ("neuucb-ind", FAST_NEURAL), ("neuralts", FAST_NEURAL)])
def test_save_load_continue_gives_the_uninterrupted_curve(env, key: str, params: dict, tmp_path) -> None:  # type: ignore[no-untyped-def]
    uninterrupted, _ = play(env, build_policy(key, env.info, seed=4, **params), 120, env.reset(seed=5))
    policy = build_policy(key, env.info, seed=4, **params)
    first, context = play(env, policy, 55, env.reset(seed=5))
    save_policy(policy, tmp_path / "state.pt")
    del policy
    second, _ = play(env, load_policy(tmp_path / "state.pt"), 65, context)
    assert first + second == uninterrupted


def test_delayed_feedback_runs_and_differs_from_immediate(env) -> None:  # type: ignore[no-untyped-def]
    immediate = run_policy(env, build_policy("linucb", env.info, seed=0), 200, env_seed=0)
    delayed = run_policy(env, build_policy("linucb", env.info, seed=0), 200, env_seed=0, delay=20)
    assert (delayed.regrets >= 0).all()
    assert not np.array_equal(immediate.actions, delayed.actions)
    # the first 21 choices of the delayed run were made without any feedback: all ties → random arms
    assert delayed.cumulative_regret[-1] >= 0


def test_records_and_summary(env) -> None:  # type: ignore[no-untyped-def]
    results = [run_policy(env, build_policy("random", env.info, seed=s), 50, env_seed=s, seed=s, label="rnd")
               for s in range(3)]
    records = records_frame(results)
    assert list(records.columns[:8]) == ["policy", "seed", "t", "action", "reward", "regret",
                                         "cumulative_regret", "elapsed_s"]
    summary = summary_frame(records)
    finals = [r.cumulative_regret[-1] for r in results]
    assert summary.loc["rnd", "final_regret_mean"] == pytest.approx(np.mean(finals))
    assert summary.loc["rnd", "final_regret_std"] == pytest.approx(np.std(finals))


def test_summary_keeps_the_policies_in_the_order_they_ran() -> None:
    """Taking each seed's last round sorts by ``t``; the table must still list the policies in run
    order (the report's tables follow the suite file through it), not in a sort's order."""
    order = ["e", "b", "d", "a", "c"]
    rounds = 300
    records = pd.DataFrame([
        {"policy": p, "seed": s, "t": t, "cumulative_regret": float(t + i), "elapsed_s": 0.01 * t}
        for i, p in enumerate(order) for s in range(2) for t in range(1, rounds + 1)
    ])
    summary = summary_frame(records)
    assert list(summary.index) == order
    assert list(summary["final_regret_mean"]) == [rounds + i for i in range(len(order))]


@pytest.mark.parametrize("kwargs,message", [({"rounds": 0}, "rounds must be a positive int"),
                                            ({"seeds": ()}, "at least one seed"),
                                            ({"delay": -1}, "delay must be")])
def test_spec_rejects_bad_values(kwargs: dict, message: str) -> None:
    base = {"env": "classification:digits", "policies": (PolicySpec("random"),), "rounds": 10}
    with pytest.raises(InvalidParameterError, match=message):
        ExperimentSpec(**{**base, **kwargs})


def test_block_and_dense_linucb_runs_are_identical() -> None:
    torch.manual_seed(0)  # not used by the library; guards against hidden global-RNG use
    env = build_env("classification:digits")
    a = run_policy(env, build_policy("linucb", env.info, seed=0), 100, env_seed=0)
    torch.manual_seed(123)
    b = run_policy(env, build_policy("linucb", env.info, seed=0), 100, env_seed=0)
    np.testing.assert_array_equal(a.actions, b.actions)


def test_progress_callback_reports_every_round(env) -> None:  # type: ignore[no-untyped-def]
    reported: list[int] = []
    run_policy(env, build_policy("random", env.info, seed=0), 257, env_seed=0, progress=reported.append)
    assert sum(reported) == 257 and len(reported) > 1


# -- policy diagnostics (PolicyBase.diagnostics → policy_<name> columns) -----------------------------
LOGISTIC = {"n_steps": 2, "train_every": 5}
DIAGNOSTICS = ["lambda_t", "effective_dim", "radius", "kappa"]


@pytest.fixture(scope="module")
def logistic_env():  # type: ignore[no-untyped-def]
    return build_env("logistic:h1", n_pool=50)


@pytest.mark.parametrize("key,params", [("neurallog-ucb-1", {"width": 8, **LOGISTIC}),
                                        ("logistic-ucb-1", LOGISTIC)])
def test_logistic_run_records_its_diagnostics_per_round(logistic_env, key: str, params: dict) -> None:  # type: ignore[no-untyped-def]
    env = logistic_env
    policy = build_policy(key, env.info, seed=3, **params)
    result = run_policy(env, policy, 120, env_seed=4)
    records = records_frame([result])
    assert [c for c in records.columns if c.startswith("policy_")] == [f"policy_{n}" for n in DIAGNOSTICS]
    assert not records[[f"policy_{n}" for n in DIAGNOSTICS]].isna().any().any()
    # the same run by hand, without the runner: its policy's own diagnostics at T
    alone = build_policy(key, env.info, seed=3, **params)
    context = env.reset(seed=4)
    for _ in range(120):
        actions = alone.select(context)
        outcome = env.step(actions)
        alone.update(Feedback(context, actions, outcome.rewards))
        context = outcome.next_context
    diag = alone.diagnostics()
    assert list(diag["t"]) == list(range(1, 121))
    for name in DIAGNOSTICS:
        assert records[f"policy_{name}"].iloc[-1] == diag[name][-1] == policy.diagnostics()[name][-1]
        np.testing.assert_array_equal(result.diagnostics[name], diag[name])
    assert records["policy_lambda_t"].iloc[-1] == float(alone.lambda_t)
    assert records["policy_kappa"].iloc[-1] == alone.kappa and records["policy_kappa"].nunique() == 1


def test_delayed_feedback_diagnostics_hold_from_each_update(logistic_env) -> None:  # type: ignore[no-untyped-def]
    policy = build_policy("logistic-ucb-1", logistic_env.info, seed=0, **LOGISTIC)
    result = run_policy(logistic_env, policy, 40, env_seed=0, delay=6)
    lam, own = result.diagnostics["lambda_t"], policy.diagnostics()["lambda_t"]
    assert len(lam) == 40 and len(own) == 40 - 6
    assert np.isnan(lam[:6]).all()  # no update before round 7
    np.testing.assert_array_equal(lam[6:], own)


def test_batched_updates_give_every_round_the_row_of_its_update() -> None:
    from neuralbandits.experiments.runner import policy_diagnostics
    from neuralbandits.types import Context, ProblemInfo

    info = ProblemInfo(n_arms=3, dim=4)
    policy = build_policy("logistic-ucb-1", info, seed=0, **LOGISTIC)
    g = torch.Generator().manual_seed(0)
    for batch in (3, 1, 2):  # rounds 1-3, 4, 5-6: one update (one trace row) each
        context = Context(arm_features=torch.randn(batch, 3, 4, generator=g))
        policy.update(Feedback(context, policy.select(context), torch.ones(batch)))
    diag = policy.diagnostics()
    rows = policy.trace[:3].numpy()
    assert list(diag["t"]) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_array_equal(diag["lambda_t"], rows[[0, 0, 0, 1, 2, 2], 1])
    np.testing.assert_array_equal(diag["effective_dim"], rows[[0, 0, 0, 1, 2, 2], 2])
    # a runner round that learned the rows 1-3 (and none before) shows the values of its last row
    column = policy_diagnostics(policy, np.array([0, 3, 4, 6]))["lambda_t"]
    np.testing.assert_array_equal(column, [np.nan, rows[0, 1], rows[1, 1], rows[2, 1]])


def test_policies_without_diagnostics_record_no_columns(env, logistic_env) -> None:  # type: ignore[no-untyped-def]
    plain = [run_policy(env, build_policy(key, env.info, seed=0), 30, env_seed=0) for key in ("random", "linucb")]
    assert all(r.diagnostics == {} for r in plain)
    assert not [c for c in records_frame(plain).columns if c.startswith("policy_")]
    # beside a logistic policy, the others' rows of its columns are empty
    mixed = records_frame([
        run_policy(logistic_env, build_policy("random", logistic_env.info, seed=0), 30, env_seed=0),
        run_policy(logistic_env, build_policy("logistic-ucb-1", logistic_env.info, seed=0, **LOGISTIC), 30,
                   env_seed=0),
    ])
    assert mixed.loc[mixed.policy == "random", "policy_effective_dim"].isna().all()
    assert mixed.loc[mixed.policy == "logistic-ucb-1", "policy_effective_dim"].notna().all()


def test_environment_extras_cannot_take_the_diagnostic_prefix(env) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    result = run_policy(env, build_policy("random", env.info, seed=0), 5, env_seed=0)
    with pytest.raises(ValueError, match="may not start with 'policy_'.*'policy_x'"):
        records_frame([replace(result, extras={"policy_x": np.zeros(5)})])


def test_policy_diagnostics_must_cover_every_learned_round(env) -> None:  # type: ignore[no-untyped-def]
    from neuralbandits.experiments.runner import policy_diagnostics

    policy = build_policy("random", env.info, seed=0)
    policy.diagnostics = lambda: {"short": np.zeros(2)}  # type: ignore[method-assign]
    with pytest.raises(ValueError, match=r"diagnostics\(\)\['short'\] must hold one value per feedback row"):
        policy_diagnostics(policy, np.array([1, 2, 3]))
