"""Combinatorial environments with volatile arms, ``M`` users per round and a submodular set reward.

One round of paper 004 serves ``M`` users ("tasks"); user ``m`` sees its own volatile set ``A_m^t`` of
available arms, each with a context ``O_a ∈ [0, 1]^D`` and an unknown expected quality ``μ(O_a)``, and
chooses a slate ``S_m^t ⊆ A_m^t`` of ``B`` arms.  The quality of every chosen arm is observed
(semi-bandit feedback, ``Bernoulli(μ)``) and the user's reward is the set reward ``R(S, μ)``.

**Layout: the batch of a step is the round's users.**  ``reset``/``step`` always work on the
``B = M`` users of one round (row ``m`` is user ``m``, ``Context.user_ids = arange(M)``), whatever
``batch_size`` the caller passes (1, the runner's default, or ``M``; anything else is an error).
``Context.arm_features`` is ``(M, K_max, D)``: the available arms of a user are padded to
``K_max = max_arms`` slots and ``Context.arm_mask`` ``(M, K_max)`` marks the real ones.  Actions are
slates ``(M, B)`` int64 (distinct, available arms), ``Outcome.rewards`` the observed qualities
``(M, B)``.  Every per-round number is **per user**, shape ``(M,)``:

* ``expected_rewards``       ``R(S_m, μ)``, the expected set reward of the chosen slate;
* ``best_expected_rewards``  ``R(S^g_m, μ)`` of the greedy oracle on the true means, so
  ``Outcome.regret`` is the plain regret of paper-notes §3.4.  For ``"coverage"`` and ``"sum"`` the
  greedy oracle is the top-``B`` arms by ``μ`` (the coverage gain ``μ_a Π_{b∈S}(1 − μ_b)`` orders arms
  by ``μ_a``) and is optimal, so this regret is exact and never negative;
* ``extras["alpha_regret"]`` ``(1 − 1/e)·OPT_m − R(S_m, μ)`` with ``OPT_m`` = the same top-``B``
  value (may be negative).

The round's regret is the sum over the ``M`` rows; a runner that records row 0 only sees user 0.

Streams follow :class:`~neuralbandits.envs.base.BanditEnv`: ``reset(seed=...)`` spawns a context
generator (arm counts, contexts) and a reward generator (Bernoulli qualities), so every policy of a
seed faces the same arms.

References: paper 004 appendix (setting, Assumptions 1–2); Chen, Xu & Lu, "Contextual Combinatorial
Multi-armed Bandits with Volatile Arms and Submodular Reward", NeurIPS 2018 (the crowdsourcing
simulation that :class:`GowallaCombinatorialEnv` follows, ``Bilkent-CYBORG/ACC-UCB``).
"""

from __future__ import annotations

import gzip
import math
from abc import abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neuralbandits.envs.base import BanditEnv
from neuralbandits.types import Context, Outcome, ProblemInfo
from neuralbandits.validation import Interval, InvalidParameterError, OneOf, check_params

__all__ = [
    "CombinatorialEnv",
    "GowallaCombinatorialEnv",
    "SyntheticCombinatorialEnv",
    "read_gowalla_checkins",
    "register_combinatorial",
]

_DTYPE = torch.float32
_ALPHA = 1.0 - 1.0 / math.e
SET_REWARDS = ("coverage", "sum")


def _set_value(qualities: Tensor, set_reward: str) -> Tensor:
    """``R(S, q)`` of slates whose qualities are ``(M, B)`` → ``(M,)``."""
    if set_reward == "coverage":
        return 1.0 - torch.prod(1.0 - qualities, dim=1)
    return qualities.sum(dim=1)


def _poisson_mass(rate: float, low: int, high: int) -> float:
    """``P(low ≤ X ≤ high)`` for ``X ~ Poisson(rate)``."""
    return sum(math.exp(k * math.log(rate) - rate - math.lgamma(k + 1)) for k in range(low, high + 1))


class CombinatorialEnv(BanditEnv):
    """Base of slate environments: ``M`` users a round, volatile arms, set reward, α-regret.

    Subclasses set ``self.info`` (with ``slate_size = B`` and ``n_users = M``) and implement
    :meth:`_draw_arms`, which returns the round's padded contexts, mask and true means.
    Parameters ↔ symbols: ``n_users`` M, ``budget`` B, ``max_arms`` K_max (the padding width: the
    available count is redrawn until ``B < |A_m^t| ≤ K_max``), ``arm_rate`` the Poisson mean of
    ``|A_m^t|``, ``set_reward`` R, ``horizon`` T (only passed on to policies through
    ``info.extras["horizon"]``; the runner decides how many rounds are played).
    """

    def __init__(self, *, n_users: int, budget: int, max_arms: int, arm_rate: float,
                 set_reward: str, horizon: int) -> None:
        owner = type(self).__name__
        values = dict(n_users=n_users, budget=budget, max_arms=max_arms, arm_rate=arm_rate,
                      set_reward=set_reward, horizon=horizon)
        check_params(owner, values, dict(
            n_users=Interval(1, None, integer=True),
            budget=Interval(1, None, integer=True),
            max_arms=Interval(2, None, integer=True),
            arm_rate=Interval(0, None, low_open=True),
            set_reward=OneOf(SET_REWARDS),
            horizon=Interval(1, None, integer=True),
        ))
        if max_arms <= budget:
            raise InvalidParameterError(
                f"The 'max_arms' parameter of {owner} must exceed budget B = {budget} (every user "
                f"needs more than B available arms); got {max_arms}."
            )
        # counts the redraw rule would almost never accept would make it loop (nearly) forever
        if _poisson_mass(float(arm_rate), budget + 1, max_arms) < 1e-3:
            raise InvalidParameterError(
                f"The 'arm_rate' parameter of {owner} must give Poisson counts in "
                f"(B, max_arms] = ({budget}, {max_arms}] with probability >= 0.001; got {arm_rate!r}."
            )
        super().__init__()
        self.n_users, self.budget, self.max_arms = n_users, budget, max_arms
        self.arm_rate, self.set_reward, self.horizon = float(arm_rate), set_reward, horizon

    # -- the protocol --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, batch_size: int = 1) -> Context:
        """Start a stream; the context holds the ``M`` users of the first round.

        ``batch_size`` is accepted for the runner's sake and must be 1 or ``n_users``: a step
        always serves exactly the ``M`` users of one round.
        """
        if batch_size not in (1, self.n_users) or isinstance(batch_size, bool):
            raise InvalidParameterError(
                f"{type(self).__name__} serves its n_users = {self.n_users} users in every step; "
                f"batch_size must be 1 or {self.n_users}; got {batch_size!r}."
            )
        return super().reset(seed=seed, batch_size=self.n_users)

    def step(self, actions: Tensor) -> Outcome:
        """Play slates ``actions`` ``(M, B)`` and move to the next round."""
        context, means = self._require_started()
        actions = self._check_slates(actions, context)
        chosen_means = means.gather(1, actions)
        expected = _set_value(chosen_means, self.set_reward)
        # ALGO LOGIC: the greedy oracle on true means = top-B for coverage and sum (module docstring)
        assert context.arm_mask is not None
        best_means = means.masked_fill(~context.arm_mask, float("-inf")).topk(self.budget, dim=1).values
        best = _set_value(best_means, self.set_reward)
        assert self._reward_generator is not None and self._generator is not None
        rewards = torch.bernoulli(chosen_means, generator=self._reward_generator)
        self._context, self._expected = self._draw(self.n_users, self._generator)
        return Outcome(
            rewards=rewards,
            expected_rewards=expected,
            best_expected_rewards=best,
            next_context=self._context,
            extras={"alpha_regret": _ALPHA * best - expected},
        )

    # -- rounds --------------------------------------------------------------------------------
    def _draw(self, batch_size: int, generator: torch.Generator) -> tuple[Context, Tensor]:
        counts = self._available_counts(generator)
        mask = torch.arange(self.max_arms)[None, :] < counts[:, None]
        contexts, means = self._draw_arms(mask, generator)
        context = Context(
            arm_features=contexts,
            user_ids=torch.arange(self.n_users, dtype=torch.int64),
            arm_mask=mask,
        )
        return context, means

    def _available_counts(self, generator: torch.Generator) -> Tensor:
        """``|A_m^t| ~ Poisson(arm_rate)``, each redrawn until ``B < |A_m^t| ≤ K_max`` → ``(M,)``."""
        rates = torch.full((self.n_users,), self.arm_rate, dtype=torch.float64)
        counts = torch.poisson(rates, generator=generator)
        bad = (counts <= self.budget) | (counts > self.max_arms)
        while bool(bad.any()):
            counts[bad] = torch.poisson(rates[bad], generator=generator)
            bad = (counts <= self.budget) | (counts > self.max_arms)
        return counts.to(torch.int64)

    @abstractmethod
    def _draw_arms(self, mask: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Contexts ``(M, K_max, D)`` in ``[0, 1]^D`` and true means ``(M, K_max)`` for ``mask``."""

    # -- checks --------------------------------------------------------------------------------
    def _check_slates(self, actions: Tensor, context: Context) -> Tensor:
        if not isinstance(actions, Tensor):
            actions = torch.as_tensor(actions)
        expected_shape = (self.n_users, self.budget)
        if tuple(actions.shape) != expected_shape:
            raise ValueError(
                f"actions must be slates of shape {expected_shape} (M users × budget B); "
                f"got {tuple(actions.shape)}."
            )
        if actions.dtype != torch.int64:
            raise ValueError(f"actions must be int64 arm indices; got {actions.dtype}.")
        if int(actions.min()) < 0 or int(actions.max()) >= self.max_arms:
            raise ValueError(
                f"actions must lie in [0, {self.max_arms}); got values in "
                f"[{int(actions.min())}, {int(actions.max())}]."
            )
        assert context.arm_mask is not None
        if not bool(context.arm_mask.gather(1, actions).all()):
            raise ValueError("actions include an arm that arm_mask marks unavailable.")
        ordered = actions.sort(dim=1).values
        if bool((ordered[:, 1:] == ordered[:, :-1]).any()):
            raise ValueError("actions must not repeat an arm within a slate.")
        return actions


class SyntheticCombinatorialEnv(CombinatorialEnv):
    r"""Paper-notes §3.6: Lipschitz qualities on ``[0, 1]^D``, Bernoulli feedback, volatile arms.

    Each round, each of the ``M`` users gets ``|A_m^t| ~ Poisson(arm_rate)`` arms (redrawn until
    ``B < |A_m^t| ≤ K_max``) with contexts i.i.d. uniform on ``[0, 1]^D``; arm ``a``'s quality is
    ``Bernoulli(μ(O_a))`` with

    * ``quality="bump"`` (default): ``μ(o) = 0.1 + 0.8·exp(−2‖o − c‖₁)``, ``c = center·1``;
      L1-Lipschitz with ``L = 1.6``, ``r_max = 0.9``;
    * ``quality="wave"``: ``μ(o) = 0.5 + 0.4·cos(2π·frequency·mean_j o_j)``, Lipschitz with the
      large constant ``L = 0.8π·frequency/D`` (``≈ 10`` for the defaults): cube averages blur it,
      a smooth regressor can follow it.

    Parameters ↔ symbols: ``n_users`` M (5), ``budget`` B (3), ``dim`` D (1; 2 is the notes'
    option), ``arm_rate`` 20, ``max_arms`` K_max (50: ``P(Poisson(20) > 50) ≈ 10⁻⁸``, so the
    truncation is immaterial), ``set_reward`` ``"coverage"`` ``1 − Π_{a∈S}(1 − μ_a)`` or ``"sum"``,
    ``horizon`` T (10 000).  ``info.extras`` carries ``horizon``, ``r_max``, ``lipschitz`` (L) and
    ``max_available`` (``K_max``, the ``|A_m^t|`` of Theorem 1).

    Shapes: contexts ``(M, K_max, D)`` float32, mask ``(M, K_max)``, slates ``(M, B)``.
    """

    QUALITIES = ("bump", "wave")

    def __init__(
        self,
        *,
        n_users: int = 5,
        budget: int = 3,
        dim: int = 1,
        arm_rate: float = 20.0,
        max_arms: int = 50,
        set_reward: str = "coverage",
        quality: str = "bump",
        center: float = 0.7,
        frequency: float = 4.0,
        horizon: int = 10_000,
    ) -> None:
        check_params(type(self).__name__, dict(dim=dim, quality=quality, center=center,
                                                 frequency=frequency), dict(
            dim=Interval(1, None, integer=True),
            quality=OneOf(self.QUALITIES),
            center=Interval(0, 1),
            frequency=Interval(0, None, low_open=True),
        ))
        super().__init__(n_users=n_users, budget=budget, max_arms=max_arms, arm_rate=arm_rate,
                         set_reward=set_reward, horizon=horizon)
        self.quality, self.center, self.frequency = quality, float(center), float(frequency)
        if quality == "bump":
            lipschitz, r_max = 1.6, 0.9
        else:
            lipschitz, r_max = 0.8 * math.pi * frequency / dim, 0.9
        self.info = ProblemInfo(
            n_arms=max_arms, dim=dim, n_users=n_users, slate_size=budget,
            extras={"horizon": float(horizon), "r_max": r_max, "lipschitz": lipschitz,
                    "max_available": float(max_arms)},
        )

    def quality_of(self, contexts: Tensor) -> Tensor:
        """``μ(o)`` of contexts ``(..., D)`` → ``(...)``."""
        if self.quality == "bump":
            return 0.1 + 0.8 * torch.exp(-2.0 * (contexts - self.center).abs().sum(-1))
        return 0.5 + 0.4 * torch.cos(2.0 * math.pi * self.frequency * contexts.mean(-1))

    def _draw_arms(self, mask: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        contexts = torch.rand(self.n_users, self.max_arms, self.dim, generator=generator, dtype=_DTYPE)
        return contexts, self.quality_of(contexts)


# ------------------------------------------------------------------------------------------------
# Gowalla (CC-MAB's crowdsourcing simulation)
# ------------------------------------------------------------------------------------------------
def read_gowalla_checkins(path: str | Path) -> Tensor:
    """Latitude and longitude of every check-in of a SNAP ``loc-Gowalla`` file, min–max scaled, ``(N, 2)``.

    The file (``loc-gowalla_totalCheckins.txt`` or its ``.gz``) has one tab-separated line per
    check-in: ``user, time, latitude, longitude, location id``.  Each coordinate is scaled to
    ``[0, 1]`` over the whole file (a constant column becomes 0).  We ship no copy of the data.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Gowalla check-ins not found at {path}; download loc-gowalla_totalCheckins.txt.gz from "
            "https://snap.stanford.edu/data/loc-gowalla.html and pass its path as checkins_path."
        )
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter="\t", usecols=(2, 3), dtype=np.float64, ndmin=2)
    except ValueError as error:
        raise InvalidParameterError(
            f"{path} is not a SNAP Gowalla check-in file (user, time, latitude, longitude, "
            f"location per tab-separated line): {error}"
        ) from None
    if table.shape[0] == 0:
        raise InvalidParameterError(f"{path} holds no check-in.")
    low, high = table.min(axis=0), table.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return torch.from_numpy((table - low) / span).to(_DTYPE)


class GowallaCombinatorialEnv(CombinatorialEnv):
    r"""CC-MAB's Gowalla crowdsourcing simulation with ``M`` tasks per round (paper-notes §3.6).

    Per round and task: the task location is uniform on ``[0, 1]²``; ``|A_m^t| ~ Poisson(arm_rate)``
    workers (redrawn until ``B < |A_m^t| ≤ K_max``); each worker has a battery ``~ U(0, 1)`` and the
    location of a random check-in, each check-in used at most once in a run (``reuse_checkins=True``
    draws with replacement instead); context ``O = (‖loc_w − loc_task‖₂/√2, battery) ∈ [0, 1]²``;
    ``μ(O) = exp(−O₁²/2)·O₂²``; quality ``Bernoulli(μ)``; coverage reward ``1 − Π(1 − μ_a)``
    (the task succeeds if any chosen worker does), so the plain regret is
    ``Π_S(1 − μ) − Π_{top-B}(1 − μ)`` as in ``gowalla_problem_model.py``.  ``L = 2`` (L1),
    ``r_max = 1``.

    Differences from ``Bilkent-CYBORG/ACC-UCB``: draws come from our seeded streams (not the shipped
    pickled ``simulation_df``), so they differ from the authors'; the check-ins are read from
    ``checkins_path`` (no copy ships with this library, and none is in our data folder).  Defaults
    follow the repository: one task (``n_users=1``), ``budget`` 2 (4 is their other setting),
    ``arm_rate`` 50, ``horizon`` 50 000.
    """

    def __init__(
        self,
        checkins_path: str | Path | None = None,
        *,
        n_users: int = 1,
        budget: int = 2,
        arm_rate: float = 50.0,
        max_arms: int = 100,
        horizon: int = 50_000,
        reuse_checkins: bool = False,
    ) -> None:
        if checkins_path is None:
            raise InvalidParameterError(
                "GowallaCombinatorialEnv needs checkins_path: the SNAP loc-Gowalla check-ins "
                "(loc-gowalla_totalCheckins.txt[.gz]); no copy ships with neuralbandits."
            )
        super().__init__(n_users=n_users, budget=budget, max_arms=max_arms, arm_rate=arm_rate,
                         set_reward="coverage", horizon=horizon)
        self.checkins_path, self.reuse_checkins = Path(checkins_path), bool(reuse_checkins)
        self.checkins = read_gowalla_checkins(self.checkins_path)
        self.info = ProblemInfo(
            n_arms=max_arms, dim=2, n_users=n_users, slate_size=budget,
            extras={"horizon": float(horizon), "r_max": 1.0, "lipschitz": 2.0,
                    "max_available": float(max_arms)},
        )
        self._order = torch.empty(0, dtype=torch.int64)
        self._cursor = 0

    @staticmethod
    def quality_of(contexts: Tensor) -> Tensor:
        """``μ(O) = exp(−O₁²/2)·O₂²`` of contexts ``(..., 2)`` → ``(...)``."""
        return torch.exp(-0.5 * contexts[..., 0].square()) * contexts[..., 1].square()

    def _on_reset(self, generator: torch.Generator) -> None:
        self._order = torch.randperm(self.checkins.shape[0], generator=generator)
        self._cursor = 0

    def _draw_arms(self, mask: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        n_workers = int(mask.sum())
        task = torch.rand(self.n_users, 1, 2, generator=generator, dtype=_DTYPE)
        battery = torch.rand(self.n_users, self.max_arms, generator=generator, dtype=_DTYPE)
        if self.reuse_checkins:
            picks = torch.randint(self.checkins.shape[0], (n_workers,), generator=generator)
        else:
            if self._cursor + n_workers > self._order.shape[0]:
                raise RuntimeError(
                    f"{type(self).__name__} used all {self._order.shape[0]} check-ins of "
                    f"{self.checkins_path} (each at most once per run); play fewer rounds or pass "
                    "reuse_checkins=True."
                )
            picks = self._order[self._cursor : self._cursor + n_workers]
            self._cursor += n_workers
        locations = torch.zeros(self.n_users, self.max_arms, 2, dtype=_DTYPE)
        locations[mask] = self.checkins[picks]
        distance = (locations - task).norm(dim=-1) / math.sqrt(2.0)
        contexts = torch.stack([distance.clamp(0.0, 1.0), battery], dim=-1)
        return contexts, self.quality_of(contexts)


# ------------------------------------------------------------------------------------------------
# Registration (called from neuralbandits.envs.registry, which this module must not import)
# ------------------------------------------------------------------------------------------------
def register_combinatorial(registry: Any) -> None:
    """Add ``combinatorial:synthetic``, ``combinatorial:synthetic-wave`` and ``combinatorial:gowalla``
    to the environment registry ``registry``."""

    @registry.register("combinatorial:synthetic")
    def _synthetic(**kwargs: Any) -> BanditEnv:
        """Slates of B = 3 for M = 5 users, Poisson(20) volatile arms, Lipschitz bump, coverage.

        Keyword arguments go to :class:`SyntheticCombinatorialEnv`.
        """
        return SyntheticCombinatorialEnv(**kwargs)

    @registry.register("combinatorial:synthetic-wave")
    def _synthetic_wave(**kwargs: Any) -> BanditEnv:
        """As combinatorial:synthetic with a fast cosine quality (L ≈ 10) that cubes blur.

        Keyword arguments go to :class:`SyntheticCombinatorialEnv`; ``quality`` is fixed.
        """
        if "quality" in kwargs:
            raise InvalidParameterError(
                "The 'quality' parameter is fixed to 'wave' by environment "
                f"'combinatorial:synthetic-wave'; got {kwargs['quality']!r}."
            )
        return SyntheticCombinatorialEnv(quality="wave", **kwargs)

    @registry.register("combinatorial:gowalla")
    def _gowalla(**kwargs: Any) -> BanditEnv:
        """CC-MAB's Gowalla crowdsourcing simulation; needs checkins_path (SNAP loc-Gowalla).

        Keyword arguments go to :class:`GowallaCombinatorialEnv`.
        """
        return GowallaCombinatorialEnv(**kwargs)
