"""Preparation of rating and edge data (``neuralbandits.datasets.ratings``) and ``data prepare``."""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from neuralbandits import __version__
from neuralbandits.cli.data import data_app
from neuralbandits.datasets import ratings as ratings_module
from neuralbandits.datasets.checksums import sha256_file
from neuralbandits.datasets.ratings import (
    group_pools,
    is_prepared,
    load_or_prepare,
    load_prepared,
    manifest_path,
    prepare_ratings,
    save_prepared,
)
from neuralbandits.validation import InvalidParameterError


def block_ratings(extra_fan_users: int = 0) -> dict[str, np.ndarray]:
    """12 users × 30 items, every user rates every item.

    Users 0-5 ("A") rate items 0-9 with 5, 10-19 with 1, 20-29 with 3; users 6-11 ("B") rate
    items 0-9 with 1.5, 10-19 with 4.5, 20-29 with 4. ``extra_fan_users`` more users (ids 100, 101, …)
    rate only items 0-4, all with 5. User ids are 1000 + index so ids differ from indices.
    """
    users, items, stars = [], [], []
    for user in range(12):
        for item in range(30):
            block = item // 10
            if user < 6:
                rating = (5.0, 1.0, 3.0)[block]
            else:
                rating = (1.5, 4.5, 4.0)[block]
            users.append(1000 + user), items.append(item), stars.append(rating)
    for fan in range(extra_fan_users):
        for item in range(5):
            users.append(100 + fan), items.append(item), stars.append(5.0)
    return {"user": np.array(users), "item": np.array(items), "rating": np.array(stars)}


def prepare_blocks(**kwargs: Any) -> Any:
    return prepare_ratings(block_ratings(), **{"n_groups": 2, **kwargs})


# -- the recipe on a hand-made matrix -------------------------------------------------------------


def test_top_users_then_top_items_with_ties_to_the_smaller_id() -> None:
    table = {
        "user": np.array([1, 1, 1, 2, 2, 3, 4, 5, 5, 5, 5]),
        "item": np.array([10, 11, 12, 10, 11, 10, 13, 10, 11, 12, 14]),
        "rating": np.array([5, 1, 2, 5, 1, 5, 5, 1, 5, 5, 5.0]),
    }
    # counts: user 5 → 4, user 1 → 3, user 2 → 2, users 3 and 4 → 1 (tie: 3 wins)
    prepared = prepare_ratings(table, n_users=4, n_items=2, n_groups=1, n_arms=2, feature_dim=2)
    assert prepared.user_ids.tolist() == [1, 2, 3, 5]
    # among the kept users' entries: item 10 → 4, item 11 → 3, item 12 → 2, item 14 → 1
    assert prepared.item_ids.tolist() == [10, 11]
    assert prepared.n_entries == 7
    assert prepared.manifest["counts"]["ratings_read"] == 11


def test_users_left_without_an_entry_are_dropped_and_caps_above_the_data_are_harmless() -> None:
    table = {"user": np.array([1, 1, 1, 2]), "item": np.array([10, 11, 12, 13]),
             "rating": np.array([5, 1, 2, 5.0])}
    prepared = prepare_ratings(table, n_users=50, n_items=3, n_groups=1, n_arms=2, feature_dim=2)
    assert prepared.user_ids.tolist() == [1]  # user 2 rated only item 13, which is cut
    assert prepared.item_ids.tolist() == [10, 11, 12]


def test_duplicate_pairs_keep_their_last_rating() -> None:
    table = {"user": np.array([1, 1, 1, 1]), "item": np.array([10, 11, 10, 12]),
             "rating": np.array([1, 1, 5, 2.0])}
    prepared = prepare_ratings(table, n_groups=1, n_arms=2, feature_dim=2)
    assert prepared.n_entries == 3
    assert prepared.entry_rating[prepared.entry_item == 0].tolist() == [5.0]


def test_paper_and_reference_labels() -> None:
    paper = prepare_blocks()
    item, label = paper.entry_item, paper.entry_label
    a_user = paper.entry_user < 6  # user ids 1000..1005 are the first six in sorted order
    assert set(label[a_user & (item < 10)]) == {1} and set(label[a_user & (item >= 10)]) == {0}
    assert set(label[~a_user & (item // 10 == 1)]) == {1}
    assert set(label[~a_user & (item // 10 != 1)]) == {0}
    assert paper.n_entries == 12 * 30

    reference = prepare_blocks(labels="reference")
    # 3 and 4 lie in [2, 4] and are dropped: A keeps items 0-19, B keeps 0-19 (1.5 and 4.5)
    assert reference.n_entries == 12 * 20
    assert reference.manifest["counts"]["entries_labelled"] == 12 * 20
    item, label, rating = reference.entry_item, reference.entry_label, reference.entry_rating
    assert set(label[rating > 4]) == {1} and set(label[rating < 2]) == {-1}
    assert reference.item_ids.tolist() == list(range(20))


@pytest.mark.parametrize("recipe", ["svd", "reference"])
def test_features_are_unit_norm_and_follow_the_rating_pattern(recipe: str) -> None:
    prepared = prepare_blocks(features=recipe, feature_dim=6)
    for features in (prepared.user_features, prepared.item_features):
        assert features.shape[1] == 6 and features.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-6)
    if recipe == "reference":
        np.testing.assert_allclose(prepared.item_features[:, -1], 1 / math.sqrt(2), atol=1e-7)
    users, items = prepared.user_features, prepared.item_features
    # equal rows of the ±1 matrix give equal features; different rows give different ones
    np.testing.assert_allclose(users[:6], np.repeat(users[:1], 6, axis=0), atol=1e-6)
    np.testing.assert_allclose(users[6:], np.repeat(users[6:7], 6, axis=0), atol=1e-6)
    assert np.abs(users[0] - users[6]).max() > 0.1
    for block in range(3):
        rows = items[10 * block: 10 * block + 10]
        np.testing.assert_allclose(rows, np.repeat(rows[:1], 10, axis=0), atol=1e-6)


def test_svd_features_are_the_leading_singular_vectors() -> None:
    rng = np.random.default_rng(3)
    table = {"user": rng.integers(0, 40, 600), "item": rng.integers(0, 60, 600),
             "rating": rng.choice([1.0, 3.0, 5.0], 600)}
    prepared = prepare_ratings(table, n_groups=3, n_arms=3, feature_dim=4)
    signed = np.zeros((prepared.n_users, prepared.n_items))
    signed[prepared.entry_user, prepared.entry_item] = np.where(prepared.entry_label > 0, 1.0, -1.0)
    left, _, right_t = np.linalg.svd(signed)
    for ours, theirs in ((prepared.user_features, left[:, :4]), (prepared.item_features, right_t[:4].T)):
        expected = theirs / np.linalg.norm(theirs, axis=1, keepdims=True)
        signs = np.sign((ours * expected).sum(axis=0))  # one sign per component
        np.testing.assert_allclose(ours, expected * signs, atol=1e-5)


def test_truncated_svd_matches_the_dense_one(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    table = {"user": rng.integers(0, 80, 3000), "item": rng.integers(0, 120, 3000),
             "rating": rng.choice([1.0, 2.0, 4.5, 5.0], 3000)}
    dense = prepare_ratings(table, n_groups=4)
    monkeypatch.setattr(ratings_module, "_DENSE_SVD_LIMIT", 0)
    sparse = prepare_ratings(table, n_groups=4)
    np.testing.assert_allclose(sparse.user_features, dense.user_features, atol=1e-4)
    np.testing.assert_allclose(sparse.item_features, dense.item_features, atol=1e-4)


def test_kmeans_groups_are_the_rating_blocks_with_their_centroids() -> None:
    prepared = prepare_blocks()
    groups = prepared.user_group
    assert len(set(groups[:6])) == 1 and len(set(groups[6:])) == 1 and groups[0] != groups[6]
    assert prepared.n_groups == 2
    for group in range(2):
        centroid = prepared.user_features[groups == group].mean(axis=0)
        np.testing.assert_allclose(prepared.group_centroids[group], centroid, atol=1e-6)


def test_group_pools_majority_and_entries() -> None:
    prepared = prepare_blocks()
    a = int(prepared.user_group[0])
    pools = group_pools(prepared)
    positives = pools.positive_items[pools.positive_ptr[a]: pools.positive_ptr[a + 1]]
    negatives = pools.negative_items[pools.negative_ptr[a]: pools.negative_ptr[a + 1]]
    assert positives.tolist() == list(range(10)) and negatives.tolist() == list(range(10, 30))
    entries = group_pools(prepared, mode="entries")
    assert entries.n_positive[a] == 6 * 10 and entries.n_negative[a] == 6 * 20  # one per rating user


def test_majority_decides_an_item_rated_both_ways_within_a_group() -> None:
    # users 1, 2, 3 always agree except on item 0: two positives, one negative → positive
    users, items, stars = [], [], []
    for user in (1, 2, 3):
        for item in range(12):
            users.append(user), items.append(item)
            stars.append(5.0 if item == 0 and user != 3 else (1.0 if item else 2.0))
    prepared = prepare_ratings({"user": users, "item": items, "rating": stars}, n_groups=1, feature_dim=3)
    pools = group_pools(prepared)
    assert pools.positive_items.tolist() == [0]
    assert pools.negative_items.tolist() == list(range(1, 12))


def test_groups_that_cannot_fill_a_round_are_dropped_and_counted() -> None:
    table = block_ratings(extra_fan_users=2)  # the fans rated 5 items, all positive: no negatives
    with pytest.warns(UserWarning, match=r"1 of 3 user groups \(2 users\).*dropped"):
        prepared = prepare_ratings(table, n_groups=3)
    assert prepared.n_groups == 2
    fans = np.isin(prepared.user_ids, [100, 101])
    assert (prepared.user_group[fans] == -1).all() and (prepared.user_group[~fans] >= 0).all()
    groups = prepared.manifest["groups"]
    assert (groups["requested"], groups["kept"], groups["dropped"], groups["dropped_users"]) == (3, 2, 1, 2)
    assert prepared.manifest["warnings"]


def test_no_group_able_to_fill_a_round_is_an_error() -> None:
    with pytest.raises(InvalidParameterError, match="No user group .* 1 positive and 29 negative"):
        prepare_blocks(n_arms=30)


# -- edge lists ------------------------------------------------------------------------------------

CLIQUES = [list(range(0, 6)), list(range(10, 16)), list(range(20, 26))]


def clique_edges() -> np.ndarray:
    """Three 6-cliques joined by the bridges 5–10 and 15–20; each edge listed once."""
    pairs = [(a, b) for clique in CLIQUES for i, a in enumerate(clique) for b in clique[i + 1:]]
    return np.array(pairs + [(5, 10), (15, 20)])


def test_an_edge_is_a_positive_rating_in_both_directions() -> None:
    edges = clique_edges()
    prepared = prepare_ratings({"edges": edges}, n_groups=3, n_arms=5, feature_dim=4)
    assert prepared.negatives == "non_neighbours" and prepared.manifest["source"]["kind"] == "edges"
    assert prepared.n_entries == 2 * len(edges)
    assert set(prepared.entry_label) == {1}
    pairs = set(zip(prepared.user_ids[prepared.entry_user].tolist(),
                    prepared.item_ids[prepared.entry_item].tolist()))
    assert pairs == {(int(a), int(b)) for a, b in edges} | {(int(b), int(a)) for a, b in edges}
    # the cliques are the groups
    group_of = dict(zip(prepared.user_ids.tolist(), prepared.user_group.tolist()))
    assert sorted(len({group_of[n] for n in clique}) for clique in CLIQUES) == [1, 1, 1]
    assert len({group_of[clique[0]] for clique in CLIQUES}) == 3


def test_edge_negatives_are_the_group_non_neighbours() -> None:
    prepared = prepare_ratings({"edges": clique_edges()}, n_groups=3, n_arms=5, feature_dim=4)
    pools = group_pools(prepared)
    node = prepared.item_ids
    for clique in CLIQUES:
        g = int(prepared.user_group[np.searchsorted(prepared.user_ids, clique[0])])
        positives = set(node[pools.positive_items[pools.positive_ptr[g]: pools.positive_ptr[g + 1]]].tolist())
        negatives = set(node[pools.negative_items[pools.negative_ptr[g]: pools.negative_ptr[g + 1]]].tolist())
        bridges = {5: 10, 10: 5, 15: 20, 20: 15}
        neighbours = set(clique) | {bridges[n] for n in clique if n in bridges}
        assert positives == neighbours  # every member has a friend inside its clique
        assert negatives == set(node.tolist()) - neighbours - set(clique)


def test_edge_text_file_equals_the_edges_array(tmp_path: Path) -> None:
    edges = clique_edges()
    text = tmp_path / "graph.txt"
    text.write_text("# a comment\n" + "\n".join(f"{a} {b}" for a, b in edges) + "\n")
    from_text = prepare_ratings(text, n_groups=3, n_arms=5, feature_dim=4)
    from_array = prepare_ratings({"edges": edges}, n_groups=3, n_arms=5, feature_dim=4)
    assert from_text.manifest["source"]["kind"] == "edges"
    np.testing.assert_array_equal(from_text.user_group, from_array.user_group)
    np.testing.assert_allclose(from_text.item_features, from_array.item_features)
    assert from_text.manifest["source"]["sha256"] == sha256_file(text)


# -- files and formats ------------------------------------------------------------------------------


def test_movielens_ratings_csv_is_read_with_its_column_names(tmp_path: Path) -> None:
    table = block_ratings()
    csv = tmp_path / "ratings.csv"
    pd.DataFrame({"userId": table["user"], "movieId": table["item"], "rating": table["rating"],
                  "timestamp": np.arange(len(table["user"]))}).to_csv(csv, index=False)
    prepared = prepare_ratings(csv, n_groups=2)
    assert prepared.manifest["source"]["kind"] == "movielens"
    assert prepared.manifest["source"]["columns"] == {"user": "userId", "item": "movieId", "rating": "rating"}
    reference = prepare_blocks()
    np.testing.assert_array_equal(prepared.user_ids, reference.user_ids)
    np.testing.assert_allclose(prepared.user_features, reference.user_features)
    np.testing.assert_array_equal(prepared.entry_label, reference.entry_label)


def test_generic_csv_and_parquet_with_named_columns_and_string_ids(tmp_path: Path) -> None:
    table = block_ratings()
    frame = pd.DataFrame({"who": [f"u{u}" for u in table["user"]], "what": [f"m{i}" for i in table["item"]],
                          "stars": table["rating"]})
    frame.to_csv(tmp_path / "r.csv", index=False)
    frame.to_parquet(tmp_path / "r.parquet")
    columns = {"user_col": "who", "item_col": "what", "rating_col": "stars", "n_groups": 2}
    from_csv = prepare_ratings(tmp_path / "r.csv", **columns)
    from_parquet = prepare_ratings(tmp_path / "r.parquet", **columns)
    assert from_csv.manifest["source"]["kind"] == "csv"
    assert from_parquet.manifest["source"]["kind"] == "parquet"
    assert from_csv.user_ids[0] == "u1000" and from_csv.n_entries == 360
    np.testing.assert_allclose(from_csv.item_features, from_parquet.item_features)


def test_save_and_load_round_trip_with_a_manifest(tmp_path: Path) -> None:
    csv = tmp_path / "ratings.csv"
    table = block_ratings()
    pd.DataFrame({"userId": table["user"], "movieId": table["item"], "rating": table["rating"]}).to_csv(
        csv, index=False)
    prepared = prepare_ratings(csv, n_groups=2, labels="reference", features="reference")
    out = save_prepared(prepared, tmp_path / "ml.npz")
    np.save(tmp_path / "plain.npy", np.zeros(3))
    assert is_prepared(out) and not is_prepared(csv) and not is_prepared(tmp_path / "plain.npy")
    loaded = load_prepared(out)
    for name in ("user_ids", "item_ids", "entry_user", "entry_item", "entry_label", "entry_rating",
                 "user_features", "item_features", "user_group", "group_centroids"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(prepared, name))
    assert loaded.negatives == "rated" and loaded.manifest == prepared.manifest
    sidecar = json.loads(manifest_path(out).read_text())
    assert manifest_path(out).name == "ml.manifest.json"
    assert sidecar["source"]["sha256"] == sha256_file(csv)
    assert sidecar["neuralbandits_version"] == __version__
    assert sidecar["parameters"] == {"n_users": 10000, "n_items": 10000, "labels": "reference",
                                     "feature_dim": 10, "features": "reference", "n_groups": 2,
                                     "n_arms": 10, "seed": 0}
    assert not list(tmp_path.glob("*.part"))  # atomic writes leave no temporary file
    with pytest.raises(InvalidParameterError, match="not a prepared ratings file"):
        load_prepared(_raw_npz(tmp_path))


def _raw_npz(folder: Path) -> Path:
    path = folder / "raw.npz"
    np.savez(path, **block_ratings())
    return path


def test_preparation_is_deterministic_and_the_seed_matters() -> None:
    rng = np.random.default_rng(5)
    table = {"user": rng.integers(0, 60, 2000), "item": rng.integers(0, 80, 2000),
             "rating": rng.choice([1.0, 3.0, 5.0], 2000)}
    first, again = prepare_ratings(table, n_groups=6), prepare_ratings(table, n_groups=6)
    np.testing.assert_array_equal(first.user_group, again.user_group)
    np.testing.assert_array_equal(first.item_features, again.item_features)
    other = prepare_ratings(table, n_groups=6, seed=1)
    assert not np.array_equal(first.group_centroids, other.group_centroids)


def test_load_or_prepare_caches_raw_files_by_parameters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEURALBANDITS_CACHE", str(tmp_path / "cache"))
    raw = _raw_npz(tmp_path)
    first = load_or_prepare(raw, n_groups=2)
    cached = list((tmp_path / "cache" / "prepared").glob("raw-*.npz"))
    assert len(cached) == 1 and is_prepared(cached[0])
    again = load_or_prepare(raw, n_groups=2)
    np.testing.assert_array_equal(first.item_features, again.item_features)
    load_or_prepare(raw, n_groups=2, seed=0)  # an explicit default: the same cache entry
    assert len(list((tmp_path / "cache" / "prepared").glob("raw-*.npz"))) == 1
    load_or_prepare(raw, n_groups=2, labels="reference")
    assert len(list((tmp_path / "cache" / "prepared").glob("raw-*.npz"))) == 2
    # a prepared file is loaded as is; preparation parameters cannot apply to it
    assert load_or_prepare(cached[0]).n_groups == 2
    with pytest.raises(InvalidParameterError, match="already prepared"):
        load_or_prepare(cached[0], n_groups=3)
    with pytest.raises(FileNotFoundError, match="Did you mean 'movielens_latest_small'"):
        load_or_prepare("movielens_latest_smal")
    with pytest.raises(InvalidParameterError, match="Unknown preparation parameter 'n_group'"):
        load_or_prepare(raw, n_group=2)


# -- bad input ----------------------------------------------------------------------------------------

GOOD = {"user": [1, 2, 3], "item": [1, 1, 2], "rating": [5.0, 1.0, 3.0]}

BAD_INPUTS = [
    ({"source": {"user": [1], "item": [1]}}, InvalidParameterError,
     r"has no column 'rating' \(columns found: 'user', 'item'\); name the rating column with rating_col"),
    ({"source": {"uid": [1], "iid": [1], "rating": [5.0]}}, InvalidParameterError,
     r"no column 'user', 'item' .*user column with user_col=.* and item column with item_col"),
    ({"source": GOOD, "rating_col": "stars"}, InvalidParameterError, r"no column 'stars'"),
    ({"source": {**GOOD, "rating": ["5", "five", "3"]}}, InvalidParameterError,
     r"'rating' of <in-memory table> must hold numeric ratings; row 1 holds 'five'"),
    ({"source": {**GOOD, "rating": [5.0, np.nan, 3.0]}}, InvalidParameterError,
     r"1 missing or infinite ratings \(first at row 1\)"),
    ({"source": {**GOOD, "user": ["a", None, "c"]}}, InvalidParameterError, r"1 missing ids"),
    ({"source": {"user": [], "item": [], "rating": []}}, InvalidParameterError, r"holds no ratings"),
    ({"source": {"user": [1, 2], "item": [1], "rating": [5.0, 5.0]}}, InvalidParameterError,
     r"differ in length"),
    ({"source": {**GOOD, "rating": [3.0, 2.0, 4.0]}, "labels": "reference"}, InvalidParameterError,
     r"labels='reference' .* leaves no data"),
    ({"source": GOOD, "n_groups": 5}, InvalidParameterError, r"n_groups=5 exceeds the 3 users kept"),
    ({"source": GOOD, "n_groups": 1}, InvalidParameterError,
     r"No user group .* has 1 positive and 9 negative rated items"),
    ({"source": GOOD, "labels": "stars"}, InvalidParameterError, r"'labels' parameter .* one of 'paper'"),
    ({"source": GOOD, "kind": "xml"}, InvalidParameterError, r"'kind' parameter"),
    ({"source": GOOD, "n_users": 0}, InvalidParameterError, r"'n_users' parameter .* int in \[1, inf\)"),
    ({"source": GOOD, "feature_dim": 1}, InvalidParameterError, r"'feature_dim' parameter"),
    ({"source": {"edges": np.zeros((3, 3), dtype=int)}}, InvalidParameterError,
     r"'edges' of <in-memory table> must have shape \(n_edges, 2\)"),
    ({"source": {"edges": np.zeros((0, 2), dtype=int)}}, InvalidParameterError, r"holds no edges"),
    ({"source": 42}, InvalidParameterError, r"needs a file path or a table"),
    ({"source": "/no/such/ratings.csv"}, FileNotFoundError, r"No such ratings file"),
]


@pytest.mark.parametrize("kwargs,error,message", BAD_INPUTS)
def test_bad_input_is_one_clear_error(kwargs: dict[str, Any], error: type, message: str) -> None:
    kwargs = dict(kwargs)
    source = kwargs.pop("source")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=message) as caught:
            prepare_ratings(source, **kwargs)
    assert "\n" not in str(caught.value)


def test_unknown_suffix_and_missing_columns_in_a_file(tmp_path: Path) -> None:
    odd = tmp_path / "ratings.xlsx"
    odd.write_text("x")
    with pytest.raises(InvalidParameterError, match=r"Cannot tell the format .* pass kind="):
        prepare_ratings(odd)
    csv = tmp_path / "ratings.csv"
    csv.write_text("userId,movieId,stars\n1,2,5\n")
    with pytest.raises(InvalidParameterError, match=r"ratings.csv has no column 'rating' \(columns found: "
                       r"'userId', 'movieId', 'stars'\)"):
        prepare_ratings(csv)


# -- the command line -----------------------------------------------------------------------------------


def cli_app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(data_app, name="data")

    @app.command()
    def other() -> None:  # a second command keeps "data" a sub-command, as in cli/main.py
        """Unused."""

    return app


def test_cli_prepares_a_movielens_file(tmp_path: Path) -> None:
    table = block_ratings()
    csv = tmp_path / "ratings.csv"
    pd.DataFrame({"userId": table["user"], "movieId": table["item"], "rating": table["rating"]}).to_csv(
        csv, index=False)
    out = tmp_path / "ml.npz"
    result = CliRunner().invoke(cli_app(), ["data", "prepare", "movielens", "--source", str(csv),
                                            "--out", str(out), "--n-groups", "2"])
    assert result.exit_code == 0, result.output
    assert "12 users, 30 items, 360 entries, 2 groups" in result.output
    prepared = load_prepared(out)
    assert prepared.manifest["source"]["kind"] == "movielens" and manifest_path(out).is_file()


@pytest.mark.parametrize("args,message", [
    (["movielens", "--source", "{csv}", "--rating-col", "stars"], "error: .*has no column 'stars'"),
    (["movilens", "--source", "{csv}"], "error: Unknown input 'movilens'.*Did you mean 'movielens'"),
    (["csv", "--source", "{missing}"], "error: No such ratings file"),
    (["movielens", "--source", "{csv}", "--n-groups", "0"], "error: The 'n_groups' parameter"),
    (["csv"], "error: --source FILE is needed"),
])
def test_cli_bad_input_is_one_error_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    csv = tmp_path / "ratings.csv"
    csv.write_text("userId,movieId,rating\n1,2,5\n")
    args = [a.format(csv=csv, missing=tmp_path / "nope.csv") for a in args]
    out = tmp_path / "out.npz"
    result = CliRunner().invoke(cli_app(), ["data", "prepare", *args, "--out", str(out)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and re.match(message, lines[0]), result.output
    assert not out.exists()


# -- the shipped datasets (NEURALBANDITS_DATA) -----------------------------------------------------------


def test_shipped_movielens_and_facebook_prepare(data_dir: Path) -> None:
    prepared_by_name = {}
    for name, users, items, entries in [("movielens_latest_small", 610, 9724, 100836),
                                        ("facebook_ego", 4039, 4039, 2 * 88234)]:
        path = data_dir / f"{name}.npz"
        if not path.is_file():
            pytest.skip(f"{path} is missing")
        prepared = prepared_by_name[name] = prepare_ratings(path)
        assert (prepared.n_users, prepared.n_items, prepared.n_entries) == (users, items, entries)
        assert prepared.n_groups == 50 and prepared.dim == 10
        np.testing.assert_allclose(np.linalg.norm(prepared.item_features, axis=1), 1.0, atol=1e-5)
        assert prepared.manifest["source"]["sha256"] == sha256_file(path)
    # MovieLens keeps the original MovieLens ids (the shipped file stores codes plus user_ids/item_ids)
    movielens = prepared_by_name["movielens_latest_small"]
    assert movielens.user_ids[0] == 1 and int((movielens.entry_label == 1).sum()) == 21762
