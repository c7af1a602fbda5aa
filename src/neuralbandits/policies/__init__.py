"""Policies: one short file per family, all registered in ``POLICIES``."""

from neuralbandits.policies import (  # noqa: F401  (registration)
    clustered,
    combinatorial,
    linear,
    meta,
    neural,
    neural_linear,
    neural_logistic,
    uniform,
)
from neuralbandits.policies.base import (
    POLICIES,
    PolicyBase,
    ScorePolicy,
    build_policy,
    load_policy,
    save_policy,
)
from neuralbandits.policies.linear import LinTS, LinUCB
from neuralbandits.policies.neural import NeuralTS, NeuUCBInd, NeuUCBOne
from neuralbandits.policies.uniform import GreedyOracle, RandomPolicy

__all__ = [
    "POLICIES",
    "GreedyOracle",
    "LinTS",
    "LinUCB",
    "NeuUCBInd",
    "NeuUCBOne",
    "NeuralTS",
    "PolicyBase",
    "RandomPolicy",
    "ScorePolicy",
    "build_policy",
    "load_policy",
    "save_policy",
]
