"""Linear bandits on a :class:`~neuralbandits.models.ridge.RidgeBank`: LinUCB and LinTS.

On block-encoded arms (``x_{t,a} = e_a ⊗ x``) the design matrix ``A = λI + Σ x xᵀ`` of the ``K·d_x``
encoding is block-diagonal, so the bank keeps one ``d_x × d_x`` block per arm: exactly the same
choices as the dense ``(K·d_x)²`` computation at ``1/K²`` of the memory and ``1/K`` of the work.
"""

from __future__ import annotations

import torch
from torch import Tensor

from neuralbandits.models.ridge import RidgeBank
from neuralbandits.policies.base import ScorePolicy, register
from neuralbandits.policies.explorers import UCB, Thompson
from neuralbandits.types import Belief, BlockArms, Context, Feedback, ProblemInfo
from neuralbandits.validation import Interval


class LinearEstimatorPolicy(ScorePolicy):
    """Shared state and belief of the linear family: ridge estimate ``θ̂ = A⁻¹b`` and width
    ``√(xᵀA⁻¹x)`` per arm."""

    constraints = {"alpha": Interval(0, None), "l2_reg": Interval(0, None, low_open=True)}
    test_params = {"alpha": 1.0}

    def __init__(self, info: ProblemInfo, *, alpha: float = 0.25, l2_reg: float = 0.01,
                 seed: int | None = None) -> None:
        super().__init__(info, seed=seed)
        self.alpha, self.l2_reg = alpha, l2_reg
        self.check_params()
        self.blocked = info.block_dim is not None
        if self.blocked:
            self.ridge = RidgeBank(info.n_arms, info.block_dim, l2_reg=l2_reg)  # one block per arm
        else:
            self.ridge = RidgeBank(1, info.dim, l2_reg=l2_reg)

    def _members_and_features(self, context: Context) -> tuple[slice, Tensor]:
        features = context.arm_features
        if isinstance(features, BlockArms):  # arm k is member k
            return slice(None), features.contexts[:, None, :].expand(-1, features.n_arms, -1)
        return slice(0, 1), features

    def belief(self, context: Context) -> Belief:
        members, features = self._members_and_features(context)
        mean, quad = self.ridge.mean_and_width(members, features)
        return Belief(mean=mean, width=quad.clamp_min(0).sqrt())

    def update(self, feedback: Feedback) -> None:
        features = feedback.context.arm_features
        actions = feedback.actions
        if isinstance(features, BlockArms):
            self.ridge.update(actions, features.contexts, feedback.rewards)
        else:
            rows = torch.arange(actions.shape[0])
            self.ridge.update(torch.zeros_like(actions), features[rows, actions], feedback.rewards)
        self.rounds_seen.add_(actions.shape[0])


@register("linucb")
class LinUCB(LinearEstimatorPolicy):
    """LinUCB: chooses ``argmax_a xₐᵀθ̂ + α √(xₐᵀA⁻¹xₐ)``.

    ``alpha`` is α, ``l2_reg`` is λ (``A`` starts at ``λI``); arm features ``(B, K, d)`` or block
    arms.  References: Li, Chu, Langford, Schapire, "A contextual-bandit approach to personalized news
    article recommendation", WWW 2010, Algorithm 1 (one shared θ; with the disjoint block encoding it
    equals their disjoint-model variant).
    """

    def __init__(self, info: ProblemInfo, *, alpha: float = 0.25, l2_reg: float = 0.01,
                 seed: int | None = None) -> None:
        super().__init__(info, alpha=alpha, l2_reg=l2_reg, seed=seed)
        self.explorer = UCB(alpha)


@register("lints")
class LinTS(LinearEstimatorPolicy):
    """Linear Thompson sampling: draws ``N(xₐᵀθ̂, α² xₐᵀA⁻¹xₐ)`` per arm and takes the largest.

    ``alpha`` is the posterior scale v, ``l2_reg`` is λ.  References: Agrawal & Goyal, "Thompson
    sampling for contextual bandits with linear payoffs", ICML 2013 (per-arm marginal draws).
    """

    def __init__(self, info: ProblemInfo, *, alpha: float = 0.25, l2_reg: float = 0.01,
                 seed: int | None = None) -> None:
        super().__init__(info, alpha=alpha, l2_reg=l2_reg, seed=seed)
        self.explorer = Thompson(alpha)
