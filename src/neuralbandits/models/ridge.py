"""``RidgeBank``: ridge-regression statistics of ``M`` linear models as stacked buffers.

Member ``u`` keeps ``A_u = λI + Σ x xᵀ`` ``(d, d)``, ``b_u = Σ r x`` ``(d,)``, its inverse (Sherman–Morrison
for single updates, a fresh inverse of the touched members for batches) and a count.  Members are
users (CLUB, SCLUB, LOCB), arms (LinUCB on block-encoded arms: the design matrix of the disjoint
encoding is block-diagonal, one ``d_x × d_x`` block per arm) or a single shared model.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RidgeBank(nn.Module):
    """Stacked ridge statistics.  ``l2_reg`` is ``λ`` (``A`` starts at ``λI``)."""

    def __init__(self, n_members: int, dim: int, *, l2_reg: float = 1.0) -> None:
        super().__init__()
        self.l2_reg = float(l2_reg)
        eye = torch.eye(dim)
        self.register_buffer("gram", (eye * self.l2_reg).expand(n_members, dim, dim).clone())
        # [A⁻¹ | θ] side by side: one matmul then gives both xᵀA⁻¹ and xᵀθ for every arm
        joint = torch.zeros(n_members, dim, dim + 1)
        joint[:, :, :dim] = eye / self.l2_reg
        self.register_buffer("joint", joint)
        self.register_buffer("moment", torch.zeros(n_members, dim))
        self.register_buffer("counts", torch.zeros(n_members, dtype=torch.int64))

    @torch.no_grad()
    def reset(self) -> None:
        """Back to ``A = λI``, ``b = 0``, no counts (e.g. before re-fitting on new features)."""
        eye = torch.eye(self.gram.shape[-1])
        self.gram.copy_(eye * self.l2_reg)
        self.joint.zero_()
        self.joint[..., :-1] = eye / self.l2_reg
        self.moment.zero_()
        self.counts.zero_()

    @property
    def inverse(self) -> Tensor:
        """``A⁻¹`` ``(M, d, d)`` (a view)."""
        return self.joint[..., :-1]

    @property
    def theta(self) -> Tensor:
        """``θ = A⁻¹b`` ``(M, d)`` (a view)."""
        return self.joint[..., -1]

    @torch.no_grad()
    def update(self, member_ids: Tensor, features: Tensor, rewards: Tensor) -> None:
        """Add ``(x_b, r_b)`` to member ``member_ids[b]``: ``(B,)``, ``(B, d)``, ``(B,)``."""
        if member_ids.shape[0] == 1:
            self._update_one(int(member_ids[0]), features[0], rewards[0])
            return
        self.gram.index_add_(0, member_ids, torch.einsum("bd,be->bde", features, features))
        self.moment.index_add_(0, member_ids, features * rewards[:, None])
        self.counts.index_add_(0, member_ids, torch.ones_like(member_ids))
        touched = torch.unique(member_ids)
        self.inverse[touched] = torch.linalg.inv(self.gram[touched])
        self.theta[touched] = torch.einsum("bde,be->bd", self.inverse[touched], self.moment[touched])

    def _update_one(self, member: int, x: Tensor, reward: Tensor) -> None:
        # Sherman–Morrison: (A + xxᵀ)⁻¹ = A⁻¹ − A⁻¹x xᵀA⁻¹ / (1 + xᵀA⁻¹x); views are taken once
        joint, gram, moment = self.joint[member], self.gram[member], self.moment[member]
        inverse = joint[:, :-1]
        a_inv_x = inverse @ x
        inverse.addr_(a_inv_x, a_inv_x, alpha=-1.0 / (1.0 + float(x @ a_inv_x)))
        gram.addr_(x, x)
        moment.add_(x, alpha=float(reward))
        self.counts[member] += 1
        torch.mv(inverse, moment, out=joint[:, -1])

    def mean_and_width(self, member_ids: Tensor | slice, features: Tensor) -> tuple[Tensor, Tensor]:
        """``xᵀθ_u`` and ``xᵀA_u⁻¹x`` for features ``(B, K, d)``.

        ``member_ids`` selects members that broadcast against the arms: ``(B, K)`` (a member per arm
        and round), or a slice — ``slice(None)`` when arm ``k`` uses member ``k`` (block-encoded arms)
        and ``slice(0, 1)`` for one shared member; slices are views, so nothing is copied.  The second
        value is the squared width (callers choose whether to take the root).
        """
        products = (features.unsqueeze(-2) @ self.joint[member_ids]).squeeze(-2)  # [xᵀA⁻¹ | xᵀθ]
        return products[..., -1], (products[..., :-1] * features).sum(-1)
