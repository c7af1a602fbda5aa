"""M-CNB (paper 000): relative clusters, batched meta adaptation and UCB against slow loop versions,
cluster recovery on a clustered environment, degenerate cases, state round trip and determinism."""

from __future__ import annotations

import math

import pytest
import torch

from neuralbandits.envs.synthetic import ClusteredEnv
from neuralbandits.models.clustering import relative_cluster
from neuralbandits.models.networks import NetworkConfig
from neuralbandits.policies import build_policy, load_policy, save_policy
from neuralbandits.policies.meta import MCNB
from neuralbandits.rng import make_generator
from neuralbandits.types import BlockArms, Context, Feedback, ProblemInfo

torch.set_num_threads(1)

SMALL = dict(width=16, n_steps=3, batch_size=4, train_every=5)


def play(policy: MCNB, env: ClusteredEnv, rounds: int, env_seed: int = 0) -> list[int]:
    context = env.reset(seed=env_seed)
    actions = []
    for _ in range(rounds):
        chosen = policy.select(context)
        outcome = env.step(chosen)
        policy.update(Feedback(context, chosen, outcome.rewards))
        actions.append(int(chosen[0]))
        context = outcome.next_context
    return actions


# -- relative_cluster -----------------------------------------------------------------------------
def test_relative_cluster_on_a_hand_made_matrix() -> None:
    predictions = torch.tensor([[0.10, 0.90], [0.30, 0.50], [0.50, 0.85], [0.90, 0.90]])  # (M=4, K=2)
    clusters = relative_cluster(predictions, torch.tensor([0, 3]), 0.25)
    expected = torch.tensor(
        [
            [[True, True, False, False], [True, False, True, True]],  # served user 0
            [[False, False, False, True], [True, False, True, True]],  # served user 3
        ]
    )
    assert clusters.shape == (2, 2, 4) and clusters.dtype == torch.bool
    assert torch.equal(clusters, expected)


def test_relative_cluster_boundary_batched_input_and_served_always_member() -> None:
    predictions = torch.tensor([[[0.5], [0.75], [0.76], [float("nan")]]])  # (B=1, M=4, K=1)
    assert relative_cluster(predictions, torch.tensor([0]), 0.25)[0, 0].tolist() == [True, True, False, False]
    assert relative_cluster(predictions, torch.tensor([3]), 0.25)[0, 0].tolist() == [False, False, False, True]
    with pytest.raises(ValueError, match="relative_cluster needs"):
        relative_cluster(predictions, torch.tensor([0, 1]), 0.25)


# -- the slow, obviously-correct reference ---------------------------------------------------------
def module_with(params: dict[str, torch.Tensor], dim: int, width: int) -> torch.nn.Module:
    module = NetworkConfig(width=width).build(dim)
    module.load_state_dict({name: value.detach().clone() for name, value in params.items()})
    return module


def flat_grad(module: torch.nn.Module, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    module.zero_grad()
    value = module(x)
    value.backward()
    return float(value.detach()), torch.cat([p.grad.reshape(-1) for p in module.parameters()])


def slow_adapt(theta: dict[str, torch.Tensor], dim: int, width: int, lr: float,
               samples: list[tuple[torch.Tensor, float]]) -> dict[str, torch.Tensor]:
    """Algorithm 2 with plain autograd: one SGD step on the mean loss of the given samples."""
    module = module_with(theta, dim, width)
    if samples:
        loss = sum(0.5 * (module(x) - r) ** 2 for x, r in samples) / len(samples)
        loss.backward()
        with torch.no_grad():
            for p in module.parameters():
                p -= lr * p.grad
    return {name: value.detach() for name, value in module.state_dict().items()}


def slow_scores(policy: MCNB, arms: torch.Tensor, user: int, data: list[list[tuple[torch.Tensor, float]]],
                mu: list[int]) -> tuple[torch.Tensor, list[list[int]]]:
    """One round of Algorithm 1 lines 7–9, user by user and arm by arm (dense arms ``(K, d)``)."""
    n_users, (n_arms, dim), width = len(data), arms.shape, policy.width
    users = [module_with({n: v[u] for n, v in policy.users.stacked().items()}, dim, width) for u in range(n_users)]
    theta = policy.meta_params()
    theta0 = module_with(policy.theta0(), dim, width)
    key = (policy.adapt_seed * 1_000_003 + int(policy.rounds_seen)) % (2**63)
    uniforms = torch.rand(n_arms, n_users, generator=make_generator(key))
    scores, clusters = [], []
    for i in range(n_arms):
        x = arms[i]
        own = float(users[user](x).detach())
        cluster = [u for u in range(n_users) if abs(float(users[u](x).detach()) - own) <= policy.threshold or u == user]
        samples = []
        for u in cluster:
            if data[u]:
                samples.append(data[u][min(int(float(uniforms[i, u]) * len(data[u])), len(data[u]) - 1)])
        adapted = module_with(slow_adapt(theta, dim, width, policy.adapt_lr, samples), dim, width)
        value, g = flat_grad(adapted, x)
        _, g0 = flat_grad(theta0, x)
        m = max(mu[user], 1)
        score = (value + float((g - g0).norm()) / width**0.25 + math.sqrt((policy.S + 1) / (2 * m))
                 + math.sqrt(2 * math.log(1 / policy.delta) / m))
        scores.append(score)
        clusters.append(cluster)
    return torch.tensor(scores), clusters


# fewer stored samples than users: each sample runs once, weighted by its draws; more: one per draw
@pytest.mark.parametrize("rounds", [4, 12])
def test_batched_meta_adaptation_equals_a_per_arm_autograd_loop(rounds: int) -> None:
    env = ClusteredEnv(n_users=6, n_clusters=2, n_arms=4, dim=5)
    policy = MCNB(env.info, seed=1, **SMALL)
    play(policy, env, rounds)
    assert (policy.buffer.n_samples < 6) == (rounds == 4)
    clusters = torch.rand(4, 6, generator=torch.Generator().manual_seed(0)) > 0.4
    sample_ids = policy.adaptation_samples(4)
    adapted = policy.adapt(clusters, sample_ids)
    features, targets = policy.buffer.features, policy.buffer.targets
    for i in range(4):
        samples = [(features[s], float(targets[s])) for u, s in enumerate(sample_ids[i].tolist())
                   if clusters[i, u] and s >= 0]
        assert samples, "the test needs data in every cluster"
        expected = slow_adapt(policy.meta_params(), 5, 16, policy.adapt_lr, samples)
        for name, value in expected.items():
            torch.testing.assert_close(adapted[name][i], value, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(adapted["first.weight"][i], policy.meta_params()["first.weight"])


@pytest.mark.parametrize("rounds", [3, 9])
def test_block_arm_meta_adaptation_equals_dense_loop(rounds: int) -> None:
    info = ProblemInfo(n_arms=3, dim=3 * 4, n_users=4, block_dim=4)
    policy = MCNB(info, seed=2, **SMALL)
    generator = torch.Generator().manual_seed(3)
    for _ in range(rounds):
        context = Context(BlockArms(torch.randn(1, 4, generator=generator), 3),
                          user_ids=torch.randint(4, (1,), generator=generator))
        actions = policy.select(context)
        policy.update(Feedback(context, actions, torch.rand(1, generator=generator)))
    clusters = torch.ones(3, 4, dtype=torch.bool)
    sample_ids = policy.adaptation_samples(3)
    adapted = policy.adapt(clusters, sample_ids, torch.arange(3))  # row i scores arm (block) i
    buffer = policy.buffer
    for i in range(3):
        samples = []
        for s in sample_ids[i].tolist():
            if s >= 0:
                dense = torch.zeros(3, 4)
                dense[buffer.block_ids[s]] = buffer.features[s]
                samples.append((dense.reshape(-1), float(buffer.targets[s])))
        expected = slow_adapt(policy.meta_params(), 12, 16, policy.adapt_lr, samples)
        expected["first.weight"] = expected["first.weight"].view(16, 3, 4)[:, i]  # the block arm i reads
        for name, value in expected.items():
            torch.testing.assert_close(adapted[name][i], value, atol=1e-5, rtol=1e-5)


def test_scores_and_choices_equal_the_slow_loop_for_200_rounds() -> None:
    env = ClusteredEnv(n_users=5, n_clusters=2, n_arms=4, dim=5, noise_std=0.05)
    policy = MCNB(env.info, seed=4, **SMALL)
    with torch.no_grad():  # break the identical start so that clusters of several sizes occur
        for value in policy.users.stacked().values():
            value.add_(0.5 * torch.randn(value.shape, generator=torch.Generator().manual_seed(6)))
    data: list[list[tuple[torch.Tensor, float]]] = [[] for _ in range(5)]
    mu = [0] * 5
    sizes = set()
    context = env.reset(seed=5)
    for _ in range(200):
        user = int(context.user_ids[0])
        expected, clusters = slow_scores(policy, context.arm_features[0], user, data, mu)
        selection = policy.select_with_scores(context)
        torch.testing.assert_close(selection.scores[0], expected, atol=1e-4, rtol=1e-4)
        action = int(selection.actions[0])
        assert action == int(expected.argmax())
        outcome = env.step(selection.actions)
        policy.update(Feedback(context, selection.actions, outcome.rewards))
        sizes.add(len(clusters[action]))
        for u in clusters[action]:  # lines 14–18: the data goes to every member of the cluster
            data[u].append((context.arm_features[0, action], float(outcome.rewards[0])))
            mu[u] += 1
        context = outcome.next_context
    assert policy.mu.tolist() == mu
    assert len(sizes) > 1
    # T^u is the policy's own table, in arrival order; the shared buffer keeps no (user, sample) links
    for u in range(5):
        if mu[u]:
            listed = policy.user_samples[u, : mu[u]]
            torch.testing.assert_close(policy.buffer.features[listed], torch.stack([x for x, _ in data[u]]))
            torch.testing.assert_close(policy.buffer.targets[listed], torch.tensor([r for _, r in data[u]]))
    assert policy.buffer.n_links == 0


# -- behaviour ---------------------------------------------------------------------------------------
def recovery(policy: MCNB, env: ClusteredEnv) -> tuple[float, float]:
    """Precision and recall of every user's inferred relative clusters against the true clusters, on
    probe arms where every pair of clusters differs by more than 0.45 (> the threshold 0.32)."""
    x = torch.randn(400, env.info.dim, generator=torch.Generator().manual_seed(5))
    x = x / x.norm(dim=1, keepdim=True)
    h = (1 + x @ env.cluster_params.T) / 2  # (P, C), linear rewards
    gaps = (h[:, :, None] - h[:, None, :]).abs() + 9 * torch.eye(env.n_clusters)
    probes = x[gaps.flatten(1).min(1).values > 0.45]
    assert len(probes) >= 20
    n_users = env.n_users
    with torch.no_grad():
        predictions = policy.users.predict_all(probes[None])
    inferred = relative_cluster(predictions, torch.arange(n_users), policy.threshold)  # (n, P, n)
    truth = (env.true_clusters[:, None] == env.true_clusters[None, :])[:, None, :].expand_as(inferred)
    hits = int((inferred & truth).sum())
    return hits / int(inferred.sum()), hits / int(truth.sum())


def test_relative_clusters_recover_the_true_clusters() -> None:
    env = ClusteredEnv(n_users=8, n_clusters=2, dim=4, noise_std=0.05)
    policy = MCNB(env.info, seed=0, append_to="served")  # see test_faithful_identical_users_never_separate
    play(policy, env, 1000)
    precision, recall = recovery(policy, env)
    assert precision >= 0.9 and recall >= 0.95, (precision, recall)


def test_faithful_identical_users_never_separate() -> None:
    """Documents a property of Alg. 1 as written: identical θ^u_0 → every cluster is all users → every
    sample goes to every user, so μ^u is the same for all users and the cluster is always everyone."""
    env = ClusteredEnv(n_users=6, n_clusters=2, dim=4, noise_std=0.05)
    policy = MCNB(env.info, seed=0, **SMALL)
    play(policy, env, 60)
    assert policy.mu.tolist() == [60] * 6


def test_training_round_moves_only_grown_users_and_replays_meta_steps() -> None:
    env = ClusteredEnv(n_users=6, n_clusters=2, n_arms=4, dim=5)
    policy = MCNB(env.info, seed=3, append_to="served", **SMALL)
    context = env.reset(seed=2)
    served = set()
    users_before = {n: v.detach().clone() for n, v in policy.users.stacked().items()}
    meta_before = policy.meta_params()["first.weight"].detach().clone()
    for t in range(1, 6):  # the schedule trains at t = 5
        chosen = policy.select(context)
        outcome = env.step(chosen)
        served.add(int(context.user_ids[0]))
        policy.update(Feedback(context, chosen, outcome.rewards))
        context = outcome.next_context
        assert int(policy.meta_steps[0]) == (t % 5)
        queued = policy.meta_queue[: int(policy.meta_steps[1])]
        assert queued[:, 0].tolist() == sorted(queued[:, 0].tolist())  # in step order, as train() reads it
    for name, value in policy.users.stacked().items():
        moved = (value - users_before[name]).flatten(1).abs().amax(1) > 0
        assert moved.tolist() == [u in served for u in range(6)], name
    assert not torch.equal(policy.meta_params()["first.weight"], meta_before)
    assert not bool(policy.pending.any()) and int(policy.meta_steps[1]) == 0  # the queue was replayed


def test_one_user_degenerates_to_a_single_meta_learned_bandit() -> None:
    env = ClusteredEnv(n_users=1, n_clusters=1, n_arms=5, dim=4)
    policy = MCNB(env.info, seed=0, **SMALL)
    context = env.reset(seed=0)
    for _ in range(30):
        selection = policy.select_with_scores(context)
        assert bool(torch.isfinite(selection.scores).all())
        outcome = env.step(selection.actions)
        policy.update(Feedback(context, selection.actions, outcome.rewards))
        context = outcome.next_context
    assert policy.clusters(context).all() and policy.mu.tolist() == [30]


def test_warm_start_observes_one_sample_per_user_without_counting_a_round() -> None:
    env = ClusteredEnv(n_users=4, n_clusters=2, n_arms=3, dim=4)
    policy = MCNB(env.info, seed=0, **SMALL)
    generator = torch.Generator().manual_seed(0)
    arms = torch.nn.functional.normalize(torch.randn(4, 3, 4, generator=generator), dim=-1)
    context = Context(arms, user_ids=torch.arange(4))
    actions = torch.randint(3, (4,), generator=generator)
    policy.warm_start(Feedback(context, actions, torch.rand(4, generator=generator)))
    assert policy.mu.tolist() == [1, 1, 1, 1] and int(policy.rounds_seen) == 0
    assert (policy.adaptation_samples(3) >= 0).all()
    # μ = 1 gives the user-side bonus √((S+1)/2) + √(2 ln(1/δ)); it is the same for every arm
    belief = policy.belief(Context(arms[:1], user_ids=torch.tensor([0])))
    assert belief.width.shape == (1, 3)
    assert float(belief.width.min()) >= math.sqrt(1.0) + math.sqrt(2 * math.log(10)) - 1e-5


def test_S_shifts_every_arm_equally_and_never_changes_a_choice() -> None:
    """Alg. 1's user-side term √((S+1)/2μ) + √(2 ln(1/δ)/μ) depends on the served user, not the arm:
    S moves all K scores by the same amount, so Fig. 7's sweep over S cannot change M-CNB's choices
    (our mnist sweep gave identical curves for S from 0.1 to 5)."""
    env = ClusteredEnv(n_users=5, n_clusters=2, n_arms=4, dim=5)
    low, high = (build_policy("mcnb", env.info, seed=3, S=value, **SMALL) for value in (0.1, 5.0))
    context = env.reset(seed=0)
    for _ in range(25):
        scores = [policy.select_with_scores(context) for policy in (low, high)]
        gap = scores[1].scores - scores[0].scores
        torch.testing.assert_close(gap, gap[:, :1].expand_as(gap))  # the same shift for every arm
        assert float(gap[0, 0]) > 0 and torch.equal(scores[0].actions, scores[1].actions)
        outcome = env.step(scores[0].actions)
        for policy in (low, high):
            policy.update(Feedback(context, scores[0].actions, outcome.rewards))
        context = outcome.next_context


def test_state_round_trip_and_determinism(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = ClusteredEnv(n_users=6, n_clusters=2, n_arms=4, dim=5)
    policy = build_policy("mcnb", env.info, seed=7, **SMALL)
    twin = build_policy("mcnb", env.info, seed=7, **SMALL)
    assert play(policy, env, 25) == play(twin, env, 25)
    save_policy(policy, tmp_path / "mcnb.pt")
    restored = load_policy(tmp_path / "mcnb.pt")
    assert play(restored, env, 20, env_seed=1) == play(policy, env, 20, env_seed=1)
    for name, value in policy.get_state().items():
        if name != "__generator__" and not value.is_meta:  # the bank's functional skeleton holds no data
            assert torch.equal(value, restored.get_state()[name]), name


@pytest.mark.parametrize("mode", ["faithful", "reference"])
def test_n_jobs_changes_nothing_but_the_threads(mode: str) -> None:
    # 1100 users: five chunks of 256 in the clustering and the user training, shared by two jobs
    env = ClusteredEnv(n_users=1100, n_clusters=3, n_arms=4, dim=5)
    one = build_policy("mcnb", env.info, seed=2, mode=mode, **SMALL)
    two = build_policy("mcnb", env.info, seed=2, mode=mode, n_jobs=2, **SMALL)
    assert two.params()["n_jobs"] == 2 and two.users.n_jobs == 2
    assert play(one, env, 30) == play(two, env, 30)
    for name, value in one.get_state().items():
        if name != "__generator__" and not value.is_meta:
            assert torch.equal(value, two.get_state()[name]), name
    with pytest.raises(ValueError, match="n_jobs"):
        build_policy("mcnb", env.info, seed=2, n_jobs=0)


def test_a_state_saved_with_the_older_meta_queue_loads() -> None:
    # before session 9 the queue held exactly its rows and meta_steps only the number of steps
    env = ClusteredEnv(n_users=6, n_clusters=2, n_arms=4, dim=5)
    policy = build_policy("mcnb", env.info, seed=7, **SMALL)
    play(policy, env, 8)  # trained at round 5; three steps queued since
    state = policy.get_state()
    queued = int(state["meta_steps"][1])
    assert int(state["meta_steps"][0]) == 3 and queued > 0
    old = {**state, "meta_steps": state["meta_steps"][:1], "meta_queue": state["meta_queue"][:queued]}
    restored = build_policy("mcnb", env.info, seed=7, **SMALL)
    restored.set_state(old)
    assert restored.meta_steps.tolist() == [3, queued]
    assert play(restored, env, 12, env_seed=1) == play(policy, env, 12, env_seed=1)
