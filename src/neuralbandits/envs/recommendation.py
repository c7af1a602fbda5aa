"""Recommendation from rating data: a user group arrives with ``K`` items its users rated.

The data come from :func:`~neuralbandits.datasets.ratings.prepare_ratings` (kept users and items,
labels, unit-norm SVD features, K-means user groups). Each round draws a group ``g`` uniformly; the
group is the round's user (``user_ids = g``) and its K-means centroid is the user feature
(``user_features``, for NeuA+U). The ``K`` arms, in a shuffled slot order, are items rated by users of
the group; the reward is deterministic (expected reward = observed reward):

* ``variant="paper"`` (paper 000 §6): 1 item the group labels positive (reward 1) and ``K − 1``
  distinct items it labels negative (reward 0). A group's label of an item is the majority of its
  users' labels; for edge lists (Facebook) the negatives are items linked to no user of the group.
* ``variant="reference"`` (``banyikun/MCNB:read_movie.ipynb``): ``K − 1`` entries drawn with
  replacement from the group's positive entries (reward 0) and 1 from its negative entries
  (reward 1) — roles reversed, the same "find the odd one out" task.

Arm features are the item features ``(B, K, d)``; ``append_user_features=True`` concatenates the group
feature to every arm (``d + d_u``, NeuA+U); ``transform="gaussian_pdf"`` passes every arm coordinate
through the Gaussian density ``φ(z; 0, 0.5)`` as the official code does.

References: paper 000 §6 (Ban et al., KDD 2024); ``banyikun/MCNB`` data loaders.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from neuralbandits.datasets.ratings import (
    PreparedRatings,
    group_pools,
    load_or_prepare,
    load_prepared,
    prepare_ratings,
)
from neuralbandits.envs.base import BanditEnv
from neuralbandits.types import Context, ProblemInfo
from neuralbandits.validation import Interval, InvalidParameterError, OneOf, check_params

__all__ = ["RecommendationEnv", "gaussian_pdf"]

_PDF_SCALE = 0.5


def gaussian_pdf(values: Tensor, scale: float = _PDF_SCALE) -> Tensor:
    """Element-wise Gaussian density ``φ(z; 0, σ) = exp(−z²/(2σ²)) / (σ√(2π))``.

    Equals ``scipy.stats.norm.pdf(z, 0, σ)``; the official code applies it with ``σ = 0.5``.
    """
    return torch.exp(-0.5 * (values / scale) ** 2) / (scale * math.sqrt(2.0 * math.pi))


class RecommendationEnv(BanditEnv):
    """``K``-armed recommendation bandit over user groups (see the module docstring).

    Args:
        prepared: a :class:`~neuralbandits.datasets.ratings.PreparedRatings`, or the path of a file
            written by :func:`~neuralbandits.datasets.ratings.save_prepared`.
        variant: ``"paper"`` or ``"reference"`` (the official code's pools and roles).
        n_arms: ``K`` (paper: 10).
        append_user_features: concatenate the group feature to every arm (NeuA+U).
        transform: ``"none"`` or ``"gaussian_pdf"`` (``norm.pdf(x, 0, 0.5)`` element-wise).

    Raises:
        InvalidParameterError: a bad parameter, or a group whose pools cannot fill a round (only
            possible with ``n_arms`` above the one the data were prepared for).
    """

    def __init__(
        self,
        prepared: PreparedRatings | str | Path,
        *,
        variant: str = "paper",
        n_arms: int = 10,
        append_user_features: bool = False,
        transform: str = "none",
    ) -> None:
        super().__init__()
        check_params(
            "RecommendationEnv",
            {"variant": variant, "n_arms": n_arms, "append_user_features": append_user_features,
             "transform": transform},
            {
                "variant": OneOf(("paper", "reference")),
                "n_arms": Interval(2, None, integer=True),
                "append_user_features": OneOf((True, False)),
                "transform": OneOf(("none", "gaussian_pdf")),
            },
        )
        if not isinstance(prepared, PreparedRatings):
            prepared = load_prepared(prepared)
        self.prepared = prepared
        self.variant, self.append_user_features, self.transform = variant, append_user_features, transform
        pools = group_pools(prepared, mode="group" if variant == "paper" else "entries")
        # the paper draws K − 1 distinct negatives; the code draws with replacement (needs 1)
        n_positive, n_negative = pools.n_positive, pools.n_negative
        needed = n_arms - 1 if variant == "paper" else 1
        short = (n_positive < 1) | (n_negative < needed)
        if short.any():
            raise InvalidParameterError(
                f"n_arms={n_arms} needs every group to have 1 positive and {needed} negative items "
                f"(variant={variant!r}); {int(short.sum())} of {prepared.n_groups} groups have fewer "
                f"(smallest pools: {int(n_positive.min())} positive, {int(n_negative.min())} negative). "
                f"Prepare the data with "
                f"n_arms={n_arms} (groups that cannot fill a round are then dropped) or use fewer arms."
            )
        self._positive_start = torch.from_numpy(pools.positive_ptr[:-1].copy())
        self._positive_count = torch.from_numpy(n_positive.copy())
        self._positive_items = torch.from_numpy(pools.positive_items)
        self._negative_start = torch.from_numpy(pools.negative_ptr[:-1].copy())
        self._negative_count = torch.from_numpy(n_negative.copy())
        self._negative_items = torch.from_numpy(pools.negative_items)
        self.item_features = torch.from_numpy(prepared.item_features)  # (I, d)
        self.group_features = torch.from_numpy(prepared.group_centroids)  # (G, d_u)
        user_dim = int(self.group_features.shape[1])
        dim = prepared.dim + (user_dim if append_user_features else 0)
        self.info = ProblemInfo(n_arms=n_arms, dim=dim, n_users=prepared.n_groups, user_dim=user_dim)
        self._items: Tensor | None = None

    @classmethod
    def from_spec(
        cls, name_or_path: str | Path, *, data_dir: str | Path | None = None, **kwargs: Any
    ) -> RecommendationEnv:
        """The environment of ``recommendation:<name_or_path>``.

        ``name_or_path`` is a prepared ``.npz``, a raw rating or edge file, or a dataset name
        (``movielens_latest_small``, ``facebook_ego``); raw data are prepared on the fly and cached
        (:func:`~neuralbandits.datasets.ratings.load_or_prepare`). ``kwargs`` named like parameters of
        :func:`~neuralbandits.datasets.ratings.prepare_ratings` (``labels``, ``n_groups``, …) go to the
        preparation, the others to the constructor. ``n_arms`` goes to both.
        """
        preparation = set(inspect.signature(prepare_ratings).parameters) - {"source"}
        prepare_kwargs = {k: v for k, v in kwargs.items() if k in preparation}
        env_kwargs = {k: v for k, v in kwargs.items() if k not in preparation or k == "n_arms"}
        if not str(name_or_path).strip():
            raise InvalidParameterError(
                "recommendation needs data: 'recommendation:<dataset name, prepared .npz or ratings file>'."
            )
        prepared = load_or_prepare(name_or_path, data_dir=data_dir, **prepare_kwargs)
        return cls(prepared, **env_kwargs)

    # -- rounds ---------------------------------------------------------------------------------
    def _draw(self, batch_size: int, generator: torch.Generator) -> tuple[Context, Tensor]:
        groups = torch.randint(self.info.n_users, (batch_size,), generator=generator)
        context, expected, self._items = self._round(groups, generator)
        return context, expected

    def context_for_user(self, user_ids: Tensor, generator: torch.Generator) -> Context:
        """A round served to each group of ``user_ids`` ``(B,)`` (M-CNB's warm start)."""
        user_ids = torch.as_tensor(user_ids, dtype=torch.int64)
        if user_ids.ndim != 1 or (user_ids.numel() and not (
            0 <= int(user_ids.min()) and int(user_ids.max()) < self.info.n_users
        )):
            raise ValueError(
                f"user_ids must be a (B,) tensor of groups in [0, {self.info.n_users}); "
                f"got {user_ids.tolist()}."
            )
        return self._round(user_ids, generator)[0]

    def arm_items(self) -> Tensor:
        """``(B, K)`` item indices (into ``prepared.item_ids``) of the current round's arms."""
        self._require_started()
        assert self._items is not None
        return self._items.clone()

    def _round(self, groups: Tensor, generator: torch.Generator) -> tuple[Context, Tensor, Tensor]:
        """Context, ``(B, K)`` expected rewards and ``(B, K)`` item indices for the groups ``(B,)``."""
        batch, n_arms = int(groups.shape[0]), self.info.n_arms
        if self.variant == "paper":  # the odd one out is the positive item
            odd = self._sample(self._positive_start, self._positive_count, self._positive_items,
                               groups, 1, generator)
            others = self._negative_items[
                self._negative_start[groups, None]
                + _distinct(self._negative_count[groups], n_arms - 1, generator)
            ]
        else:  # the code: K − 1 positive entries with replacement, the odd one a negative entry
            odd = self._sample(self._negative_start, self._negative_count, self._negative_items,
                               groups, 1, generator)
            others = self._sample(self._positive_start, self._positive_count, self._positive_items,
                                  groups, n_arms - 1, generator)
        # shuffled slots: slot j holds candidate order[j]; candidate 0 is the rewarded one
        order = torch.rand(batch, n_arms, generator=generator).argsort(dim=1)
        items = torch.cat([odd, others], dim=1).gather(1, order)
        expected = (order == 0).to(torch.float32)
        user_features = self.group_features[groups]
        arm_features = self.item_features[items]
        if self.append_user_features:
            arm_features = torch.cat(
                [arm_features, user_features[:, None, :].expand(-1, n_arms, -1)], dim=2
            )
        if self.transform == "gaussian_pdf":
            arm_features = gaussian_pdf(arm_features)
        context = Context(arm_features=arm_features, user_ids=groups, user_features=user_features)
        return context, expected, items

    @staticmethod
    def _sample(
        start: Tensor, count: Tensor, pool: Tensor, groups: Tensor, n: int, generator: torch.Generator
    ) -> Tensor:
        """``(B, n)`` uniform draws with replacement from each group's pool."""
        uniform = torch.rand(len(groups), n, dtype=torch.float64, generator=generator)
        size = count[groups, None]
        offset = torch.minimum((uniform * size).long(), size - 1)
        return pool[start[groups, None] + offset]


def _distinct(counts: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """``(B, k)`` distinct uniform indices in ``[0, counts[b])`` per row, with no loop.

    First ``k`` draws with replacement; a row without a repeat is a uniform ``k``-subset (conditioned
    on no repeat, every ordered tuple of distinct indices is equally likely). Rows with a repeat are
    redrawn by random keys: the ``k`` largest of ``counts[b]`` i.i.d. uniform keys, also a uniform
    ``k``-subset. A mixture of uniform draws is uniform; large pools rarely need the second step.
    """
    uniform = torch.rand(int(counts.shape[0]), k, dtype=torch.float64, generator=generator)
    size = counts[:, None]
    picks = torch.minimum((uniform * size).long(), size - 1)
    ordered = picks.sort(dim=1).values
    clash = (ordered[:, 1:] == ordered[:, :-1]).any(dim=1)
    if bool(clash.any()):
        rows = clash.nonzero().squeeze(1)
        width = int(counts[rows].max())
        keys = torch.rand(len(rows), width, generator=generator)
        keys.masked_fill_(torch.arange(width) >= counts[rows, None], -1.0)
        picks[rows] = keys.topk(k, dim=1).indices
    return picks
