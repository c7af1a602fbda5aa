"""Paper 003's environments (Neural Logistic Bandits): synthetic ``h₁..h₃`` and the real data as
the paper prepares it, plus the diagnostics ``κ_env`` and ``κ*``.

Synthetic (``logistic:h1|h2|h3``): :class:`~neuralbandits.envs.synthetic.NonlinearEnv` with
Bernoulli rewards ``μ(h(x))``, ``h₁ = 10(xᵀa)²``, ``h₂ = xᵀAᵀAx``, ``h₃ = cos(3xᵀa)``, parameters
``N(0, 1/d)`` (so logits stay O(1)), unit-sphere contexts from a pool of ``n_pool`` vectors
(default 2 500, paper Figs. 1–2 [V]; 10 / 50 / 10 000 for the effective-dimension study), ``d = 20``,
``K = 4`` [R].

Real data (``logistic:mnist|mushroom|shuttle``): :class:`~neuralbandits.envs.classification.ClassificationEnv`
with the block ("K long vectors") encoding and one user:

* mnist: 28×28 → 14×14 by 2×2 average pooling [R], min–max to [0, 1] → ``d_x = 196``, K = 10;
* mushroom: each of the 22 categorical attributes mapped to random values in [0, 1) by one fixed
  seeded table per attribute [R: the table, ``value_seed``]; labels flipped so edible → 1 and
  poisonous → 0 as in the paper (our data store 0 = edible); K = 2;
* shuttle: all 9 numeric attributes (the paper says 7 [R]) min–max scaled; K = 7.

References: paper 003 §8 and Appendix A; ``docs/paper-notes.md`` §2.5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from neuralbandits.datasets import ClassificationData, load, random_category_values
from neuralbandits.envs.base import BanditEnv
from neuralbandits.envs.classification import ClassificationEnv
from neuralbandits.envs.synthetic import NonlinearEnv
from neuralbandits.validation import InvalidParameterError

__all__ = [
    "kappa_env",
    "kappa_star",
    "logistic_mnist",
    "logistic_mushroom",
    "logistic_shuttle",
    "logistic_synthetic",
    "register_logistic",
]

_REWARDS = {"h1": "quadratic", "h2": "quadratic_matrix", "h3": "cosine"}


def logistic_synthetic(name: str, *, n_arms: int = 4, dim: int = 20, n_pool: int | None = 2500,
                       problem_seed: int = 0, **kwargs: Any) -> NonlinearEnv:
    """``logistic:h1|h2|h3``: Bernoulli rewards of ``μ(h(x))`` on a pool of unit-sphere contexts."""
    if name not in _REWARDS:
        raise InvalidParameterError(f"The latent function must be one of 'h1', 'h2', 'h3'; got {name!r}.")
    for fixed in ("reward", "noise"):
        if fixed in kwargs:
            raise InvalidParameterError(f"The {fixed!r} parameter is fixed by logistic:{name}; got {kwargs[fixed]!r}.")
    return NonlinearEnv(reward=_REWARDS[name], noise="bernoulli", n_arms=n_arms, dim=dim, n_pool=n_pool,
                        problem_seed=problem_seed, **kwargs)


def logistic_mnist(*, data_dir: str | Path | None = None, **kwargs: Any) -> ClassificationEnv:
    """mnist pooled to 14×14, min–max scaled, 10 arms (paper 003 Appendix A)."""
    return ClassificationEnv("mnist", preprocess="minmax", pool=2, users="single", data_dir=data_dir, **kwargs)


def logistic_shuttle(*, data_dir: str | Path | None = None, **kwargs: Any) -> ClassificationEnv:
    """shuttle, 9 numeric attributes min–max scaled, 7 arms (paper 003 Appendix A)."""
    return ClassificationEnv("shuttle", preprocess="minmax", users="single", data_dir=data_dir, **kwargs)


def logistic_mushroom(*, value_seed: int = 0, preprocess: str = "none", data_dir: str | Path | None = None,
                      data: ClassificationData | None = None, **kwargs: Any) -> ClassificationEnv:
    """mushroom with random category values in [0, 1) and edible → arm 1 (paper 003 Appendix A).

    ``value_seed`` seeds the value table [R]; ``preprocess="none"`` keeps the drawn values (already in
    [0, 1]; ``"minmax"`` rescales them too).  ``data`` may pass already loaded mushroom data.
    """
    source = data if data is not None else load("mushroom", data_dir=data_dir)
    if source.categorical is None:
        raise InvalidParameterError(f"logistic:mushroom needs categorical codes; {source.name!r} has none.")
    if source.n_classes != 2:
        raise InvalidParameterError(f"logistic:mushroom needs 2 classes; {source.name!r} has {source.n_classes}.")
    values = random_category_values(source.categorical, value_seed)
    labels = 1 - source.y  # ours: 0 edible, 1 poisonous; the paper: edible → 1
    names = None if source.class_names is None else tuple(reversed(source.class_names))
    prepared = ClassificationData.from_arrays("mushroom", values, labels, source=source.source, class_names=names)
    return ClassificationEnv(prepared, preprocess=preprocess, users="single", **kwargs)


# ------------------------------------------------------------------------------------------------
# Diagnostics
# ------------------------------------------------------------------------------------------------
def kappa_env(env: NonlinearEnv) -> float:
    """``κ_env = max_x 1/μ̇(h(x))`` over the environment's context pool (plots only)."""
    if not isinstance(env, NonlinearEnv) or env.pool is None:
        raise InvalidParameterError("kappa_env needs a NonlinearEnv with a context pool (n_pool set).")
    mu = torch.sigmoid(env.latent(env.pool))
    return float((1.0 / (mu * (1.0 - mu))).max())


def kappa_star(env: BanditEnv, rounds: int, *, env_seed: int) -> float:
    """``κ* = 1 / ((1/T) Σ_t μ̇(h(x_{t,*})))`` over the stream of ``env_seed`` (paper 003, Abeille et
    al. 2021).  Replays the stream: contexts do not depend on the actions, so this is the run's κ*.
    For classification data ``μ̇`` of a 0/1 expected reward is 0 and ``κ*`` is infinite."""
    env.reset(seed=env_seed)
    total = 0.0
    for _ in range(rounds):
        best = env.expected_rewards().max(dim=1).values
        total += float((best * (1.0 - best)).sum())
        env.step(torch.zeros(env.expected_rewards().shape[0], dtype=torch.int64))
    mean = total / rounds
    return float("inf") if mean == 0.0 else 1.0 / mean


def best_variances(best_expected_rewards: Tensor) -> Tensor:
    """``μ̇(h(x_{t,*})) = p(1 − p)`` from the best expected rewards ``p`` of a run."""
    return best_expected_rewards * (1.0 - best_expected_rewards)


# ------------------------------------------------------------------------------------------------
# Registration
# ------------------------------------------------------------------------------------------------
def register_logistic(registry: Any) -> None:
    """Register ``logistic:h1``, ``h2``, ``h3``, ``mnist``, ``mushroom``, ``shuttle`` in ``registry``
    (the environment registry of :mod:`neuralbandits.envs.registry`); keyword arguments of
    ``build_env`` go to the factories above."""

    def synthetic(name: str):  # type: ignore[no-untyped-def]
        def factory(**kwargs: Any) -> BanditEnv:
            return logistic_synthetic(name, **kwargs)

        factory.__doc__ = f"Paper 003 synthetic logistic bandit {name}: Bernoulli rewards of μ({name}(x))."
        return factory

    for name in ("h1", "h2", "h3"):
        registry.register(f"logistic:{name}")(synthetic(name))
    registry.register("logistic:mnist")(logistic_mnist)
    registry.register("logistic:mushroom")(logistic_mushroom)
    registry.register("logistic:shuttle")(logistic_shuttle)
