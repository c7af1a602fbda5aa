"""M-CNB as the official code runs it (``MCNB(mode="reference")``, paper notes §1.3).

The authors' implementation (``banyikun/MCNB:mcnb.py``) differs from Algorithms 1–2 in ways that
matter for the results; this mode reproduces it so that both can be compared on the same streams.
Per round ``t`` (0-based, as the code counts):

* the served user's counter ``μ^u`` grows at selection;
* when ``t % 10 == 0``, for every arm ``i`` **in order**: the cluster ``{u_t} ∪ {u : |f(x_i; θ^u) −
  f(x_i; θ^{u_t})| < γ}`` (γ used directly), replaced by ``⌊n/5⌋`` draws with replacement plus
  ``u_t`` when larger than ``n/5``; then ``Θ`` itself is trained **in place** (arm ``i+1`` starts
  from arm ``i``'s result) by plain SGD (lr ``adapt_lr``) on single samples of all the members' data,
  reshuffled every epoch, at most 100 steps, stopping when an epoch's mean loss is ≤ 1e-3;
* arm ``i``'s score is ``f(x_i; Θ) + √(ν_c ‖∇_Θ f(x_i; Θ)‖²) + ν_c √(1/μ^{u_t})`` at the current
  ``Θ`` (no ``Θ_0`` term);
* ``(x_t, r_t)`` goes to ``T^{u_t}`` only;
* at the training rounds (``t < 1000`` and ``t % 10 == 0``, or ``t % 100 == 0``): the served user's
  net is trained on its data with a fresh Adam (lr ``user_lr``, one shuffle, at most 500
  single-sample steps, early stop 1e-3), then ``Θ`` on all users' data with a fresh Adam
  (lr ``meta_lr``, at most 1000 steps, reshuffled every epoch, early stop 1e-3).

The loss is ``(f − r)²``; networks are 2-layer ReLU nets **with biases** in PyTorch's default
initialisation, every user net drawn independently; there is no warm start.  Single-sample steps
are inherently sequential, so they run on NumPy views of the bank's parameters (no autograd, no
copies); the clustering is one batched forward of the user bank.  Where the code iterates a Python
``set`` of users, users are taken in increasing order here.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from neuralbandits.models.bank import LearnerBank
from neuralbandits.models.networks import NetworkConfig
from neuralbandits.models.training import SampleBuffer, TrainSchedule, fused_adam
from neuralbandits.policies.explorers import UCB
from neuralbandits.policies.meta import MCNB
from neuralbandits.rng import spawn_seeds
from neuralbandits.types import Belief, BlockArms, Context, Feedback
from neuralbandits.validation import InvalidParameterError


class TwoLayerNet:
    """One member of a bank as NumPy views: ``f(x) = w_2·ReLU(W_1 x + b_1) + b_2``.

    Writes go straight into the bank's tensors.  For block-encoded arms ``x = e_a ⊗ x_a``, only
    block ``a`` of ``W_1`` is read (and receives gradient).
    """

    def __init__(self, bank: LearnerBank, member: int, n_blocks: int) -> None:
        params = {name: value.detach()[member].numpy() for name, value in bank.stacked().items()}
        self.arrays = [params["first.weight"], params["first.bias"], params["tail.1.weight"][0],
                       params["tail.1.bias"]]
        self.n_blocks = n_blocks

    def weight_block(self, block: int) -> np.ndarray:
        weight = self.arrays[0]
        if self.n_blocks == 1:
            return weight
        return weight.reshape(weight.shape[0], self.n_blocks, -1)[:, block, :]

    def forward(self, x: np.ndarray, block: int) -> tuple[float, np.ndarray]:
        """``f(x)`` and the pre-activation ``h = W_1 x + b_1``."""
        hidden = self.weight_block(block) @ x + self.arrays[1]
        return float(self.arrays[2] @ np.maximum(hidden, 0.0) + self.arrays[3][0]), hidden

    def gradient(self, x: np.ndarray, block: int, scale: float = 1.0) -> tuple[float, list[np.ndarray]]:
        """``f(x)`` and ``scale · ∇f`` as ``[∇W_1 block, ∇b_1, ∇w_2, ∇b_2]``."""
        value, hidden = self.forward(x, block)
        delta = scale * self.arrays[2] * (hidden > 0)
        return value, [np.outer(delta, x), delta, scale * np.maximum(hidden, 0.0), np.array([scale])]

    def sgd_step(self, x: np.ndarray, block: int, target: float, lr: float) -> float:
        """One plain SGD step on ``(f(x) − r)²``; returns the loss before the step."""
        value, hidden = self.forward(x, block)
        error = 2.0 * (value - target)
        active = hidden > 0
        delta = error * self.arrays[2] * active
        self.arrays[2] -= lr * error * np.maximum(hidden, 0.0)
        self.arrays[3] -= lr * error
        self.weight_block(block)[...] -= lr * np.outer(delta, x)
        self.arrays[1] -= lr * delta
        return (value - target) ** 2


class Adam:
    """``torch.optim.Adam`` (default betas and eps, no weight decay) on a :class:`TwoLayerNet`, with a
    fresh state as the official code creates one per training call.

    Each single-sample step writes the gradient into persistent buffers (for block arms only the
    played block of ``W_1`` is non-zero: the previous step's block is cleared, not the whole buffer)
    and runs PyTorch's fused Adam kernel on the net's arrays, one pass over each (on mnist's
    784 000-weight nets, 2× faster per run than NumPy's dozen passes)."""

    def __init__(self, net: TwoLayerNet, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.net, self.lr, self.betas, self.eps = net, lr, betas, eps
        self.params = [torch.from_numpy(a) for a in net.arrays]  # views: steps write into the bank
        self.grads = [torch.zeros_like(p) for p in self.params]
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.steps = [torch.zeros(()) for _ in self.params]
        self.first = self.grads[0].numpy()
        if net.n_blocks > 1:
            self.first = self.first.reshape(self.first.shape[0], net.n_blocks, -1)
        self.last_block: int | None = None

    def step(self, x: np.ndarray, block: int, target: float) -> float:
        value, grads = self.net.gradient(x, block)
        error = 2.0 * (value - target)
        if self.net.n_blocks == 1:
            self.first[...] = grads[0] * error
        else:
            if self.last_block is not None:
                self.first[:, self.last_block, :] = 0.0
            self.first[:, block, :] = grads[0] * error
            self.last_block = block
        for buffer, grad in zip(self.grads[1:], grads[1:]):
            buffer.numpy()[...] = grad * error
        fused_adam(self.params, self.grads, self.m, self.v, self.steps, lr=self.lr, betas=self.betas,
                   eps=self.eps)
        return (value - target) ** 2


class MCNBReference(MCNB):
    """``MCNB(mode="reference")``: the official code's behaviour (module docstring, notes §1.3).

    Uses ``gamma`` (directly as the threshold), ``width``, ``adapt_lr``, ``meta_lr``, ``user_lr`` and
    the training schedule of :class:`MCNB`; ``nu``, ``S``, ``delta``, ``n_steps``, ``batch_size`` and
    ``append_to`` have no role here.  The code's fixed values are class attributes.
    """

    exploration = 1e-4  # ν_c of the code's bonus
    cluster_cap = 0.2  # clusters larger than n/5 are subsampled
    adapt_every, adapt_steps, user_steps, meta_steps, early_stop = 10, 100, 500, 1000, 1e-3

    def _build(self) -> None:
        if self.depth != 2:
            raise InvalidParameterError(
                f"MCNB(mode='reference') uses the official code's 2-layer network; got depth={self.depth}."
            )
        info = self.info
        self.blocked = info.block_dim is not None
        self.n_blocks = info.n_arms if self.blocked else 1
        self.schedule = TrainSchedule(every=self.train_every, every_after=self.train_every_after,
                                      switch_at=self.train_switch_at, lr=self.user_lr)
        network = NetworkConfig(width=self.width, depth=2, bias=True, init="pytorch")
        user_seed, meta_seed, stream_seed = spawn_seeds(self.seed, 3)
        self.users = LearnerBank(info.dim, info.n_users, network=network, n_blocks=self.n_blocks,
                                 identical=False, seed=user_seed, n_jobs=self.n_jobs)
        self.meta = LearnerBank(info.dim, 1, network=network, n_blocks=self.n_blocks, seed=meta_seed)
        self.generator.manual_seed(stream_seed)
        self.buffer = SampleBuffer(info.block_dim if self.blocked else info.dim)
        self.register_buffer("mu", torch.zeros(info.n_users, dtype=torch.int64))
        self.explorer = UCB(1.0)
        self._cache = None
        self._grouping: tuple[int, np.ndarray, list[int], list[int]] | None = None

    # -- helpers ------------------------------------------------------------------------------------
    def _net(self, bank: LearnerBank, member: int) -> TwoLayerNet:
        return TwoLayerNet(bank, member, self.n_blocks)

    def _samples_of(self, users: list[int]) -> np.ndarray:
        """Sample ids of ``users`` (in that order), each user's in insertion order.  The grouping by
        owner is computed once per new sample, not once per call (a round asks for it per arm)."""
        n_links = self.buffer.n_links
        if self._grouping is None or self._grouping[0] != n_links:
            _, samples = self.buffer.grouped_links()
            offsets = (torch.cumsum(self.mu, 0) - self.mu).tolist()  # μ^u = |T^u|: one owner per sample
            self._grouping = (n_links, samples.numpy(), offsets, self.mu.tolist())
        _, samples, offsets, counts = self._grouping
        return np.concatenate([samples[offsets[u]: offsets[u] + counts[u]] for u in users] or [np.zeros(0, np.int64)])

    def _fit(self, step, sample_ids: np.ndarray, limit: int, reshuffle: bool) -> None:
        """The code's training loop: single-sample steps over shuffled samples, at most ``limit``
        steps, stop after an epoch whose mean loss is ≤ ``early_stop``."""
        if sample_ids.size == 0:
            return
        features = self.buffer.features.numpy()
        blocks = self.buffer.block_ids.numpy()
        targets = self.buffer.targets.numpy()
        order = sample_ids[torch.randperm(sample_ids.size, generator=self.generator).numpy()]
        count = 0
        while True:
            epoch_loss = 0.0
            for sample in order:
                epoch_loss += step(features[sample], int(blocks[sample]) if self.blocked else 0,
                                   float(targets[sample]))
                count += 1
                if count >= limit:
                    return
            if epoch_loss / sample_ids.size <= self.early_stop:
                return
            if reshuffle:
                order = sample_ids[torch.randperm(sample_ids.size, generator=self.generator).numpy()]

    def _cluster(self, predictions: np.ndarray, user: int) -> list[int]:
        """The code's ``get_group``: ``{u_t} ∪ {u : |Δf| < γ}``, capped at ``⌊n/5⌋`` draws + ``u_t``."""
        close = np.flatnonzero(np.abs(predictions - predictions[user]) < self.gamma)
        members = np.array(sorted(set(close.tolist()) | {user}))
        limit = int(self.info.n_users * self.cluster_cap)
        if members.size > limit:
            members = members[torch.randint(members.size, (limit,), generator=self.generator).numpy()]
        return sorted(set(members.tolist()) | {user})

    # -- the round ------------------------------------------------------------------------------------
    def _arm_inputs(self, context: Context, row: int) -> list[tuple[np.ndarray, int]]:
        arms = context.arm_features
        if isinstance(arms, BlockArms):
            x = arms.contexts[row].numpy()
            return [(x, a) for a in range(self.info.n_arms)]
        return [(arms[row, a].numpy(), 0) for a in range(arms.shape[1])]

    def belief(self, context: Context) -> Belief:
        users = self.user_ids(context).tolist()
        t = int(self.rounds_seen)
        adapting = t % self.adapt_every == 0
        predictions = self.user_predictions(context).numpy() if adapting else None  # (B, n, K)
        meta = self._net(self.meta, 0)
        means, widths = [], []
        for row, user in enumerate(users):
            mu = int(self.mu[user]) + 1  # the code counts the round at selection
            row_means, row_widths = [], []
            for arm, (x, block) in enumerate(self._arm_inputs(context, row)):
                if adapting:
                    cluster = self._cluster(predictions[row, :, arm], user)
                    self._fit(lambda x_, b_, r_: meta.sgd_step(x_, b_, r_, self.adapt_lr),
                              self._samples_of(cluster), self.adapt_steps, reshuffle=True)
                value, grads = meta.gradient(x, block)
                squared = sum(float(np.square(g).sum()) for g in grads)
                row_means.append(value)
                row_widths.append(math.sqrt(self.exploration * squared) + self.exploration * math.sqrt(1 / mu))
            means.append(row_means)
            widths.append(row_widths)
        return Belief(mean=torch.tensor(means), width=torch.tensor(widths))

    @torch.no_grad()
    def update(self, feedback: Feedback) -> None:
        context, actions = feedback.context, feedback.actions
        users = self.user_ids(context)
        rows = torch.arange(actions.shape[0])
        self._store(context, actions, feedback.rewards, users, rows)  # T^{u_t} only
        for user in users.tolist():
            t = int(self.rounds_seen)  # 0-based index of this round, as the code's schedule
            self.rounds_seen.add_(1)
            if self.schedule.is_training_round(t):
                self.train_reference(user)

    def train_reference(self, user: int) -> None:
        """The code's ``train(u)`` (served user) and the line-13 meta training on all users' data."""
        user_opt = Adam(self._net(self.users, user), self.user_lr)
        self._fit(user_opt.step, self._samples_of([user]), self.user_steps, reshuffle=False)
        meta_opt = Adam(self._net(self.meta, 0), self.meta_lr)
        self._fit(meta_opt.step, self._samples_of(list(range(self.info.n_users))), self.meta_steps,
                  reshuffle=True)

    def after_load(self) -> None:
        super().after_load()
        self._grouping = None

    def warm_start(self, feedback: Feedback) -> None:
        raise InvalidParameterError("MCNB(mode='reference') has no warm start (the official code has none).")
