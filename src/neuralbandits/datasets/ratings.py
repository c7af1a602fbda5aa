"""Rating and link data → a prepared recommendation problem: kept users and items, binary labels,
SVD features and K-means user groups, saved as one ``.npz`` with a JSON manifest.

The recipe (paper 000 §6; official code ``banyikun/MCNB:read_movie.ipynb``):

1. **Read** ``(user, item, rating)`` triples from our ``.npz`` (arrays ``user``, ``item``, ``rating``),
   a MovieLens ``ratings.csv`` (or ``ratings.dat`` / ``u.data``), a generic CSV or Parquet table with
   named columns, or an **edge list** (an ``.npz`` array ``edges`` or a two-column text file): every
   link ``a — b`` is a positive rating of ``b`` by ``a`` *and* of ``a`` by ``b``. A (user, item) pair
   rated twice keeps its last rating; self-loops of edge lists are dropped.
2. **Label** (``labels``): ``"paper"`` rating > 4 → 1, otherwise 0; ``"reference"`` (the code)
   rating > 4 → +1, rating < 2 → −1, ratings in [2, 4] dropped. Links are always positive.
3. **Reduce**: the ``n_users`` users with the most labelled entries, then, among their entries, the
   ``n_items`` items with the most entries, then users left without an entry are dropped (so the
   caps are "capped by what exists"). Ties go to the smaller original id.
4. **Features** (``features``), from the signed matrix ``M[u, i]`` = +1 (positive), −1 (negative),
   0 (not rated) — the code's "±1/0 matrix", whatever the label scheme: the leading left singular
   vectors of ``M`` for users and of ``Mᵀ`` for items (signs fixed so each vector's largest entry is
   positive). ``"svd"``: ``feature_dim`` components, each row L2-normalised. ``"reference"``:
   ``feature_dim − 1`` components, row-normalised, a constant 1 appended, divided by √2 (unit norm).
   A matrix of rank below the requested number of components gets zero columns for the missing
   ones (and for components of a zero singular value); rows whose components are all zero get the
   uniform unit vector.
5. **Groups**: ``KMeans(n_groups, random_state=seed, n_init=10)`` on the user features; the centroids
   are the group features.
6. **Pools** (:func:`group_pools`): an item is *rated by a group* when at least one user of the group
   rated it. In ``"group"`` mode (the paper's protocol) the group's label of the item is the majority
   of its users' labels (positive iff more than half are positive), so the positive and negative
   pools are disjoint sets. In ``"entries"`` mode (the code's variant) the pools are the raw entries
   of the group's users, one per rating user. For edge lists the negatives are the group's
   *non-neighbours*: items linked to no user of the group (and not themselves a user of the group).
7. **Small groups**: a group is kept only if it can fill a round of ``n_arms`` arms in the paper's
   protocol — at least 1 positive and ``n_arms − 1`` negative items. Other groups are **dropped**
   (their users get group −1), the rest renumbered; a warning is issued and the count is recorded
   in the manifest (``groups.dropped``). If no group remains, :class:`InvalidParameterError`.

References: paper 000 §6 (Ban et al., KDD 2024); ``banyikun/MCNB:read_movie.ipynb``; SNAP ego-Facebook.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from neuralbandits.datasets.cache import atomic_write, cache_dir, search_folders
from neuralbandits.datasets.checksums import sha256_file
from neuralbandits.validation import Interval, InvalidParameterError, OneOf, check_params

__all__ = [
    "GroupPools",
    "PreparedRatings",
    "RATING_DATASETS",
    "RATING_KINDS",
    "find_rating_dataset",
    "group_pools",
    "is_prepared",
    "load_or_prepare",
    "load_prepared",
    "manifest_path",
    "prepare_ratings",
    "save_prepared",
]

#: the file format written by :func:`save_prepared` (stored in the manifest)
FORMAT = "neuralbandits.prepared-ratings/1"
#: input formats of :func:`prepare_ratings`
RATING_KINDS = ("auto", "npz", "movielens", "csv", "parquet", "edges")
#: shipped datasets that :func:`load_or_prepare` finds by name: file and input kind
RATING_DATASETS = {
    "movielens_latest_small": ("movielens_latest_small.npz", "npz"),
    "facebook_ego": ("facebook_ego.npz", "edges"),
}
_DEFAULT_COLUMNS = {
    "npz": ("user", "item", "rating"),
    "movielens": ("userId", "movieId", "rating"),
    "csv": ("user", "item", "rating"),
    "parquet": ("user", "item", "rating"),
}
_EDGE_SUFFIXES = (".txt", ".edges", ".tsv", ".el")
_N_INIT = 10  # K-means restarts; explicit so a scikit-learn default change cannot move the groups


# -- records -------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PreparedRatings:
    """A prepared recommendation problem (see the module docstring for the recipe).

    Shapes: ``U`` kept users, ``I`` kept items, ``E`` labelled entries, ``d`` feature dim, ``G`` groups.

    * ``user_ids`` ``(U,)``, ``item_ids`` ``(I,)``: original ids (int64 or strings), sorted.
    * ``entry_user``, ``entry_item`` ``(E,)`` int64 indices into them; ``entry_label`` ``(E,)`` int8:
      1 positive, 0 (``labels="paper"``) or −1 (``labels="reference"``) negative;
      ``entry_rating`` ``(E,)`` float32 the original rating (1 for a link).
    * ``user_features`` ``(U, d)``, ``item_features`` ``(I, d)`` float32, unit rows.
    * ``user_group`` ``(U,)`` int64 in ``[0, G)``, or −1 for users of a dropped group;
      ``group_centroids`` ``(G, d)`` float32 the K-means centroids of the kept groups.
    * ``negatives``: ``"rated"`` (negative entries are ratings) or ``"non_neighbours"`` (edge lists:
      negatives are the items a group has no link to).
    * ``manifest``: parameters, source digest, counts, library version (JSON-ready dict).
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    entry_user: np.ndarray
    entry_item: np.ndarray
    entry_label: np.ndarray
    entry_rating: np.ndarray
    user_features: np.ndarray
    item_features: np.ndarray
    user_group: np.ndarray
    group_centroids: np.ndarray
    negatives: str = "rated"
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return int(self.user_ids.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.item_ids.shape[0])

    @property
    def n_entries(self) -> int:
        return int(self.entry_user.shape[0])

    @property
    def n_groups(self) -> int:
        return int(self.group_centroids.shape[0])

    @property
    def dim(self) -> int:
        return int(self.item_features.shape[1])

    def __repr__(self) -> str:
        return (
            f"PreparedRatings(n_users={self.n_users}, n_items={self.n_items}, "
            f"n_entries={self.n_entries}, n_groups={self.n_groups}, dim={self.dim}, "
            f"negatives={self.negatives!r})"
        )


@dataclass(frozen=True)
class GroupPools:
    """Per-group item pools in CSR layout: group ``g``'s positive items are
    ``positive_items[positive_ptr[g]:positive_ptr[g + 1]]`` (likewise for negatives); ``(G + 1,)``
    pointers, int64 item indices."""

    positive_ptr: np.ndarray
    positive_items: np.ndarray
    negative_ptr: np.ndarray
    negative_items: np.ndarray

    @property
    def n_positive(self) -> np.ndarray:
        """``(G,)`` pool sizes of the positive pools."""
        return np.diff(self.positive_ptr)

    @property
    def n_negative(self) -> np.ndarray:
        """``(G,)`` pool sizes of the negative pools."""
        return np.diff(self.negative_ptr)


@dataclass(frozen=True)
class _RawRatings:
    """What a reader returns: one row per rating, columns as read, plus where they came from."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray  # float64
    kind: str  # the resolved kind, never "auto"
    source: str  # a path, or "<in-memory table>"
    sha256: str
    columns: dict[str, str | None]


# -- preparation ----------------------------------------------------------------------------------


def prepare_ratings(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    kind: str = "auto",
    user_col: str | None = None,
    item_col: str | None = None,
    rating_col: str | None = None,
    n_users: int = 10000,
    n_items: int = 10000,
    labels: str = "paper",
    feature_dim: int = 10,
    features: str = "svd",
    n_groups: int = 50,
    n_arms: int = 10,
    seed: int = 0,
) -> PreparedRatings:
    """Prepare a rating or edge file for :class:`~neuralbandits.envs.recommendation.RecommendationEnv`.

    Args:
        source: a file path, or an in-memory table (a mapping of column name → 1-D array, or a
            pandas DataFrame).
        kind: ``"auto"`` (from the suffix: ``.npz``, ``.csv`` — MovieLens if it has ``userId`` and
            ``movieId`` — ``.dat``, ``.data``, ``.parquet``, ``.txt``/``.edges``/``.tsv`` edge lists),
            ``"npz"``, ``"movielens"``, ``"csv"``, ``"parquet"`` or ``"edges"``.
        user_col, item_col, rating_col: column (or ``.npz`` array) names; defaults per kind:
            ``user``/``item``/``rating``, MovieLens ``userId``/``movieId``/``rating``. For edge lists
            ``user_col`` and ``item_col`` name the two endpoint columns (default: the ``edges``
            array, or the first two columns of a text file); ``rating_col`` is not used.
        n_users, n_items: keep the top users, then items, by number of entries (paper: 10000 each).
        labels: ``"paper"`` (> 4 → 1, else 0) or ``"reference"`` (> 4 → +1, < 2 → −1, rest dropped).
        feature_dim: ``d``, the dimension of user and item features (paper: 10).
        features: ``"svd"`` (``d`` components, unit rows) or ``"reference"`` (``d − 1`` components,
            unit rows, constant 1 appended, ÷√2).
        n_groups: K-means groups of users (paper: 50).
        n_arms: ``K``; a group needs 1 positive and ``K − 1`` negative items, or it is dropped.
        seed: seeds the truncated SVD start vector and K-means.

    Raises:
        InvalidParameterError: a bad parameter, a missing column, non-numeric or missing ratings,
            no data, ``n_groups`` above the number of kept users, or no group able to fill a round.
        FileNotFoundError: ``source`` names no file.
    """
    params = {
        "kind": kind, "n_users": n_users, "n_items": n_items, "labels": labels,
        "feature_dim": feature_dim, "features": features, "n_groups": n_groups, "n_arms": n_arms,
        "seed": seed,
    }
    check_params("prepare_ratings", params, {
        "kind": OneOf(RATING_KINDS),
        "n_users": Interval(1, None, integer=True),
        "n_items": Interval(1, None, integer=True),
        "labels": OneOf(("paper", "reference")),
        "feature_dim": Interval(2, None, integer=True),
        "features": OneOf(("svd", "reference")),
        "n_groups": Interval(1, None, integer=True),
        "n_arms": Interval(2, None, integer=True),
        "seed": Interval(0, 2**32 - 1, integer=True),
    })
    raw = _read(source, kind, user_col, item_col, rating_col)
    edges = raw.kind == "edges"

    # 1-2. entries and labels ---------------------------------------------------------------
    users, items, ratings = raw.users, raw.items, raw.ratings
    if edges:
        loops = users == items
        users, items = users[~loops], items[~loops]
        users, items = np.concatenate([users, items]), np.concatenate([items, users])
        ratings = np.ones(len(users))
    user_ids, user_index = np.unique(users, return_inverse=True)
    item_ids, item_index = np.unique(items, return_inverse=True)
    user_index, item_index, ratings = _last_rating(user_index.ravel(), item_index.ravel(), ratings,
                                                   len(item_ids))
    if edges:
        label = np.ones(len(ratings), dtype=np.int8)
    elif labels == "paper":
        label = np.where(ratings > 4, 1, 0).astype(np.int8)
    else:
        label = np.select([ratings > 4, ratings < 2], [1, -1], 0).astype(np.int8)
    kept = np.ones(len(label), dtype=bool) if edges or labels == "paper" else label != 0
    if not kept.any():
        raise InvalidParameterError(
            f"No rating of {raw.source} is above 4 or below 2, so labels='reference' (which drops "
            "ratings in [2, 4]) leaves no data; use labels='paper'."
        )
    n_read = len(raw.ratings)
    n_labelled = int(kept.sum())
    user_index, item_index, ratings, label = (a[kept] for a in (user_index, item_index, ratings, label))

    # 3. top users, then top items among their entries, then users left with an entry --------
    keep_users = _top(user_index, len(user_ids), n_users)
    rows = keep_users[user_index]
    keep_items = _top(item_index[rows], len(item_ids), n_items)
    rows &= keep_items[item_index]
    has_entry = np.zeros(len(user_ids), dtype=bool)
    has_entry[user_index[rows]] = True
    user_map = np.cumsum(has_entry) - 1
    item_map = np.cumsum(keep_items) - 1
    entry_user = user_map[user_index[rows]].astype(np.int64)
    entry_item = item_map[item_index[rows]].astype(np.int64)
    entry_label, entry_rating = label[rows], ratings[rows].astype(np.float32)
    user_ids, item_ids = user_ids[has_entry], item_ids[keep_items]
    order = np.lexsort((entry_item, entry_user))
    entry_user, entry_item = entry_user[order], entry_item[order]
    entry_label, entry_rating = entry_label[order], entry_rating[order]
    n_kept_users, n_kept_items = len(user_ids), len(item_ids)
    if n_groups > n_kept_users:
        raise InvalidParameterError(
            f"n_groups={n_groups} exceeds the {n_kept_users} users kept from {raw.source}; "
            f"choose n_groups <= {n_kept_users}."
        )

    # 4. features ---------------------------------------------------------------------------
    user_features, item_features = _svd_features(
        entry_user, entry_item, np.where(entry_label > 0, 1.0, -1.0), (n_kept_users, n_kept_items),
        feature_dim=feature_dim, recipe=features, seed=seed,
    )

    # 5. groups -------------------------------------------------------------------------------
    from sklearn.cluster import KMeans  # imported here: scikit-learn is slow to import

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "fewer distinct points than clusters": handled below
        kmeans = KMeans(n_groups, random_state=seed, n_init=_N_INIT).fit(user_features)
    user_group = kmeans.labels_.astype(np.int64)
    centroids = kmeans.cluster_centers_.astype(np.float32)

    # 6-7. drop groups that cannot fill a round ------------------------------------------------
    negatives = "non_neighbours" if edges else "rated"
    pools = _pools(entry_user, entry_item, entry_label, user_group, n_groups, n_kept_items,
                   mode="group", negatives=negatives, user_ids=user_ids, item_ids=item_ids)
    fits = (pools.n_positive >= 1) & (pools.n_negative >= n_arms - 1)
    if not fits.any():
        raise InvalidParameterError(
            f"No user group of {raw.source} has 1 positive and {n_arms - 1} negative rated items "
            f"(largest pools: {int(pools.n_positive.max())} positive, "
            f"{int(pools.n_negative.max())} negative); use fewer n_groups or n_arms."
        )
    dropped = int((~fits).sum())
    dropped_users = int((~fits[user_group]).sum())
    group_map = np.where(fits, np.cumsum(fits) - 1, -1)
    user_group = group_map[user_group]
    centroids = centroids[fits]
    notes = []
    if dropped:
        notes.append(
            f"{dropped} of {n_groups} user groups ({dropped_users} users) had fewer than 1 positive "
            f"or {n_arms - 1} negative rated items and were dropped"
        )
        warnings.warn(notes[-1] + ".", stacklevel=2)

    from neuralbandits import __version__

    manifest = {
        "format": FORMAT,
        "neuralbandits_version": __version__,
        "source": {"path": raw.source, "sha256": raw.sha256, "kind": raw.kind, "columns": raw.columns},
        "parameters": {k: v for k, v in params.items() if k != "kind"},
        "counts": {
            "ratings_read": n_read,
            "entries_labelled": n_labelled,
            "entries": int(len(entry_user)),
            "users": n_kept_users,
            "items": n_kept_items,
            "positive": int((entry_label > 0).sum()),
            "negative": int((entry_label <= 0).sum()),
        },
        "groups": {
            "requested": n_groups,
            "kept": int(fits.sum()),
            "dropped": dropped,
            "dropped_users": dropped_users,
            "rule": f"kept if >= 1 positive and >= {n_arms - 1} negative items rated by the group "
            "(group label of an item = majority of its users' labels)",
        },
        "negatives": negatives,
        "warnings": notes,
    }
    return PreparedRatings(
        user_ids=user_ids, item_ids=item_ids, entry_user=entry_user, entry_item=entry_item,
        entry_label=entry_label, entry_rating=entry_rating, user_features=user_features,
        item_features=item_features, user_group=user_group, group_centroids=centroids,
        negatives=negatives, manifest=manifest,
    )


def _last_rating(
    user_index: np.ndarray, item_index: np.ndarray, ratings: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the last rating of each (user, item) pair."""
    key = user_index.astype(np.int64) * n_items + item_index
    _, last = np.unique(key[::-1], return_index=True)
    rows = np.sort(len(key) - 1 - last)
    return user_index[rows], item_index[rows], ratings[rows]


def _top(index: np.ndarray, n: int, cap: int) -> np.ndarray:
    """``(n,)`` bool mask of the ``cap`` most frequent values of ``index`` (ties: smaller index)."""
    counts = np.bincount(index, minlength=n)
    ranked = np.argsort(-counts, kind="stable")[:cap]
    mask = np.zeros(n, dtype=bool)
    mask[ranked[counts[ranked] > 0]] = True
    return mask


# -- features ---------------------------------------------------------------------------------------

_DENSE_SVD_LIMIT = 4_000_000  # matrix entries below which a full dense SVD is cheap and exact


def _svd_features(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int], *,
    feature_dim: int, recipe: str, seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm user and item features from the leading singular vectors of the sparse matrix."""
    import scipy.sparse as sp

    n_components = feature_dim if recipe == "svd" else feature_dim - 1
    matrix = sp.csr_matrix((values, (rows, cols)), shape=shape, dtype=np.float64)
    rank_cap = min(shape)
    k = min(n_components, rank_cap)
    if shape[0] * shape[1] <= _DENSE_SVD_LIMIT or k >= rank_cap - 1:
        left, singular, right_t = np.linalg.svd(matrix.toarray(), full_matrices=False)
        left, right = left[:, :k], right_t[:k].T
    else:
        from scipy.sparse.linalg import svds

        start = np.random.default_rng(seed).standard_normal(rank_cap)
        left, singular, right_t = svds(matrix, k=k, v0=start)
        order = np.argsort(-singular, kind="stable")
        left, right = left[:, order], right_t[order].T
        singular = singular[order]
    # directions of a zero singular value are arbitrary (any basis of a null space): zero them
    tolerance = max(shape) * np.finfo(np.float64).eps * (float(singular.max()) if k else 0.0)
    null = singular[:k] <= tolerance
    left[:, null], right[:, null] = 0.0, 0.0
    # the sign of a singular pair is arbitrary: make each left vector's largest entry positive
    pivot = np.abs(left).argmax(axis=0)
    signs = np.sign(left[pivot, np.arange(k)])
    signs[signs == 0] = 1.0
    left, right = left * signs, right * signs
    return (_finish(left, n_components, recipe), _finish(right, n_components, recipe))


def _finish(components: np.ndarray, n_components: int, recipe: str) -> np.ndarray:
    """Pad to ``n_components`` columns, L2-normalise rows, apply the ``reference`` recipe."""
    padded = np.zeros((components.shape[0], n_components))
    padded[:, : components.shape[1]] = components
    norms = np.linalg.norm(padded, axis=1, keepdims=True)
    uniform = np.full_like(padded, 1.0 / math.sqrt(n_components))
    unit = np.where(norms > 1e-12, padded / np.maximum(norms, 1e-300), uniform)
    if recipe == "reference":
        unit = np.hstack([unit, np.ones((unit.shape[0], 1))]) / math.sqrt(2.0)
    return np.ascontiguousarray(unit, dtype=np.float32)


# -- pools --------------------------------------------------------------------------------------------


def group_pools(prepared: PreparedRatings, *, mode: str = "group") -> GroupPools:
    """Positive and negative item pools of every kept group, in CSR layout.

    ``mode="group"`` (the paper's protocol): distinct items rated by the group's users, labelled by
    the majority of those users' labels (positive iff more than half are positive).
    ``mode="entries"`` (the code's variant): one pool element per entry of a group user, so an item
    appears as often as the group's users rated it with that label (and may be in both pools).
    For edge lists (``negatives="non_neighbours"``) the negative pool in both modes holds each item
    that no user of the group links to and that is not itself a user of the group.
    """
    check_params("group_pools", {"mode": mode}, {"mode": OneOf(("group", "entries"))})
    return _pools(prepared.entry_user, prepared.entry_item, prepared.entry_label, prepared.user_group,
                  prepared.n_groups, prepared.n_items, mode=mode, negatives=prepared.negatives,
                  user_ids=prepared.user_ids, item_ids=prepared.item_ids)


def _pools(
    entry_user: np.ndarray, entry_item: np.ndarray, entry_label: np.ndarray, user_group: np.ndarray,
    n_groups: int, n_items: int, *, mode: str, negatives: str, user_ids: np.ndarray,
    item_ids: np.ndarray,
) -> GroupPools:
    group = user_group[entry_user]
    in_group = group >= 0
    group, item, positive = group[in_group], entry_item[in_group], entry_label[in_group] > 0
    if mode == "group":
        key, inverse = np.unique(group * n_items + item, return_inverse=True)
        votes = np.bincount(inverse.ravel(), weights=positive, minlength=len(key))
        raters = np.bincount(inverse.ravel(), minlength=len(key))
        group, item, positive = key // n_items, key % n_items, 2 * votes > raters
    else:
        order = np.argsort(group * n_items + item, kind="stable")
        group, item, positive = group[order], item[order], positive[order]
    positive_ptr = _pointers(group[positive], n_groups)
    positive_items = item[positive].astype(np.int64)
    if negatives == "rated":
        negative_ptr = _pointers(group[~positive], n_groups)
        negative_items = item[~positive].astype(np.int64)
    else:
        linked = np.zeros((n_groups, n_items), dtype=bool)
        linked[group, item] = True
        # a user of the group is no candidate item for it (a node is not its own non-neighbour)
        member_item = np.searchsorted(item_ids, user_ids)
        is_item = (member_item < n_items) & (item_ids[np.minimum(member_item, n_items - 1)] == user_ids)
        members = (user_group >= 0) & is_item
        linked[user_group[members], member_item[members]] = True
        negative_group, negative_items = np.nonzero(~linked)
        negative_ptr = _pointers(negative_group, n_groups)
        negative_items = negative_items.astype(np.int64)
    return GroupPools(positive_ptr, positive_items, negative_ptr, negative_items)


def _pointers(sorted_groups: np.ndarray, n_groups: int) -> np.ndarray:
    """CSR pointers ``(G + 1,)`` of a group-sorted array."""
    return np.concatenate([[0], np.cumsum(np.bincount(sorted_groups, minlength=n_groups))]).astype(np.int64)


# -- reading ----------------------------------------------------------------------------------------


def _read(
    source: Any, kind: str, user_col: str | None, item_col: str | None, rating_col: str | None
) -> _RawRatings:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"No such ratings file: {path}.")
        kind = _guess_kind(path) if kind == "auto" else kind
        table, name = _read_file(path, kind), str(path)
        digest = sha256_file(path)
    elif hasattr(source, "keys") and hasattr(source, "__getitem__"):
        if kind == "auto":
            kind = "edges" if "edges" in list(source.keys()) else "csv"
        table, name = source, "<in-memory table>"
        digest = _table_digest(table)
    else:
        raise InvalidParameterError(
            "prepare_ratings needs a file path or a table (mapping of column -> array, or a "
            f"DataFrame); got {type(source).__name__}."
        )
    if kind == "edges":
        first, second = _edge_columns(table, name, user_col, item_col)
        if len(first) == 0:
            raise InvalidParameterError(f"{name} holds no edges.")
        return _RawRatings(first, second, np.ones(len(first)), kind, name, digest,
                           {"user": user_col, "item": item_col, "rating": None})
    default = _DEFAULT_COLUMNS[kind]
    columns = {"user": user_col or default[0], "item": item_col or default[1],
               "rating": rating_col or default[2]}
    available = [str(c) for c in table.keys()]
    missing = [c for c in columns.values() if c not in available]
    if missing:
        roles = [role for role, c in columns.items() if c in missing]
        raise InvalidParameterError(
            f"{name} has no column {', '.join(repr(c) for c in missing)} "
            f"(columns found: {', '.join(repr(c) for c in available) or 'none'}); name the "
            + " and ".join(f"{role} column with {role}_col=… (--{role}-col)" for role in roles) + "."
        )
    users = _id_column(table, columns["user"], name)
    items = _id_column(table, columns["item"], name)
    ratings = _numeric_column(table, columns["rating"], name)
    if not (len(users) == len(items) == len(ratings)):
        raise InvalidParameterError(
            f"Columns of {name} differ in length: {columns['user']!r} {len(users)}, "
            f"{columns['item']!r} {len(items)}, {columns['rating']!r} {len(ratings)}."
        )
    if len(ratings) == 0:
        raise InvalidParameterError(f"{name} holds no ratings.")
    if kind == "npz" and user_col is None and item_col is None:
        users, items = _original_ids(table, users, items)
    return _RawRatings(users, items, ratings, kind, name, digest, columns)


def _guess_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return "edges" if "edges" in archive.files and "rating" not in archive.files else "npz"
    if suffix == ".csv":
        import pandas as pd

        header = list(pd.read_csv(path, nrows=0).columns)
        return "movielens" if {"userId", "movieId"} <= set(header) else "csv"
    if suffix in (".dat", ".data"):
        return "movielens"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in _EDGE_SUFFIXES:
        return "edges"
    raise InvalidParameterError(
        f"Cannot tell the format of {path} from its suffix {suffix or '(none)'!r}; pass kind= "
        f"one of {', '.join(repr(k) for k in RATING_KINDS[1:])}."
    )


def _read_file(path: Path, kind: str) -> Any:
    """A column table (``.npz`` archive contents, or a DataFrame) of the file at ``path``."""
    import pandas as pd

    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        if kind == "parquet":
            return pd.read_parquet(path)
        if kind == "edges" and path.suffix.lower() != ".csv":
            return pd.read_csv(path, sep=r"[\s,]+", comment="#", header=None, engine="python")
        if kind == "movielens" and path.suffix.lower() == ".dat":  # ml-1m / ml-10m: user::item::rating::time
            return pd.read_csv(path, sep="::", header=None, engine="python",
                               names=["userId", "movieId", "rating", "timestamp"])
        if kind == "movielens" and path.suffix.lower() == ".data":  # ml-100k u.data: tab-separated
            return pd.read_csv(path, sep="\t", header=None,
                               names=["userId", "movieId", "rating", "timestamp"])
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InvalidParameterError(f"Cannot read {path} as {kind}: {message}") from None


def _edge_columns(
    table: Any, name: str, first: str | None, second: str | None
) -> tuple[np.ndarray, np.ndarray]:
    keys = [str(k) for k in table.keys()]
    if first is None and second is None:
        if "edges" in keys:
            edges = np.asarray(table["edges"])
            if edges.ndim != 2 or edges.shape[1] != 2:
                raise InvalidParameterError(
                    f"Array 'edges' of {name} must have shape (n_edges, 2); got {edges.shape}."
                )
            return _id_array(edges[:, 0], "edges", name), _id_array(edges[:, 1], "edges", name)
        if len(keys) < 2:
            raise InvalidParameterError(
                f"{name} needs an 'edges' array or two endpoint columns; found "
                f"{', '.join(repr(k) for k in keys) or 'none'}."
            )
        first, second = list(table.keys())[:2]
    missing = [c for c in (first, second) if c is None or str(c) not in keys]
    if missing:
        raise InvalidParameterError(
            f"{name} has no column {', '.join(repr(c) for c in missing)} (columns found: "
            f"{', '.join(repr(k) for k in keys) or 'none'}); name both endpoint columns with "
            "user_col=… and item_col=… (--user-col, --item-col)."
        )
    return _id_column(table, first, name), _id_column(table, second, name)


def _id_column(table: Any, column: Any, name: str) -> np.ndarray:
    return _id_array(np.asarray(table[column]), column, name)


def _id_array(values: np.ndarray, column: Any, name: str) -> np.ndarray:
    if values.ndim != 1:
        values = values.reshape(-1) if values.ndim == 2 and 1 in values.shape else values
    if values.ndim != 1:
        raise InvalidParameterError(f"Column {column!r} of {name} must be 1-D; got shape {values.shape}.")
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            row = int(np.argmax(bad))
            raise InvalidParameterError(
                f"Column {column!r} of {name} must hold ids; row {row} holds {_plain(values[row])!r}."
            )
        return values.astype(np.int64)
    if values.dtype.kind in "biu":
        return values.astype(np.int64)
    if values.dtype.kind == "O":
        import pandas as pd

        missing = pd.isna(values)
        if missing.any():
            raise InvalidParameterError(
                f"Column {column!r} of {name} has {int(missing.sum())} missing ids "
                f"(first at row {int(np.argmax(missing))})."
            )
        return values.astype(str)
    return values


def _numeric_column(table: Any, column: str, name: str) -> np.ndarray:
    import pandas as pd

    values = np.asarray(table[column])
    if values.ndim != 1:
        raise InvalidParameterError(f"Column {column!r} of {name} must be 1-D; got shape {values.shape}.")
    if values.dtype.kind in "biuf":
        numbers = values.astype(np.float64)
    else:
        numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(numbers) & ~pd.isna(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise InvalidParameterError(
                f"Column {column!r} of {name} must hold numeric ratings; row {row} holds "
                f"{_plain(values[row])!r} ({int(bad.sum())} non-numeric in all)."
            )
    missing = ~np.isfinite(numbers)
    if missing.any():
        raise InvalidParameterError(
            f"Column {column!r} of {name} has {int(missing.sum())} missing or infinite ratings "
            f"(first at row {int(np.argmax(missing))})."
        )
    return numbers


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (so messages read ``'five'``, not ``np.str_``)."""
    return value.item() if isinstance(value, np.generic) else value


def _original_ids(table: Any, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Our shipped ``.npz`` stores zero-based codes plus ``user_ids``/``item_ids``: map them back."""
    keys = set(table.keys())
    if {"user_ids", "item_ids"} <= keys:
        user_ids, item_ids = np.asarray(table["user_ids"]), np.asarray(table["item_ids"])
        if (len(users) == 0 or (users.min() >= 0 and users.max() < len(user_ids))) and (
            len(items) == 0 or (items.min() >= 0 and items.max() < len(item_ids))
        ):
            return user_ids[users], item_ids[items]
    return users, items


def _table_digest(table: Any) -> str:
    """sha256 over the column names and values of an in-memory table (its stand-in for a file digest)."""
    digest = hashlib.sha256()
    for key in sorted(str(k) for k in table.keys()):
        values = np.asarray(table[key])
        digest.update(key.encode())
        if values.dtype.kind == "O":
            values = values.astype(str)
        digest.update(str(values.dtype).encode() + str(values.shape).encode())
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


# -- saving and loading -------------------------------------------------------------------------------

_ARRAYS = ("user_ids", "item_ids", "entry_user", "entry_item", "entry_label", "entry_rating",
           "user_features", "item_features", "user_group", "group_centroids")


def manifest_path(path: str | Path) -> Path:
    """The JSON manifest written next to a prepared file: ``ml.npz`` → ``ml.manifest.json``."""
    path = Path(path)
    return path.with_name(f"{path.stem if path.suffix == '.npz' else path.name}.manifest.json")


def save_prepared(prepared: PreparedRatings, path: str | Path) -> Path:
    """Write ``prepared`` to ``path`` (an ``.npz``, manifest embedded) and its JSON manifest next to it.

    Both writes are atomic. Returns ``path``.
    """
    path = Path(path).expanduser()
    manifest = json.dumps(prepared.manifest, indent=2, sort_keys=False)
    arrays = {name: _storable(getattr(prepared, name)) for name in _ARRAYS}
    arrays["negatives"] = np.array(prepared.negatives)
    arrays["manifest"] = np.array(manifest)
    with atomic_write(path) as temporary:
        with open(temporary, "wb") as handle:  # a handle, because savez appends ".npz" to names
            np.savez_compressed(handle, **arrays)
        with atomic_write(manifest_path(path)) as sidecar:
            sidecar.write_text(manifest + "\n")
    return path


def _storable(values: np.ndarray) -> np.ndarray:
    return values.astype(str) if values.dtype.kind == "O" else values


def is_prepared(path: str | Path) -> bool:
    """Whether ``path`` is an ``.npz`` written by :func:`save_prepared`."""
    try:
        archive = np.load(Path(path).expanduser(), allow_pickle=False)
    except (OSError, ValueError):
        return False
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a plain .npy array
        return False
    with archive:
        if "manifest" not in archive.files:
            return False
        try:
            return json.loads(str(archive["manifest"])).get("format") == FORMAT
        except (ValueError, AttributeError):
            return False


def load_prepared(path: str | Path) -> PreparedRatings:
    """Read a file written by :func:`save_prepared`; anything else raises ``InvalidParameterError``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"No such prepared ratings file: {path}.")
    if not is_prepared(path):
        raise InvalidParameterError(
            f"{path} is not a prepared ratings file (no manifest of format {FORMAT!r}); prepare it "
            "with prepare_ratings() or `neuralbandits data prepare`."
        )
    with np.load(path, allow_pickle=False) as archive:
        missing = [name for name in _ARRAYS if name not in archive.files]
        if missing:
            raise InvalidParameterError(f"Prepared file {path} lacks arrays {', '.join(missing)}.")
        arrays = {name: archive[name] for name in _ARRAYS}
        negatives = str(archive["negatives"]) if "negatives" in archive.files else "rated"
        manifest = json.loads(str(archive["manifest"]))
    return PreparedRatings(**arrays, negatives=negatives, manifest=manifest)


# -- named datasets and the preparation cache ----------------------------------------------------------

_PREPARE_KEYWORDS = tuple(
    name for name in inspect.signature(prepare_ratings).parameters if name != "source"
)


def load_or_prepare(
    name_or_path: str | os.PathLike[str], *, data_dir: str | Path | None = None, **params: Any
) -> PreparedRatings:
    """A prepared problem from a prepared ``.npz``, a raw rating/edge file, or a dataset name.

    A prepared file is loaded as is (``params`` must then be empty). A raw file, or a name of
    :data:`RATING_DATASETS` (looked up in ``data_dir``, ``$NEURALBANDITS_DATA``, then the cache folder),
    is prepared with :func:`prepare_ratings` and ``params`` and cached under
    ``<cache>/prepared/<stem>-<hash>.npz``, keyed by a hash of the source's sha256, the parameters and
    the library version; a second call loads the cached copy.
    """
    unknown = sorted(set(params) - set(_PREPARE_KEYWORDS))
    if unknown:
        raise InvalidParameterError(
            f"Unknown preparation parameter {unknown[0]!r}; known: {', '.join(_PREPARE_KEYWORDS)}."
        )
    text = os.fspath(name_or_path)
    if text in RATING_DATASETS:
        kind = RATING_DATASETS[text][1]
        path = find_rating_dataset(text, data_dir)
        params = {"kind": kind, **params}
    else:
        path = Path(text).expanduser()
        if not path.is_file():
            close = difflib.get_close_matches(text, list(RATING_DATASETS), n=2, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise FileNotFoundError(
                f"{text!r} is neither a rating dataset ({', '.join(RATING_DATASETS)}) nor an "
                f"existing file.{hint}"
            )
        if is_prepared(path):
            if params:
                raise InvalidParameterError(
                    f"{path} is already prepared; preparation parameters "
                    f"({', '.join(sorted(params))}) cannot be applied to it."
                )
            return load_prepared(path)
    from neuralbandits import __version__

    bound = inspect.signature(prepare_ratings).bind(path, **params)
    bound.apply_defaults()  # so an explicit default and an omitted one share a cache entry
    settings = {k: v for k, v in bound.arguments.items() if k != "source"}
    key_text = json.dumps({"sha256": sha256_file(path), "params": settings, "version": __version__},
                          sort_keys=True, default=str)
    key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    cached = cache_dir() / "prepared" / f"{path.stem}-{key}.npz"
    if cached.is_file() and is_prepared(cached):
        return load_prepared(cached)
    prepared = prepare_ratings(path, **params)
    save_prepared(prepared, cached)
    return prepared


def find_rating_dataset(name: str, data_dir: str | Path | None = None) -> Path:
    """The file of the shipped rating dataset ``name`` (a key of :data:`RATING_DATASETS`), looked up
    in ``data_dir``, ``$NEURALBANDITS_DATA``, then the cache folder; ``FileNotFoundError`` otherwise."""
    filename = RATING_DATASETS[name][0]
    folders = search_folders(data_dir)
    for folder, _ in folders:
        if (folder / filename).is_file():
            return folder / filename
    looked = "; ".join(f"{folder} ({origin})" for folder, origin in folders)
    raise FileNotFoundError(
        f"Rating dataset {name!r} needs {filename}, which is in none of the folders searched: "
        f"{looked}. Point --data-dir DIR or NEURALBANDITS_DATA=DIR at a folder holding it."
    )
