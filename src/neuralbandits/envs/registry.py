"""The environment registry: ``"family:name"`` specs, as typed on the command line, to environments.

``ENVIRONMENTS`` holds one factory per fixed key (``synthetic:cosine``); a factory takes keyword
arguments and passes them on to the environment's constructor.  :func:`build_env` is the single
entry point: it parses the spec, dispatches parameterised families and otherwise looks the key up in
the registry, whose error lists the closest known keys ("did you mean").
"""

from __future__ import annotations

from typing import Any

from neuralbandits.envs.base import BanditEnv
from neuralbandits.envs.classification import ClassificationEnv
from neuralbandits.envs.combinatorial import register_combinatorial
from neuralbandits.envs.logistic import register_logistic
from neuralbandits.envs.recommendation import RecommendationEnv
from neuralbandits.envs.synthetic import ClusteredEnv, NonlinearEnv
from neuralbandits.registry import Registry
from neuralbandits.validation import InvalidParameterError

__all__ = ["ENVIRONMENTS", "build_env"]

ENVIRONMENTS = Registry[BanditEnv]("environment")


def build_env(spec: str, **kwargs: Any) -> BanditEnv:
    """Build the environment named by ``spec`` (``"family:name"``), passing ``kwargs`` to it.

    ``classification:<dataset name or .npz path>`` builds a
    :class:`~neuralbandits.envs.classification.ClassificationEnv`; ``synthetic:*`` specs are registry
    keys (``synthetic:clustered``, ``synthetic:quadratic``, …); an unknown spec raises
    ``UnknownKeyError`` naming the closest registered keys.
    """
    if not isinstance(spec, str):
        raise TypeError(f"An environment spec must be a 'family:name' string; got {spec!r}.")
    family, _, name = spec.partition(":")
    if family == "classification":
        if not name:
            raise InvalidParameterError(
                "classification needs a dataset: 'classification:<name or path to .npz>'."
            )
        return ClassificationEnv(name, **kwargs)
    if family == "recommendation":
        if not name:
            raise InvalidParameterError(
                "recommendation needs data: 'recommendation:<movielens_latest_small, facebook_ego, "
                "or a prepared .npz>'."
            )
        return RecommendationEnv.from_spec(name, **kwargs)
    return ENVIRONMENTS.build(spec, **kwargs)


def _with_fixed(key: str, fixed: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` plus the parameters that ``key`` fixes; overriding one of them is an error."""
    clash = sorted(set(fixed) & set(kwargs))
    if clash:
        raise InvalidParameterError(
            f"The {clash[0]!r} parameter is fixed to {fixed[clash[0]]!r} by environment {key!r}; "
            f"got {kwargs[clash[0]]!r}. Pick the environment key with the {clash[0]} you want."
        )
    return {**kwargs, **fixed}


# -- synthetic: clustered users (paper 000) ------------------------------------------------------
@ENVIRONMENTS.register("synthetic:clustered")
def _clustered(**kwargs: Any) -> BanditEnv:
    """Clustered users with linear rewards (1 + xᵀθ_c)/2 and a γ-gap between clusters.

    Keyword arguments go to :class:`~neuralbandits.envs.synthetic.ClusteredEnv`; ``reward`` is
    fixed.
    """
    return ClusteredEnv(**_with_fixed("synthetic:clustered", {"reward": "linear"}, kwargs))


@ENVIRONMENTS.register("synthetic:clustered-quadratic")
def _clustered_quadratic(**kwargs: Any) -> BanditEnv:
    """Clustered users with quadratic rewards (xᵀθ_c)² and a γ-gap between clusters.

    Keyword arguments go to :class:`~neuralbandits.envs.synthetic.ClusteredEnv`; ``reward`` is
    fixed.
    """
    return ClusteredEnv(
        **_with_fixed("synthetic:clustered-quadratic", {"reward": "quadratic"}, kwargs)
    )


@ENVIRONMENTS.register("synthetic:clustered-cosine")
def _clustered_cosine(**kwargs: Any) -> BanditEnv:
    """Clustered users with cosine rewards (1 + cos(3xᵀθ_c))/2 and a γ-gap between clusters.

    Keyword arguments go to :class:`~neuralbandits.envs.synthetic.ClusteredEnv`; ``reward`` is
    fixed.
    """
    return ClusteredEnv(**_with_fixed("synthetic:clustered-cosine", {"reward": "cosine"}, kwargs))


# -- synthetic: one user, nonlinear rewards (NeuralUCB; paper 003) -------------------------------
@ENVIRONMENTS.register("synthetic:quadratic")
def _quadratic(**kwargs: Any) -> BanditEnv:
    """Quadratic rewards h(x) = 10 (xᵀa)² with Gaussian noise (NeuralUCB h₁).

    Keyword arguments go to :class:`~neuralbandits.envs.synthetic.NonlinearEnv`; ``reward`` is
    fixed.
    """
    return NonlinearEnv(**_with_fixed("synthetic:quadratic", {"reward": "quadratic"}, kwargs))


@ENVIRONMENTS.register("synthetic:quadratic-matrix")
def _quadratic_matrix(**kwargs: Any) -> BanditEnv:
    """Quadratic-form rewards h(x) = xᵀAᵀAx with Gaussian noise (NeuralUCB h₂).

    Keyword arguments go to :class:`~neuralbandits.envs.synthetic.NonlinearEnv`; ``reward`` is
    fixed.
    """
    return NonlinearEnv(
        **_with_fixed("synthetic:quadratic-matrix", {"reward": "quadratic_matrix"}, kwargs)
    )


@ENVIRONMENTS.register("synthetic:cosine")
def _cosine(**kwargs: Any) -> BanditEnv:
    """Cosine rewards h(x) = cos(3xᵀa) with Gaussian noise (NeuralUCB h₃).

    Keyword arguments go to :class:`~neuralbandits.envs.synthetic.NonlinearEnv`; ``reward`` is
    fixed.
    """
    return NonlinearEnv(**_with_fixed("synthetic:cosine", {"reward": "cosine"}, kwargs))


@ENVIRONMENTS.register("synthetic:logistic-quadratic")
def _logistic_quadratic(**kwargs: Any) -> BanditEnv:
    """Bernoulli rewards of sigmoid(10 (xᵀa)²) (paper 003 §2.5, h₁).

    Keyword arguments go to :class:`~neuralbandits.envs.synthetic.NonlinearEnv` (``reward`` and
    ``noise`` are fixed).
    """
    fixed = {"reward": "quadratic", "noise": "bernoulli"}
    return NonlinearEnv(**_with_fixed("synthetic:logistic-quadratic", fixed, kwargs))


@ENVIRONMENTS.register("synthetic:logistic-quadratic-matrix")
def _logistic_quadratic_matrix(**kwargs: Any) -> BanditEnv:
    """Bernoulli rewards of sigmoid(xᵀAᵀAx) (paper 003 §2.5, h₂).

    Keyword arguments go to :class:`~neuralbandits.envs.synthetic.NonlinearEnv` (``reward`` and
    ``noise`` are fixed).
    """
    fixed = {"reward": "quadratic_matrix", "noise": "bernoulli"}
    return NonlinearEnv(**_with_fixed("synthetic:logistic-quadratic-matrix", fixed, kwargs))


@ENVIRONMENTS.register("synthetic:logistic-cosine")
def _logistic_cosine(**kwargs: Any) -> BanditEnv:
    """Bernoulli rewards of sigmoid(cos(3xᵀa)) (paper 003 §2.5, h₃).

    Keyword arguments go to :class:`~neuralbandits.envs.synthetic.NonlinearEnv` (``reward`` and
    ``noise`` are fixed).
    """
    fixed = {"reward": "cosine", "noise": "bernoulli"}
    return NonlinearEnv(**_with_fixed("synthetic:logistic-cosine", fixed, kwargs))


# -- paper 003: synthetic logistic bandits and the real data prepared as the paper does ------------
register_logistic(ENVIRONMENTS)

# -- paper 004: slates under a budget with a submodular reward (CCBM) --------------------------------
register_combinatorial(ENVIRONMENTS)
