"""Clustered linear baselines of paper 000 (CLUB, SCLUB, LOCB, COFIBA) and their shared helpers."""

from __future__ import annotations

import math

import pytest
import torch

from neuralbandits.envs.registry import build_env
from neuralbandits.envs.synthetic import ClusteredEnv
from neuralbandits.models.cluster_stats import ClusterStats
from neuralbandits.models.ridge import RidgeBank
from neuralbandits.models.user_graph import (
    beta_factor,
    canonical_labels,
    club_far,
    confidence_factor,
    connected_components,
    cut_edges,
    random_graph,
)
from neuralbandits.policies import build_policy, load_policy, save_policy
from neuralbandits.policies.clustered import CLUB, COFIBA, LOCB, SCLUB
from neuralbandits.types import BlockArms, Context, Feedback, ProblemInfo

KEYS = ["club", "sclub", "locb", "cofiba"]


def play(policy, env, rounds: int, env_seed: int = 0) -> tuple[list[int], float]:  # type: ignore[no-untyped-def]
    context = env.reset(seed=env_seed)
    actions, regret = [], 0.0
    for _ in range(rounds):
        chosen = policy.select(context)
        outcome = env.step(chosen)
        policy.update(Feedback(context, chosen, outcome.rewards))
        actions.append(int(chosen[0]))
        regret += float(outcome.regret.sum())
        context = outcome.next_context
    return actions, regret


# -- F, β and the graph helpers ------------------------------------------------------------------
def test_confidence_and_beta_factors_match_hand_values() -> None:
    counts = torch.tensor([0.0, 1.0, 9.0, 100.0])
    expected = [1.0, math.sqrt((1 + math.log(2)) / 2), math.sqrt((1 + math.log(10)) / 10),
                math.sqrt((1 + math.log(101)) / 101)]
    torch.testing.assert_close(confidence_factor(counts), torch.tensor(expected))
    # β(N, t) = √(d ln(1 + N/d) + 4 ln t + ln 2) + 1, t clamped to ≥ 1 (the code's ln 0 at t = 0)
    assert float(beta_factor(torch.tensor(0.0), 0, 5)) == pytest.approx(math.sqrt(math.log(2)) + 1)
    assert float(beta_factor(torch.tensor(0.0), 1, 5)) == pytest.approx(math.sqrt(math.log(2)) + 1)
    value = math.sqrt(5 * math.log(1 + 10 / 5) + 4 * math.log(3) + math.log(2)) + 1
    assert float(beta_factor(torch.tensor(10.0), 3, 5)) == pytest.approx(value, rel=1e-6)


def test_components_are_labelled_by_their_smallest_member() -> None:
    adjacency = torch.eye(6, dtype=torch.bool)
    for i, j in [(0, 4), (4, 2), (1, 5)]:
        adjacency[i, j] = adjacency[j, i] = True
    assert connected_components(adjacency).tolist() == [0, 1, 0, 3, 0, 1]
    assert canonical_labels(torch.tensor([7, 3, 7, 9, 3])).tolist() == [0, 1, 0, 3, 1]


def test_club_edge_test_and_deletion() -> None:
    theta = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.1, 0.0], [5.0, 0.0]])
    counts = torch.tensor([10, 10, 10, 0])
    far = club_far(theta, counts, torch.tensor([0]), 1.0)
    # threshold 2 F(10) ≈ 1.12: user 1 is far, user 2 close, user 3 never seen (no test)
    assert far.tolist() == [[False, True, False, False]]
    adjacency = torch.ones(4, 4, dtype=torch.bool)
    assert cut_edges(adjacency, torch.tensor([0]), far)
    assert not adjacency[0, 1] and not adjacency[1, 0] and int(adjacency.sum()) == 14
    assert not cut_edges(adjacency, torch.tensor([0]), far)  # already gone


def test_random_graph_is_symmetric_seeded_and_has_the_right_density() -> None:
    a = random_graph(200, 0.1, torch.Generator().manual_seed(3))
    b = random_graph(200, 0.1, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(a, a.T) and bool(a.diagonal().all())
    density = (int(a.sum()) - 200) / (200 * 199)
    assert 0.08 < density < 0.12
    assert bool(random_graph(4, 1.5, torch.Generator()).all())


# -- CLUB against a slow, obviously-correct implementation -----------------------------------------
class SlowCLUB:
    """Per-user dictionaries, a set-of-edges graph and BFS, exactly as notes §1.4 item 1 reads."""

    def __init__(self, n: int, d: int, lam: float, alpha: float) -> None:
        self.n, self.d, self.lam, self.alpha = n, d, lam, alpha
        self.s = [lam * torch.eye(d, dtype=torch.float64) for _ in range(n)]
        self.b = [torch.zeros(d, dtype=torch.float64) for _ in range(n)]
        self.count = [0] * n
        self.edges = {(i, j) for i in range(n) for j in range(n) if i != j}
        self.t = 0

    def component(self, u: int) -> set[int]:
        seen, todo = {u}, [u]
        while todo:
            i = todo.pop()
            for j in range(self.n):
                if (i, j) in self.edges and j not in seen:
                    seen.add(j)
                    todo.append(j)
        return seen

    def scores(self, u: int, x: torch.Tensor) -> torch.Tensor:
        members = self.component(u)
        s = self.lam * torch.eye(self.d, dtype=torch.float64)
        b = torch.zeros(self.d, dtype=torch.float64)
        for k in members:
            s = s + self.s[k] - self.lam * torch.eye(self.d, dtype=torch.float64)
            b = b + self.b[k]
        n_c = sum(self.count[k] for k in members)
        inv = torch.linalg.inv(s)
        theta = inv @ b
        t = self.t + 1
        beta = math.sqrt(self.d * math.log(1 + n_c / self.d) + 4 * math.log(t) + math.log(2)) + 1
        x = x.double()
        return x @ theta + self.alpha * beta * ((x @ inv) * x).sum(1)

    def update(self, u: int, x: torch.Tensor, r: float) -> None:
        x = x.double()
        self.s[u] = self.s[u] + torch.outer(x, x)
        self.b[u] = self.b[u] + r * x
        self.count[u] += 1
        self.t += 1

        def f(m: int) -> float:
            return math.sqrt((1 + math.log(1 + m)) / (1 + m))

        theta = [torch.linalg.solve(self.s[k], self.b[k]) for k in range(self.n)]
        for j in range(self.n):
            if (u, j) in self.edges and self.count[u] and self.count[j]:
                if float((theta[u] - theta[j]).norm()) > f(self.count[u]) + f(self.count[j]):
                    self.edges.discard((u, j))
                    self.edges.discard((j, u))

    def partition(self) -> list[frozenset[int]]:
        return sorted({frozenset(self.component(u)) for u in range(self.n)}, key=min)


def test_club_matches_a_slow_loop_implementation() -> None:
    env = ClusteredEnv(n_users=6, n_clusters=2, n_arms=5, dim=4, gap=0.5, noise_std=0.05)
    policy = CLUB(env.info, alpha=0.3, seed=0)
    slow = SlowCLUB(6, 4, 1.0, 0.3)
    context = env.reset(seed=1)
    for _ in range(300):
        scores = policy.select_with_scores(context).scores
        u = int(context.user_ids[0])
        torch.testing.assert_close(scores[0].double(), slow.scores(u, context.arm_features[0]),
                                   atol=2e-4, rtol=2e-4)
        chosen = scores.argmax(1)
        outcome = env.step(chosen)
        policy.update(Feedback(context, chosen, outcome.rewards))
        slow.update(u, context.arm_features[0, int(chosen)], float(outcome.rewards[0]))
        context = outcome.next_context
    labels = policy.labels
    fast = sorted({frozenset((labels == c).nonzero().flatten().tolist()) for c in labels.tolist()}, key=min)
    assert fast == slow.partition()
    assert len(fast) > 1  # the run did cut edges


# -- cluster recovery on a linear clustered environment --------------------------------------------
def pair_precision_recall(policy, env: ClusteredEnv) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Precision and recall of "same cluster" user pairs (LOCB: of (seed, member) pairs)."""
    truth = env.true_clusters[:, None] == env.true_clusters[None, :]
    if isinstance(policy, LOCB):
        inferred, truth = policy.membership, truth[policy.seeds]
    else:
        off = ~torch.eye(env.n_users, dtype=torch.bool)
        inferred, truth = (policy.labels[:, None] == policy.labels[None, :]) & off, truth & off
    hits = int((inferred & truth).sum())
    return hits / max(1, int(inferred.sum())), hits / int(truth.sum())


@pytest.mark.parametrize("key,min_recall", [("club", 0.9), ("sclub", 0.6), ("locb", 0.9)])
def test_cluster_recovery_on_a_linear_clustered_environment(key: str, min_recall: float) -> None:
    """20 users in 3 clusters with orthogonal parameters (gap 1/√2 ≥ 0.5), σ = 0.05, 2000 rounds
    (≈ 100 per user).  A random partition into 3 balanced groups has pair precision ≈ 0.3, and the
    single all-users cluster the policies start from has precision 0.3 and recall 1, so precision
    ≥ 0.95 shows that clusters were separated and recall ≥ 0.9 that they were not shattered.  SCLUB's
    merge radius is half its split radius, so users it split off rejoin slowly: its recall bar is 0.6
    (all-singletons would give 0)."""
    env = ClusteredEnv(n_users=20, n_clusters=3, dim=5, gap=0.5, noise_std=0.05)
    policy = build_policy(key, env.info, seed=0)
    play(policy, env, 2000)
    precision, recall = pair_precision_recall(policy, env)
    assert precision >= 0.95, (precision, recall)
    assert recall >= min_recall, (precision, recall)


@pytest.mark.parametrize("key", KEYS)
def test_beats_random_on_synthetic_clustered(key: str) -> None:
    env = build_env("synthetic:clustered", n_users=20, n_clusters=3, dim=5)
    _, regret = play(build_policy(key, env.info, seed=0), env, 1500)
    _, random_regret = play(build_policy("random", env.info, seed=0), env, 1500)
    assert regret < 0.8 * random_regret, (regret, random_regret)


# -- block arms, determinism, state -----------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_block_statistics_give_the_dense_scores(key: str) -> None:
    """Per-arm ``d_x × d_x`` blocks must give exactly the scores of the dense ``K·d_x`` encoding."""
    n_arms, dx, n_users = 3, 2, 4
    params = {"edge_scale": 0.3} if key == "cofiba" else {}  # let COFIBA cut edges in 60 rounds
    block = build_policy(key, ProblemInfo(n_arms, n_arms * dx, n_users, block_dim=dx), seed=1, **params)
    dense = build_policy(key, ProblemInfo(n_arms, n_arms * dx, n_users), seed=1, **params)
    generator = torch.Generator().manual_seed(2)
    for _ in range(60):
        arms = BlockArms(torch.randn(2, dx, generator=generator), n_arms)
        users = torch.randint(n_users, (2,), generator=generator)
        block_context = Context(arm_features=arms, user_ids=users)
        dense_context = Context(arm_features=arms.dense(), user_ids=users)
        got = block.select_with_scores(block_context)
        want = dense.select_with_scores(dense_context)
        torch.testing.assert_close(got.scores, want.scores, atol=1e-4, rtol=1e-4)
        rewards = (arms.contexts[:, 0] > 0).float() * (users % 2).float()
        block.update(Feedback(block_context, got.actions, rewards))
        dense.update(Feedback(dense_context, got.actions, rewards))
    for name, value in block.named_buffers():
        if not name.startswith(("ridge.", "clusters.")):
            assert torch.equal(value, dict(dense.named_buffers())[name]), name


@pytest.mark.parametrize("key", KEYS)
def test_same_seed_same_run_and_state_round_trip(key: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = ClusteredEnv(n_users=8, n_clusters=2, dim=4, gap=0.5, noise_std=0.05)
    first = build_policy(key, env.info, seed=3, alpha=0.5)
    second = build_policy(key, env.info, seed=3, alpha=0.5)
    assert play(first, env, 300, env_seed=4) == play(second, env, 300, env_seed=4)
    save_policy(first, tmp_path / "p.pt")
    restored = load_policy(tmp_path / "p.pt")
    for name, value in first.named_buffers():
        assert torch.equal(value, dict(restored.named_buffers())[name]), name
    assert play(restored, env, 100, env_seed=5) == play(first, env, 100, env_seed=5)


# -- rule-specific checks ------------------------------------------------------------------------
def test_bonus_sqrt_takes_the_root_of_the_width() -> None:
    info = ProblemInfo(n_arms=3, dim=2, n_users=2)
    context = Context(arm_features=torch.tensor([[[0.5, 0.0], [0.0, 2.0], [1.0, 1.0]]]),
                      user_ids=torch.tensor([1]))
    plain = CLUB(info).belief(context).width
    rooted = CLUB(info, bonus_sqrt=True).belief(context).width
    beta = math.sqrt(math.log(2)) + 1  # N = 0, t = 1
    torch.testing.assert_close(plain, beta * torch.tensor([[0.25, 4.0, 2.0]]))
    torch.testing.assert_close(rooted, beta * torch.tensor([[0.5, 2.0, math.sqrt(2.0)]]))


def test_locb_scores_are_the_best_ucb_over_the_seed_clusters_of_the_user() -> None:
    env = ClusteredEnv(n_users=10, n_clusters=2, dim=4, gap=0.5, noise_std=0.05)
    policy = LOCB(env.info, n_seeds=5, seed=0)
    play(policy, env, 400)
    context = env.reset(seed=9)
    u = int(context.user_ids[0])
    x = context.arm_features[0]
    got = policy.select_with_scores(context).scores[0]
    candidates = []
    t = int(policy.rounds_seen) + 1
    clusters = [policy.membership[s] for s in range(5) if policy.membership[s, u]]
    if not clusters:
        clusters = [torch.arange(10) == u]
    for members in clusters:
        idx = members.nonzero().flatten()
        s = torch.eye(4) + (policy.ridge.gram[idx] - torch.eye(4)).sum(0)
        b = policy.ridge.moment[idx].sum(0)
        n_c = float(policy.ridge.counts[idx].sum())
        inv = torch.linalg.inv(s)
        beta = math.sqrt(4 * math.log(1 + n_c / 4) + 4 * math.log(t) + math.log(2)) + 1
        candidates.append(x @ (inv @ b) + beta * ((x @ inv) * x).sum(1))
    torch.testing.assert_close(got, torch.stack(candidates).max(0).values, atol=1e-4, rtol=1e-4)
    assert bool(policy.membership.any())


def test_sclub_splits_a_user_that_disagrees_and_merges_it_back_when_it_agrees() -> None:
    info = ProblemInfo(n_arms=2, dim=2, n_users=3)
    policy = SCLUB(info, freq_scale=100.0)  # frequency test off: only the parameter test
    x = torch.eye(2)[None]  # arms e1, e2

    def feed(user: int, arm: int, reward: float, times: int) -> None:
        for _ in range(times):
            context = Context(arm_features=x, user_ids=torch.tensor([user]))
            policy.update(Feedback(context, torch.tensor([arm]), torch.tensor([reward])))

    for _ in range(40):
        feed(0, 0, 1.0, 1)
        feed(1, 0, 1.0, 1)
        feed(2, 0, -1.0, 1)  # user 2 disagrees on e1
    assert policy.labels.tolist() == [0, 0, 2]
    for _ in range(400):
        feed(2, 0, 1.0, 1)  # now agrees: its estimate drifts back and it is merged
    assert policy.labels.tolist() == [0, 0, 0]


def test_cofiba_splits_item_clusters_and_reference_mode_differs() -> None:
    env = ClusteredEnv(n_users=10, n_clusters=2, n_arms=5, dim=4, gap=0.5, noise_std=0.05)
    faithful = COFIBA(env.info, edge_scale=0.2, seed=0)
    play(faithful, env, 300)
    assert len(set(faithful.item_labels.tolist())) > 1  # the item graph was cut
    for c in set(faithful.item_labels.tolist()):  # stored labels are the graphs' components
        assert torch.equal(faithful.user_labels[c], connected_components(faithful.user_adjacency[c]))
    reference = COFIBA(env.info, edge_scale=0.2, mode="reference", seed=0)
    assert play(reference, env, 300)[0] != play(COFIBA(env.info, edge_scale=0.2, seed=0), env, 300)[0]


def test_invalid_parameters_are_rejected() -> None:
    info = ProblemInfo(n_arms=3, dim=2, n_users=2)
    with pytest.raises(ValueError, match="'l2_reg' parameter of CLUB"):
        CLUB(info, l2_reg=0.0)
    with pytest.raises(ValueError, match="'mode' parameter of LOCB"):
        LOCB(info, mode="official")
    with pytest.raises(ValueError, match="'n_seeds' parameter of LOCB"):
        LOCB(info, n_seeds=0)


@pytest.mark.parametrize("mode", ["faithful", "reference"])
def test_cofiba_scores_equal_a_per_slot_loop(mode: str) -> None:
    """Slot ``l``: ridge over ``u_t``'s component (BFS) in the user graph of ``l``'s item cluster;
    ``λI + Σ(S_j − λI)`` (faithful) or the code's ``Σ S_j`` (reference); ``xᵀθ + α xᵀS⁻¹x``."""
    env = ClusteredEnv(n_users=10, n_clusters=2, n_arms=5, dim=4, gap=0.5, noise_std=0.05)
    policy = COFIBA(env.info, edge_scale=0.3, mode=mode, alpha=0.1, l2_reg=0.5, seed=0)
    play(policy, env, 300)
    assert len(set(policy.item_labels.tolist())) > 1
    context = env.reset(seed=11)
    u, x = int(context.user_ids[0]), context.arm_features[0]
    got = policy.select_with_scores(context).scores[0]
    eye = torch.eye(4)
    for slot in range(5):
        graph = policy.user_adjacency[int(policy.item_labels[slot])]
        seen, todo = {u}, [u]
        while todo:
            i = todo.pop()
            for j in graph[i].nonzero().flatten().tolist():
                if j not in seen:
                    seen.add(j)
                    todo.append(j)
        idx = torch.tensor(sorted(seen))
        if mode == "faithful":
            s = 0.5 * eye + (policy.ridge.gram[idx] - 0.5 * eye).sum(0)
        else:
            s = policy.ridge.gram[idx].sum(0)
        inv = torch.linalg.inv(s)
        want = x[slot] @ (inv @ policy.ridge.moment[idx].sum(0)) + 0.1 * x[slot] @ inv @ x[slot]
        assert float(got[slot]) == pytest.approx(float(want), abs=1e-4)


# -- incremental cluster statistics ----------------------------------------------------------------
@pytest.mark.parametrize("regularise,single_block,max_rank", [
    (True, False, 0), (True, False, 10_000), (True, False, 12), (False, False, None), (True, True, 10_000),
    (True, True, 6),
])
def test_cluster_stats_stay_equal_to_a_fresh_aggregation(regularise: bool, single_block: bool,
                                                          max_rank: int | None) -> None:
    """Sherman–Morrison steps plus membership changes (always rebuilt: ``max_rank = 0``; always Woodbury
    steps: 10 000; or a mix) must equal aggregating the per-user statistics afresh and inverting, after
    400 samples and 40 random membership changes."""
    n, groups, e, lam, n_slots = 6, 3, 4, 0.1, 5
    generator = torch.Generator().manual_seed(0)
    ridge = RidgeBank(n * groups, e, l2_reg=lam)
    blocks = torch.randint(groups, (n_slots,), generator=generator) if single_block else None
    stats = ClusterStats(n_slots, n, groups, e, l2_reg=lam, regularise=regularise, block_of_slot=blocks,
                         max_rank=max_rank)
    rebuilt = []
    rebuild = stats.rebuild
    stats.rebuild = lambda slots, bank: (rebuilt.append(slots.numel()), rebuild(slots, bank))  # type: ignore[method-assign]
    stats.sync(torch.rand(n_slots, n, generator=generator) < 0.5, ridge)
    del rebuilt[:]
    changes = 0
    for step in range(400):
        u, g = torch.randint(n, (1,), generator=generator), torch.randint(groups, (1,), generator=generator)
        x, r = torch.randn(1, e, generator=generator), torch.randn(1, generator=generator)
        ridge.update(u * groups + g, x, r)
        stats.observe(u, g, x, r)
        if step % 10 == 0:
            membership = torch.rand(n_slots, n, generator=generator) < 0.5
            changes += int((membership != stats.membership).any(1).sum())
            stats.sync(membership, ridge)
    if max_rank == 0 or not regularise:
        assert sum(rebuilt) == changes  # every change rebuilt
    elif max_rank == 10_000:
        assert 0 < sum(rebuilt) < changes  # Woodbury steps for most, refused downdates rebuilt
    user_gram = ridge.gram.view(n, groups, e, e).double()
    user_moment = ridge.moment.view(n, groups, e).double()
    eye = torch.eye(e, dtype=torch.float64)
    for s in range(n_slots):
        members = stats.membership[s].nonzero().flatten().tolist()
        kept = [int(blocks[s])] if single_block else list(range(groups))
        if not members:
            torch.testing.assert_close(stats.inverse[s], (eye / lam).expand_as(stats.inverse[s]))
            continue
        # the definition, member by member: λI + Σ(S_k − λI) (or the COFIBA code's Σ S_k)
        want = sum(user_gram[k, kept] - (lam * eye if regularise else 0) for k in members)
        want = want + (lam * eye if regularise else 0)
        torch.testing.assert_close(stats.inverse[s], torch.linalg.inv(want), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(stats.moment[s], sum(user_moment[k, kept] for k in members),
                                   rtol=1e-5, atol=1e-5)
        assert float(stats.counts[s]) == float(ridge.counts.view(n, groups)[members][:, kept].sum())
        torch.testing.assert_close(stats.theta[s], (torch.linalg.inv(want) @ stats.moment[s].unsqueeze(-1)).squeeze(-1),
                                   rtol=1e-5, atol=1e-5)
