"""``ExperimentSpec``: what to run — an environment, policies, a horizon and seeds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neuralbandits.validation import InvalidParameterError


@dataclass(frozen=True)
class PolicySpec:
    """A registered policy ``key`` with hyperparameters; ``name`` labels it in tables and plots."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.key


@dataclass(frozen=True)
class ExperimentSpec:
    """Policies × seeds on one environment for ``rounds`` rounds.

    ``env`` is an environment spec (``"classification:shuttle"``, ``"synthetic:cosine"``) built with
    ``env_params``; ``seeds`` are the run seeds (each run derives independent environment and policy
    streams from its seed); ``delay`` delivers each round's feedback ``delay`` rounds late.
    """

    env: str
    policies: tuple[PolicySpec, ...]
    rounds: int
    seeds: tuple[int, ...] = (0,)
    env_params: dict[str, Any] = field(default_factory=dict)
    delay: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.rounds, int) or self.rounds <= 0:
            raise InvalidParameterError(f"rounds must be a positive int; got {self.rounds!r}.")
        if not self.seeds:
            raise InvalidParameterError("seeds must name at least one seed; got none.")
        if not self.policies:
            raise InvalidParameterError("policies must name at least one policy; got none.")
        if not isinstance(self.delay, int) or self.delay < 0:
            raise InvalidParameterError(f"delay must be an int >= 0; got {self.delay!r}.")
        labels = [p.label for p in self.policies]
        if len(set(labels)) != len(labels):
            raise InvalidParameterError(f"policy names must be unique; got {labels}.")
