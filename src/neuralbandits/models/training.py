"""When and how the networks of a bank are trained: the schedule, the data, the per-member optimiser.

* :class:`TrainSchedule` — paper 000 §6: "we train the neural networks every 10 rounds in the first
  1000 rounds and every 100 rounds afterwards … we use Adam".
* :class:`SampleBuffer` — samples stored once, each linked to one or more owners (bank members), so a
  sample shared by a whole cluster (M-CNB, Alg. 1 lines 14–18) is not copied per member.
* :class:`MaskedAdam` — Adam on stacked parameters with per-member step counts; only members that
  train this step move, so a member's state is exactly what it would be alone.
* :func:`train_members` — minibatch steps for many members at once, one batched gradient per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from neuralbandits.models.bank import LearnerBank, LossFn, SampleInputs
from neuralbandits.validation import Interval, OneOf, check_params


@dataclass(frozen=True)
class TrainSchedule:
    """Train at rounds ``t`` (1-based) with ``t % every == 0`` while ``t < switch_at``, then every
    ``every_after`` rounds; each training runs ``n_steps`` minibatch steps of ``batch_size`` samples per
    member with ``optimizer`` at learning rate ``lr``, stopping a member early once its minibatch loss
    is ≤ ``early_stop_loss``."""

    every: int = 10
    every_after: int = 100
    switch_at: int = 1000
    n_steps: int = 50
    batch_size: int = 16
    lr: float = 1e-3
    optimizer: str = "adam"
    early_stop_loss: float = 1e-3

    def __post_init__(self) -> None:
        check_params(
            "TrainSchedule",
            vars(self),
            {
                "every": Interval(1, None, integer=True),
                "every_after": Interval(1, None, integer=True),
                "switch_at": Interval(0, None, integer=True),
                "n_steps": Interval(0, None, integer=True),
                "batch_size": Interval(1, None, integer=True),
                "lr": Interval(0, None, low_open=True),
                "optimizer": OneOf(("adam", "sgd")),
                "early_stop_loss": Interval(0, None),
            },
        )

    def is_training_round(self, t: int) -> bool:
        period = self.every if t < self.switch_at else self.every_after
        return t % period == 0


def grow_rows(buffer: Tensor, needed: int) -> Tensor:
    """``buffer`` with at least ``needed`` rows: itself if it has them, else a copy grown by doubling
    (new rows zero), so that appending ``T`` rows one batch at a time copies ``O(T)`` in all."""
    if needed <= buffer.shape[0]:
        return buffer
    grown = buffer.new_zeros((max(needed, 2 * buffer.shape[0]),) + tuple(buffer.shape[1:]))
    grown[: buffer.shape[0]] = buffer
    return grown


def take_rows(values: Tensor, ids: Tensor) -> Tensor:
    """``values[ids]`` for integer ``ids`` of any shape, by ``index_select`` (half the time of advanced
    indexing on a step's 50 × 16 sample ids)."""
    return values.index_select(0, ids.reshape(-1)).view(*ids.shape, *values.shape[1:])


class SampleBuffer(nn.Module):
    """Growing storage of ``(input, block id, target)`` samples and ``(owner, sample)`` links."""

    def __init__(self, input_dim: int, *, capacity: int = 1024) -> None:
        super().__init__()
        self.register_buffer("features", torch.zeros(capacity, input_dim))
        self.register_buffer("block_ids", torch.zeros(capacity, dtype=torch.int64))
        self.register_buffer("targets", torch.zeros(capacity))
        self.register_buffer("owners", torch.zeros(capacity, dtype=torch.int64))
        self.register_buffer("samples", torch.zeros(capacity, dtype=torch.int64))
        self.register_buffer("sizes", torch.zeros(2, dtype=torch.int64))  # [n_samples, n_links]

    @property
    def n_samples(self) -> int:
        return int(self.sizes[0])

    @property
    def n_links(self) -> int:
        return int(self.sizes[1])

    def add(
        self,
        features: Tensor,
        block_ids: Tensor | None,
        targets: Tensor,
        owners: Tensor,
        sample_of_owner: Tensor,
    ) -> None:
        """Append ``N`` samples — features ``(N, d)`` (block contexts ``(N, d_x)`` with ``block_ids``
        ``(N,)``), targets ``(N,)`` — and ``L`` links: link ``l`` gives new sample ``sample_of_owner[l]``
        to member ``owners[l]``."""
        start, n_new = self.n_samples, features.shape[0]
        link_start, n_links = self.n_links, owners.shape[0]
        for name, needed in (("features", start + n_new), ("block_ids", start + n_new),
                             ("targets", start + n_new), ("owners", link_start + n_links),
                             ("samples", link_start + n_links)):
            self._buffers[name] = grow_rows(self._buffers[name], needed)
        self.features[start : start + n_new] = features
        if block_ids is not None:
            self.block_ids[start : start + n_new] = block_ids
        self.targets[start : start + n_new] = targets
        self.owners[link_start : link_start + n_links] = owners
        self.samples[link_start : link_start + n_links] = sample_of_owner + start
        self.sizes.add_(torch.tensor([n_new, n_links]))

    def inputs(self, sample_ids: Tensor, blocks: bool) -> SampleInputs:
        """The network inputs of samples ``sample_ids`` (any shape)."""
        return SampleInputs(take_rows(self.features, sample_ids),
                            take_rows(self.block_ids, sample_ids) if blocks else None)

    def targets_of(self, sample_ids: Tensor) -> Tensor:
        """The targets of samples ``sample_ids`` (any shape)."""
        return take_rows(self.targets, sample_ids)

    def grouped_links(self) -> tuple[Tensor, Tensor]:
        """Links sorted by owner (stable): ``(owners, samples)``."""
        owners = self.owners[: self.n_links]
        order = torch.argsort(owners, stable=True)
        return owners[order], self.samples[: self.n_links][order]


def fused_adam(params: list[Tensor], grads: list[Tensor], first_moments: list[Tensor],
               second_moments: list[Tensor], steps: list[Tensor], *, lr: float,
               betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, increment: bool = True) -> None:
    """One ``torch.optim.Adam`` step (no weight decay) on each tensor of ``params`` in place, through
    PyTorch's fused kernel.  ``steps`` are 0-d float counters, one per tensor: with ``increment`` the
    kernel's ``t`` is the counter + 1, written back as ``torch.optim.Adam`` does; without it the
    counters already hold ``t`` and are only read (so tensors may share one).

    The kernel itself, as ``torch.optim.adam.adam(fused=True)`` calls it, without that function's
    checks and grouping of the lists by device and dtype (on a few small learners, a third of the
    update's time)."""
    if increment:
        torch._foreach_add_(steps, 1)
    torch._fused_adam_(params, grads, first_moments, second_moments, [], steps, amsgrad=False, lr=lr,
                       beta1=betas[0], beta2=betas[1], weight_decay=0.0, eps=eps, maximize=False)


MEMBER_VIEWS_LIMIT = 4096
"""Most members whose row views :class:`MaskedAdam` keeps per tensor (then it starts again): bounds
the memory of a long run on a large bank where a few different members train each time."""

FUSED_MEMBER_LIMIT = 16
"""Above this many members, a list entry per member costs more in Python than the fused kernel saves
(50 small learners: 49 ms per training with the vectorised update, 74 ms with one entry each).
Measured against an earlier vectorised update; the current one is faster from 7 members on (91 against
116 µs per step at 10), but the two round differently, so moving the limit would change the rounding of
published runs (session 11)."""


class MaskedAdam(nn.Module):
    """Adam (Kingma & Ba 2015) or SGD on a bank's stacked parameters, one state per member.

    Adam runs PyTorch's fused kernel (``torch.optim.adam.adam(fused=True)``: one pass reading the
    parameter, gradient and moments) wherever it can: on the whole stacked tensors when every member
    steps and all counts agree (10× faster at 20 000 members), or on each member's slices when few
    members step (each slice with its own step count; 28× faster than gathering and scattering the
    rows of ten mnist learners).  Otherwise the update is vectorised over members.
    """

    def __init__(self, bank: LearnerBank, *, lr: float, kind: str = "adam",
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__()
        self.lr, self.kind, self.betas, self.eps = lr, kind, betas, eps
        self.names = bank.names
        self._keys = {name: name.replace(".", "__") for name in self.names}
        for name, value in bank.stacked().items():
            if kind == "adam":
                self.register_buffer("m__" + self._keys[name], torch.zeros_like(value))
                self.register_buffer("v__" + self._keys[name], torch.zeros_like(value))
        self.register_buffer("steps", torch.zeros(bank.n_members, dtype=torch.int64))
        self._rows: dict[str, tuple] = {}  # name -> (where the tensors live, member -> views of its rows)

    def _moments(self, name: str) -> tuple[Tensor, Tensor]:
        key = self._keys[name]
        return self._buffers["m__" + key], self._buffers["v__" + key]

    @torch.no_grad()
    def step(self, params: dict[str, Tensor], member_ids: Tensor, grads: dict[str, Tensor] | None = None) -> None:
        """Apply one step to members ``member_ids`` (unique) using ``grads`` (name → ``(N, …)``, row ``j``
        for member ``member_ids[j]``) or, without it, ``params[name].grad``."""
        if grads is None:
            grads = {name: params[name].grad[member_ids] for name in self.names}
        every = member_ids.numel() == self.steps.numel()  # then member_ids is 0 … M−1
        counts = self.steps if every else self.steps[member_ids]  # (read before the increment below)
        if self.kind == "sgd":
            for name in self.names:
                if every:
                    params[name].sub_(grads[name], alpha=self.lr)
                else:
                    params[name][member_ids] -= self.lr * grads[name]
        elif every and bool((counts == counts[0]).all()):
            self._fused(params, grads, None, counts[:1])
        elif member_ids.numel() <= FUSED_MEMBER_LIMIT:
            self._fused(params, grads, member_ids.tolist(), counts)
        else:
            self._vectorised(params, grads, member_ids, every)
        if every:
            self.steps.add_(1)
        else:
            self.steps[member_ids] = counts + 1

    def _fused(self, params: dict[str, Tensor], grads: dict[str, Tensor], ids: list[int] | None,
               counts: Tensor) -> None:
        """The fused kernel on each member's slices (``ids``) or on the whole tensors (``None``, one
        shared count).  A member's tensors share one counter holding its ``t = count + 1``."""
        buckets: tuple[list[Tensor], ...] = ([], [], [], [])  # parameters, gradients, first and second moments
        for name in self.names:
            m, v = self._moments(name)
            if ids is None:
                pieces = ([params[name]], [grads[name]], [m], [v])
            else:  # gradient row j belongs to member ids[j]
                rows = self._member_rows(name, params[name], m, v, ids)
                pieces = ([row[0] for row in rows], list(grads[name].unbind(0)), [row[1] for row in rows],
                          [row[2] for row in rows])
            for bucket, piece in zip(buckets, pieces):
                bucket += piece
        steps = (counts + 1).to(torch.float32).unbind(0)
        fused_adam(*buckets, list(steps) * len(self.names), lr=self.lr, betas=self.betas, eps=self.eps,
                   increment=False)

    def _member_rows(self, name: str, param: Tensor, m: Tensor, v: Tensor, ids: list[int]) -> list[tuple[Tensor, ...]]:
        """Member ``i``'s slices of ``param`` and of its moments for each ``i`` in ``ids``, as views kept
        between steps (three tensor indexings per member and step cost as much as the fused kernel on
        ten small learners).  Made on first use, not for the whole bank (20 000 members: 55 ms of
        views), and made again when the tensors' memory changes (a moved, converted or copied module)."""
        key = (param.data_ptr(), m.data_ptr(), v.data_ptr(), param.dtype)  # `.data = …` keeps the object
        cached = self._rows.get(name)
        if cached is None or cached[0] != key or len(cached[1]) > MEMBER_VIEWS_LIMIT:
            cached = self._rows[name] = (key, {})
        views = cached[1]
        rows = []
        for i in ids:
            row = views.get(i)
            if row is None:
                row = views[i] = (param[i], m[i], v[i])
            rows.append(row)
        return rows

    def _vectorised(self, params: dict[str, Tensor], grads: dict[str, Tensor], member_ids: Tensor,
                    every: bool) -> None:
        """Adam with a per-member bias correction, as tensor operations over the stepping members.

        When at least half the members step, the update runs on the whole tensors, the others kept
        as they are by per-member coefficients (``β = 1`` and a zero gradient for the moments, a zero
        step size for the parameters) instead of gathering and scattering the stepping rows of every
        parameter and moment (50 small learners, 45 stepping: 248 → 153 µs per step)."""
        beta1, beta2 = self.betas
        dense = every or 2 * member_ids.numel() >= self.steps.numel()
        counts = self.steps if dense else self.steps[member_ids]
        t = (counts + 1).to(torch.float32)
        # lr·m̂/(√v̂ + ε) = lr·m / (bc1·(√v/√bc2 + ε)), bc_k = 1 − β_k^t
        bias1, bias2 = 1 - beta1**t, 1 - beta2**t
        scale, offset = bias1 / bias2.sqrt(), bias1 * self.eps
        if dense and not every:
            stepping = torch.zeros(self.steps.shape, dtype=torch.bool)
            stepping[member_ids] = True
            keep1, keep2 = (torch.where(stepping, beta, 1.0) for beta in self.betas)
            step_size = torch.where(stepping, self.lr, 0.0)
        for name in self.names:
            m, v = self._moments(name)
            grad = grads[name]
            shape = (-1,) + (1,) * (grad.ndim - 1)
            if every:
                m.mul_(beta1).add_(grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                params[name].addcdiv_(m, v.sqrt().mul_(scale.view(shape)).add_(offset.view(shape)), value=-self.lr)
            elif dense:
                grad = torch.zeros_like(m).index_copy_(0, member_ids, grad)
                m.mul_(keep1.view(shape)).add_(grad, alpha=1 - beta1)
                v.mul_(keep2.view(shape)).addcmul_(grad, grad, value=1 - beta2)
                denominator = v.sqrt().mul_(scale.view(shape)).add_(offset.view(shape))
                params[name].sub_(m.mul(step_size.view(shape)).div_(denominator))
            else:
                m_rows, v_rows = m[member_ids], v[member_ids]
                m_rows.mul_(beta1).add_(grad, alpha=1 - beta1)
                v_rows.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                m[member_ids], v[member_ids] = m_rows, v_rows
                denominator = v_rows.sqrt().mul_(scale.view(shape)).add_(offset.view(shape))
                params[name].index_add_(0, member_ids, m_rows.mul_(self.lr).div_(denominator), alpha=-1)


def half_squared_loss(predictions: Tensor, targets: Tensor) -> Tensor:
    """``½ (f − r)²`` per sample (paper 000, Alg. 1); its ``derivative`` is ``f − r``."""
    return 0.5 * (predictions - targets).square()


half_squared_loss.derivative = lambda predictions, targets: predictions - targets  # type: ignore[attr-defined]


def train_members(
    bank: LearnerBank,
    optimizer: MaskedAdam,
    buffer: SampleBuffer,
    member_ids: Tensor,
    schedule: TrainSchedule,
    generator: torch.Generator,
    *,
    blocks: bool,
    loss_fn: LossFn = half_squared_loss,
    sample_table: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """Train members ``member_ids`` (unique) on their own samples; returns each member's last loss.

    Every step draws ``batch_size`` of a member's samples uniformly with replacement and moves each
    member along the gradient of its own mean loss (:meth:`LearnerBank.loss_gradients`, by hand, one
    batched computation for all members).  Members with no sample are left untouched.

    A member's samples are its links in the buffer, in arrival order; a caller that keeps them as a
    table already passes ``sample_table = (table, counts)``, row ``u`` of ``table`` ``(M, capacity)``
    listing member ``u``'s first ``counts[u]`` samples in that order (the same draws, without sorting
    every link: M-CNB at 20 000 users links each sample to thousands of users).
    """
    if sample_table is None:
        owners, samples = buffer.grouped_links()
        counts = torch.bincount(owners, minlength=bank.n_members)
        offsets = torch.cumsum(counts, 0) - counts
        table = samples[None]  # one row: member u's samples start at offsets[u]
    else:
        table, counts = sample_table
        offsets = torch.zeros_like(counts)
    members = member_ids[counts[member_ids] > 0]
    last_loss = torch.full((bank.n_members,), float("nan"))
    params = bank.stacked()
    # per-member draw ranges, gathered again only when early stopping drops members (a training step
    # at 50 small learners is mostly per-operation overhead)
    sizes, starts = counts[members, None].to(torch.float32), offsets[members, None]
    losses = last_loss[members]  # (NaN: no step taken)
    for _ in range(schedule.n_steps):
        if members.numel() == 0:
            break
        draws = torch.rand(members.shape[0], schedule.batch_size, generator=generator)
        picks = (draws * sizes).long()
        every = members.numel() == bank.n_members  # then members = 0 … M−1: no gather of the bank
        if sample_table is None:
            sample_ids = table[0, starts + picks]
        else:  # row j of the table is member j when every member trains
            sample_ids = table.gather(1, picks) if every else table[members[:, None], picks]
        losses, grads = bank.loss_gradients(None if every else members, buffer.inputs(sample_ids, blocks),
                                            buffer.targets_of(sample_ids), loss_fn)
        optimizer.step(params, members, grads)
        keep = losses > schedule.early_stop_loss
        if not bool(keep.all()):
            last_loss[members[~keep]] = losses[~keep]
            members, sizes, starts, losses = members[keep], sizes[keep], starts[keep], losses[keep]
    last_loss[members] = losses  # those still training: their last step's loss
    return last_loss
