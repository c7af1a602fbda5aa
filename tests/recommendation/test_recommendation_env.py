"""The recommendation environment (``neuralbandits.envs.recommendation``)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.stats
import torch

from neuralbandits.datasets.ratings import PreparedRatings, prepare_ratings, save_prepared
from neuralbandits.envs.recommendation import RecommendationEnv, gaussian_pdf
from neuralbandits.experiments.runner import run_policy
from neuralbandits.policies import build_policy
from neuralbandits.rng import make_generator
from neuralbandits.validation import InvalidParameterError


HATES = {0: 1, 1: 2, 2: 3, 3: 1}


def taste_ratings(seed: int = 0) -> dict[str, np.ndarray]:
    """40 users in 4 taste blocks × 60 items in 4 blocks; each user rates 70 % of the items.

    Every block loves item block 0 and block b also loves item block b (5 stars); block b hates item
    block ``HATES[b]`` (1 star) and rates the rest 2-4 stars. Block 0 being loved by all gives a
    linear model without user information something to learn.
    """
    rng = np.random.default_rng(seed)
    users, items, stars = [], [], []
    for user in range(40):
        for item in range(60):
            if rng.random() < 0.3:
                continue
            block, item_block = user // 10, item // 15
            if item_block in (0, block):
                rating = 5.0
            elif item_block == HATES[block]:
                rating = 1.0
            else:
                rating = float(rng.choice([2.0, 3.0, 4.0]))
            users.append(user), items.append(item), stars.append(rating)
    return {"user": np.array(users), "item": np.array(items), "rating": np.array(stars)}


@pytest.fixture(scope="module")
def prepared() -> PreparedRatings:
    return prepare_ratings(taste_ratings(), n_groups=4, feature_dim=6)


@pytest.fixture(scope="module")
def prepared_reference() -> PreparedRatings:
    return prepare_ratings(taste_ratings(), n_groups=4, feature_dim=6, labels="reference")


def rated_by_group(prepared: PreparedRatings) -> dict[int, dict[int, list[int]]]:
    """group → item → the labels its users gave that item."""
    table: dict[int, dict[int, list[int]]] = {}
    for user, item, label in zip(prepared.entry_user, prepared.entry_item, prepared.entry_label):
        group = int(prepared.user_group[user])
        if group >= 0:
            table.setdefault(group, {}).setdefault(int(item), []).append(int(label))
    return table


# -- the rounds --------------------------------------------------------------------------------------


def test_paper_rounds_one_positive_and_nine_distinct_negatives_rated_by_the_group(
    prepared: PreparedRatings,
) -> None:
    env = RecommendationEnv(prepared)
    context = env.reset(seed=0, batch_size=400)
    expected, items, groups = env.expected_rewards(), env.arm_items(), context.user_ids
    assert expected.shape == (400, 10) and torch.equal(expected.sum(1), torch.ones(400))
    assert set(expected.unique().tolist()) == {0.0, 1.0}
    table = rated_by_group(prepared)
    for row in range(400):
        group = int(groups[row])
        arm_items = items[row].tolist()
        assert len(set(arm_items)) == 10  # distinct items
        for item, reward in zip(arm_items, expected[row].tolist()):
            labels = table[group][item]  # KeyError = an item no user of the group rated
            majority_positive = 2 * sum(label > 0 for label in labels) > len(labels)
            assert majority_positive == (reward == 1.0)
    # the rewarded slot is spread over all slots (shuffled slot order)
    assert set(expected.argmax(1).tolist()) == set(range(10))
    assert set(groups.tolist()) == set(range(4))


def test_reference_rounds_the_odd_one_is_a_negative_entry(prepared_reference: PreparedRatings) -> None:
    env = RecommendationEnv(prepared_reference, variant="reference")
    context = env.reset(seed=1, batch_size=300)
    expected, items, groups = env.expected_rewards(), env.arm_items(), context.user_ids
    assert torch.equal(expected.sum(1), torch.ones(300))
    table = rated_by_group(prepared_reference)
    for row in range(300):
        for item, reward in zip(items[row].tolist(), expected[row].tolist()):
            labels = table[int(groups[row])][item]
            wanted = -1 if reward == 1.0 else 1  # roles reversed: the −1 entry carries reward 1
            assert wanted in labels


def test_linucb_learns_the_shared_taste(prepared: PreparedRatings) -> None:
    env = RecommendationEnv(prepared)
    random = run_policy(env, build_policy("random", env.info, seed=0), 600, env_seed=0)
    linucb = run_policy(env, build_policy("linucb", env.info, seed=0), 600, env_seed=0)
    assert linucb.cumulative_regret[-1] < 0.5 * random.cumulative_regret[-1]


def test_user_ids_and_features_are_the_group_and_its_centroid(prepared: PreparedRatings) -> None:
    env = RecommendationEnv(prepared)
    assert (env.info.n_users, env.info.user_dim, env.info.dim, env.info.n_arms) == (4, 6, 6, 10)
    context = env.reset(seed=2, batch_size=50)
    centroids = torch.from_numpy(prepared.group_centroids)
    torch.testing.assert_close(context.user_features, centroids[context.user_ids])
    features = torch.from_numpy(prepared.item_features)
    torch.testing.assert_close(context.arm_features, features[env.arm_items()])
    norms = context.arm_features.norm(dim=2)
    torch.testing.assert_close(norms, torch.ones_like(norms), atol=1e-5, rtol=0)


def test_append_user_features_and_gaussian_pdf_transform(prepared: PreparedRatings) -> None:
    plain = RecommendationEnv(prepared)
    both = RecommendationEnv(prepared, append_user_features=True, transform="gaussian_pdf")
    assert both.info.dim == 12 and both.info.user_dim == 6
    base, context = plain.reset(seed=3, batch_size=20), both.reset(seed=3, batch_size=20)
    assert torch.equal(plain.arm_items(), both.arm_items())  # the same rounds, only encoded differently
    joined = torch.cat([base.arm_features, base.user_features[:, None, :].expand(-1, 10, -1)], dim=2)
    expected = torch.from_numpy(scipy.stats.norm.pdf(joined.double().numpy(), 0, 0.5)).float()
    torch.testing.assert_close(context.arm_features, expected, atol=1e-6, rtol=1e-6)
    values = torch.linspace(-3, 3, 13)
    torch.testing.assert_close(gaussian_pdf(values),
                               torch.from_numpy(scipy.stats.norm.pdf(values.numpy(), 0, 0.5)).float())


def test_reset_is_deterministic_and_seeds_differ(prepared: PreparedRatings) -> None:
    env = RecommendationEnv(prepared)
    actions = torch.zeros(8, dtype=torch.int64)

    def stream(seed: int) -> list[torch.Tensor]:
        context = env.reset(seed=seed, batch_size=8)
        out = [context.arm_features, context.user_ids, env.expected_rewards()]
        for _ in range(5):
            outcome = env.step(actions)
            out += [outcome.rewards, outcome.next_context.arm_features]
        return out

    first, again, other = stream(7), stream(7), stream(8)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_regret_is_zero_for_the_best_arm_and_one_otherwise(prepared: PreparedRatings) -> None:
    env = RecommendationEnv(prepared)
    env.reset(seed=4, batch_size=16)
    best = env.expected_rewards().argmax(1)
    outcome = env.step(best)
    assert torch.equal(outcome.regret, torch.zeros(16)) and torch.equal(outcome.rewards, torch.ones(16))
    worse = (env.expected_rewards().argmax(1) + 1) % 10
    outcome = env.step(worse)
    assert torch.equal(outcome.regret, torch.ones(16)) and torch.equal(outcome.rewards, torch.zeros(16))


def test_context_for_user_serves_the_asked_groups(prepared: PreparedRatings) -> None:
    env = RecommendationEnv(prepared, append_user_features=True)
    groups = torch.tensor([3, 0, 0, 2])
    context = env.context_for_user(groups, make_generator(0))
    again = env.context_for_user(groups, make_generator(0))
    assert torch.equal(context.user_ids, groups) and torch.equal(context.arm_features, again.arm_features)
    assert context.arm_features.shape == (4, 10, 12)
    torch.testing.assert_close(context.user_features, torch.from_numpy(prepared.group_centroids)[groups])
    with pytest.raises(ValueError, match=r"groups in \[0, 4\)"):
        env.context_for_user(torch.tensor([4]), make_generator(0))


def test_a_batch_equals_what_a_group_draw_implies(prepared: PreparedRatings) -> None:
    # vectorised draws: one call for a batch of 2000 rounds, every group and slot represented
    env = RecommendationEnv(prepared)
    context = env.reset(seed=5, batch_size=2000)
    counts = torch.bincount(context.user_ids, minlength=4).float()
    assert float(counts.min()) > 400  # uniform over 4 groups: 500 expected each


# -- edge lists ------------------------------------------------------------------------------------------


def test_edge_rounds_one_neighbour_and_nine_non_neighbours() -> None:
    cliques = [list(range(12 * c, 12 * c + 12)) for c in range(4)]
    edges = np.array([(a, b) for clique in cliques for i, a in enumerate(clique) for b in clique[i + 1:]]
                     + [(11, 12), (23, 24), (35, 36)])
    prepared = prepare_ratings({"edges": edges}, n_groups=4, feature_dim=4)
    env = RecommendationEnv(prepared)
    context = env.reset(seed=0, batch_size=200)
    node = prepared.item_ids
    members = {g: set(prepared.user_ids[prepared.user_group == g].tolist()) for g in range(4)}
    linked = {(int(a), int(b)) for a, b in edges} | {(int(b), int(a)) for a, b in edges}
    for row in range(200):
        group = int(context.user_ids[row])
        for item, reward in zip(env.arm_items()[row].tolist(), env.expected_rewards()[row].tolist()):
            is_neighbour = any((m, int(node[item])) in linked for m in members[group])
            assert is_neighbour == (reward == 1.0)
            if reward == 0.0:
                assert int(node[item]) not in members[group]


# -- construction -----------------------------------------------------------------------------------------


BAD_PARAMS = [
    ({"variant": "code"}, r"'variant' parameter of RecommendationEnv must be one of 'paper', 'reference'"),
    ({"n_arms": 1}, r"'n_arms' parameter .* int in \[2, inf\)"),
    ({"transform": "pdf"}, r"'transform' parameter .* one of 'none', 'gaussian_pdf'"),
    ({"append_user_features": "yes"}, r"'append_user_features' parameter"),
    ({"n_arms": 40}, r"n_arms=40 needs every group to have 1 positive and 39 negative items .* Prepare the "
                     r"data with n_arms=40"),
]


@pytest.mark.parametrize("kwargs,message", BAD_PARAMS)
def test_bad_parameters(prepared: PreparedRatings, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        RecommendationEnv(prepared, **kwargs)


def test_from_spec_prepared_file_raw_file_and_split_keywords(
    prepared: PreparedRatings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEURALBANDITS_CACHE", str(tmp_path / "cache"))
    path = save_prepared(prepared, tmp_path / "tastes.npz")
    env = RecommendationEnv.from_spec(str(path), transform="gaussian_pdf")
    assert env.info.n_users == 4 and env.transform == "gaussian_pdf"
    assert RecommendationEnv(path).info == RecommendationEnv(prepared).info
    raw = tmp_path / "ratings.npz"
    np.savez(raw, **taste_ratings())
    # labels / n_groups / feature_dim go to the preparation, variant to the environment
    env = RecommendationEnv.from_spec(raw, n_groups=3, feature_dim=5, labels="reference", variant="reference")
    assert (env.info.n_users, env.info.dim, env.variant) == (3, 5, "reference")
    assert env.prepared.manifest["parameters"]["labels"] == "reference"
    assert len(list((tmp_path / "cache" / "prepared").glob("ratings-*.npz"))) == 1
    with pytest.raises(InvalidParameterError, match="needs data"):
        RecommendationEnv.from_spec("")


def test_from_spec_on_the_shipped_datasets_beats_random(data_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEURALBANDITS_CACHE", str(tmp_path / "cache"))
    for name in ("movielens_latest_small", "facebook_ego"):
        if not (data_dir / f"{name}.npz").is_file():
            pytest.skip(f"{name}.npz is missing")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no group of the shipped data is dropped
            env = RecommendationEnv.from_spec(name, data_dir=data_dir)
        assert (env.info.n_users, env.info.dim, env.info.user_dim) == (50, 10, 10)
        random = run_policy(env, build_policy("random", env.info, seed=0), 1000, env_seed=0)
        linucb = run_policy(env, build_policy("linucb", env.info, seed=0), 1000, env_seed=0)
        assert linucb.cumulative_regret[-1] < 0.95 * random.cumulative_regret[-1], name
