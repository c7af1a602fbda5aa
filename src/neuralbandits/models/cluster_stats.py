"""``ClusterStats``: aggregated ridge statistics of clusters of users, inverses kept by rank-one updates.

The clustered linear bandits (CLUB, SCLUB, LOCB, COFIBA; notes §1.4) score arms with the statistics of
a *cluster* of users, ``S_c = λI + Σ_{k∈c}(S_k − λI)``, ``b_c = Σ b_k``, ``N_c = Σ N_k``.  Aggregating
and inverting them every round costs ``G·e³`` per cluster: with block-encoded images (``G = 10``
blocks of ``e = 784``) that is seconds per round.  But clusters change rarely: between two changes a
cluster only receives the new samples of its members, a rank-one change of one block.  So each cluster
*slot* keeps ``S_c⁻¹`` (Sherman–Morrison per sample, float64 to keep the long chain of updates
accurate).  When its membership changes, the users who joined or left bring ``Σ x xᵀ`` of their own
samples, a low-rank change ``UᵀU`` per block while they have few samples: a Woodbury step updates the
inverse (LOCB moves one user in or out of its seed clusters almost every round early on).  Removing
data (a downdate) amplifies the inverse's rounding errors by up to ``1/σ_min`` of its core matrix, so a
downdate is taken only when ``σ_min ≥ 1/2`` and at most ``MAX_DOWNDATES`` times between two fresh
inversions.  Otherwise, or when a block would change by more than ``max_rank`` samples, the slot is
re-aggregated and inverted afresh.  The samples are kept for that purpose (float32, ``T × e``).

Slots are whatever the cluster rule indexes: a partition's labels (CLUB, SCLUB), seed users (LOCB), or
(user-component, arm slot) pairs (COFIBA).  A slot holds either all ``G`` blocks, or a single block
``block_of_slot[s]`` (COFIBA scores arm ``k`` with block ``k`` only).  Everything is a buffer, so a
saved policy continues exactly as the original.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from neuralbandits.models.ridge import RidgeBank
from neuralbandits.models.training import grow_rows


class ClusterStats(nn.Module):
    """``n_slots`` clusters over the users of a grouped :class:`RidgeBank` (members ``u·G + g``).

    Args:
        n_slots: number of cluster slots.
        n_users, groups, edim: the bank's layout, ``n·G`` members of dimension ``e``.
        l2_reg: ``λ``.
        regularise: ``S_c = λI + Σ(S_k − λI)`` (``True``) or ``Σ S_k`` (COFIBA's code, ``False``).
        block_of_slot: ``(n_slots,)`` int64: slot ``s`` holds only block ``block_of_slot[s]``; ``None``
            holds all ``G`` blocks per slot.
        max_rank: the most samples per block a membership change may move for a Woodbury step
            (``None``: ``e // 8``, where the step costs about a third of a fresh inversion); ``0``
            always rebuilds.  Without ``regularise`` a member brings ``S_k`` itself (full rank), so
            membership changes always rebuild.
    """

    def __init__(self, n_slots: int, n_users: int, groups: int, edim: int, *, l2_reg: float,
                 regularise: bool = True, block_of_slot: Tensor | None = None,
                 max_rank: int | None = None) -> None:
        super().__init__()
        self.n_users, self.groups, self.edim = n_users, groups, edim
        self.l2_reg, self.regularise = float(l2_reg), regularise
        self.max_rank = (edim // 8 if max_rank is None else max_rank) if regularise else 0
        self.single_block = block_of_slot is not None
        held = 1 if self.single_block else groups
        if block_of_slot is None:
            block_of_slot = torch.full((n_slots,), -1, dtype=torch.int64)
        self.register_buffer("block_of_slot", block_of_slot.clone())
        self.register_buffer("membership", torch.zeros(n_slots, n_users, dtype=torch.bool))
        empty = torch.eye(edim, dtype=torch.float64) / self.l2_reg  # an empty cluster: S_c = λI
        self.register_buffer("inverse", empty.expand(n_slots, held, edim, edim).clone())
        self.register_buffer("moment", torch.zeros(n_slots, held, edim, dtype=torch.float64))
        self.register_buffer("theta", torch.zeros(n_slots, held, edim, dtype=torch.float64))  # S_c⁻¹ b_c
        self.register_buffer("counts", torch.zeros(n_slots, dtype=torch.float64))  # samples in the held blocks
        # every sample seen (for the Woodbury steps): features, user and block
        self.register_buffer("sample_x", torch.zeros(64 if self.max_rank else 0, edim))
        self.register_buffer("sample_user", torch.zeros(64 if self.max_rank else 0, dtype=torch.int64))
        self.register_buffer("sample_block", torch.zeros(64 if self.max_rank else 0, dtype=torch.int64))
        self.register_buffer("n_samples", torch.zeros((), dtype=torch.int64))
        self.register_buffer("downdates", torch.zeros(n_slots, dtype=torch.int64))  # since the last rebuild

    @torch.no_grad()
    def sync(self, membership: Tensor, ridge: RidgeBank) -> None:
        """Make the slots' members ``membership`` ``(n_slots, n)``; update only the slots that changed:
        by a Woodbury step with the samples of the users who joined or left, or afresh."""
        for slot in (membership != self.membership).any(1).nonzero().flatten().tolist():
            old, new = self.membership[slot].clone(), membership[slot]
            self.membership[slot] = new
            joined, left = self._rows(new & ~old, slot), self._rows(old & ~new, slot)
            if joined is None or left is None or not bool(new.any()):
                self.rebuild(torch.tensor([slot]), ridge)
                continue
            inverse = self.inverse[slot]
            if left.shape[1] and (int(self.downdates[slot]) >= MAX_DOWNDATES
                                  or not _woodbury(inverse, left, -1.0)):
                self.rebuild(torch.tensor([slot]), ridge)
                continue
            self.downdates[slot] += int(left.shape[1] > 0)
            if joined.shape[1]:
                _woodbury(inverse, joined, 1.0)
            self._refresh_moment(slot, ridge)

    def _rows(self, users: Tensor, slot: int) -> Tensor | None:
        """The samples of ``users`` ``(n,)`` bool in each block of ``slot``, zero-padded to
        ``(held, r, e)`` float64; ``None`` if a block has more than ``max_rank`` of them."""
        n = int(self.n_samples)
        if self.max_rank == 0:
            return None
        mine = users[self.sample_user[:n]]
        block, x = self.sample_block[:n][mine], self.sample_x[:n][mine]
        held = self.inverse.shape[1]
        if self.single_block:
            keep = block == self.block_of_slot[slot]
            block, x = torch.zeros_like(block[keep]), x[keep]
        counts = torch.bincount(block, minlength=held)
        rank = int(counts.max()) if counts.numel() else 0
        if rank > self.max_rank:
            return None
        order = torch.argsort(block, stable=True)
        position = torch.arange(order.numel()) - (torch.cumsum(counts, 0) - counts)[block[order]]
        rows = torch.zeros(held, rank, self.edim, dtype=torch.float64)
        rows[block[order], position] = x[order].double()
        return rows

    def _refresh_moment(self, slot: int, ridge: RidgeBank) -> None:
        """``b_c``, ``N_c`` and ``θ_c`` of ``slot`` from the members' own statistics (exact sums)."""
        n, g, e = self.n_users, self.groups, self.edim
        weights = self.membership[slot].to(torch.float64)
        moment = ridge.moment.view(n, g, e).to(torch.float64)
        counts = ridge.counts.view(n, g).to(torch.float64)
        if self.single_block:
            k = int(self.block_of_slot[slot])
            moment, counts = moment[:, k : k + 1], counts[:, k : k + 1]
        self.moment[slot] = torch.einsum("n,nge->ge", weights, moment)
        self.counts[slot] = float(weights @ counts.sum(1))
        self.theta[slot] = (self.inverse[slot] @ self.moment[slot].unsqueeze(-1)).squeeze(-1)

    @torch.no_grad()
    def rebuild(self, slots: Tensor, ridge: RidgeBank) -> None:
        """Fresh aggregation and inversion of ``slots`` from the per-user statistics."""
        n, g, e = self.n_users, self.groups, self.edim
        gram = ridge.gram.view(n, g, e, e)
        eye = torch.eye(e, dtype=torch.float64)
        for slot in slots.tolist():  # a few slots per change, each a (held, e, e) inversion
            size = int(self.membership[slot].sum())
            weights = self.membership[slot].to(gram.dtype)
            if size == 0:
                self.inverse[slot] = eye / self.l2_reg
            else:
                if self.single_block:  # one block: sum over users of that block only (no copy of the bank)
                    data = torch.einsum("n,nde->de", weights, gram[:, int(self.block_of_slot[slot])])[None].double()
                else:
                    data = torch.einsum("n,nged->ged", weights, gram).double()
                if self.regularise:
                    data -= (size - 1) * self.l2_reg * eye
                # S_c is symmetric positive definite: a Cholesky inverse is 2x faster than LU's (e = 784)
                self.inverse[slot] = torch.cholesky_inverse(torch.linalg.cholesky(data))
            self.downdates[slot] = 0
            self._refresh_moment(slot, ridge)

    @torch.no_grad()
    def observe(self, users: Tensor, groups: Tensor, features: Tensor, rewards: Tensor) -> None:
        """Add sample ``b`` (user ``users[b]``, block ``groups[b]``, ``x_b`` ``(e,)``, ``r_b``) to every slot
        whose members include the user: with ``v = S⁻¹x``,

            S⁻¹ ← S⁻¹ − v vᵀ/(1 + xᵀv),   b ← b + r x,   θ ← θ + v (r − xᵀθ)/(1 + xᵀv)   (Sherman–Morrison).
        """
        if self.max_rank:
            self._keep_samples(users, groups, features)
        for b in range(users.shape[0]):
            u, g = int(users[b]), int(groups[b])
            slots = self.membership[:, u]
            if self.single_block:
                slots = slots & (self.block_of_slot == g)
            block = 0 if self.single_block else g
            x, r = features[b].double(), float(rewards[b])
            # In place on views, slot by slot (a user is in one slot of a partition, a few of LOCB's):
            # a gathered batch would copy each (e, e) inverse twice more, and this step is bound by
            # memory traffic, not arithmetic.
            for slot in slots.nonzero().flatten().tolist():
                inverse, theta = self.inverse[slot, block], self.theta[slot, block]
                v = inverse @ x
                denominator = 1.0 + float(v @ x)
                theta.add_(v, alpha=(r - float(x @ theta)) / denominator)
                inverse.addr_(v, v, alpha=-1.0 / denominator)
                self.moment[slot, block].add_(x, alpha=r)
                self.counts[slot] += 1.0

    def _keep_samples(self, users: Tensor, groups: Tensor, features: Tensor) -> None:
        start, end = int(self.n_samples), int(self.n_samples) + users.shape[0]
        for name in ("sample_x", "sample_user", "sample_block"):
            self._buffers[name] = grow_rows(self._buffers[name], end)
        self.sample_x[start:end] = features
        self.sample_user[start:end] = users
        self.sample_block[start:end] = groups
        self.n_samples.fill_(end)

    @torch.no_grad()
    def replace_samples(self, users: Tensor, groups: Tensor, features: Tensor) -> None:
        """Forget the kept samples and keep these instead (after the per-user statistics were rebuilt
        from new features, e.g. NeuralLinear's refit); call :meth:`rebuild` on every slot after."""
        self.n_samples.zero_()
        if self.max_rank:
            self._keep_samples(users, groups, features)


MAX_DOWNDATES = 8


def _woodbury(inverse: Tensor, rows: Tensor, sign: float) -> bool:
    """In place, per block: ``(A ± UᵀU)⁻¹ = A⁻¹ ∓ A⁻¹Uᵀ(I ± U A⁻¹Uᵀ)⁻¹U A⁻¹`` for ``inverse``
    ``(h, e, e)`` = ``A⁻¹`` and ``rows`` ``U`` ``(h, r, e)`` (zero rows change nothing).  A downdate
    (``sign = −1``) whose core has an eigenvalue below ½ is refused (returns ``False``, nothing done)."""
    a_u = inverse @ rows.transpose(-1, -2)  # (h, e, r)
    core = torch.eye(rows.shape[1], dtype=inverse.dtype) + sign * (rows @ a_u)
    if sign < 0 and float(torch.linalg.eigvalsh(core).min()) < 0.5:
        return False
    inverse -= sign * (a_u @ torch.linalg.solve(core, a_u.transpose(-1, -2)))
    return True
