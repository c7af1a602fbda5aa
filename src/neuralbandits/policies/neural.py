"""Neural bandits on a :class:`~neuralbandits.models.bank.LearnerBank`: NeuralUCB and NeuralTS.

One estimator serves all of them: a bank of 1 network (``neuucb-one``) or one per user
(``neuucb-ind``), gradient features ``g(x; θ)`` at the current parameters, a design matrix
``U = λI + Σ g gᵀ`` (diagonal by default) and the shared :class:`TrainSchedule`.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from neuralbandits.models.bank import LearnerBank
from neuralbandits.models.design import DiagonalDesign, FullDesign
from neuralbandits.models.gradient_features import FactoredGradients
from neuralbandits.models.networks import NetworkConfig
from neuralbandits.models.training import MaskedAdam, SampleBuffer, TrainSchedule, train_members
from neuralbandits.policies.base import ScorePolicy, register
from neuralbandits.policies.explorers import UCB, Thompson
from neuralbandits.rng import spawn_seeds
from neuralbandits.types import ArmFeatures, Belief, BlockArms, Context, Feedback, ProblemInfo
from neuralbandits.validation import Interval, OneOf


#: Constraints shared by every policy that trains networks on the paper-000 schedule.
NETWORK_CONSTRAINTS = {
    "width": Interval(1, None, integer=True),
    "depth": Interval(2, None, integer=True),
    "n_steps": Interval(0, None, integer=True),
    "batch_size": Interval(1, None, integer=True),
    "train_every": Interval(1, None, integer=True),
    "train_every_after": Interval(1, None, integer=True),
    "train_switch_at": Interval(0, None, integer=True),
}
#: Tiny networks and schedules for the generated contract tests.
NETWORK_TEST_PARAMS = {"width": 8, "n_steps": 2, "batch_size": 4, "train_every": 2}


class NeuralEstimatorPolicy(ScorePolicy):
    """Belief ``mean = f(x; θ_u)``, ``width = √(λ gᵀ U_u⁻¹ g)`` with ``g = ∇_θ f(x; θ_u)``.

    ``U_u = λI + Σ g gᵀ`` over the arms played for member ``u``; with ``design="diagonal"`` only its
    diagonal is kept (Zhou et al. 2020, ``uclaml/NeuralUCB:learner_diag.py``), so the score
    ``f + √α · width`` is the official code's ``f + √(Σ_j λ α g_j² / U_j)``.  ``alpha`` and
    ``l2_reg`` default to the class's ``default_alpha`` / ``default_l2_reg`` when ``None``.
    """

    per_user: ClassVar[bool] = False
    default_alpha: ClassVar[float] = 1.0
    default_l2_reg: ClassVar[float] = 1e-3
    constraints = {
        **NETWORK_CONSTRAINTS,
        "alpha": Interval(0, None),
        "l2_reg": Interval(0, None, low_open=True),
        "lr": Interval(0, None, low_open=True),
        "design": OneOf(("diagonal", "full")),
    }
    test_params = NETWORK_TEST_PARAMS

    def __init__(
        self,
        info: ProblemInfo,
        *,
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
        seed: int | None = None,
    ) -> None:
        super().__init__(info, seed=seed)
        self.alpha = self.default_alpha if alpha is None else alpha
        self.l2_reg = self.default_l2_reg if l2_reg is None else l2_reg
        self.width, self.depth = width, depth
        self.lr, self.n_steps, self.batch_size = lr, n_steps, batch_size
        self.train_every, self.train_every_after = train_every, train_every_after
        self.train_switch_at, self.design = train_switch_at, design
        self.check_params()
        self.schedule = TrainSchedule(
            every=train_every, every_after=train_every_after, switch_at=train_switch_at,
            n_steps=n_steps, batch_size=batch_size, lr=lr,
        )
        n_members = info.n_users if self.per_user else 1
        self.blocked = info.block_dim is not None
        init_seed, stream_seed = spawn_seeds(seed, 2)
        self.generator.manual_seed(stream_seed)
        self.bank = LearnerBank(
            self.input_dim(info), n_members, network=NetworkConfig(width=width, depth=depth),
            n_blocks=info.n_arms if self.blocked else 1, seed=init_seed,
        )
        design_cls = DiagonalDesign if design == "diagonal" else FullDesign
        self.design_matrix = design_cls(n_members, self.bank.n_params, l2_reg=self.l2_reg)
        self.buffer = SampleBuffer(info.block_dim if self.blocked else self.input_dim(info))
        self.optimizer = MaskedAdam(self.bank, lr=lr)
        self.register_buffer("pending", torch.zeros(n_members, dtype=torch.bool))
        self._cache: tuple[Context, Tensor, FactoredGradients] | None = None
        self.explorer = self.make_explorer(self.alpha)

    @staticmethod
    def make_explorer(alpha: float) -> UCB | Thompson:
        return UCB(alpha**0.5)

    def input_dim(self, info: ProblemInfo) -> int:
        """Input size of the networks (the arm dimension; NeuA+U adds the user features)."""
        return info.dim

    def arm_inputs(self, context: Context) -> ArmFeatures:
        """What the networks see for every arm of the context."""
        return context.arm_features

    def members(self, context: Context) -> Tensor:
        """Bank member of every round: the served user (per-user banks) or 0."""
        if self.per_user:
            return self.user_ids(context)
        return torch.zeros(context.batch_size, dtype=torch.int64)

    # ALGO LOGIC: belief from gradient features ------------------------------------------------
    def belief(self, context: Context) -> Belief:
        members = self.members(context)
        mean, gradients = self.bank.gradient_features(members, self.arm_inputs(context))
        quad = self.design_matrix.quad_form(members, gradients)
        self._cache = (context, members, gradients)  # update() reuses the played arm's gradient
        return Belief(mean=mean, width=(self.l2_reg * quad).clamp_min(0).sqrt())

    @torch.no_grad()
    def _record(self, feedback: Feedback) -> Tensor:
        context, actions = feedback.context, feedback.actions
        if self._cache is not None and self._cache[0] is context:
            _, members, gradients = self._cache
        else:  # delayed or foreign feedback: gradients under the current parameters
            members = self.members(context)
            _, gradients = self.bank.gradient_features(members, self.arm_inputs(context))
        self._cache = None
        self.design_matrix.update(members, gradients.chosen(actions))
        features = self.arm_inputs(context)
        rows = torch.arange(actions.shape[0])
        if isinstance(features, BlockArms):
            self.buffer.add(features.contexts, actions, feedback.rewards, members, rows)
        else:
            self.buffer.add(features[rows, actions], None, feedback.rewards, members, rows)
        self.pending[members] = True
        return members

    def update(self, feedback: Feedback) -> None:
        self._record(feedback)
        start = int(self.rounds_seen) // self.streams  # the schedule counts rounds of one stream
        self.rounds_seen.add_(feedback.actions.shape[0])
        if any(self.schedule.is_training_round(t) for t in range(start + 1, int(self.rounds_seen) // self.streams + 1)):
            self.train()

    def train(self) -> None:
        """Train every member that received data since its last training (one batched computation)."""
        members = self.pending.nonzero().squeeze(1)
        train_members(self.bank, self.optimizer, self.buffer, members, self.schedule,
                      self.generator, blocks=self.blocked)
        self.pending.zero_()

    def after_load(self) -> None:
        self._cache = None


@register("neuucb-one")
class NeuUCBOne(NeuralEstimatorPolicy):
    """NeuralUCB (diagonal) with one network for all users: ``f(x; θ) + √(Σ_j λ α g_j² / U_j)``.

    ``alpha`` is the code's ν (exploration), ``l2_reg`` is λ (``U`` starts at ``λ·1``), ``width``
    is m.  λ = 0.001 is ``banyikun/MCNB:neuucb_one.py``'s value; α = 1 (the code uses 0.1) was chosen
    on shuttle validation seeds 100–107, where it matched 0.1 on average and never let an arm whose
    prediction drifted low go unexplored (docs/results/foundation.md).  Adam and the paper-000
    training schedule.  References: Zhou, Li, Gu, "Neural contextual bandits with UCB-based
    exploration", ICML 2020, Algorithm 1 (diagonal ``Z`` as in their code).
    """


@register("neuucb-ind")
class NeuUCBInd(NeuralEstimatorPolicy):
    """NeuralUCB (diagonal) with one network and one ``U`` per user, all in one bank.

    Defaults λ = 1, α = 0.01 from ``banyikun/MCNB:neuucb_ind.py``; otherwise as ``neuucb-one``.
    """

    per_user = True
    seed_batchable = True
    default_alpha = 0.01
    default_l2_reg = 1.0


@register("neuralts")
class NeuralTS(NeuralEstimatorPolicy):
    """NeuralTS: draws ``N(f(x; θ), α λ gᵀU⁻¹g)`` per arm and plays the largest draw.

    ``alpha`` is ν², ``l2_reg`` is λ; same estimator and schedule as ``neuucb-one``.  References:
    Zhang, Zhou, Li, Gu, "Neural Thompson sampling", ICLR 2021, Algorithm 1 (diagonal ``U``).
    """

    @staticmethod
    def make_explorer(alpha: float) -> UCB | Thompson:
        return Thompson(alpha**0.5)


@register("neua+u")
class NeuAU(NeuralEstimatorPolicy):
    """NeuA+U: NeuUCB-ONE on every arm's features concatenated with the served user's features.

    ``[x_{t,a} ; u_t]`` with ``u_t = Context.user_features`` (the pre-cluster centroid in the
    recommendation environments); needs an environment with user features (``info.user_dim > 0``)
    and dense arms.  Same hyperparameters as ``neuucb-one``.  References: paper 000 §6 (baseline
    "NeuA+U"); Zhou et al. 2020 for the estimator.
    """

    requires = frozenset({"user_features"})

    def input_dim(self, info: ProblemInfo) -> int:
        if info.user_dim <= 0 or info.block_dim is not None:
            raise ValueError(
                "neua+u needs an environment with user features and dense arms; "
                f"got user_dim={info.user_dim}, block arms={info.block_dim is not None}."
            )
        return info.dim + info.user_dim

    def arm_inputs(self, context: Context) -> ArmFeatures:
        if context.user_features is None:
            raise ValueError("neua+u needs Context.user_features; this context has none.")
        users = context.user_features[:, None, :].expand(-1, context.n_arms, -1)
        return torch.cat([context.dense_arm_features(), users], dim=-1)
