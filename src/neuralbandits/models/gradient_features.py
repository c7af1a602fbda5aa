"""Per-sample gradient features ``g(x; θ) = ∇_θ f(x; θ)`` in a factored, structure-aware form.

For a network whose first layer is linear, ``∂f/∂W_1 = δ xᵀ`` with ``δ = ∂f/∂h₁`` (the gradient at the
first hidden pre-activation), and ``∂f/∂b_1 = δ``.  Storing ``δ`` ``(…, m)`` and ``x`` instead of the
``m·d`` products keeps a diagonal quadratic form ``Σ_j g_j² / U_j`` at the cost of one first-layer
forward, and for block-encoded arms ``x_{t,a} = e_a ⊗ x`` only block ``a`` of ``W_1`` is touched.

Flat layout of a full gradient vector (``p`` entries): ``[vec(W_1) (m·d, row-major), b_1 (m, if any),
rest (p_rest: the remaining layers in parameter order)]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class FactoredGradients:
    """Gradients of ``K`` arms in ``B`` rounds.

    ``delta`` ``(B, K, m)``; ``inputs`` dense ``(B, K, d)`` (``n_blocks = 1``) or block contexts
    ``(B, d_x)`` shared by the ``K = n_blocks`` arms, arm ``a`` living in block ``a``;
    ``rest`` ``(B, K, p_rest)``.
    """

    delta: Tensor
    inputs: Tensor
    n_blocks: int
    has_bias: bool
    rest: Tensor

    @property
    def is_block(self) -> bool:
        return self.inputs.ndim == 2

    @property
    def width(self) -> int:
        return int(self.delta.shape[-1])

    @property
    def first_dim(self) -> int:
        """Input dimension ``d`` of the first layer (``K·d_x`` for blocks)."""
        return int(self.inputs.shape[-1]) * (self.n_blocks if self.is_block else 1)

    @property
    def n_params(self) -> int:
        return self.width * self.first_dim + (self.width if self.has_bias else 0) + int(self.rest.shape[-1])

    def dense(self) -> Tensor:
        """The full ``(B, K, p)`` gradient vectors (small problems and tests only)."""
        batch, n_arms, width = self.delta.shape
        if self.is_block:
            eye = torch.eye(self.n_blocks, dtype=self.inputs.dtype, device=self.inputs.device)
            arm_inputs = torch.einsum("ak,bd->bakd", eye, self.inputs).reshape(batch, n_arms, -1)
        else:
            arm_inputs = self.inputs
        first = torch.einsum("bkm,bkd->bkmd", self.delta, arm_inputs).reshape(batch, n_arms, -1)
        parts = [first] + ([self.delta] if self.has_bias else []) + [self.rest]
        return torch.cat(parts, dim=-1)

    def chosen(self, actions: Tensor) -> "ChosenGradients":
        """The gradients of the played arm of every round, ``actions`` ``(B,)``."""
        rows = torch.arange(actions.shape[0], device=actions.device)
        if self.is_block:
            inputs, block_ids = self.inputs, actions
        else:
            inputs, block_ids = self.inputs[rows, actions], None
        return ChosenGradients(
            delta=self.delta[rows, actions],
            inputs=inputs,
            block_ids=block_ids,
            n_blocks=self.n_blocks,
            has_bias=self.has_bias,
            rest=self.rest[rows, actions],
        )

    def weighted_square_norm(self, inverse_diagonal: Tensor) -> Tensor:
        """``Σ_j g_j² · w_j`` for every arm → ``(B, K)``; ``inverse_diagonal`` ``(B, p)`` holds ``w``.

        With ``w = 1/U`` this is the diagonal quadratic form ``gᵀ diag(U)⁻¹ g``.
        """
        width = self.width
        n_first = width * self.first_dim
        w_first = inverse_diagonal[:, :n_first]
        squared_delta = self.delta.square()
        if self.is_block:
            w_blocks = w_first.view(-1, width, self.n_blocks, self.inputs.shape[-1])
            first = torch.einsum("bd,bmkd->bkm", self.inputs.square(), w_blocks)
        else:
            first = torch.einsum("bkd,bmd->bkm", self.inputs.square(), w_first.view(-1, width, self.first_dim))
        total = (first * squared_delta).sum(-1)
        offset = n_first
        if self.has_bias:
            total = total + (squared_delta * inverse_diagonal[:, None, offset : offset + width]).sum(-1)
            offset += width
        return total + (self.rest.square() * inverse_diagonal[:, None, offset:]).sum(-1)


@dataclass(frozen=True)
class ChosenGradients:
    """The factored gradient of one played arm per round (see :class:`FactoredGradients`)."""

    delta: Tensor  # (B, m)
    inputs: Tensor  # (B, d) dense, or (B, d_x) block contexts
    block_ids: Tensor | None  # (B,) for block inputs
    n_blocks: int
    has_bias: bool
    rest: Tensor  # (B, p_rest)

    def squares_into(self, diagonal: Tensor, member_ids: Tensor, weights: Tensor | None = None) -> None:
        """``diagonal[member_b] += w_b · g_b²`` in place, touching only the played block of ``W_1``.

        ``diagonal`` is ``(M, p)`` in the flat layout of this module.
        """
        width = self.delta.shape[-1]
        squared_delta = self.delta.square()
        squared_rest = self.rest.square()
        if weights is not None:
            squared_delta = squared_delta * weights[:, None]
            squared_rest = squared_rest * weights[:, None]
        outer = torch.einsum("bm,bd->bmd", squared_delta, self.inputs.square())
        if self.block_ids is None:
            n_first = width * self.inputs.shape[-1]
            diagonal[:, :n_first].index_add_(0, member_ids, outer.reshape(len(member_ids), -1))
        else:
            d_x = self.inputs.shape[-1]
            n_first = width * self.n_blocks * d_x
            first = diagonal[:, :n_first].view(-1, width, self.n_blocks, d_x)
            rows = torch.arange(width, device=outer.device)
            first.index_put_(
                (member_ids[:, None], rows[None, :], self.block_ids[:, None]), outer, accumulate=True
            )
        offset = n_first
        if self.has_bias:
            diagonal[:, offset : offset + width].index_add_(0, member_ids, squared_delta)
            offset += width
        diagonal[:, offset:].index_add_(0, member_ids, squared_rest)

    def dense(self) -> Tensor:
        """The full ``(B, p)`` gradient vectors."""
        if self.block_ids is None:
            arm_inputs = self.inputs
        else:
            batch, d_x = self.inputs.shape
            arm_inputs = self.inputs.new_zeros(batch, self.n_blocks, d_x)
            arm_inputs[torch.arange(batch), self.block_ids] = self.inputs
            arm_inputs = arm_inputs.reshape(batch, -1)
        first = torch.einsum("bm,bd->bmd", self.delta, arm_inputs).reshape(len(self.delta), -1)
        parts = [first] + ([self.delta] if self.has_bias else []) + [self.rest]
        return torch.cat(parts, dim=-1)
