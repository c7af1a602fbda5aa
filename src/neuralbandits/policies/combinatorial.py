"""Combinatorial (slate) policies: CCBM, CC-MAB and the slate baselines of paper 004.

Every policy here chooses, for each row of a context (a user of the round), a slate of ``B`` distinct
available arms: ``select`` returns ``(R, B)`` int64 and ``update`` takes the semi-bandit feedback
``(R, B)`` (the observed quality of every chosen arm).  ``B`` is ``budget``, by default the problem's
``slate_size`` (1 when the problem has none).  A row with fewer than ``B`` available arms is an error
naming ``budget``.

* :class:`CCBM` (``ccbm``) — hypercube partition + explore under-explored cubes + greedy oracle on
  the cube means (paper 004, Algorithm 2 as reconstructed in paper-notes §3.3).
* :class:`CCMAB` (``ccmab``) — Chen, Xu & Lu's CC-MAB, run independently for every user.
* :class:`RandomSlate` (``random-slate``) — a uniform ``B``-subset of the available arms.
* :class:`LinUCBSlate` (``linucb-slate``), :class:`NeuralUCBSlate` (``neuucb-slate``) — Algorithm 1
  on LinUCB / NeuralUCB scores, composed from the single-arm policies' estimators.
* :class:`OracleSlate` (tests only, not registered) — Algorithm 1 on the environment's true means.

References: paper 004 appendix (Algorithms 1–2, Theorem 1); Chen, Xu & Lu, "Contextual Combinatorial
Multi-armed Bandits with Volatile Arms and Submodular Reward", NeurIPS 2018 (CC-MAB, Algorithm 1).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from neuralbandits.models.partition import HypercubePartition, check_unit_cube
from neuralbandits.policies.base import PolicyBase, register
from neuralbandits.policies.linear import LinUCB
from neuralbandits.policies.neural import NeuralEstimatorPolicy, NeuUCBOne
from neuralbandits.policies.selectors_submodular import SET_REWARDS, greedy_submodular
from neuralbandits.rng import spawn_seeds
from neuralbandits.types import Context, Feedback, ProblemInfo, Selection
from neuralbandits.validation import Interval, InvalidParameterError, OneOf, Optional

__all__ = [
    "CCBM",
    "CCMAB",
    "LinUCBSlate",
    "NeuralUCBSlate",
    "OracleSlate",
    "RandomSlate",
    "SlatePolicy",
    "control_function",
    "cubes_per_dimension",
]

#: horizon T used when neither the policy nor the problem (``info.extras["horizon"]``) gives one
DEFAULT_HORIZON = 10_000


class SlatePolicy(PolicyBase):
    """Shared machinery of the slate policies: the budget ``B`` and the checks of a slate round.

    ``budget`` is B (``None``: ``info.slate_size``, or 1 if the problem has no slate size); the
    stored ``info`` carries the resolved ``slate_size``.
    """

    constraints = {"budget": Optional(Interval(1, None, integer=True))}
    #: choices are ``(R, B)`` slates (the single-arm contract tests skip these policies)
    slate_policy: ClassVar[bool] = True

    def __init__(self, info: ProblemInfo, *, budget: int | None = None, seed: int | None = None) -> None:
        resolved = budget if budget is not None else (info.slate_size or 1)
        super().__init__(dataclasses.replace(info, slate_size=resolved), seed=seed)
        self.budget = budget

    @property
    def slate_size(self) -> int:
        """The resolved budget ``B``."""
        assert self.info.slate_size is not None
        return self.info.slate_size

    def slate_inputs(self, context: Context) -> tuple[Tensor, Tensor]:
        """Checked ``(R, K, d)`` arm features and ``(R, K)`` availability mask of a slate round."""
        self.check_context(context)
        features = context.dense_arm_features()
        mask = context.arm_mask
        if mask is None:
            mask = torch.ones(features.shape[:2], dtype=torch.bool)
        available = mask.sum(1)
        if int(available.min()) < self.slate_size:
            row = int(available.argmin())
            raise InvalidParameterError(
                f"The 'budget' of {type(self).__name__} (B = {self.slate_size}) exceeds the "
                f"available arms of row {row} of Context.arm_mask ({int(available[row])})."
            )
        return features, mask

    def check_slates(self, feedback: Feedback) -> None:
        """Feedback must hold ``(R, B)`` slates."""
        actions = feedback.actions
        if actions.ndim != 2 or actions.shape[1] != self.slate_size:
            raise InvalidParameterError(
                f"Feedback.actions of {type(self).__name__} must be slates of shape (R, "
                f"{self.slate_size}); got {tuple(actions.shape)}."
            )


def _random_subset(mask: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """``size`` distinct arms per row, uniform among ``mask`` (≥ ``size`` per row) → ``(R, size)``."""
    keys = torch.rand(mask.shape, generator=generator).masked_fill(~mask, -1.0)
    return keys.topk(size, dim=1).indices


# ------------------------------------------------------------------------------------------------
# CCBM and CC-MAB
# ------------------------------------------------------------------------------------------------
def _integer_root_ceil(value: int, k: int) -> int:
    """Smallest integer ``h ≥ 1`` with ``h^k ≥ value`` (``⌈value^{1/k}⌉`` without rounding error)."""
    h = max(1, math.ceil(value ** (1.0 / k)))
    while h > 1 and (h - 1) ** k >= value:
        h -= 1
    while h**k < value:
        h += 1
    return h


def _integer_root_floor(value: int, k: int) -> int:
    """Largest integer ``c ≥ 1`` with ``c^k ≤ value``."""
    c = max(1, math.floor(value ** (1.0 / k)))
    while c > 1 and c**k > value:
        c -= 1
    while (c + 1) ** k <= value:
        c += 1
    return c


def cubes_per_dimension(horizon: int, dim: int, *, h_rule: str = "appendix",
                        partition: str = "per_dimension") -> int:
    """Intervals per dimension of the partition of ``[0, 1]^D``.

    ``h_rule="appendix"``: ``h_T = ⌈T^{1/4}⌉``; ``"ccmab"``: ``h_T = ⌈T^{1/(3α+D)}⌉`` with Hölder
    exponent ``α = 1``.  ``partition="per_dimension"`` cuts every dimension into ``h_T`` intervals
    (``h_T^D`` cubes); ``"total"`` aims at ``h_T`` cubes overall: ``⌊h_T^{1/D}⌋`` per dimension (equal
    for ``D = 1``).
    """
    h = _integer_root_ceil(horizon, 4 if h_rule == "appendix" else 3 + dim)
    return h if partition == "per_dimension" else _integer_root_floor(h, dim)


def control_function(n: Tensor, dim: int, *, k_rule: str = "appendix") -> Tensor:
    """``K(n)``: ``√n ln n`` (``"appendix"``) or ``n^{2/(3+D)} ln n`` (``"ccmab"``); 0 for ``n ≤ 1``."""
    n = n.to(torch.float64)
    exponent = 0.5 if k_rule == "appendix" else 2.0 / (3.0 + dim)
    safe = n.clamp_min(1.0)
    return torch.where(n > 1, safe.pow(exponent) * safe.log(), torch.zeros_like(safe))


@register("ccbm")
class CCBM(SlatePolicy):
    r"""CCBM: hypercube partition, exploration of under-explored cubes, greedy submodular exploitation.

    Rule (paper-notes §3.3, reconstructed from the paper-004 appendix and CC-MAB).  The context space
    ``[0, 1]^D`` is cut into cubes of side ``1/h_T``; every cube ``p`` keeps a play count ``C(p)`` and
    the mean ``q̂(p)`` of the qualities observed in it.  For user ``m`` with available arms ``A_m^t``:

    1. map each arm to its cube ``p(a)``; the under-explored arms are
       ``A_ue = {a : C(p(a)) ≤ K(n)}``, ``K(n) = √n · ln n`` (0 for ``n ≤ 1``);
    2. **explore** if ``A_ue ≠ ∅``: ``B`` arms drawn uniformly from ``A_ue`` if ``|A_ue| ≥ B``,
       otherwise ``A_ue`` completed greedily (Algorithm 1 started from ``S₀ = A_ue``; for coverage and
       sum this is the notes' ``A_ue ∪ GREEDY(A \ A_ue, q̂, B − |A_ue|)``);
    3. **exploit** otherwise: ``S = GREEDY(A_m^t, q̂∘p, B)``;
    4. observe ``r_a`` for ``a ∈ S``: ``C(p(a)) += 1``, ``q̂(p(a)) += (r_a − q̂(p(a)))/C(p(a))``.

    Parameters ↔ symbols and options (defaults are ours, paper-notes §3.3):

    * ``budget`` — B (default ``info.slate_size``).
    * ``horizon`` — T of ``h_T`` (default ``info.extras["horizon"]``, else 10 000).
    ``count_index``, ``shared_stats``, ``h_rule`` and ``k_rule`` left at ``None`` take the class's
    ``rule_defaults`` (the notes' choices here, CC-MAB's rules in :class:`CCMAB`).

    * ``h_rule`` (notes' ``h_T_rule``) — ``"appendix"``: ``h_T = ⌈T^{1/4}⌉``; ``"ccmab"``:
      ``⌈T^{1/(3+D)}⌉``.  ``cubes_per_dim`` overrides ``h_T`` directly.
    * ``k_rule`` (notes' ``K_rule``) — ``"appendix"``: ``K(n) = √n ln n``; ``"ccmab"``:
      ``n^{2/(3+D)} ln n``.
    * ``partition`` — ``"per_dimension"`` (``h_T^D`` cubes) or ``"total"`` (``≈ h_T`` cubes overall,
      see :func:`cubes_per_dimension`).
    * ``count_index`` — the ``n`` of ``K(n)``: ``"decisions"`` (user-decisions made before this
      round, pooled over the users sharing the statistics; ``n_x < M t_τ`` in the proof),
      ``"observations"`` (arm plays before this round), ``"round"`` (the 1-based round ``t``, as
      CC-MAB).  One ``update`` call is one round.
    * ``shared_stats`` — ``True``: one set of cube statistics for all users; ``False``: one per user
      (``info.n_users`` sets, rows routed by ``Context.user_ids``; ``n`` then counts per user too).
    * ``set_reward`` — R: ``"coverage"`` ``1 − Π_{a∈S}(1 − q_a)`` or ``"sum"``; must match the
      environment's.
    * ``update_timing`` — ``"end_of_round"``: all rows of a ``select`` decide on the statistics at the
      start of the round (batched); ``"sequential"``: rows decide in order and each sees the plays
      (counts ``C(p)`` and ``n``) of the rows before it.  Means change only in ``update``, as the
      environment reveals the qualities of a whole round together; for fully sequential learning use
      one user per round.

    Input: arm features ``(R, K, D)`` in ``[0, 1]^D`` (available arms are checked; an entry outside
    raises an error naming ``Context.arm_features``), ``arm_mask`` ``(R, K)``, ``user_ids`` ``(R,)``.
    Output: slates ``(R, B)``; ``Selection.scores`` are the cube means ``q̂(p(a))``.  State:
    ``partition.counts`` / ``partition.means`` ``(n_members, h_T^D)``, ``decisions`` and
    ``observations`` ``(n_members,)``, ``rounds``.  After each ``select``, ``last_explored`` ``(R,)``
    says which rows explored.

    References: paper 004 appendix (Algorithm 2, Theorem 1: ``h_T = ⌈T^{1/4}⌉``,
    ``K(n_x) = n_x^{1/2} log n_x``); Chen, Xu & Lu, NeurIPS 2018, Algorithm 1 (CC-MAB).
    """

    constraints = {
        **SlatePolicy.constraints,
        "horizon": Optional(Interval(1, None, integer=True)),
        "set_reward": OneOf(SET_REWARDS),
        "count_index": OneOf(("decisions", "observations", "round")),
        "shared_stats": OneOf((True, False)),
        "h_rule": OneOf(("appendix", "ccmab")),
        "k_rule": OneOf(("appendix", "ccmab")),
        "partition": OneOf(("per_dimension", "total")),
        "update_timing": OneOf(("end_of_round", "sequential")),
        "cubes_per_dim": Optional(Interval(1, None, integer=True)),
    }
    test_params = {"horizon": 256}
    #: what ``None`` means for the rule keywords
    rule_defaults: ClassVar[dict[str, Any]] = {
        "count_index": "decisions", "shared_stats": True, "h_rule": "appendix", "k_rule": "appendix",
    }

    def __init__(
        self,
        info: ProblemInfo,
        *,
        budget: int | None = None,
        horizon: int | None = None,
        set_reward: str = "coverage",
        count_index: str | None = None,
        shared_stats: bool | None = None,
        h_rule: str | None = None,
        k_rule: str | None = None,
        partition: str = "per_dimension",
        update_timing: str = "end_of_round",
        cubes_per_dim: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(info, budget=budget, seed=seed)
        # None takes the class's default (CCBM: the notes' choices; CCMAB: CC-MAB's own rules)
        given = {"count_index": count_index, "shared_stats": shared_stats, "h_rule": h_rule, "k_rule": k_rule}
        for name, value in given.items():
            setattr(self, name, self.rule_defaults[name] if value is None else value)
        self.horizon, self.set_reward = horizon, set_reward
        self.partition, self.update_timing, self.cubes_per_dim = partition, update_timing, cubes_per_dim
        self.check_params()
        self.horizon_T = int(horizon or info.extras.get("horizon", DEFAULT_HORIZON))
        h = cubes_per_dim or cubes_per_dimension(self.horizon_T, info.dim, h_rule=self.h_rule,
                                                 partition=partition)
        self.n_members = 1 if self.shared_stats else info.n_users
        self.cubes = HypercubePartition(info.dim, h, n_members=self.n_members)
        self.register_buffer("decisions", torch.zeros(self.n_members, dtype=torch.int64))
        self.register_buffer("observations", torch.zeros(self.n_members, dtype=torch.int64))
        self.register_buffer("rounds", torch.zeros((), dtype=torch.int64))
        self.last_explored = torch.zeros(0, dtype=torch.bool)

    def members(self, context: Context) -> Tensor:
        """Statistics member of every row: 0 when shared, else the row's user."""
        if self.shared_stats:
            return torch.zeros(context.batch_size, dtype=torch.int64)
        return self.user_ids(context)

    def count_values(self, members: Tensor) -> Tensor:
        """The ``n`` of ``K(n)`` for rows of ``members`` ``(R,)``, before this round's plays."""
        if self.count_index == "decisions":
            return self.decisions[members]
        if self.count_index == "observations":
            return self.observations[members]
        return (self.rounds + 1).expand(members.shape)

    def select_with_scores(self, context: Context) -> Selection:
        features, mask = self.slate_inputs(context)
        check_unit_cube("Context.arm_features", features, mask)
        members = self.members(context)
        cube_ids = self.cubes.cube_ids(features)  # (R, K)
        counts, means = self.cubes.lookup(members, cube_ids)
        n = self.count_values(members)
        if self.update_timing == "end_of_round":
            slates, explored = self._choose(mask, counts, means, n)
        else:
            slates, explored = self._choose_sequentially(mask, cube_ids, members, counts, means, n)
        self.last_explored = explored
        scores = means.masked_fill(~mask, float("-inf"))
        return Selection(actions=slates, scores=scores)

    # ALGO LOGIC: explore the under-explored cubes, else exploit with the greedy oracle ------------
    def _choose(self, mask: Tensor, counts: Tensor, means: Tensor, n: Tensor) -> tuple[Tensor, Tensor]:
        budget = self.slate_size
        threshold = control_function(n, self.info.dim, k_rule=self.k_rule)  # K(n), (R,)
        under = mask & (counts.to(torch.float64) <= threshold[:, None])  # A_ue
        n_under = under.sum(1)
        explore_all = n_under >= budget
        random_slates = _random_subset(under | ~explore_all[:, None], budget, self.generator)
        greedy_slates = greedy_submodular(
            means, budget, set_reward=self.set_reward, mask=mask,
            selected=under & ~explore_all[:, None], generator=self.generator,
        )
        slates = torch.where(explore_all[:, None], random_slates, greedy_slates)
        return slates, n_under > 0

    def _choose_sequentially(self, mask: Tensor, cube_ids: Tensor, members: Tensor, counts: Tensor,
                             means: Tensor, n: Tensor) -> tuple[Tensor, Tensor]:
        pending = torch.zeros(self.n_members, self.cubes.n_cubes, dtype=torch.int64)
        pending_n = torch.zeros(self.n_members, dtype=torch.int64)
        per_decision = {"decisions": 1, "observations": self.slate_size, "round": 0}[self.count_index]
        slates, explored = [], []
        for row in range(mask.shape[0]):  # option only; the default path is batched
            member = members[row : row + 1]
            seen = counts[row : row + 1] + pending[member[:, None], cube_ids[row : row + 1]]
            slate, explore = self._choose(mask[row : row + 1], seen, means[row : row + 1],
                                          n[row : row + 1] + pending_n[member])
            pending[int(member[0])].index_add_(0, cube_ids[row, slate[0]], torch.ones_like(slate[0]))
            pending_n[member] += per_decision
            slates.append(slate)
            explored.append(explore)
        return torch.cat(slates), torch.cat(explored)

    def update(self, feedback: Feedback) -> None:
        self.check_slates(feedback)
        context, actions = feedback.context, feedback.actions
        features = context.dense_arm_features()
        chosen = features.gather(1, actions[..., None].expand(-1, -1, features.shape[-1]))  # (R, B, D)
        check_unit_cube("Feedback.context.arm_features", chosen)
        members = self.members(context)
        cube_ids = self.cubes.cube_ids(chosen)
        self.cubes.update(members[:, None].expand_as(cube_ids).reshape(-1), cube_ids.reshape(-1),
                          feedback.rewards.reshape(-1))
        self.decisions.index_add_(0, members, torch.ones_like(members))
        self.observations.index_add_(0, members, torch.full_like(members, actions.shape[1]))
        self.rounds.add_(1)
        self.rounds_seen.add_(actions.shape[0])


@register("ccmab")
class CCMAB(CCBM):
    r"""CC-MAB run independently for every user: CCBM with CC-MAB's own rules.

    Chen, Xu & Lu's algorithm serves one task per round: ``h_T = ⌈T^{1/(3α+D)}⌉`` intervals per
    dimension, under-explored if ``C(p) ≤ t^{2α/(3α+D)} ln t`` with ``t`` the round, random ``B`` of the
    under-explored arms or all of them completed by the oracle on the cube means.  Here ``α = 1``
    (Lipschitz) and each user keeps its own statistics, so it is :class:`CCBM` with the defaults
    ``shared_stats=False``, ``h_rule=k_rule="ccmab"``, ``count_index="round"``; every CCBM keyword is
    accepted.  With one user it is the single-task CC-MAB (``Bilkent-CYBORG/ACC-UCB:CC_MAB.py``).
    For ``D = 1`` the rules coincide with the appendix's, and only the per-user statistics differ.

    References: Chen, Xu & Lu, "Contextual Combinatorial Multi-armed Bandits with Volatile Arms and
    Submodular Reward", NeurIPS 2018, Algorithm 1 and Theorem 1.
    """

    rule_defaults = {"count_index": "round", "shared_stats": False, "h_rule": "ccmab", "k_rule": "ccmab"}


# ------------------------------------------------------------------------------------------------
# Baselines
# ------------------------------------------------------------------------------------------------
@register("random-slate")
class RandomSlate(SlatePolicy):
    """Uniformly random slate: ``B`` distinct arms drawn uniformly from the available ones.

    ``budget`` is B.  ``Selection.probabilities`` is the slate's probability ``1 / C(|A|, B)``.
    Reference: the random baseline of CC-MAB's experiments (Chen, Xu & Lu, NeurIPS 2018).
    """

    def __init__(self, info: ProblemInfo, *, budget: int | None = None, seed: int | None = None) -> None:
        super().__init__(info, budget=budget, seed=seed)
        self.check_params()

    def select_with_scores(self, context: Context) -> Selection:
        _, mask = self.slate_inputs(context)
        slates = _random_subset(mask, self.slate_size, self.generator)
        available = mask.sum(1).to(torch.float64)
        log_subsets = (torch.lgamma(available + 1) - torch.lgamma(available - self.slate_size + 1)
                       - math.lgamma(self.slate_size + 1))
        scores = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
        return Selection(actions=slates, scores=scores, probabilities=torch.exp(-log_subsets).float())

    def update(self, feedback: Feedback) -> None:
        self.check_slates(feedback)
        self.rounds_seen.add_(feedback.actions.shape[0])


class OracleSlate(SlatePolicy):
    """Algorithm 1 on the environment's true expected qualities (reads the environment; tests only).

    ``env`` must offer ``expected_rewards()`` ``(R, K)``; ``set_reward`` must match the environment's.
    For coverage and sum its plain regret is zero.
    """

    def __init__(self, info: ProblemInfo, *, env: Any, budget: int | None = None,
                 set_reward: str = "coverage", seed: int | None = None) -> None:
        super().__init__(info, budget=budget, seed=seed)
        self.env, self.set_reward = env, set_reward

    def select_with_scores(self, context: Context) -> Selection:
        _, mask = self.slate_inputs(context)
        means = self.env.expected_rewards()
        slates = greedy_submodular(means, self.slate_size, set_reward=self.set_reward, mask=mask,
                                   generator=self.generator)
        return Selection(actions=slates, scores=means.masked_fill(~mask, float("-inf")))

    def update(self, feedback: Feedback) -> None:
        self.rounds_seen.add_(feedback.actions.shape[0])


class _ScoredSlate(SlatePolicy):
    """Algorithm 1 on the optimistic scores of a single-arm score policy (``self.scorer``).

    The scorer sees the arm contexts, with a constant feature 1 appended when ``intercept`` is true
    (neither LinUCB nor the bias-free networks have an intercept otherwise), and learns from every
    chosen arm's quality as one sample.  For ``"coverage"`` the scores are clipped to ``[0, 1]``
    first, as the coverage function needs probabilities.  The scorer uses this policy's generator,
    so the saved state covers it.
    """

    scorer: Any

    def scorer_info(self, info: ProblemInfo, intercept: bool) -> ProblemInfo:
        return ProblemInfo(n_arms=info.n_arms, dim=info.dim + int(intercept))

    def scorer_features(self, features: Tensor) -> Tensor:
        if not self.intercept:
            return features
        return torch.cat([features, torch.ones(features.shape[:-1] + (1,), dtype=features.dtype)], -1)

    def select_with_scores(self, context: Context) -> Selection:
        features, mask = self.slate_inputs(context)
        inputs = Context(arm_features=self.scorer_features(features), arm_mask=mask)
        with torch.no_grad():
            scores = self.scorer.explorer(self.scorer.belief(inputs), generator=self.generator)
        qualities = scores.clamp(0.0, 1.0) if self.set_reward == "coverage" else scores
        slates = greedy_submodular(qualities, self.slate_size, set_reward=self.set_reward, mask=mask,
                                   generator=self.generator)
        return Selection(actions=slates, scores=scores.masked_fill(~mask, float("-inf")))

    def update(self, feedback: Feedback) -> None:
        self.check_slates(feedback)
        features = feedback.context.dense_arm_features()
        actions = feedback.actions
        chosen = features.gather(1, actions[..., None].expand(-1, -1, features.shape[-1]))
        plays = chosen.reshape(-1, 1, chosen.shape[-1])  # every played arm is one sample
        samples = Context(arm_features=self.scorer_features(plays))
        self.scorer.update(Feedback(samples, torch.zeros(plays.shape[0], dtype=torch.int64),
                                    feedback.rewards.reshape(-1).to(plays.dtype)))
        self.rounds_seen.add_(actions.shape[0])


@register("linucb-slate")
class LinUCBSlate(_ScoredSlate):
    r"""Greedy slate on LinUCB scores: Algorithm 1 with ``q_a = x_aᵀθ̂ + α √(x_aᵀA⁻¹x_a)``.

    One shared ridge model over the arm contexts ``x_a = [O_a, 1]`` (``intercept``), fitted on every
    observed arm quality.  ``alpha`` is α, ``l2_reg`` is λ (``A`` starts at ``λI``), ``budget`` B,
    ``set_reward`` R (must match the environment's).  Input ``(R, K, D)``, output ``(R, B)``.

    References: Li, Chu, Langford & Schapire, WWW 2010 (LinUCB); Qin, Chen & Zhu, "Contextual
    combinatorial bandit and its application on diversified online recommendation", SDM 2014 (greedy
    slates on UCB scores).
    """

    constraints = {**SlatePolicy.constraints, **LinUCB.constraints, "set_reward": OneOf(SET_REWARDS),
                   "intercept": OneOf((True, False))}
    test_params = {"alpha": 1.0}

    def __init__(self, info: ProblemInfo, *, budget: int | None = None, set_reward: str = "coverage",
                 alpha: float = 1.0, l2_reg: float = 1.0, intercept: bool = True,
                 seed: int | None = None) -> None:
        super().__init__(info, budget=budget, seed=seed)
        self.set_reward, self.alpha, self.l2_reg, self.intercept = set_reward, alpha, l2_reg, intercept
        self.check_params()
        (scorer_seed,) = spawn_seeds(seed, 1)
        self.scorer = LinUCB(self.scorer_info(info, intercept), alpha=alpha, l2_reg=l2_reg,
                             seed=scorer_seed)
        self.scorer.generator = self.generator


@register("neuucb-slate")
class NeuralUCBSlate(_ScoredSlate):
    r"""Greedy slate on NeuralUCB scores: Algorithm 1 with ``q_a = f(x_a; θ) + √(Σ_j λ α g_j² / U_j)``.

    One network (``neuucb-one``'s estimator: diagonal design ``U``, Adam, minibatch training) over
    ``x_a = [O_a, 1]`` (``intercept``), trained on every observed arm quality.  ``alpha`` (ν),
    ``l2_reg`` (λ), ``width`` (m), ``depth``, ``lr``, ``n_steps``, ``batch_size`` and ``design`` are
    NeuUCB-ONE's; the schedule (``train_every`` rounds while ``t < train_switch_at``, then every
    ``train_every_after``) counts rounds of ``info.n_users · B`` plays.  ``budget`` B, ``set_reward``
    R (must match the environment's).  Input ``(R, K, D)``, output ``(R, B)``.

    References: Zhou, Li & Gu, "Neural contextual bandits with UCB-based exploration", ICML 2020;
    Hwang, Chai & Oh, "Combinatorial neural bandits", ICML 2023 (slates on neural UCB scores).
    """

    constraints = {**SlatePolicy.constraints, **NeuralEstimatorPolicy.constraints,
                   "alpha": Optional(Interval(0, None)),
                   "l2_reg": Optional(Interval(0, None, low_open=True)),
                   "set_reward": OneOf(SET_REWARDS), "intercept": OneOf((True, False))}
    test_params = {"width": 8, "n_steps": 2, "batch_size": 4, "train_every": 1}

    def __init__(
        self,
        info: ProblemInfo,
        *,
        budget: int | None = None,
        set_reward: str = "coverage",
        alpha: float | None = None,
        l2_reg: float | None = None,
        width: int = 100,
        depth: int = 2,
        lr: float = 1e-3,
        n_steps: int = 50,
        batch_size: int = 16,
        train_every: int = 10,
        train_every_after: int = 100,
        train_switch_at: int = 1000,
        design: str = "diagonal",
        intercept: bool = True,
        seed: int | None = None,
    ) -> None:
        super().__init__(info, budget=budget, seed=seed)
        self.set_reward, self.alpha, self.l2_reg, self.intercept = set_reward, alpha, l2_reg, intercept
        self.width, self.depth, self.lr, self.n_steps = width, depth, lr, n_steps
        self.batch_size, self.train_every, self.train_every_after = batch_size, train_every, train_every_after
        self.train_switch_at, self.design = train_switch_at, design
        self.check_params()
        plays = info.n_users * self.slate_size  # scorer samples per round
        (scorer_seed,) = spawn_seeds(seed, 1)
        self.scorer = NeuUCBOne(
            self.scorer_info(info, intercept), alpha=alpha, l2_reg=l2_reg, width=width, depth=depth,
            lr=lr, n_steps=n_steps, batch_size=batch_size, train_every=train_every * plays,
            train_every_after=train_every_after * plays, train_switch_at=train_switch_at * plays,
            design=design, seed=scorer_seed,
        )
        self.scorer.generator = self.generator
