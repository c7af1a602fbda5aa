"""The policy protocol and the two base classes every algorithm builds on.

* :class:`PolicyBase` — an ``nn.Module`` (state lives in buffers, so ``state_dict`` and devices work
  for free) that reads its constructor signature once to give ``params()``, ``clone()`` and
  ``__repr__``, validates hyperparameters declaratively, and saves/loads its full state; its
  :meth:`~PolicyBase.diagnostics` hook lets any policy expose per-round series of its own state
  (e.g. ``λ_t``), which the runner records beside each round.
* :class:`ScorePolicy` — the one ``select`` template: check the context, get a belief, turn it into
  scores with an explorer, mask unavailable arms, pick with the seeded selector.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar, Mapping, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from neuralbandits.policies.explorers import Explorer
from neuralbandits.policies.selectors import argmax_random_ties
from neuralbandits.registry import Registry
from neuralbandits.rng import make_generator
from neuralbandits.types import Belief, Context, Feedback, ProblemInfo, Selection
from neuralbandits.validation import Constraint, check_params, value_range


class Policy(Protocol):
    def select(self, context: Context) -> Tensor: ...
    def select_with_scores(self, context: Context) -> Selection: ...
    def update(self, feedback: Feedback) -> None: ...


class PolicyBase(nn.Module):
    """Common machinery: hyperparameters, seeding, context checks, state round-trips.

    Subclasses declare keyword-only hyperparameters in ``__init__`` (stored verbatim as attributes of
    the same name), list their constraints in ``constraints`` and implement
    :meth:`select_with_scores` and :meth:`update`.
    """

    key: ClassVar[str] = ""
    constraints: ClassVar[Mapping[str, Constraint]] = {}
    #: tiny hyperparameters for the generated contract tests
    test_params: ClassVar[Mapping[str, Any]] = {}
    #: what the policy needs from the environment beyond arm features (e.g. ``"user_features"``)
    requires: ClassVar[frozenset[str]] = frozenset()
    #: state is per user and batch rows are independent, so seeds can run as one batch
    #: (:mod:`neuralbandits.experiments.parallel_seeds`)
    seed_batchable: ClassVar[bool] = False
    #: independent streams interleaved in every batch (set by the seeds-in-one-batch runner):
    #: a batch of ``B`` rows is ``B / streams`` rounds of each stream
    streams: int = 1

    def __init__(self, info: ProblemInfo, *, seed: int | None = None) -> None:
        super().__init__()
        self.info = info
        self.seed = seed
        self.generator = make_generator(seed)
        self.register_buffer("rounds_seen", torch.zeros((), dtype=torch.int64))

    # -- hyperparameters ---------------------------------------------------------------------
    @classmethod
    def param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            name
            for name, p in signature.parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "seed"
        ]

    def params(self) -> dict[str, Any]:
        """The constructor's hyperparameters with their current values."""
        return {name: getattr(self, name) for name in self.param_names()}

    def check_params(self) -> None:
        """Validate the stored hyperparameters against ``constraints`` (call at the end of ``__init__``)."""
        check_params(type(self).__name__, self.params(), self.constraints)

    def clone(self, **overrides: Any) -> "PolicyBase":
        """A fresh, untrained policy with the same hyperparameters (and ``overrides``)."""
        params = {**self.params(), "seed": self.seed, **overrides}
        return type(self)(self.info, **params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    # -- the protocol --------------------------------------------------------------------------
    def select(self, context: Context) -> Tensor:
        """Chosen arms ``(B,)`` for a batch of contexts."""
        return self.select_with_scores(context).actions

    def select_with_scores(self, context: Context) -> Selection:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, feedback: Feedback) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- diagnostics ---------------------------------------------------------------------------
    def diagnostics(self) -> dict[str, np.ndarray]:
        """Per-round series of the policy's own state, ``name → (n,)`` floats with ``n`` the feedback
        rows learned so far (``rounds_seen``): entry ``i`` is the value once row ``i + 1`` was learned;
        a scalar is a constant series.  An optional ``"t"`` holds the row numbers ``1..n`` themselves.

        The runner records every series but ``"t"`` as a per-round ``policy_<name>`` column of the run
        (:func:`neuralbandits.experiments.runner.policy_diagnostics`).  Default: none.
        """
        return {}

    # -- checks ------------------------------------------------------------------------------
    def check_context(self, context: Context) -> None:
        info = self.info
        if context.n_arms != info.n_arms or context.dim != info.dim:
            raise ValueError(
                f"{type(self).__name__} was built for {info.n_arms} arms of dimension {info.dim}; "
                f"got a context with {context.n_arms} arms of dimension {context.dim}."
            )
        if context.user_ids is not None and context.user_ids.numel():
            low, high = value_range(context.user_ids)
            if low < 0 or high >= info.n_users:
                raise ValueError(
                    f"Context.user_ids must lie in [0, {info.n_users}); got values in [{low}, {high}]."
                )

    def user_ids(self, context: Context) -> Tensor:
        """The served users ``(B,)`` (user 0 when the environment has none)."""
        if context.user_ids is not None:
            return context.user_ids
        return torch.zeros(context.batch_size, dtype=torch.int64)

    # -- state ---------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Tensor]:
        """Everything that determines future choices: buffers, parameters and the generator state."""
        state = {name: t.detach().clone() for name, t in self.state_dict().items()}
        state["__generator__"] = self.generator.get_state()
        return state

    def set_state(self, state: Mapping[str, Tensor]) -> None:
        """Restore :meth:`get_state`'s output; tensors may have grown since construction."""
        state = dict(state)
        generator_state = state.pop("__generator__")
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"State does not fit {type(self).__name__}: missing {missing}, unexpected {unexpected}."
            )
        with torch.no_grad():
            for name, value in state.items():
                module_name, _, attr = name.rpartition(".")
                module = self.get_submodule(module_name) if module_name else self
                if attr in module._parameters:
                    module._parameters[attr] = nn.Parameter(value.clone())
                else:
                    module._buffers[attr] = value.clone()
        self.generator.set_state(generator_state)
        self.after_load()

    def after_load(self) -> None:
        """Hook for derived, non-saved state (caches) to be rebuilt after :meth:`set_state`."""


class ScorePolicy(PolicyBase):
    """Policies that score every arm and take the best: ``estimator`` belief → ``explorer`` → argmax.

    Subclasses implement :meth:`belief` and :meth:`update`, and set ``self.explorer``.
    """

    explorer: Explorer

    def belief(self, context: Context) -> Belief:  # pragma: no cover - abstract
        raise NotImplementedError

    def select_with_scores(self, context: Context) -> Selection:
        self.check_context(context)
        with torch.no_grad():
            scores = self.explorer(self.belief(context), generator=self.generator)
        if context.arm_mask is not None:
            scores = scores.masked_fill(~context.arm_mask, float("-inf"))
        return Selection(actions=argmax_random_ties(scores, self.generator), scores=scores)


POLICIES: Registry[PolicyBase] = Registry("policy")


def register(key: str):
    """Class decorator: register a policy under ``key`` and record the key on the class."""

    def decorator(cls: type[PolicyBase]) -> type[PolicyBase]:
        cls.key = key
        POLICIES.register(key)(cls)
        return cls

    return decorator


def build_policy(key: str, info: ProblemInfo, *, seed: int | None = None, **params: Any) -> PolicyBase:
    """Build the policy registered under ``key``; unknown keys raise a "did you mean" error."""
    cls = POLICIES.get(key)
    unknown = sorted(set(params) - set(cls.param_names()))  # type: ignore[attr-defined]
    if unknown:
        raise ValueError(
            f"{cls.__name__} has no parameter {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(cls.param_names())}."  # type: ignore[attr-defined]
        )
    return cls(info, seed=seed, **params)


def save_policy(policy: PolicyBase, path: str | Path) -> None:
    """Write the policy's key, hyperparameters, problem info and full state to ``path`` (tensors only)."""
    payload = {
        "key": policy.key,
        "params": policy.params(),
        "seed": policy.seed,
        "info": vars(policy.info),
        "state": policy.get_state(),
    }
    torch.save(payload, Path(path))


def load_policy(path: str | Path) -> PolicyBase:
    """Rebuild a policy saved by :func:`save_policy`; it makes exactly the choices the original would."""
    payload = torch.load(Path(path), weights_only=True)
    policy = build_policy(payload["key"], ProblemInfo(**payload["info"]), seed=payload["seed"], **payload["params"])
    policy.set_state(payload["state"])
    return policy
