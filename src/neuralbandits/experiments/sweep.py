"""Grids and runs: expand a hyperparameter grid, and give every run a stable id (a hash of its spec).

A :class:`RunSpec` is one (environment, policy with hyperparameters, seed, horizon) run; its
``run_id`` depends only on what determines the run's records, so a store can skip runs it already
holds and a crashed sweep resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from neuralbandits.validation import InvalidParameterError


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class RunSpec:
    """One run.  ``phase`` is ``"tune"`` (grid search seeds) or ``"final"`` (reported seeds)."""

    suite: str
    env: str
    policy: str
    rounds: int
    seed: int
    env_params: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    phase: str = "final"

    @property
    def run_id(self) -> str:
        """16 hex digits of the sha256 of everything that determines the records."""
        key = {k: v for k, v in asdict(self).items() if k not in ("suite", "label", "phase")}
        return hashlib.sha256(canonical_json(key).encode()).hexdigest()[:16]

    @property
    def name(self) -> str:
        return self.label or self.policy

    @property
    def env_name(self) -> str:
        return env_label(self.env, self.env_params)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "env_params": dict(self.env_params), "params": dict(self.params)}


def env_label(env: str, params: Mapping[str, Any]) -> str:
    """``"logistic:h1"``, or ``"logistic:h1 (n_pool=10)"`` when parameters distinguish two entries."""
    if not params:
        return env
    return f"{env} (" + ", ".join(f"{k}={v}" for k, v in sorted(params.items())) + ")"


def expand_grid(grid: Mapping[str, Any], *, owner: str) -> list[dict[str, Any]]:
    """All combinations of ``{name: [values…]}`` (in the grid's order); ``{}`` gives one empty setting."""
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise InvalidParameterError(
                f"The grid of {owner} must map each parameter to a non-empty list of values; "
                f"{name!r} has {values!r}."
            )
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]
