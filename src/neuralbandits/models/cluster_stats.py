"""``ClusterStats``: aggregated ridge statistics of clusters of users, inverses kept by rank-one updates.

The clustered linear bandits (CLUB, SCLUB, LOCB, COFIBA; notes §1.4) score arms with the statistics of
a *cluster* of users, ``S_c = λI + Σ_{k∈c}(S_k − λI)``, ``b_c = Σ b_k``, ``N_c = Σ N_k``.  Aggregating
and inverting them every round costs ``G·e³`` per cluster: with block-encoded images (``G = 10``
blocks of ``e = 784``) that is seconds per round.  But clusters change rarely: between two changes a
cluster only receives the new samples of its members, a rank-one change of one block.  So each cluster
*slot* keeps ``S_c⁻¹`` (Sherman–Morrison per sample, float64 to keep the long chain of updates
accurate) and is rebuilt from the per-user statistics only when its membership changes.

Slots are whatever the cluster rule indexes: a partition's labels (CLUB, SCLUB), seed users (LOCB), or
(user-component, arm slot) pairs (COFIBA).  A slot holds either all ``G`` blocks, or a single block
``block_of_slot[s]`` (COFIBA scores arm ``k`` with block ``k`` only).  Everything is a buffer, so a
saved policy continues exactly as the original.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from neuralbandits.models.ridge import RidgeBank


class ClusterStats(nn.Module):
    """``n_slots`` clusters over the users of a grouped :class:`RidgeBank` (members ``u·G + g``).

    Args:
        n_slots: number of cluster slots.
        n_users, groups, edim: the bank's layout, ``n·G`` members of dimension ``e``.
        l2_reg: ``λ``.
        regularise: ``S_c = λI + Σ(S_k − λI)`` (``True``) or ``Σ S_k`` (COFIBA's code, ``False``).
        block_of_slot: ``(n_slots,)`` int64: slot ``s`` holds only block ``block_of_slot[s]``; ``None``
            holds all ``G`` blocks per slot.
    """

    def __init__(self, n_slots: int, n_users: int, groups: int, edim: int, *, l2_reg: float,
                 regularise: bool = True, block_of_slot: Tensor | None = None) -> None:
        super().__init__()
        self.n_users, self.groups, self.edim = n_users, groups, edim
        self.l2_reg, self.regularise = float(l2_reg), regularise
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

    @torch.no_grad()
    def sync(self, membership: Tensor, ridge: RidgeBank) -> None:
        """Make the slots' members ``membership`` ``(n_slots, n)``; rebuild only the slots that changed."""
        changed = (membership != self.membership).any(1).nonzero().flatten()
        if changed.numel():
            self.membership[changed] = membership[changed]
            self.rebuild(changed, ridge)

    @torch.no_grad()
    def rebuild(self, slots: Tensor, ridge: RidgeBank) -> None:
        """Fresh aggregation and inversion of ``slots`` from the per-user statistics."""
        n, g, e = self.n_users, self.groups, self.edim
        gram, moment = ridge.gram.view(n, g, e, e), ridge.moment.view(n, g, e)
        block_counts = ridge.counts.view(n, g).to(torch.float64)
        eye = torch.eye(e, dtype=torch.float64)
        for slot in slots.tolist():  # a few slots per change, each a (held, e, e) inversion
            weights = self.membership[slot].to(gram.dtype)
            size = int(self.membership[slot].sum())
            held = [int(self.block_of_slot[slot])] if self.single_block else slice(None)
            self.counts[slot] = float(block_counts[self.membership[slot]][:, held].sum())  # samples held
            if size == 0:
                self.inverse[slot] = eye / self.l2_reg
                self.moment[slot] = 0.0
                self.theta[slot] = 0.0
                continue
            if self.single_block:  # one block: sum over users of that block only (no copy of the bank)
                k = int(self.block_of_slot[slot])
                data = torch.einsum("n,nde->de", weights, gram[:, k])[None].double()
                b = (weights @ moment[:, k])[None].double()
            else:
                data = torch.einsum("n,nged->ged", weights, gram).double()
                b = torch.einsum("n,nge->ge", weights, moment).double()
            if self.regularise:
                data -= (size - 1) * self.l2_reg * eye
            self.inverse[slot] = torch.linalg.inv(data)
            self.moment[slot] = b
            self.theta[slot] = (self.inverse[slot] @ b.unsqueeze(-1)).squeeze(-1)

    @torch.no_grad()
    def observe(self, users: Tensor, groups: Tensor, features: Tensor, rewards: Tensor) -> None:
        """Add sample ``b`` (user ``users[b]``, block ``groups[b]``, ``x_b`` ``(e,)``, ``r_b``) to every slot
        whose members include the user: with ``v = S⁻¹x``,

            S⁻¹ ← S⁻¹ − v vᵀ/(1 + xᵀv),   b ← b + r x,   θ ← θ + v (r − xᵀθ)/(1 + xᵀv)   (Sherman–Morrison).
        """
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
