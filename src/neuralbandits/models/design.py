"""Design matrices ``Z = λI + Σ w g gᵀ`` of gradient (or raw) features, one per bank member.

Two forms share one interface — ``update``, ``quad_form`` (``gᵀ Z⁻¹ g``) and ``logdet``:

* :class:`DiagonalDesign` keeps only ``diag(Z)`` ``(M, p)`` (Zhou et al. 2020's diagonal
  approximation), and accepts :class:`~neuralbandits.models.gradient_features.FactoredGradients`
  directly, so it never forms ``g``;
* :class:`FullDesign` keeps ``Z⁻¹`` ``(M, p, p)`` by Sherman–Morrison and ``ln det Z`` incrementally;
  for small ``p``.

The regulariser is stored apart from the accumulated squares (``Z = λI + G``) so a time-varying ``λ_t``
(paper 003) can be applied at use time.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from neuralbandits.models.gradient_features import ChosenGradients, FactoredGradients

Features = FactoredGradients | Tensor
Chosen = ChosenGradients | Tensor


class DiagonalDesign(nn.Module):
    """``Z_u = λI + diag(Σ_s w_s g_s²)`` for ``M`` members.  ``l2_reg`` is ``λ``."""

    def __init__(self, n_members: int, n_params: int, *, l2_reg: float = 1.0) -> None:
        super().__init__()
        self.l2_reg = float(l2_reg)
        self.register_buffer("squares", torch.zeros(n_members, n_params))

    def diagonal(self, member_ids: Tensor, l2_reg: float | None = None) -> Tensor:
        """``diag(Z)`` of ``member_ids`` → ``(B, p)``."""
        lam = self.l2_reg if l2_reg is None else l2_reg
        return self.squares[member_ids] + lam

    def quad_form(self, member_ids: Tensor, features: Features, l2_reg: float | None = None) -> Tensor:
        """``gᵀ Z⁻¹ g`` for every arm: features ``(B, K, p)`` (dense or factored) → ``(B, K)``."""
        inverse = self.diagonal(member_ids, l2_reg).reciprocal()
        if isinstance(features, FactoredGradients):
            return features.weighted_square_norm(inverse)
        return (features.square() * inverse[:, None, :]).sum(-1)

    @torch.no_grad()
    def update(self, member_ids: Tensor, chosen: Chosen, weights: Tensor | None = None) -> None:
        """``Z_{member_b} += w_b g_b g_bᵀ`` (diagonal part) for the played arms ``(B, p)``."""
        if isinstance(chosen, ChosenGradients):
            chosen.squares_into(self.squares, member_ids, weights)
            return
        squares = chosen.square() if weights is None else chosen.square() * weights[:, None]
        self.squares.index_add_(0, member_ids, squares)

    def logdet(self, member_ids: Tensor, l2_reg: float | None = None) -> Tensor:
        """``ln det(Z/λ) = Σ_j ln(1 + G_j/λ)`` → ``(B,)`` (an upper bound of the full form's)."""
        lam = self.l2_reg if l2_reg is None else l2_reg
        return torch.log1p(self.squares[member_ids] / lam).sum(-1)


class FullDesign(nn.Module):
    """``Z_u = λI + Σ_s w_s g_s g_sᵀ`` with ``Z⁻¹`` kept by Sherman–Morrison (``p`` small)."""

    def __init__(self, n_members: int, n_params: int, *, l2_reg: float = 1.0) -> None:
        super().__init__()
        self.l2_reg = float(l2_reg)
        eye = torch.eye(n_params) / self.l2_reg
        self.register_buffer("inverse", eye.expand(n_members, n_params, n_params).clone())
        self.register_buffer("log_det_ratio", torch.zeros(n_members))

    @staticmethod
    def _dense(features: Features | Chosen) -> Tensor:
        return features if isinstance(features, Tensor) else features.dense()

    def quad_form(self, member_ids: Tensor, features: Features) -> Tensor:
        """``gᵀ Z⁻¹ g`` for every arm → ``(B, K)``."""
        g = self._dense(features)
        return torch.einsum("bkp,bpq,bkq->bk", g, self.inverse[member_ids], g)

    @torch.no_grad()
    def update(self, member_ids: Tensor, chosen: Chosen, weights: Tensor | None = None) -> None:
        """Rank-one updates, in order (a member may appear more than once in the batch)."""
        g = self._dense(chosen)
        for row in range(g.shape[0]):  # B is the number of delayed rows, not arms or users
            member = int(member_ids[row])
            w = 1.0 if weights is None else float(weights[row])
            z_inv_g = self.inverse[member] @ g[row]
            denominator = 1.0 + w * float(g[row] @ z_inv_g)
            self.inverse[member] -= (w / denominator) * torch.outer(z_inv_g, z_inv_g)
            self.log_det_ratio[member] += math.log(denominator)

    def logdet(self, member_ids: Tensor) -> Tensor:
        """``ln det(Z/λ)`` → ``(B,)``."""
        return self.log_det_ratio[member_ids]
