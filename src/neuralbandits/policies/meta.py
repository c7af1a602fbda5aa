"""M-CNB: meta clustering of neural bandits (paper 000, Algorithms 1 and 2).

A bank of user-learners ``θ^u`` (one stacked network per user) finds, for every arm, the relative
cluster of the served user; a meta-learner ``Θ`` is adapted to each arm's cluster by one SGD step and
scores the arm with a UCB.  Everything per round is batched over users and arms.
"""

from __future__ import annotations

from typing import ClassVar

import math

import torch
from torch import Tensor

from neuralbandits.models.bank import LearnerBank
from neuralbandits.models.clustering import relative_cluster
from neuralbandits.models.networks import (
    NetworkConfig,
    first_layer_by_block,
    group_by_block,
    tail_backward,
    tail_forward,
)
from neuralbandits.models.training import (
    MaskedAdam,
    SampleBuffer,
    TrainSchedule,
    grow_rows,
    half_squared_loss,
    train_members,
)
from neuralbandits.policies.base import ScorePolicy, register
from neuralbandits.policies.explorers import UCB
from neuralbandits.policies.neural import NETWORK_CONSTRAINTS, NETWORK_TEST_PARAMS
from neuralbandits.rng import make_generator, spawn_seeds
from neuralbandits.types import Belief, BlockArms, Context, Feedback, ProblemInfo
from neuralbandits.validation import Interval, OneOf


def _key(name: str) -> str:
    return name.replace(".", "__")


@register("mcnb")
class MCNB(ScorePolicy):
    r"""M-CNB (Ban, Qi, Wei, Liu, He, *Meta Clustering of Neural Bandits*, KDD 2024), faithful mode.

    Learners share one architecture ``f(x; θ) = W_2 ReLU(W_1 x)`` (width ``m``, no biases, Gaussian
    initialisation of §5): user-learners ``θ^u`` in a :class:`LearnerBank` of ``n`` members, all copies
    of ``Θ_0`` (Alg. 1 lines 2–3), a meta-learner ``Θ`` (a bank of one member, also starting at
    ``Θ_0``) and a frozen copy of ``Θ_0``.  Per-user state: samples ``T^u`` (row ``u`` of the table
    ``user_samples`` lists ids of one shared :class:`SampleBuffer`, in arrival order) and the counter
    ``μ^u = |T^u|``.

    Round ``t`` (Algorithm 1), batched over all users and all ``K`` arms:

    * line 7 — relative clusters ``N̂_i = {u : |f(x_{t,i}; θ^u_{t−1}) − f(x_{t,i}; θ^{u_t}_{t−1})| ≤
      (ν−1)/ν · γ}`` from one forward of the user bank (:func:`relative_cluster`);
    * line 8 / Algorithm 2 — for every arm ``i`` separately, one random sample ``(x^u, r^u)`` of
      ``T^u_{t−1}`` per member ``u ∈ N̂_i`` (members without data are skipped),
      ``Θ_{t,i} = Θ_{t−1} − η_2 ∇ (1/|N̂_i|) Σ_u ½(f(x^u; Θ_{t−1}) − r^u)²`` (plain SGD, all arms
      from ``Θ_{t−1}``, one batched hand-written backward pass over arms);
    * line 9 — ``U_{t,i} = f(x_{t,i}; Θ_{t,i}) + ‖∇f(x_{t,i}; Θ_{t,i}) − ∇f(x_{t,i}; Θ_0)‖₂ / m^{1/4}
      + √((S+1)/(2μ)) + √(2 ln(1/δ)/μ)`` with ``μ = max(μ^{u_t}_{t−1}, 1)``;
    * line 11 — ``î = argmax_i U_{t,i}`` (ties broken with the seeded generator);
    * line 13 — ``Θ_t = SGD_Meta(N̂_î, Θ_{t−1})``: a fresh draw of one sample per member of the chosen
      arm's cluster, queued;
    * lines 14–18 — ``(x_t, r_t)`` is appended to ``T^u`` and ``μ^u += 1`` for **every** ``u ∈ N̂_î``.

    Schedule (paper §6, notes §1.2 "our faithful schedule"): at the rounds of the
    :class:`TrainSchedule` (every ``train_every`` rounds before ``train_switch_at``, then every
    ``train_every_after``) the queued line-13 meta steps are replayed in order with a persistent Adam
    (lr ``meta_lr``), and every user-learner whose ``T^u`` grew since its last training is trained on
    its whole history with Adam (lr ``user_lr``, ``n_steps`` minibatch steps of ``batch_size`` samples,
    early stop at loss ≤ 1e-3) — lines 15–16 as the paper's experiments run them.  Open choice: the
    notes (from the official code) give "≤ 500 shuffled single-sample steps, stop when an epoch's
    mean loss ≤ 1e-3"; the defaults here (50 steps of 16 samples, the library's shared
    :func:`train_members`) are cheaper; ``n_steps=500, batch_size=1`` comes closest to the notes.
    In Algorithm 2, ``|N̂_i|`` counts the members that have data.

    Warm start (Alg. 1 line 3, "observe one data for each user"): a policy cannot call the environment,
    so the caller may pass one played sample per user to :meth:`warm_start` before round 1; without
    it, ``μ = max(μ^u, 1)`` in the bonus and users with no data contribute nothing to Algorithm 2.

    ``append_to="served"`` (an open choice, not the paper) appends ``(x_t, r_t)`` to ``T^{u_t}`` only,
    as the official code does.  Why it exists: with the paper's identical initialisation every user
    predicts the same on every arm, so every cluster is all users, every sample goes to every user,
    and the user-learners stay (up to minibatch noise) identical forever — the faithful algorithm
    never separates users on its own (measured on ``ClusteredEnv``: cluster size ``n`` at every round,
    with or without the one-sample warm start).

    The random samples of line 8 are drawn from a generator keyed by (``seed``, round counter), so the
    scores of a round do not depend on how many times or in what batch it is scored.

    Parameters ↔ symbols: ``nu`` ν, ``gamma`` γ (threshold ``(ν−1)/ν·γ``, 0.32 by default), ``S`` S,
    ``delta`` δ, ``width`` m, ``depth`` L, ``adapt_lr`` η₂ (line 8, SGD), ``meta_lr`` (line 13, Adam),
    ``user_lr`` η₁ (Adam).  ``n_jobs`` is not the algorithm's: the threads that share the user bank's
    chunks in the clustering and the user training (results do not depend on it; with one intra-op
    thread, two jobs take M-CNB's clustering at 20 000 users from 20 to 11 ms on two cores).
    ``mode="faithful"`` is the paper; ``mode="reference"`` builds
    :class:`~neuralbandits.policies.meta_reference.MCNBReference`, the official code's algorithm
    (notes §1.3), with the same parameters.

    Shapes: clusters ``(B, K, n)`` bool, user predictions ``(B, n, K)``, scores ``(B, K)``.

    References: paper 000, Algorithms 1–2, §5 (network), §6 (defaults and schedule).
    """

    constraints = {
        "nu": Interval(1, None),
        "gamma": Interval(0, None),
        "S": Interval(0, None),
        "delta": Interval(0, 1, low_open=True),
        **NETWORK_CONSTRAINTS,
        "adapt_lr": Interval(0, None),
        "meta_lr": Interval(0, None, low_open=True),
        "user_lr": Interval(0, None, low_open=True),
        "mode": OneOf(("faithful", "reference")),
        "append_to": OneOf(("cluster", "served")),
        "n_jobs": Interval(1, None, integer=True),
    }
    test_params: ClassVar[dict] = NETWORK_TEST_PARAMS

    def __init__(
        self,
        info: ProblemInfo,
        *,
        nu: float = 5.0,
        gamma: float = 0.4,
        S: float = 1.0,
        delta: float = 0.1,
        width: int = 100,
        depth: int = 2,
        adapt_lr: float = 0.01,
        meta_lr: float = 1e-3,
        user_lr: float = 1e-3,
        n_steps: int = 50,
        batch_size: int = 16,
        train_every: int = 10,
        train_every_after: int = 100,
        train_switch_at: int = 1000,
        mode: str = "faithful",
        append_to: str = "cluster",
        n_jobs: int = 1,
        seed: int | None = None,
    ) -> None:
        super().__init__(info, seed=seed)
        self.nu, self.gamma, self.S, self.delta = nu, gamma, S, delta
        self.width, self.depth = width, depth
        self.adapt_lr, self.meta_lr, self.user_lr = adapt_lr, meta_lr, user_lr
        self.n_steps, self.batch_size = n_steps, batch_size
        self.train_every, self.train_every_after = train_every, train_every_after
        self.train_switch_at, self.mode, self.append_to = train_switch_at, mode, append_to
        self.n_jobs = n_jobs
        self.check_params()
        self._build()

    def __new__(cls, *args: object, **params: object) -> "MCNB":
        # mode="reference" is the official code's algorithm: another class, the same parameters
        # (no required argument: copy and pickle create the object without any)
        if cls is MCNB and params.get("mode") == "reference":
            from neuralbandits.policies.meta_reference import MCNBReference

            return super().__new__(MCNBReference)
        return super().__new__(cls)

    def _build(self) -> None:
        """State of the faithful algorithm (Alg. 1 lines 1–3)."""
        info, seed = self.info, self.seed
        nu, gamma = self.nu, self.gamma
        width, depth = self.width, self.depth
        self.threshold = (nu - 1.0) / nu * gamma
        self.schedule = TrainSchedule(
            every=self.train_every, every_after=self.train_every_after, switch_at=self.train_switch_at,
            n_steps=self.n_steps, batch_size=self.batch_size, lr=self.user_lr,
        )
        self.blocked = info.block_dim is not None
        n_blocks = info.n_arms if self.blocked else 1
        network = NetworkConfig(width=width, depth=depth)
        init_seed, stream_seed, adapt_seed = spawn_seeds(seed, 3)
        self.generator.manual_seed(stream_seed)
        self.adapt_seed = adapt_seed
        # Alg. 1 lines 2–3: Θ_0 drawn once; every θ^u_0 and the meta-learner start as copies of it.
        self.users = LearnerBank(info.dim, info.n_users, network=network, n_blocks=n_blocks,
                                 identical=True, seed=init_seed, n_jobs=self.n_jobs)
        self.meta = LearnerBank(info.dim, 1, network=network, n_blocks=n_blocks, seed=init_seed)
        self.names = list(self.meta.names)
        for name, value in self.meta.stacked().items():
            self.register_buffer("theta0__" + _key(name), value.detach()[0].clone())
        self.user_optimizer = MaskedAdam(self.users, lr=self.user_lr)
        self.meta_optimizer = MaskedAdam(self.meta, lr=self.meta_lr)
        self.buffer = SampleBuffer(info.block_dim if self.blocked else info.dim)
        self.register_buffer("mu", torch.zeros(info.n_users, dtype=torch.int64))
        self.register_buffer("pending", torch.zeros(info.n_users, dtype=torch.bool))
        # int32 ids: half the memory of the n × |T^u| table (0.8 GB at n = 20 000 after 10 000 rounds)
        self.register_buffer("user_samples", torch.zeros(info.n_users, 16, dtype=torch.int32))
        # queued line-13 meta steps: the first meta_steps[1] rows (step index, sample id), in step
        # order, of a table grown by doubling; meta_steps[0] = number of steps
        self.register_buffer("meta_queue", torch.zeros(0, 2, dtype=torch.int64))
        self.register_buffer("meta_steps", torch.zeros(2, dtype=torch.int64))
        self._cache: tuple[Context, Tensor] | None = None
        self.explorer = UCB(1.0)

    # -- parameters ------------------------------------------------------------------------------
    def theta0(self) -> dict[str, Tensor]:
        """The frozen initialisation ``Θ_0`` (name → tensor without member dimension)."""
        return {name: self._buffers["theta0__" + _key(name)] for name in self.names}

    def meta_params(self) -> dict[str, Tensor]:
        """The current meta-learner ``Θ_{t−1}`` (name → tensor without member dimension)."""
        return {name: value[0] for name, value in self.meta.stacked().items()}

    # -- one network, functionally ----------------------------------------------------------------
    def _first(self, weight: Tensor, features: Tensor, block_ids: Tensor | None) -> Tensor:
        """``W_1 x`` for samples ``(N, d)`` or block contexts ``(N, d_x)`` with block ids ``(N,)``."""
        if block_ids is None:
            return features @ weight.T
        order, counts = group_by_block(block_ids, self.info.n_arms)
        grouped = first_layer_by_block(weight, features[order].split(counts))
        return torch.empty_like(grouped).index_copy_(0, order, grouped)  # back to the samples' order

    # -- clustering (line 7) ----------------------------------------------------------------------
    @torch.no_grad()
    def user_predictions(self, context: Context) -> Tensor:
        """``f(x_{t,i}; θ^u_{t−1})`` of every user on every arm → ``(B, n, K)``."""
        arms = context.arm_features
        if isinstance(arms, BlockArms):
            return torch.stack(
                [self.users.predict_all(arms.index(slice(b, b + 1))) for b in range(arms.batch_size)]
            )
        batch, n_arms, dim = arms.shape
        flat = self.users.predict_all(arms.reshape(1, batch * n_arms, dim))  # (n, B·K)
        return flat.view(-1, batch, n_arms).transpose(0, 1)

    def clusters(self, context: Context) -> Tensor:
        """Relative clusters ``(B, K, n)`` of the served users (Alg. 1 line 7)."""
        return relative_cluster(self.user_predictions(context), self.user_ids(context), self.threshold)

    # -- samples of T^u ------------------------------------------------------------------------------
    def _link(self, owners: Tensor, samples: Tensor) -> None:
        """Record that ``samples`` ``(L,)`` joined ``T^{owners}``: row ``u`` of ``user_samples`` lists
        ``T^u`` in arrival order, so a uniform draw per user is one gather (no sort of all links)."""
        owners, order = owners.sort(stable=True)
        counts = torch.bincount(owners, minlength=self.info.n_users)
        rank = torch.arange(owners.numel()) - (torch.cumsum(counts, 0) - counts)[owners]
        positions = self.mu[owners] + rank
        table = self.user_samples
        if positions.numel() and int(positions.max()) >= table.shape[1]:
            grown = table.new_zeros(table.shape[0], max(2 * table.shape[1], int(positions.max()) + 1))
            grown[:, : table.shape[1]] = table
            self.user_samples = table = grown
        table[owners, positions] = samples[order].to(table.dtype)

    def draw_samples(self, uniforms: Tensor) -> Tensor:
        """One uniform sample of ``T^u`` per user for each row of ``uniforms`` ``(R, n)`` in
        ``[0, 1)`` → sample ids ``(R, n)``, ``-1`` for users without data."""
        counts = self.mu
        picks = (uniforms * counts).long().clamp_max((counts - 1).clamp_min(0))
        ids = self.user_samples.gather(1, picks.T).T.long()
        return ids.masked_fill(counts == 0, -1)

    def adaptation_samples(self, n_arms: int) -> Tensor:
        """The line-8 draws of the current round: sample ids ``(K, n)`` (``-1``: no data), from a
        generator keyed by ``(seed, rounds_seen)``."""
        generator = make_generator((self.adapt_seed * 1_000_003 + int(self.rounds_seen)) % (2**63))
        return self.draw_samples(torch.rand(n_arms, self.info.n_users, generator=generator))

    # -- Algorithm 2 ----------------------------------------------------------------------------------
    def _weighted_samples(self, clusters: Tensor, sample_ids: Tensor) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        """The samples of Algorithm 2's loss for every cluster row and their weights.

        Row ``r``'s loss is ``Σ_u w_{r,u} ½(f(x^{s_{r,u}}) − r^{s_{r,u}})²`` with ``w_{r,u} = 1/|N̂_r|`` for
        members with data.  Returns weights ``(R, S)``, features ``(1 or R, S, d)``, block ids and
        targets.  When fewer samples are stored than there are users, the draws repeat samples, and
        since every row is evaluated at the same ``Θ_{t−1}`` each stored sample is run once, weighted
        by the total weight its draws carry in the row: the same gradient, ``O(t)`` instead of ``O(n)``
        per arm (at ``n = 20 000`` users and a few hundred samples, ~100× less work).
        """
        valid = sample_ids >= 0
        members = clusters & valid
        weights = members / members.sum(1, keepdim=True).clamp_min(1)
        ids = sample_ids.clamp_min(0)
        n_stored = self.buffer.n_samples
        if n_stored < sample_ids.shape[1]:
            # a column for sample 0 even when nothing is stored: draws without data weigh 0 anyway
            weights = weights.new_zeros(weights.shape[0], max(n_stored, 1)).scatter_add_(1, ids, weights)
            weights = weights[:, :n_stored]
            ids = torch.arange(n_stored)[None]
        inputs = self.buffer.inputs(ids, self.blocked)
        return weights, inputs.features, inputs.block_ids, self.buffer.targets_of(ids)

    def _arm_blocks(self, weight: Tensor, arm_blocks: Tensor | None, rows: int) -> Tensor:
        """The part of ``W_1`` ``(m, d)`` that row ``r``'s arm reads: block ``arm_blocks[r]`` ``(R, m, d_x)``
        for block arms, all of ``W_1`` ``(R, m, d)`` (a broadcast view) for dense arms."""
        if arm_blocks is None:
            return weight.expand(rows, *weight.shape)
        return weight.view(weight.shape[0], self.info.n_arms, -1).transpose(0, 1)[arm_blocks]

    def adapt(self, clusters: Tensor, sample_ids: Tensor, arm_blocks: Tensor | None = None) -> dict[str, Tensor]:
        """``Θ_{t,i} = Θ_{t−1} − η_2 ∇L(N̂_i)`` for every cluster row (Algorithm 2, batched).

        ``clusters`` ``(R, n)`` bool, ``sample_ids`` ``(R, n)`` (one drawn sample per user per row, ``-1``
        for none), ``arm_blocks`` ``(R,)`` the block of each row's arm (block arms only).  Returns
        name → ``(R, …)``; every row starts from ``Θ_{t−1}`` (no chaining).  ``"first.weight"`` is the
        part of ``W_1`` that the row's arm reads — all of it for dense arms, block ``arm_blocks[r]``
        ``(R, m, d_x)`` for block arms (the other blocks are not needed for line 9, so they are not
        formed: for "K long vectors" this divides the work by ``K``).
        """
        theta = {name: value.detach() for name, value in self.meta_params().items()}
        weights, features, block_ids, targets = self._weighted_samples(clusters, sample_ids)
        rows = clusters.shape[0]
        weight = theta["first.weight"]
        hidden0 = self._first(weight, features.flatten(0, 1), None if block_ids is None else block_ids.flatten())
        hidden0 = hidden0.view(features.shape[0], -1, hidden0.shape[-1])  # (1 or R, S, m): samples under Θ_{t−1}
        start = self._arm_blocks(weight, arm_blocks, rows)  # (R, m, d_in)
        tail0 = {name: theta[name] for name in self.names if name.startswith("tail.")}
        # ∇ of Σ_u w_u ½(f(x^u) − r^u)² by hand: every row starts at Θ_{t−1}, so h = h0 and only the
        # samples that read the arm's block contribute to that block's gradient
        values, activations = tail_forward(hidden0, tail0)
        delta, grad_tail = tail_backward(tail0, activations, weights * (values - targets))
        if block_ids is not None:  # a sample that reads another block gives that block's gradient
            delta = delta * (block_ids == arm_blocks[:, None]).unsqueeze(-1)
        grad_block = delta.transpose(1, 2) @ features  # (R, m, d_in)
        adapted = {name: tail0[name] - self.adapt_lr * grad_tail[name] for name in tail0}
        adapted["first.weight"] = start - self.adapt_lr * grad_block
        return adapted

    # -- line 9: UCB -------------------------------------------------------------------------------
    def _arm_gradients(self, params: dict[str, Tensor], inputs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One arm per row under its own parameters (name → ``(R, …)``, ``"first.weight"`` the part of
        ``W_1`` the arm reads): values ``(R,)``, ``δ = ∂f/∂(W_1 x)`` ``(R, m)`` and the other layers'
        gradients ``(R, p_rest)``.  The first-layer gradient is ``δ xᵀ`` (never formed)."""
        hidden = (params["first.weight"] @ inputs[:, :, None]).squeeze(-1)  # the einsum's product, without its planning
        tail = {name: params[name] for name in self.names if name.startswith("tail.")}
        values, activations = tail_forward(hidden[:, None], tail)
        delta, tail_grads = tail_backward(tail, activations, torch.ones_like(values))
        rest = torch.cat([tail_grads[name].reshape(len(values), -1) for name in tail], dim=-1)
        return values[:, 0], delta[:, 0], rest

    def belief(self, context: Context) -> Belief:
        users = self.user_ids(context)
        clusters = self.clusters(context)  # (B, K, n)
        self._cache = (context, clusters)
        batch, n_arms, n_users = clusters.shape
        sample_ids = self.adaptation_samples(n_arms).repeat(batch, 1)  # (B·K, n)
        arms = context.arm_features
        if isinstance(arms, BlockArms):
            inputs = arms.contexts.repeat_interleave(n_arms, 0)  # (B·K, d_x)
            block_ids = torch.arange(n_arms).repeat(batch)
        else:
            inputs, block_ids = arms.reshape(batch * n_arms, -1), None
        rows = batch * n_arms
        adapted = self.adapt(clusters.reshape(rows, n_users), sample_ids, block_ids)
        # Θ_{t,i} and Θ_0 on the same arms in one batched computation: rows [adapted; initial]
        theta0 = dict(self.theta0())
        theta0["first.weight"] = self._arm_blocks(theta0["first.weight"], block_ids, rows)
        both = {name: torch.cat([adapted[name], value.expand(rows, *adapted[name].shape[1:])])
                for name, value in theta0.items()}
        values, delta, rest = self._arm_gradients(both, inputs.repeat(2, 1))
        values, (delta, delta0), (rest, rest0) = values[:rows], delta.split(rows), rest.split(rows)
        # ∇_{W_1} f = δ xᵀ at the same x for both parameter sets: ‖Δ‖² = ‖δ − δ_0‖² ‖x‖² + ‖rest − rest_0‖²
        distance = ((delta - delta0).square().sum(-1) * inputs.square().sum(-1)
                    + (rest - rest0).square().sum(-1)).sqrt()
        mu = self.mu[users].clamp_min(1).to(values.dtype)[:, None]  # (B, 1)
        user_side = ((self.S + 1) / (2 * mu)).sqrt() + (2 * math.log(1 / self.delta) / mu).sqrt()
        width = distance.view(batch, n_arms) / self.width**0.25 + user_side
        return Belief(mean=values.detach().view(batch, n_arms), width=width.detach())

    # -- update (lines 13–18) ------------------------------------------------------------------------
    @torch.no_grad()
    def warm_start(self, feedback: Feedback) -> None:
        """Alg. 1 line 3: one observed sample per row, appended to the served user only (``μ^u += 1``);
        does not count as a round.  Call before round 1 with, e.g., one uniformly random arm per user."""
        users = self.user_ids(feedback.context)
        self._append(feedback.context, feedback.actions, feedback.rewards,
                     users, torch.arange(users.shape[0]))
        self._cache = None

    def _append(self, context: Context, actions: Tensor, rewards: Tensor, owners: Tensor, rows: Tensor) -> None:
        """Give row ``rows[l]``'s played sample to user ``owners[l]`` (lines 14–18)."""
        self._link(owners, rows + self.buffer.n_samples)
        self._store(context, actions, rewards, owners, rows, keep_links=False)
        self.pending[owners] = True

    def _store(self, context: Context, actions: Tensor, rewards: Tensor, owners: Tensor, rows: Tensor,
               *, keep_links: bool = True) -> None:
        """Append the played samples to the buffer and count them in ``μ``; the buffer links them to
        ``owners`` only with ``keep_links`` (the faithful mode lists ``T^u`` in ``user_samples``
        instead: every sample joins the whole cluster, up to ``n`` links a round, 3.2 GB of links
        after 10 000 rounds at 20 000 users)."""
        self.mu.add_(torch.bincount(owners, minlength=self.info.n_users))
        links = (owners, rows) if keep_links else (owners[:0], rows[:0])
        arms = context.arm_features
        if isinstance(arms, BlockArms):
            self.buffer.add(arms.contexts, actions, rewards, *links)
        else:
            self.buffer.add(arms[torch.arange(actions.shape[0]), actions], None, rewards, *links)

    @torch.no_grad()
    def update(self, feedback: Feedback) -> None:
        context, actions = feedback.context, feedback.actions
        if self._cache is not None and self._cache[0] is context:
            clusters = self._cache[1]
        else:
            clusters = self.clusters(context)
        self._cache = None
        rows = torch.arange(actions.shape[0])
        chosen = clusters[rows, actions]  # (B, n): N̂_{u_t}(x_t)
        # line 13: one fresh sample of T^u_{t−1} per member of the chosen cluster, queued for replay
        draws = self.draw_samples(torch.rand(chosen.shape, generator=self.generator))
        step, member = (chosen & (draws >= 0)).nonzero(as_tuple=True)
        queued = torch.stack([step + self.meta_steps[0], draws[step, member]], dim=1)
        # grown by doubling: a copy of the whole queue every round was the round's largest cost at
        # n = 20 000 (every user is in the cluster, so 20 000 rows a round)
        start = int(self.meta_steps[1])
        queue = grow_rows(self.meta_queue, start + len(queued))
        if queue is not self.meta_queue:  # (a module's attribute assignment costs as much as a small op)
            self.meta_queue = queue
        queue[start : start + len(queued)] = queued
        self.meta_steps.add_(torch.tensor([actions.shape[0], len(queued)]))
        # lines 14–18: (x_t, r_t) goes to every member of the cluster (or to u_t alone)
        if self.append_to == "cluster":
            row, owner = chosen.nonzero(as_tuple=True)
        else:
            row, owner = rows, self.user_ids(context)
        self._append(context, actions, feedback.rewards, owner, row)
        start = int(self.rounds_seen)
        self.rounds_seen.add_(actions.shape[0])
        if any(self.schedule.is_training_round(t) for t in range(start + 1, int(self.rounds_seen) + 1)):
            self.train()

    def train(self) -> None:
        """Replay the queued line-13 meta steps (Adam, in order), then train every grown user-learner."""
        params = self.meta.stacked()
        zero = torch.zeros(1, dtype=torch.int64)
        queue = self.meta_queue[: int(self.meta_steps[1])]
        per_step = torch.bincount(queue[:, 0], minlength=int(self.meta_steps[0])).tolist()
        for sample_ids in queue[:, 1].split(per_step):  # the queue is in step order
            if sample_ids.numel() == 0:
                continue
            _, grads = self.meta.loss_gradients(None, self.buffer.inputs(sample_ids[None], self.blocked),
                                                self.buffer.targets_of(sample_ids[None]), half_squared_loss)
            self.meta_optimizer.step(params, zero, grads)
        self.meta_steps.zero_()
        train_members(self.users, self.user_optimizer, self.buffer, self.pending.nonzero().squeeze(1),
                      self.schedule, self.generator, blocks=self.blocked,
                      sample_table=(self.user_samples, self.mu))
        self.pending.zero_()

    def after_load(self) -> None:
        self._cache = None
        steps = self._buffers.get("meta_steps")  # (MCNBReference has no queue)
        if steps is not None and steps.numel() == 1:  # saved before the queue kept its length
            self.meta_steps = torch.cat([steps, torch.tensor([len(self.meta_queue)])])
