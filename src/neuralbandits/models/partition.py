"""``HypercubePartition``: a uniform partition of the context space ``[0, 1]^D`` with per-cube statistics.

The unit cube is cut into ``h`` intervals per dimension, so ``h^D`` cubes of side ``1/h``.  Interval
``k`` of a dimension is ``[k/h, (k+1)/h)``, except the last one, ``[(h−1)/h, 1]``, which also holds the
value ``1.0``.  A cube is named by its row-major flat index ``Σ_j k_j · h^{D−1−j}``.

Every member of the partition (one shared member, or one per user) keeps, per cube ``p``, the play
count ``C(p)`` (``counts``, int64) and the running mean ``q̂(p)`` of the observed qualities
(``means``, float), as stacked ``(n_members, h^D)`` buffers; a batch of observations is folded in with
``index_add_`` and gives the same means as adding the observations one at a time.

References: Chen, Xu & Lu, "Contextual Combinatorial Multi-armed Bandits with Volatile Arms and
Submodular Reward", NeurIPS 2018 (CC-MAB: the partition ``P_T`` and the counters ``C^t(p)``);
paper 004 appendix (``h_T = ⌈T^{1/4}⌉``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from neuralbandits.validation import Interval, InvalidParameterError, check_params

__all__ = ["HypercubePartition", "check_unit_cube"]

# A value within this many units in the last place below a boundary ``k/h`` counts as lying on it,
# so that ``k/h`` written in float32 (e.g. 0.7 → 0.69999999) lands in cube ``k`` as written.
_BOUNDARY_ULPS = 64


def check_unit_cube(name: str, contexts: Tensor, mask: Tensor | None = None) -> None:
    """Raise ``InvalidParameterError`` naming ``name`` unless every (unmasked) entry lies in ``[0, 1]``.

    ``contexts`` is ``(..., D)``; ``mask`` ``(...)`` bool selects the vectors to check (padding
    slots of unavailable arms are ignored).  NaN counts as outside.
    """
    values = contexts if mask is None else contexts[mask]
    if values.numel() == 0:
        return
    inside = (values >= 0) & (values <= 1)
    if not bool(inside.all()):
        bad = values[~inside]
        finite = bad[torch.isfinite(bad)]
        shown = f"values in [{float(finite.min()):g}, {float(finite.max()):g}]" if finite.numel() else "NaN"
        raise InvalidParameterError(
            f"{name} must lie in the unit cube [0, 1]^D; got {bad.numel()} entries outside it "
            f"({shown})."
        )


class HypercubePartition(nn.Module):
    """``h^D`` cubes of side ``1/h`` over ``[0, 1]^D`` with counts and running means per member.

    ``dim`` is D, ``cubes_per_dim`` is h (the paper's ``h_T``), ``n_members`` the number of
    independent sets of statistics (1 when all users share them, ``M`` for per-user statistics).

    Buffers: ``counts`` ``(n_members, h^D)`` int64 (``C(p)``), ``means`` ``(n_members, h^D)`` float32
    (``q̂(p)``, 0 for a cube never played).
    """

    def __init__(self, dim: int, cubes_per_dim: int, *, n_members: int = 1) -> None:
        super().__init__()
        check_params(
            "HypercubePartition",
            {"dim": dim, "cubes_per_dim": cubes_per_dim, "n_members": n_members},
            {
                "dim": Interval(1, None, integer=True),
                "cubes_per_dim": Interval(1, None, integer=True),
                "n_members": Interval(1, None, integer=True),
            },
        )
        self.dim, self.cubes_per_dim, self.n_members = dim, cubes_per_dim, n_members
        self.n_cubes = cubes_per_dim**dim
        if self.n_members * self.n_cubes > 50_000_000:
            raise InvalidParameterError(
                f"The partition would hold {n_members} × {cubes_per_dim}^{dim} cubes; "
                "use fewer cubes per dimension or a smaller dimension."
            )
        self.register_buffer("counts", torch.zeros(n_members, self.n_cubes, dtype=torch.int64))
        self.register_buffer("means", torch.zeros(n_members, self.n_cubes))
        # row-major place values h^{D-1}, …, h, 1
        strides = cubes_per_dim ** torch.arange(dim - 1, -1, -1, dtype=torch.int64)
        self.register_buffer("strides", strides, persistent=False)

    # -- indexing ------------------------------------------------------------------------------
    def cube_coordinates(self, contexts: Tensor) -> Tensor:
        """Per-dimension interval index ``k_j ∈ {0, …, h−1}`` of contexts ``(..., D)`` → ``(..., D)``.

        Contexts must already lie in ``[0, 1]`` (see :func:`check_unit_cube`); ``1.0`` maps to
        ``h − 1``.
        """
        h = self.cubes_per_dim
        scaled = contexts.to(torch.float64) * h
        tolerance = _BOUNDARY_ULPS * torch.finfo(contexts.dtype).eps * h
        return torch.floor(scaled + tolerance).to(torch.int64).clamp_(0, h - 1)

    def cube_ids(self, contexts: Tensor) -> Tensor:
        """Flat cube index of contexts ``(..., D)`` → ``(...)`` int64 in ``[0, h^D)``."""
        if contexts.shape[-1] != self.dim:
            raise InvalidParameterError(
                f"contexts must have {self.dim} features in their last dimension; "
                f"got shape {tuple(contexts.shape)}."
            )
        return (self.cube_coordinates(contexts) * self.strides).sum(-1)

    def cube_centers(self) -> Tensor:
        """``(h^D, D)`` centres ``Ô_p`` of the cubes in flat-index order."""
        h = self.cubes_per_dim
        flat = torch.arange(self.n_cubes, dtype=torch.int64)
        coordinates = (flat[:, None] // self.strides) % h
        return (coordinates.to(torch.float32) + 0.5) / h

    # -- statistics ----------------------------------------------------------------------------
    def lookup(self, member_ids: Tensor, cube_ids: Tensor) -> tuple[Tensor, Tensor]:
        """``(C(p), q̂(p))`` of cubes ``cube_ids`` ``(R, K)`` in members ``member_ids`` ``(R,)``."""
        rows = member_ids[:, None].expand_as(cube_ids)
        return self.counts[rows, cube_ids], self.means[rows, cube_ids]

    @torch.no_grad()
    def update(self, member_ids: Tensor, cube_ids: Tensor, qualities: Tensor) -> None:
        """Fold in ``N`` observations: member ``member_ids[i]`` saw quality ``qualities[i]`` in cube
        ``cube_ids[i]`` (all ``(N,)``).

        ``C(p) += n_p`` and ``q̂(p) += (Σ r − n_p q̂(p)) / C(p)``, equal to ``n_p`` incremental updates
        ``q̂ += (r − q̂)/C``.
        """
        if not (member_ids.shape == cube_ids.shape == qualities.shape) or member_ids.ndim != 1:
            raise InvalidParameterError(
                "member_ids, cube_ids and qualities must be (N,) tensors of one length; got shapes "
                f"{tuple(member_ids.shape)}, {tuple(cube_ids.shape)}, {tuple(qualities.shape)}."
            )
        flat = member_ids * self.n_cubes + cube_ids
        added = torch.zeros(self.n_members * self.n_cubes, dtype=torch.int64)
        added.index_add_(0, flat, torch.ones_like(flat))
        sums = torch.zeros(self.n_members * self.n_cubes, dtype=self.means.dtype)
        sums.index_add_(0, flat, qualities.to(self.means.dtype))
        counts = self.counts.view(-1)
        means = self.means.view(-1)
        counts += added
        touched = added > 0
        means[touched] += (sums[touched] - added[touched] * means[touched]) / counts[touched]
