"""Tests of the synthetic environments (ClusteredEnv, NonlinearEnv) and the environment registry."""

from __future__ import annotations

import math
from typing import Any, Callable

import pytest
import torch

from neuralbandits.envs.base import BanditEnv
from neuralbandits.envs.registry import ENVIRONMENTS, build_env
from neuralbandits.envs.synthetic import ClusteredEnv, NonlinearEnv
from neuralbandits.registry import UnknownKeyError
from neuralbandits.rng import make_generator
from neuralbandits.types import Context
from neuralbandits.validation import InvalidParameterError

# Small instances covering every reward form, noise model and context law.
ENV_CASES: dict[str, Callable[[], BanditEnv]] = {
    "clustered-linear-gaussian": lambda: ClusteredEnv(n_users=12, n_clusters=3, n_arms=5, dim=6),
    "clustered-quadratic-bernoulli": lambda: ClusteredEnv(
        n_users=12, n_clusters=3, n_arms=5, dim=6, reward="quadratic", noise="bernoulli"
    ),
    "clustered-cosine-none": lambda: ClusteredEnv(
        n_users=12, n_clusters=4, n_arms=5, dim=3, reward="cosine", noise="none"
    ),
    "nonlinear-quadratic-gaussian": lambda: NonlinearEnv(n_arms=4, dim=8),
    "nonlinear-matrix-bernoulli-pool": lambda: NonlinearEnv(
        n_arms=4, dim=8, reward="quadratic_matrix", noise="bernoulli", n_pool=30
    ),
    "nonlinear-cosine-cube": lambda: NonlinearEnv(
        n_arms=3, dim=5, reward="cosine", context_law="cube", noise="none"
    ),
}


def _random_actions(env: BanditEnv, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(env.n_arms, (batch_size,), generator=generator)


def _unit_arms(*shape: int, seed: int) -> torch.Tensor:
    """Random unit vectors of shape ``shape`` (last dimension d)."""
    return torch.nn.functional.normalize(torch.randn(shape, generator=make_generator(seed)), dim=-1)


def _trajectory(
    env: BanditEnv, seed: int, n_steps: int = 20, batch_size: int = 2
) -> list[torch.Tensor]:
    """Arm features, user ids and rewards of ``n_steps`` rounds with seeded random actions."""
    context = env.reset(seed=seed, batch_size=batch_size)
    picker = make_generator(123)
    out: list[torch.Tensor] = []
    for _ in range(n_steps):
        out.append(context.dense_arm_features().clone())
        if context.user_ids is not None:
            out.append(context.user_ids.clone())
        outcome = env.step(_random_actions(env, batch_size, picker))
        out.append(outcome.rewards.clone())
        context = outcome.next_context
    return out


# -- the protocol ----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(ENV_CASES))
@pytest.mark.parametrize("batch_size", [1, 5])
def test_shapes_and_dtypes(case: str, batch_size: int) -> None:
    env = ENV_CASES[case]()
    context = env.reset(seed=0, batch_size=batch_size)
    features = context.arm_features
    assert isinstance(features, torch.Tensor)
    assert features.shape == (batch_size, env.n_arms, env.dim)
    assert (env.n_arms, env.dim) == (env.info.n_arms, env.info.dim)
    assert features.dtype == torch.float32
    expected = env.expected_rewards()
    assert expected.shape == (batch_size, env.n_arms) and expected.dtype == torch.float32
    if isinstance(env, ClusteredEnv):
        assert context.user_ids is not None
        assert context.user_ids.shape == (batch_size,) and context.user_ids.dtype == torch.int64
        assert env.info.n_users == env.n_users
    else:
        assert context.user_ids is None and env.info.n_users == 1
    outcome = env.step(torch.zeros(batch_size, dtype=torch.int64))
    for tensor in (outcome.rewards, outcome.expected_rewards, outcome.best_expected_rewards):
        assert tensor.shape == (batch_size,) and tensor.dtype == torch.float32
    assert outcome.next_context.dense_arm_features().shape == (batch_size, env.n_arms, env.dim)


@pytest.mark.parametrize("case", list(ENV_CASES))
def test_reset_seed_determinism(case: str) -> None:
    env = ENV_CASES[case]()
    first, again, other = _trajectory(env, 7), _trajectory(env, 7), _trajectory(env, 8)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    # A fresh instance with the same problem_seed replays the same stream.
    fresh = _trajectory(ENV_CASES[case](), 7)
    assert all(torch.equal(a, b) for a, b in zip(first, fresh, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("case", list(ENV_CASES))
def test_regret_nonnegative_and_zero_for_oracle(case: str) -> None:
    env = ENV_CASES[case]()
    picker = make_generator(5)
    env.reset(seed=1, batch_size=4)
    for _ in range(10):
        outcome = env.step(_random_actions(env, 4, picker))
        assert bool((outcome.regret >= 0).all())
    env.reset(seed=1, batch_size=4)
    for _ in range(10):
        outcome = env.step(env.expected_rewards().argmax(1))
        assert torch.equal(outcome.regret, torch.zeros(4))


def test_random_actions_have_positive_regret_somewhere() -> None:
    env = ClusteredEnv(n_users=10, n_clusters=2, n_arms=5, dim=4, noise="none")
    env.reset(seed=0, batch_size=64)
    outcome = env.step(torch.zeros(64, dtype=torch.int64))
    assert float(outcome.regret.sum()) > 0


# -- problem vs stream -----------------------------------------------------------------------------
def test_problem_seed_fixes_the_clustered_problem() -> None:
    kwargs: dict[str, Any] = dict(n_users=20, n_clusters=4, dim=5)
    a, b, c = ClusteredEnv(**kwargs), ClusteredEnv(**kwargs), ClusteredEnv(**kwargs, problem_seed=1)
    assert torch.equal(a.cluster_params, b.cluster_params)
    assert torch.equal(a.true_clusters, b.true_clusters)
    assert not torch.equal(a.cluster_params, c.cluster_params)
    assert not torch.equal(a.true_clusters, c.true_clusters)
    # Same stream seed: same arms and users, different rewards because the problem differs.
    ctx_a, ctx_c = a.reset(seed=3, batch_size=4), c.reset(seed=3, batch_size=4)
    assert torch.equal(ctx_a.dense_arm_features(), ctx_c.dense_arm_features())
    assert ctx_a.user_ids is not None and ctx_c.user_ids is not None
    assert torch.equal(ctx_a.user_ids, ctx_c.user_ids)
    assert not torch.equal(a.expected_rewards(), c.expected_rewards())


def test_problem_seed_fixes_the_nonlinear_problem() -> None:
    a, b = NonlinearEnv(dim=6, n_pool=12), NonlinearEnv(dim=6, n_pool=12)
    c = NonlinearEnv(dim=6, n_pool=12, problem_seed=4)
    assert a.pool is not None and b.pool is not None and c.pool is not None
    for name in ("a", "A", "pool"):
        assert torch.equal(getattr(a, name), getattr(b, name))
        assert not torch.equal(getattr(a, name), getattr(c, name))
    # The stream of fresh contexts does not depend on the problem.
    d, e = NonlinearEnv(dim=6), NonlinearEnv(dim=6, problem_seed=9)
    assert torch.equal(
        d.reset(seed=2).dense_arm_features(), e.reset(seed=2).dense_arm_features()
    )
    assert not torch.equal(d.expected_rewards(), e.expected_rewards())


# -- ClusteredEnv ----------------------------------------------------------------------------------
@pytest.mark.parametrize("reward", ClusteredEnv.REWARDS)
def test_clustered_expected_rewards_in_unit_interval(reward: str) -> None:
    env = ClusteredEnv(reward=reward, n_arms=20)
    env.reset(seed=0, batch_size=200)
    expected = env.expected_rewards()
    assert bool(((expected >= 0) & (expected <= 1)).all())
    assert float(expected.max() - expected.min()) > 0.3  # not a constant reward


def test_clustered_formulas() -> None:
    x = _unit_arms(3, 4, 7, seed=0)
    users = torch.tensor([0, 5, 9])
    for reward, link in [
        ("linear", lambda s: (1 + s) / 2),
        ("quadratic", lambda s: s**2),
        ("cosine", lambda s: (1 + torch.cos(3 * s)) / 2),
    ]:
        env = ClusteredEnv(n_users=10, n_clusters=2, dim=7, n_arms=4, reward=reward)
        theta = env.cluster_params[env.true_clusters[users]]
        want = link(torch.einsum("bkd,bd->bk", x, theta))
        got = env.mean_rewards(Context(arm_features=x, user_ids=users))
        torch.testing.assert_close(got, want)


def test_clustered_params_and_balanced_assignment() -> None:
    env = ClusteredEnv(n_users=23, n_clusters=5, dim=8)
    assert env.cluster_params.shape == (5, 8) and env.cluster_params.dtype == torch.float32
    torch.testing.assert_close(env.cluster_params.norm(dim=1), torch.ones(5))
    assert env.true_clusters.shape == (23,) and env.true_clusters.dtype == torch.int64
    sizes = torch.bincount(env.true_clusters, minlength=5)
    assert int(sizes.min()) >= 4 and int(sizes.max()) <= 5  # balanced
    # dim >= n_clusters: orthonormal parameters.
    gram = env.cluster_params @ env.cluster_params.T
    torch.testing.assert_close(gram, torch.eye(5), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("reward", "dim", "n_clusters", "gap"),
    [
        ("linear", 10, 5, 0.2),
        ("linear", 10, 5, 0.7),
        ("quadratic", 10, 5, 0.2),
        ("cosine", 10, 5, 0.4),
        ("linear", 3, 8, 0.3),  # rejection sampling
        ("quadratic", 3, 6, 0.3),
        ("cosine", 2, 5, 0.4),
    ],
)
def test_gamma_gap_between_clusters(reward: str, dim: int, n_clusters: int, gap: float) -> None:
    env = ClusteredEnv(
        n_users=3 * n_clusters, n_clusters=n_clusters, dim=dim, reward=reward, gap=gap
    )
    theta = env.cluster_params
    different = env.true_clusters[:, None] != env.true_clusters[None, :]
    # The recorded cluster gaps meet γ ...
    off_diagonal = ~torch.eye(n_clusters, dtype=torch.bool)
    assert bool((env.cluster_gaps[off_diagonal] >= gap).all())
    # ... and match their closed forms.
    cosines = (theta @ theta.T).clamp(-1, 1)
    if reward == "linear":
        closed = (theta[:, None] - theta[None, :]).norm(dim=-1) / 2
        torch.testing.assert_close(env.cluster_gaps, closed, atol=1e-3, rtol=0)
    elif reward == "quadratic":
        closed = (1 - cosines**2).clamp_min(0).sqrt()
        torch.testing.assert_close(
            env.cluster_gaps[off_diagonal], closed[off_diagonal], atol=1e-3, rtol=0
        )
    # Per user pair over random arms: users of one cluster agree on every arm; users of different
    # clusters reach the gap on some arms (the supremum is attained on the circle spanned by θ_c and
    # θ_c').
    arms = _unit_arms(1, 4000, dim, seed=1)
    users = torch.arange(env.n_users)
    h = env.mean_rewards(Context(arm_features=arms.expand(env.n_users, -1, -1), user_ids=users))
    diff = (h[:, None, :] - h[None, :, :]).abs()  # (n, n, N)
    assert float(diff[~different].max()) == 0.0
    u_idx, v_idx = different.nonzero(as_tuple=True)
    cu, cv = env.true_clusters[u_idx], env.true_clusters[v_idx]
    # The maximising unit vector for each pair, found on a fine circle grid, attains ≥ γ.
    phi = torch.linspace(0, 2 * math.pi, 4001)[:-1]
    t1 = theta[cu]
    t2 = theta[cv] - (theta[cv] * t1).sum(-1, keepdim=True) * t1
    t2 = torch.nn.functional.normalize(t2, dim=-1)
    circle = torch.cos(phi)[:, None] * t1[:, None] + torch.sin(phi)[:, None] * t2[:, None]
    on_circle = (
        env.mean_rewards(Context(arm_features=circle, user_ids=u_idx))
        - env.mean_rewards(Context(arm_features=circle, user_ids=v_idx))
    ).abs()
    assert bool((on_circle.amax(1) >= gap - 1e-4).all())
    if dim == 10 and gap <= 0.4:
        # In d = 10 a good share of *random* arms separates every pair by a moderate γ (near the
        # supremum, here 1/√2 for linear rewards, only arms aligned with θ_c − θ_c' do).
        share = (diff[different] >= gap).float().mean(dim=1)
        assert float(share.min()) > 0.02
        assert bool((diff[different].amax(dim=1) >= gap).all())


def test_gap_fraction_at_defaults() -> None:
    env = ClusteredEnv()
    arms = _unit_arms(1, 5000, 10, seed=2)
    users = torch.arange(env.n_users)
    h = env.mean_rewards(Context(arm_features=arms.expand(env.n_users, -1, -1), user_ids=users))
    different = env.true_clusters[:, None] != env.true_clusters[None, :]
    share = ((h[:, None] - h[None, :]).abs() >= env.gap).float().mean(-1)[different]
    assert float(share.min()) > 0.3  # documented: about 0.40 for linear rewards


def test_unreachable_gap_is_an_invalid_parameter() -> None:
    with pytest.raises(InvalidParameterError, match="'gap'"):
        ClusteredEnv(n_users=30, n_clusters=30, dim=2, gap=0.9)


def test_context_for_user() -> None:
    env = ClusteredEnv(n_users=8, n_clusters=2, n_arms=3, dim=4)
    users = torch.tensor([7, 0, 3, 3])
    context = env.context_for_user(users, make_generator(0))
    assert context.user_ids is not None and torch.equal(context.user_ids, users)
    assert context.dense_arm_features().shape == (4, 3, 4)
    again = env.context_for_user(users, make_generator(0))
    assert torch.equal(context.dense_arm_features(), again.dense_arm_features())
    expected = env.mean_rewards(context)
    assert expected.shape == (4, 3)
    for bad in (torch.tensor([8]), torch.tensor([-1]), torch.tensor([[0]]), torch.tensor([0.0])):
        with pytest.raises(ValueError, match="user_ids"):
            env.context_for_user(bad, make_generator(0))
    with pytest.raises(ValueError, match="user_ids"):
        env.mean_rewards(Context(arm_features=torch.zeros(1, 3, 4)))


def test_served_users_follow_the_stream() -> None:
    env = ClusteredEnv(n_users=50, n_clusters=5, n_arms=2, dim=3)
    first = env.reset(seed=0, batch_size=40).user_ids
    second = env.step(torch.zeros(40, dtype=torch.int64)).next_context.user_ids
    other = env.reset(seed=1, batch_size=40).user_ids
    assert first is not None and second is not None and other is not None
    assert not torch.equal(first, second)  # a new user draw every round
    assert not torch.equal(first, other)  # and per stream seed
    assert torch.equal(first, env.reset(seed=0, batch_size=40).user_ids)


def test_served_users_are_uniform() -> None:
    env = ClusteredEnv(n_users=5, n_clusters=2, n_arms=2, dim=3)
    context = env.reset(seed=0, batch_size=5000)
    assert context.user_ids is not None
    counts = torch.bincount(context.user_ids, minlength=5).float()
    assert float((counts / 5000 - 0.2).abs().max()) < 0.03


# -- noise -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: ClusteredEnv(n_users=6, n_clusters=2, dim=4, noise="bernoulli"),
        lambda: NonlinearEnv(n_arms=3, dim=5, noise="bernoulli", reward="cosine"),
    ],
)
def test_bernoulli_rewards_match_expected(make: Callable[[], BanditEnv]) -> None:
    env = make()
    n = 40000
    env.reset(seed=0, batch_size=n)
    outcome = env.step(torch.zeros(n, dtype=torch.int64))
    rewards, expected = outcome.rewards, outcome.expected_rewards
    assert set(rewards.unique().tolist()) <= {0.0, 1.0}
    tolerance = 4 * math.sqrt(0.25 / n)
    assert abs(float(rewards.mean() - expected.mean())) < tolerance
    # Calibration: also within each half of the expected-reward range.
    for group in (expected < expected.median(), expected >= expected.median()):
        m = int(group.sum())
        assert abs(float(rewards[group].mean() - expected[group].mean())) < 4 * math.sqrt(0.25 / m)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ClusteredEnv(n_users=6, n_clusters=2, dim=4, noise_std=0.3),
        lambda: NonlinearEnv(n_arms=3, dim=5, noise_std=0.3),
    ],
)
def test_gaussian_noise_only_on_observed_rewards(make: Callable[[], BanditEnv]) -> None:
    env = make()
    n = 20000
    env.reset(seed=0, batch_size=n)
    noiseless = env.expected_rewards()[:, 1].clone()
    outcome = env.step(torch.ones(n, dtype=torch.int64))
    torch.testing.assert_close(outcome.expected_rewards, noiseless)
    residual = outcome.rewards - outcome.expected_rewards
    assert abs(float(residual.mean())) < 4 * 0.3 / math.sqrt(n)
    assert abs(float(residual.std()) - 0.3) < 0.01


@pytest.mark.parametrize(
    "make",
    [
        lambda: ClusteredEnv(n_users=6, n_clusters=2, dim=4, noise="none"),
        lambda: NonlinearEnv(dim=5, noise="none", reward="quadratic_matrix"),
    ],
)
def test_noiseless_rewards_equal_expected(make: Callable[[], BanditEnv]) -> None:
    env = make()
    env.reset(seed=0, batch_size=16)
    outcome = env.step(torch.zeros(16, dtype=torch.int64))
    assert torch.equal(outcome.rewards, outcome.expected_rewards)


# -- NonlinearEnv ----------------------------------------------------------------------------------
def test_nonlinear_formulas() -> None:
    x = _unit_arms(2, 3, 6, seed=0)
    context = Context(arm_features=x)
    for reward, formula in [
        ("quadratic", lambda env: 10 * (x @ env.a) ** 2),
        ("quadratic_matrix", lambda env: torch.einsum("bki,ji,jl,bkl->bk", x, env.A, env.A, x)),
        ("cosine", lambda env: torch.cos(3 * (x @ env.a))),
    ]:
        gaussian = NonlinearEnv(dim=6, n_arms=3, reward=reward)
        want = formula(gaussian)
        torch.testing.assert_close(gaussian.mean_rewards(context), want, atol=1e-5, rtol=1e-5)
        logistic = NonlinearEnv(dim=6, n_arms=3, reward=reward, noise="bernoulli")
        torch.testing.assert_close(logistic.mean_rewards(context), torch.sigmoid(formula(logistic)))


def test_param_scale() -> None:
    small, unit = NonlinearEnv(dim=16), NonlinearEnv(dim=16, param_scale="unit")
    torch.testing.assert_close(unit.a, 4 * small.a)
    torch.testing.assert_close(unit.A, 4 * small.A)
    big = NonlinearEnv(dim=400)
    assert abs(float(big.a.var()) - 1 / 400) < 0.3 / 400


def test_logistic_expected_rewards_in_unit_interval() -> None:
    env = NonlinearEnv(noise="bernoulli", reward="quadratic_matrix")
    env.reset(seed=0, batch_size=100)
    expected = env.expected_rewards()
    assert bool(((expected > 0) & (expected < 1)).all())


def test_sphere_and_cube_contexts() -> None:
    sphere = NonlinearEnv(dim=7).reset(seed=0, batch_size=50).dense_arm_features()
    torch.testing.assert_close(sphere.norm(dim=-1), torch.ones(50, 4))
    cube = NonlinearEnv(dim=7, context_law="cube").reset(seed=0, batch_size=50).dense_arm_features()
    assert bool(((cube >= 0) & (cube <= 1)).all())
    assert float(cube.mean()) == pytest.approx(0.5, abs=0.05)


def test_pool_rounds_use_distinct_pool_vectors() -> None:
    env = NonlinearEnv(n_arms=4, dim=5, n_pool=6)
    assert env.pool is not None and env.pool.shape == (6, 5)
    arms = env.reset(seed=0, batch_size=300).dense_arm_features()
    matches = (arms[:, :, None, :] == env.pool[None, None]).all(-1)  # (B, K, N_pool)
    assert bool((matches.sum(-1) == 1).all())  # every arm is a pool vector
    ids = matches.float().argmax(-1)
    assert bool((ids.sort(dim=1).values.diff(dim=1) > 0).all())  # K distinct ones per round
    assert torch.unique(ids).numel() == 6  # the whole pool gets used
    # Pool contexts follow the context law.
    cube = NonlinearEnv(n_arms=2, dim=5, n_pool=3, context_law="cube")
    assert cube.pool is not None and bool(((cube.pool >= 0) & (cube.pool <= 1)).all())


# -- bad arguments ---------------------------------------------------------------------------------
BAD_ARGUMENTS: list[tuple[type[BanditEnv], dict[str, Any], str]] = [
    (ClusteredEnv, {"n_clusters": 60}, "n_clusters"),  # more clusters than users
    (ClusteredEnv, {"n_users": 3, "n_clusters": 4}, "n_clusters"),
    (ClusteredEnv, {"n_users": 0}, "n_users"),
    (ClusteredEnv, {"n_clusters": 0}, "n_clusters"),
    (ClusteredEnv, {"n_arms": 0}, "n_arms"),
    (ClusteredEnv, {"n_arms": 2.0}, "n_arms"),
    (ClusteredEnv, {"dim": 1}, "dim"),
    (ClusteredEnv, {"gap": -0.1}, "gap"),
    (ClusteredEnv, {"gap": 1.5}, "gap"),
    (ClusteredEnv, {"gap": float("nan")}, "gap"),
    (ClusteredEnv, {"reward": "cubic"}, "reward"),
    (ClusteredEnv, {"noise": "poisson"}, "noise"),
    (ClusteredEnv, {"noise_std": -1.0}, "noise_std"),
    (ClusteredEnv, {"problem_seed": -1}, "problem_seed"),
    (ClusteredEnv, {"problem_seed": None}, "problem_seed"),
    (NonlinearEnv, {"n_arms": 0}, "n_arms"),
    (NonlinearEnv, {"dim": 0}, "dim"),
    (NonlinearEnv, {"reward": "linear"}, "reward"),
    (NonlinearEnv, {"reward": "quadratic-matrix"}, "reward"),
    (NonlinearEnv, {"noise": "laplace"}, "noise"),
    (NonlinearEnv, {"noise_std": -0.5}, "noise_std"),
    (NonlinearEnv, {"param_scale": "1/sqrt(d)"}, "param_scale"),
    (NonlinearEnv, {"context_law": "ball"}, "context_law"),
    (NonlinearEnv, {"n_pool": 0}, "n_pool"),
    (NonlinearEnv, {"n_pool": 3}, "n_pool"),  # fewer pool vectors than arms (K = 4)
    (NonlinearEnv, {"n_pool": 10.0}, "n_pool"),
    (NonlinearEnv, {"problem_seed": 1.5}, "problem_seed"),
]


@pytest.mark.parametrize(("cls", "kwargs", "field"), BAD_ARGUMENTS)
def test_bad_constructor_arguments(
    cls: type[BanditEnv], kwargs: dict[str, Any], field: str
) -> None:
    message = rf"^The '{field}' parameter of {cls.__name__} must be .*; got "
    with pytest.raises(InvalidParameterError, match=message):
        cls(**kwargs)


def test_constructor_arguments_are_keyword_only_and_stored() -> None:
    with pytest.raises(TypeError):
        ClusteredEnv(10)  # type: ignore[misc]
    env = ClusteredEnv(
        n_users=9, n_clusters=3, n_arms=4, dim=5, reward="cosine", gap=0.1, noise="none"
    )
    assert (env.n_users, env.n_clusters, env.n_arms, env.dim, env.reward, env.gap, env.noise) == (
        9, 3, 4, 5, "cosine", 0.1, "none",
    )
    other = NonlinearEnv(n_arms=2, dim=3, n_pool=5, context_law="cube", param_scale="unit")
    assert (other.n_arms, other.dim, other.n_pool, other.context_law, other.param_scale) == (
        2, 3, 5, "cube", "unit",
    )
    assert "n_pool=5" in repr(other) and "reward='cosine'" in repr(env)


# -- registry --------------------------------------------------------------------------------------
REGISTERED = {
    "synthetic:clustered": (ClusteredEnv, {"reward": "linear"}),
    "synthetic:clustered-quadratic": (ClusteredEnv, {"reward": "quadratic"}),
    "synthetic:clustered-cosine": (ClusteredEnv, {"reward": "cosine"}),
    "synthetic:quadratic": (NonlinearEnv, {"reward": "quadratic", "noise": "gaussian"}),
    "synthetic:quadratic-matrix": (
        NonlinearEnv,
        {"reward": "quadratic_matrix", "noise": "gaussian"},
    ),
    "synthetic:cosine": (NonlinearEnv, {"reward": "cosine", "noise": "gaussian"}),
    "synthetic:logistic-quadratic": (NonlinearEnv, {"reward": "quadratic", "noise": "bernoulli"}),
    "synthetic:logistic-quadratic-matrix": (
        NonlinearEnv,
        {"reward": "quadratic_matrix", "noise": "bernoulli"},
    ),
    "synthetic:logistic-cosine": (NonlinearEnv, {"reward": "cosine", "noise": "bernoulli"}),
}


def test_registry_lists_the_synthetic_keys() -> None:
    assert set(REGISTERED) <= set(ENVIRONMENTS)
    assert ENVIRONMENTS.kind == "environment"


@pytest.mark.parametrize("key", list(REGISTERED))
def test_build_env(key: str) -> None:
    cls, fixed = REGISTERED[key]
    env = build_env(key, n_arms=3, dim=4, problem_seed=2)
    assert type(env) is cls
    assert (env.n_arms, env.dim) == (3, 4)
    for name, value in fixed.items():
        assert getattr(env, name) == value
    summary = ENVIRONMENTS.summary(key)
    docstring = ENVIRONMENTS.get(key).__doc__ or ""
    assert summary and summary == docstring.strip().splitlines()[0]
    env.reset(seed=0)
    env.step(torch.zeros(1, dtype=torch.int64))


def test_build_env_errors() -> None:
    with pytest.raises(UnknownKeyError, match="Did you mean 'synthetic:cosine'"):
        build_env("synthetic:cosin")
    with pytest.raises(UnknownKeyError, match="Unknown environment 'nothing:here'"):
        build_env("nothing:here")
    with pytest.raises(InvalidParameterError, match="'reward'"):
        build_env("synthetic:clustered", reward="cosine")
    with pytest.raises(InvalidParameterError, match="'noise'"):
        build_env("synthetic:logistic-quadratic", noise="gaussian")
    with pytest.raises(InvalidParameterError, match="'gap'"):
        build_env("synthetic:clustered", gap=-1.0)
