"""Online classification with bandit feedback: a ``K``-class dataset becomes a ``K``-armed bandit.

Each round one sample ``x ∈ R^{d_x}`` with class ``c`` arrives; arm ``a`` is the disjoint block
encoding ``x_{t,a} = (0, …, x, …, 0) ∈ R^{K·d_x}`` (block ``a`` holds ``x``), carried as
:class:`~neuralbandits.types.BlockArms` so no dense copy is built; the reward is 1 iff ``a = c``
(expected reward = observed reward).  Samples are consumed from a shuffled copy, reshuffled when
exhausted.

Who is the round's user (``users``):

* ``"label"`` — the user is the true class ``c`` (paper 000 §6: "each class is a user").  Note that
  this leaks the label: a per-user learner can learn "for user c, pick arm c".
* ``"single"`` — one user for every round (no leak).
* ``"random"`` — ``n_users`` users drawn uniformly at random, independent of the label (no leak).

References: paper 000 §6 and paper 003 §8; preprocessing from ``uclaml/NeuralUCB:data_multi.py``
(row L2 normalisation) and paper 003 (min–max to [0, 1], MNIST 2×2-pooled to 14×14).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from neuralbandits.datasets import (
    ClassificationData,
    average_pool,
    l2_normalize_rows,
    load,
    minmax_scale,
)
from neuralbandits.envs.base import BanditEnv
from neuralbandits.types import BlockArms, Context, ProblemInfo
from neuralbandits.validation import Interval, OneOf, check_params


class ClassificationEnv(BanditEnv):
    """``K``-armed bandit from a labelled dataset (see the module docstring).

    Args:
        data: a dataset name, a path to an ``.npz`` with ``X`` and ``y``, or loaded data.
        users: ``"label"``, ``"single"`` or ``"random"``.
        n_users: number of users for ``users="random"``.
        preprocess: ``"l2"`` (row L2 normalisation, paper 000), ``"minmax"`` (per-feature [0, 1],
            paper 003) or ``"none"``.
        pool: average-pooling factor for image data (2 turns MNIST's 28×28 into 14×14); 1 = none.
        data_dir: folder searched for named datasets (else ``NEURALBANDITS_DATA``, then the cache).
    """

    def __init__(
        self,
        data: str | Path | ClassificationData = "digits",
        *,
        users: str = "label",
        n_users: int = 10,
        preprocess: str = "l2",
        pool: int = 1,
        data_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        check_params(
            "ClassificationEnv",
            {"users": users, "n_users": n_users, "preprocess": preprocess, "pool": pool},
            {
                "users": OneOf(("label", "single", "random")),
                "n_users": Interval(1, None, integer=True),
                "preprocess": OneOf(("l2", "minmax", "none")),
                "pool": Interval(1, None, integer=True),
            },
        )
        self.data = data if isinstance(data, ClassificationData) else load(str(data), data_dir=data_dir)
        self.users, self.preprocess, self.pool = users, preprocess, pool
        features = self._preprocess(self.data)
        self.features = torch.from_numpy(features)
        self.labels = torch.from_numpy(self.data.y.astype(np.int64))
        n_classes = self.data.n_classes
        self._one_hot = torch.nn.functional.one_hot(self.labels, n_classes).to(torch.float32)
        n = {"label": n_classes, "single": 1, "random": n_users}[users]
        self.info = ProblemInfo(
            n_arms=n_classes, dim=n_classes * features.shape[1], n_users=n, block_dim=features.shape[1]
        )
        self._order = torch.arange(len(self.labels))
        self._cursor = 0

    @property
    def name(self) -> str:
        return self.data.name

    def _preprocess(self, data: ClassificationData) -> np.ndarray:
        features = data.X.astype(np.float32)
        if self.pool > 1:
            if data.image_shape is None:
                raise ValueError(f"pool={self.pool} needs image data; {data.name!r} has no image_shape.")
            features = average_pool(features, data.image_shape, self.pool)
        if self.preprocess == "l2":
            features = l2_normalize_rows(features)
        elif self.preprocess == "minmax":
            features = minmax_scale(features)
        return np.ascontiguousarray(features, dtype=np.float32)

    def _on_reset(self, generator: torch.Generator) -> None:
        self._shuffle(generator)

    def _shuffle(self, generator: torch.Generator) -> None:
        # One gather per pass, then a slice (a view) per round instead of three gathers per round.
        self._order = torch.randperm(len(self.labels), generator=generator)
        self._cursor = 0
        self._pass = (self.features[self._order], self.labels[self._order], self._one_hot[self._order])

    def _next_rows(self, batch_size: int, generator: torch.Generator) -> slice:
        if self._cursor + batch_size > len(self._order):
            self._shuffle(generator)
        rows = slice(self._cursor, self._cursor + batch_size)
        self._cursor += batch_size
        return rows

    def _draw(self, batch_size: int, generator: torch.Generator) -> tuple[Context, Tensor]:
        rows = self._next_rows(batch_size, generator)
        features, labels, expected = (part[rows] for part in self._pass)
        if self.users == "label":
            user_ids = labels
        elif self.users == "single":
            user_ids = torch.zeros(batch_size, dtype=torch.int64)
        else:
            user_ids = torch.randint(self.info.n_users, (batch_size,), generator=generator)
        context = Context(arm_features=BlockArms(features, self.info.n_arms), user_ids=user_ids)
        return context, expected

    def context_for_user(self, user_ids: Tensor, generator: torch.Generator) -> Context:
        """A context served to each of ``user_ids`` (M-CNB's warm start): for ``users="label"`` a random
        sample of that class, otherwise any random sample."""
        if self.users == "label":
            rows = torch.stack([self._random_row_of_class(int(u), generator) for u in user_ids])
        else:
            rows = torch.randint(len(self.labels), (len(user_ids),), generator=generator)
        return Context(arm_features=BlockArms(self.features[rows], self.info.n_arms), user_ids=user_ids)

    def _random_row_of_class(self, label: int, generator: torch.Generator) -> Tensor:
        candidates = (self.labels == label).nonzero().squeeze(1)
        return candidates[torch.randint(len(candidates), (1,), generator=generator)[0]]
