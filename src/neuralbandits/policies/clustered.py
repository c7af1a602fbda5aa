"""Clustered linear bandits, the linear baselines of M-CNB (paper 000 §6; notes §1.4 items 1–4).

Every policy here is the same three parts (style guide §3, technique 4): a
:class:`~neuralbandits.models.ridge.RidgeBank` of per-user ridge statistics ``S_i = λI + Σ x xᵀ``,
``b_i = Σ r x``, ``θ_i = S_i⁻¹b_i``, ``N_i``; a *cluster rule* that groups users (a user graph with
edge deletion, split/merge of a partition, seed clusters, or item-specific user graphs); and the
:class:`~neuralbandits.policies.explorers.UCB` explorer on the aggregated statistics of the served
user's cluster::

    S_c = λI + Σ_{k∈c}(S_k − λI),  b_c = Σ b_k,  N_c = Σ N_k,  θ_c = S_c⁻¹b_c
    score(x) = xᵀθ_c + α · β(N_c, t) · w(x),   w(x) = xᵀS_c⁻¹x   (official code: no square root)

``bonus_sqrt=True`` gives the textbook width ``√(xᵀS_c⁻¹x)``.  ``β(N, t) = √(d ln(1+N/d) + 4 ln t +
ln 2) + 1`` with ``t`` the 1-based round (``max(t, 1)``), ``F(N) = √((1 + ln(1+N))/(1+N))``.

Block-encoded arms (``d = K·d_x``): the per-user design matrix is block-diagonal, so the bank keeps
``K`` blocks of ``d_x × d_x`` per user (members ``u·K + a``) — the same statistics, distances and scores
as the dense ``(K·d_x)²`` matrices at ``1/K`` of the memory.  Memory is ``2·n·K·d_x²`` floats (e.g.
``n = 10, K = 10, d_x = 784``: 490 MB); beyond that, reduce ``d_x`` first.

Cluster statistics live in a :class:`~neuralbandits.models.cluster_stats.ClusterStats` (one slot per
cluster the rule can form): each new sample is a Sherman–Morrison step of its clusters' inverses, and a
cluster is aggregated and inverted afresh only when its membership changes.  This is what makes the
block-encoded image datasets affordable (``G = 10`` blocks of ``784 × 784``: a fresh solve every round
costs seconds, the rank-one step milliseconds).

Batches: ``select`` scores all rounds of a batch against the same state (``t`` = rounds seen + 1);
``update`` adds the whole batch to the ridge bank, then applies the cluster rule to the served users
of the batch simultaneously (CLUB, SCLUB, LOCB) or row by row (COFIBA, whose item graph couples rows).
With ``B = 1`` every rule is exactly the sequential one.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from neuralbandits.models.cluster_stats import ClusterStats
from neuralbandits.models.ridge import RidgeBank
from neuralbandits.models.user_graph import (
    beta_factor,
    canonical_labels,
    club_far,
    compact_labels,
    confidence_factor,
    connected_components,
    cut_edges,
    edge_probability,
    random_graph,
)
from neuralbandits.policies.base import ScorePolicy, register
from neuralbandits.policies.explorers import UCB
from neuralbandits.types import Belief, BlockArms, Context, Feedback, ProblemInfo
from neuralbandits.validation import Interval, OneOf, Optional


class ClusteredLinearPolicy(ScorePolicy):
    """Shared state of the clustered linear family: per-user (block-)ridge statistics and the UCB score
    of aggregated cluster statistics.  Subclasses add the cluster rule."""

    constraints = {
        "alpha": Interval(0, None),
        "l2_reg": Interval(0, None, low_open=True),
        "edge_scale": Optional(Interval(0, None)),
        "bonus_sqrt": OneOf((True, False)),
        "mode": OneOf(("faithful", "reference")),
    }

    def _build_bank(self, info: ProblemInfo, l2_reg: float, n_slots: int, *, regularise: bool = True,
                    block_of_slot: Tensor | None = None) -> None:
        self.blocked = info.block_dim is not None
        self.n_users = info.n_users
        self.groups = info.n_arms if self.blocked else 1
        self.edim = info.block_dim if self.blocked else info.dim
        self.ridge = RidgeBank(self.n_users * self.groups, self.edim, l2_reg=l2_reg)
        self.clusters = ClusterStats(n_slots, self.n_users, self.groups, self.edim, l2_reg=l2_reg,
                                     regularise=regularise, block_of_slot=block_of_slot)

    def slot_membership(self) -> Tensor:  # pragma: no cover - abstract
        """``(n_slots, n)`` bool: the members of every cluster slot under the current rule state."""
        raise NotImplementedError

    def sync_clusters(self) -> None:
        """Rebuild the cluster slots whose membership the rule just changed."""
        self.clusters.sync(self.slot_membership(), self.ridge)

    def refit(self, users: Tensor, features: Tensor, rewards: Tensor) -> None:
        """Replace all statistics by those of the samples ``(users, features, rewards)`` on dense arms
        (NeuralLinear, after retraining its embedding); the cluster rule's state is kept."""
        self.ridge.reset()
        self.ridge.update(users, features, rewards)
        self.clusters.replace_samples(users, torch.zeros_like(users), features)
        self.clusters.membership.copy_(self.slot_membership())
        self.clusters.rebuild(torch.arange(self.clusters.membership.shape[0]), self.ridge)

    # -- per-user views ---------------------------------------------------------------------------
    def _user_moment(self) -> Tensor:  # (n, G, e)
        return self.ridge.moment.view(self.n_users, self.groups, self.edim)

    def _user_counts(self) -> Tensor:  # (n,)
        return self.ridge.counts.view(self.n_users, self.groups).sum(1)

    def _user_theta(self) -> Tensor:  # (n, G·e): θ_i of the full d-dimensional model
        return self.ridge.theta.reshape(self.n_users, self.groups * self.edim)

    def _arm_inputs(self, context: Context) -> Tensor:
        """Per-arm features in the (block) coordinates of the statistics: ``(B, K, e)``."""
        features = context.arm_features
        if isinstance(features, BlockArms):
            return features.contexts[:, None, :].expand(-1, features.n_arms, -1)
        return features

    def _slots(self, slots: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Inverse ``(B, G, e, e)``, ``θ`` ``(B, G, e)`` and ``N`` ``(B,)`` of cluster ``slots`` ``(B,)``.
        One slot is a view: no copy of its ``G·e²`` inverse."""
        stats = self.clusters
        if slots.shape[0] == 1:
            s = int(slots[0])
            inverse, theta, counts = stats.inverse[s : s + 1], stats.theta[s : s + 1], stats.counts[s : s + 1]
        else:
            inverse, theta, counts = stats.inverse[slots], stats.theta[slots], stats.counts[slots]
        return inverse, theta, counts

    def _mean_and_w(self, inverse: Tensor, theta: Tensor, arms: Tensor) -> tuple[Tensor, Tensor]:
        """``xᵀθ_c`` and ``w(x)`` for arms ``(*L, K, e)`` and clusters ``inverse (*L, G, e, e)``,
        ``theta (*L, G, e)`` (``G`` is 1 or ``K``); computed in the statistics' dtype, returned in the
        arms' dtype."""
        x = arms.to(inverse.dtype)
        mean = (x * theta).sum(-1)
        quad = ((x.unsqueeze(-2) @ inverse).squeeze(-2) * x).sum(-1)
        w = quad.clamp_min(0).sqrt() if self.bonus_sqrt else quad
        return mean.to(arms.dtype), w.to(arms.dtype)

    def _scores(self, inverse: Tensor, theta: Tensor, counts: Tensor, arms: Tensor) -> tuple[Tensor, Tensor]:
        """Mean ``xᵀθ_c`` and width ``β(N_c, t)·w(x)``, ``counts (*L,)`` (see :meth:`_mean_and_w`)."""
        mean, w = self._mean_and_w(inverse, theta, arms)
        t = int(self.rounds_seen) + 1
        return mean, beta_factor(counts, t, self.info.dim)[..., None] * w

    def _update_ridge(self, feedback: Feedback) -> Tensor:
        """Add the batch to the per-user statistics; returns the served users ``(B,)``."""
        users = self.user_ids(feedback.context)
        actions = feedback.actions
        features = feedback.context.arm_features
        if isinstance(features, BlockArms):
            groups, x = actions, features.contexts
            self.ridge.update(users * self.groups + actions, x, feedback.rewards)
        else:
            rows = torch.arange(actions.shape[0])
            groups, x = torch.zeros_like(actions), features[rows, actions]
            self.ridge.update(users, x, feedback.rewards)
        self.clusters.observe(users, groups, x, feedback.rewards)  # into the clusters as they were
        self.rounds_seen.add_(actions.shape[0])
        return users


class PartitionPolicy(ClusteredLinearPolicy):
    """Users form a partition ``labels`` ``(n,)`` (each label = the smallest member): one cluster slot per
    label (CLUB, SCLUB)."""

    def _build_partition(self, info: ProblemInfo, l2_reg: float) -> None:
        self._build_bank(info, l2_reg, info.n_users)
        self.register_buffer("labels", torch.zeros(info.n_users, dtype=torch.int64))
        self.sync_clusters()

    def slot_membership(self) -> Tensor:
        return self.labels[None, :] == torch.arange(self.n_users)[:, None]

    def belief(self, context: Context) -> Belief:
        inverse, theta, counts = self._slots(self.labels[self.user_ids(context)])
        mean, width = self._scores(inverse, theta, counts, self._arm_inputs(context))
        return Belief(mean=mean, width=width)


@register("club")
class CLUB(PartitionPolicy):
    r"""CLUB — Gentile, Li, Zappella, "Online clustering of bandits", ICML 2014 (Algorithm 1), as used by
    paper 000 §6 and the official ``banyikun/MCNB:code/club.py`` (notes §1.4 item 1).

    Rule: a complete user graph; after user ``i = u_t`` is updated, delete every edge ``(i, j)`` with
    ``N_i, N_j > 0`` and ``‖θ_i − θ_j‖ > α_e (F(N_i) + F(N_j))``; clusters are the connected components
    (recomputed only when an edge was deleted).  Recommend ``argmax_x xᵀθ_c + α β(N_c, t) w(x)`` on the
    aggregated statistics of ``u_t``'s component.

    Parameters ↔ symbols: ``alpha`` α (bonus scale, code value 1), ``l2_reg`` λ (code 1),
    ``edge_scale`` α_e (code 1; the paper's theory uses ``α_2``), ``bonus_sqrt`` ``w = √(xᵀS⁻¹x)``
    instead of the code's ``xᵀS⁻¹x``.  The official code and the paper agree on the rule (its random
    initial graph ``G(n, 3 ln n/n)`` is not used in paper 000's code, which starts complete), so there
    is no ``mode``.  State: ``adjacency`` ``(n, n)`` bool, ``labels`` ``(n,)`` int64 (smallest member).
    """

    constraints = ClusteredLinearPolicy.constraints
    test_params = {"alpha": 1.0}

    def __init__(self, info: ProblemInfo, *, alpha: float = 1.0, l2_reg: float = 1.0,
                 edge_scale: float = 1.0, bonus_sqrt: bool = False, seed: int | None = None) -> None:
        super().__init__(info, seed=seed)
        self.alpha, self.l2_reg, self.edge_scale, self.bonus_sqrt = alpha, l2_reg, edge_scale, bonus_sqrt
        self.check_params()
        self._build_partition(info, l2_reg)
        self.register_buffer("adjacency", torch.ones(info.n_users, info.n_users, dtype=torch.bool))
        self.explorer = UCB(alpha)

    def update(self, feedback: Feedback) -> None:
        users = self._update_ridge(feedback)
        far = club_far(self._user_theta(), self._user_counts(), users, self.edge_scale)
        if cut_edges(self.adjacency, users, far):
            self.labels = connected_components(self.adjacency)
            self.sync_clusters()


@register("sclub")
class SCLUB(PartitionPolicy):
    r"""SCLUB — Li, Chen, Li, Leung, "Improved algorithm on online clustering of bandits", IJCAI 2019
    (the "Li & Zhang 2018" entry of paper 000's baselines), as in ``banyikun/MCNB:sclub.py`` (notes §1.4
    item 3).

    A partition of the users, initially one cluster.  After the update of ``i = u_t`` in round ``t``:

    * **split** ``i`` into a singleton if ``|p_i − p̄_c| > α_p F(t)`` or
      ``‖θ_i − θ_c‖ > α_e (F(N_i) + F(N_c))``, with ``p_i = N_i/t``, ``p̄_c = N_c/(|c|·t)``;
    * **merge** checked clusters ``c1, c2`` with ``‖θ_{c1} − θ_{c2}‖ < α_e (F(N_{c1}) + F(N_{c2}))/2``
      and ``|p̄_{c1} − p̄_{c2}| < α_p F(t)/2``.  A cluster is *checked* when all its users were served
      since the last stage reset.  All qualifying pairs are merged at once (transitively); the code
      merges pairs in index order within one pass — the same partition unless two merges chain.

    Recommend as CLUB on ``u_t``'s cluster.  Stages: the paper resets the checks at the start of every
    stage (rounds ``2^s``); the official code never resets them (every cluster becomes merge-eligible
    once all its users were served).  ``stage_reset=False`` (the default, like the notes and the code)
    or ``True`` (the paper's stages).  The code's stale ``θ_c`` after a merge (recomputed only at the
    next update of that cluster) is not reproduced: cluster statistics are always current.

    Parameters ↔ symbols: ``alpha`` α, ``l2_reg`` λ, ``edge_scale`` α_e (code 1), ``freq_scale`` α_p
    (code √2), ``bonus_sqrt`` as in CLUB.  State: ``labels`` ``(n,)``, ``checked`` ``(n,)`` bool.
    """

    constraints = {**ClusteredLinearPolicy.constraints, "freq_scale": Interval(0, None),
                   "stage_reset": OneOf((True, False))}
    test_params = {"alpha": 1.0}

    def __init__(self, info: ProblemInfo, *, alpha: float = 1.0, l2_reg: float = 1.0,
                 edge_scale: float = 1.0, freq_scale: float = math.sqrt(2.0), stage_reset: bool = False,
                 bonus_sqrt: bool = False, seed: int | None = None) -> None:
        super().__init__(info, seed=seed)
        self.alpha, self.l2_reg, self.edge_scale = alpha, l2_reg, edge_scale
        self.freq_scale, self.stage_reset, self.bonus_sqrt = freq_scale, stage_reset, bonus_sqrt
        self.check_params()
        self._build_partition(info, l2_reg)
        self.register_buffer("checked", torch.zeros(info.n_users, dtype=torch.bool))
        self.explorer = UCB(alpha)

    def update(self, feedback: Feedback) -> None:
        before = int(self.rounds_seen)
        users = self._update_ridge(feedback)
        t = int(self.rounds_seen)
        if self.stage_reset and _crosses_power_of_two(before, t):
            self.checked.zero_()
        self.checked[users] = True
        self._split(users, t)
        self.sync_clusters()
        self._merge(t)
        self.sync_clusters()

    def _split(self, users: Tensor, t: int) -> None:
        labels = self.labels
        sizes = (labels[None, :] == labels[users][:, None]).sum(1).to(torch.float32)  # (B,)
        _, theta_c, counts = self._slots(labels[users])
        counts = counts.to(torch.float32)
        n_user = self._user_counts()[users].to(torch.float32)
        factor_t = float(confidence_factor(torch.tensor(float(t))))
        freq = (n_user / t - counts / (sizes * t)).abs() > self.freq_scale * factor_t
        distance = (self._user_theta()[users] - theta_c.flatten(1).to(torch.float32)).norm(dim=1)
        far = distance > self.edge_scale * (confidence_factor(n_user) + confidence_factor(counts))
        split = (freq | far) & (sizes > 1)
        if bool(split.any()):
            fresh = labels.clone()
            fresh[users[split]] = self.n_users + users[split]  # a new singleton label each
            self.labels = canonical_labels(fresh)

    def _merge(self, t: int) -> None:
        index, n_clusters = compact_labels(self.labels)
        if n_clusters < 2:
            return
        onehot = index[None, :] == torch.arange(n_clusters)[:, None]  # (C, n)
        checked = ~(onehot & ~self.checked[None, :]).any(1)
        if int(checked.sum()) < 2:
            return
        slots = torch.unique(self.labels)  # cluster c of `index` is slot slots[c] (sorted labels)
        theta = self.clusters.theta[slots].to(torch.float32)
        counts = self.clusters.counts[slots].to(torch.float32)
        sizes = onehot.sum(1).to(torch.float32)
        freq = counts / (sizes * t)
        factor = confidence_factor(counts)
        close = torch.cdist(theta.flatten(1), theta.flatten(1)) < self.edge_scale * (
            factor[:, None] + factor[None, :]) / 2
        factor_t = float(confidence_factor(torch.tensor(float(t))))
        similar = (freq[:, None] - freq[None, :]).abs() < self.freq_scale * factor_t / 2
        pairs = close & similar & checked[:, None] & checked[None, :]
        pairs.fill_diagonal_(False)
        if bool(pairs.any()):
            merged = connected_components(pairs | torch.eye(n_clusters, dtype=torch.bool))
            self.labels = canonical_labels(merged[index])


def _crosses_power_of_two(before: int, after: int) -> bool:
    """Whether a stage start ``2^s`` (``s ≥ 1``) lies in the rounds ``(before, after]``."""
    s = 2
    while s <= after:
        if s > before:
            return True
        s *= 2
    return False


@register("locb")
class LOCB(ClusteredLinearPolicy):
    r"""LOCB — Ban & He, "Local clustering in contextual multi-armed bandits", WWW 2021, as in
    ``banyikun/MCNB:locb.py`` (= ``banyikun/LOCB:LOCB.py``; notes §1.4 item 4).

    ``n_seeds`` seed users are drawn uniformly with replacement (duplicates behave identically, as the
    code's dict keyed by seed); every seed ``s`` has a cluster, initially all users.  After the update
    of ``i = u_t``, for every unfrozen seed ``s``: remove ``i`` if it is in the cluster and
    ``‖θ_i − θ_s‖ > F(N_i) + F(N_s)``, add it if outside and ``<``; freeze ``s`` once
    ``F(N_s) ≤ γ/4``.  Recommend: the largest UCB ``xᵀθ_c + α β(N_c, t) w(x)`` over all (frozen or not)
    seed clusters containing ``u_t`` — per arm the best cluster, which gives the code's choice (best
    cluster by its best arm, then that arm); ``u_t``'s own ridge model if no cluster contains it.
    Cluster statistics are the aggregation of the members (the code adds/removes ``S_i − I`` on
    membership changes and adds new data to every cluster containing ``i``: the same sums).

    ``mode="reference"`` adds the code's ``N_c`` offset of 1 (clusters start with ``N = 1``); the
    code's ``t < 40000`` cut-off and its unused ``detect_cluster`` branch (``δ``) are not reproduced.
    The seeds are a loop-free ``(n_seeds, n)`` membership mask; cluster statistics are kept per seed
    *user* (slot ``s`` = user ``s``), since seeds drawn twice always have the same cluster.

    Parameters ↔ symbols: ``alpha`` α, ``l2_reg`` λ, ``gamma`` γ (code 0.2), ``n_seeds`` (code 20),
    ``bonus_sqrt`` as in CLUB.  State: ``seeds`` ``(S,)``, ``membership`` ``(S, n)`` bool, ``frozen``
    ``(S,)`` bool.
    """

    constraints = {**ClusteredLinearPolicy.constraints, "gamma": Interval(0, None),
                   "n_seeds": Interval(1, None, integer=True)}
    test_params = {"alpha": 1.0, "n_seeds": 2}

    def __init__(self, info: ProblemInfo, *, alpha: float = 1.0, l2_reg: float = 1.0, gamma: float = 0.2,
                 n_seeds: int = 20, bonus_sqrt: bool = False, mode: str = "faithful",
                 seed: int | None = None) -> None:
        super().__init__(info, seed=seed)
        self.alpha, self.l2_reg, self.gamma, self.n_seeds = alpha, l2_reg, gamma, n_seeds
        self.bonus_sqrt, self.mode = bonus_sqrt, mode
        self.check_params()
        self._build_bank(info, l2_reg, info.n_users)
        n = info.n_users
        self.register_buffer("seeds", torch.randint(n, (n_seeds,), generator=self.generator))
        self.register_buffer("membership", torch.ones(n_seeds, n, dtype=torch.bool))
        self.register_buffer("frozen", torch.zeros(n_seeds, dtype=torch.bool))
        self.sync_clusters()
        self.explorer = UCB(alpha)

    def slot_membership(self) -> Tensor:
        slots = torch.zeros(self.n_users, self.n_users, dtype=torch.bool)
        slots[self.seeds] = self.membership  # duplicate seeds write the same row
        return slots

    def belief(self, context: Context) -> Belief:
        users = self.user_ids(context)
        arms = self._arm_inputs(context)  # (B, K, e)
        stats = self.clusters  # slot = seed user: (n, G, e, e), (n, G, e), (n,)
        counts = stats.counts + 1 if self.mode == "reference" else stats.counts
        inside = self.membership[:, users].T  # (B, S)
        mean_s = arms.new_zeros(arms.shape[0], self.n_users, arms.shape[1])  # (B, n, K); unread slots masked below
        width_s = torch.zeros_like(mean_s)
        # Only the slots of the served users' clusters, one view at a time: every slot is G·e² float64
        # values (49 MB on mnist, 490 MB for all ten) and a user is in a few seeds' clusters.
        for slot in torch.unique(self.seeds[inside.any(0)]).tolist():
            mean, width = self._scores(stats.inverse[slot][None, None], stats.theta[slot][None, None],
                                       counts[slot : slot + 1][None], arms[:, None])
            mean_s[:, slot], width_s[:, slot] = mean[:, 0], width[:, 0]
        mean_s, width_s = mean_s[:, self.seeds], width_s[:, self.seeds]  # (B, S, K)
        own = self.ridge.inverse.view(self.n_users, self.groups, self.edim, self.edim)[users]
        own_theta = self.ridge.theta.view(self.n_users, self.groups, self.edim)[users]
        own_counts = self._user_counts()[users].to(torch.float32)
        mean_o, width_o = self._scores(own, own_theta, own_counts, arms)  # (B, K)
        mean = torch.cat([mean_s, mean_o[:, None]], 1)  # (B, S+1, K)
        width = torch.cat([width_s, width_o[:, None]], 1)
        allowed = torch.cat([inside, ~inside.any(1, keepdim=True)], 1)  # own model only if no cluster
        ucb = (mean + self.alpha * width).masked_fill(~allowed[:, :, None], float("-inf"))
        best = ucb.argmax(1, keepdim=True)  # (B, 1, K)
        return Belief(mean=mean.gather(1, best).squeeze(1), width=width.gather(1, best).squeeze(1))

    def update(self, feedback: Feedback) -> None:
        users = self._update_ridge(feedback)
        if bool(self.frozen.all()):
            return
        theta, counts = self._user_theta(), self._user_counts()
        factor = confidence_factor(counts)
        distance = (theta[users][:, None, :] - theta[self.seeds][None, :, :]).norm(dim=-1)  # (B, S)
        threshold = factor[users][:, None] + factor[self.seeds][None, :]
        inside = self.membership[:, users].T
        active = ~self.frozen[None, :]
        remove = active & inside & (distance > threshold)
        add = active & ~inside & (distance < threshold)
        self.membership[:, users] = ((inside & ~remove) | add).T
        self.frozen |= factor[self.seeds] <= self.gamma / 4
        self.sync_clusters()


@register("cofiba")
class COFIBA(ClusteredLinearPolicy):
    r"""COFIBA — Li, Karatzoglou, Gentile, "Collaborative filtering bandits", SIGIR 2016, as in
    ``banyikun/MCNB:code/cofiba.py`` (notes §1.4 item 2).

    Co-clustering of users and the ``K`` arm slots: an item graph over the slots (initially complete)
    whose connected components are item clusters, and one user graph per item cluster (initially one
    complete graph).  Score of slot ``l``: ridge over the component ``H`` of ``u_t`` in the user graph of
    ``l``'s item cluster, ``xᵀθ_H + α·w(x)`` (``α = 0.1`` in the code, no ``β`` factor).  Update with
    played slot ``k`` and ``thr_j = α_c (F(T_i) + F(T_j))``:

    1. delete user edges ``(i, j)`` of ``k``'s item cluster with ``|(θ_i − θ_j)ᵀx_k| > thr_j``;
    2. for every neighbour slot ``l`` of ``k`` compare ``{j ≠ i : |(θ_j − θ_i)ᵀx_·| < thr_j}`` at ``x_k``
       and ``x_l``; delete item edge ``(k, l)`` if they differ;
    3. if ``k``'s item component changed, every new item cluster inside it gets a fresh random user
       graph ``G(n, 3 ln n / n)`` (drawn with the policy's generator).

    ``mode="faithful"`` uses the counts ``T_j = N_j``, each user's own ``θ_j`` and the aggregation
    ``S_H = λI + Σ(S_j − λI)``.  ``mode="reference"`` keeps the code's quirks: ``T_j`` never
    incremented (``thr = 2α_c``), ``θ_j = S_{u_t}⁻¹ b_j`` in step 1, and ``S_H = Σ_{j∈H} S_j``.  The
    code's random score for a singular ``S_H`` never triggers with ``λ > 0`` and is omitted.

    Parameters ↔ symbols: ``alpha`` the bonus scale (code 0.1), ``l2_reg`` λ (code 1), ``edge_scale``
    α_c (``None`` = ``4√d``, the code's value), ``bonus_sqrt`` as in CLUB.  State:
    ``item_adjacency`` ``(K, K)``, ``item_labels`` ``(K,)``, ``user_adjacency`` ``(K, n, n)`` and
    ``user_labels`` ``(K, n)`` (the graph of item cluster ``c`` is stored at index ``c`` = its smallest
    slot).  The update loops over the rows of a batch and over the ≤ ``K`` new item clusters; scoring
    is loop-free.
    """

    constraints = ClusteredLinearPolicy.constraints
    test_params = {"alpha": 1.0}

    def __init__(self, info: ProblemInfo, *, alpha: float = 0.1, l2_reg: float = 1.0,
                 edge_scale: float | None = None, bonus_sqrt: bool = False, mode: str = "faithful",
                 seed: int | None = None) -> None:
        super().__init__(info, seed=seed)
        self.alpha, self.l2_reg, self.edge_scale = alpha, l2_reg, edge_scale
        self.bonus_sqrt, self.mode = bonus_sqrt, mode
        self.check_params()
        n, k = info.n_users, info.n_arms
        # slot h·K + l: component h of the user graph of slot l's item cluster, with l's block only
        blocks = torch.arange(k).repeat(n) if info.block_dim is not None else torch.zeros(n * k, dtype=torch.int64)
        self._build_bank(info, l2_reg, n * k, regularise=mode == "faithful", block_of_slot=blocks)
        self.register_buffer("item_adjacency", torch.ones(k, k, dtype=torch.bool))
        self.register_buffer("item_labels", torch.zeros(k, dtype=torch.int64))
        self.register_buffer("user_adjacency", torch.ones(k, n, n, dtype=torch.bool))
        self.register_buffer("user_labels", torch.zeros(k, n, dtype=torch.int64))
        self.sync_clusters()
        self.explorer = UCB(alpha)

    def slot_membership(self) -> Tensor:
        graph_labels = self.user_labels[self.item_labels]  # (K, n): user clusters seen by each slot
        membership = graph_labels[None] == torch.arange(self.n_users)[:, None, None]  # (h, K, n)
        return membership.reshape(-1, self.n_users)

    @property
    def threshold_scale(self) -> float:
        return 4.0 * math.sqrt(self.info.dim) if self.edge_scale is None else float(self.edge_scale)

    def belief(self, context: Context) -> Belief:
        users = self.user_ids(context)
        n_arms = self.info.n_arms
        components = self.user_labels[self.item_labels][:, users].T  # (B, K): u_t's component per slot
        slots = components * n_arms + torch.arange(n_arms)
        stats = self.clusters
        # slot h·K + l as (h, l); (B, K, e, e): slot l's cluster, block l (or the dense block)
        by_component = stats.inverse[:, 0].view(self.n_users, n_arms, *stats.inverse.shape[-2:])
        if bool((components == components[0, 0]).all()):
            # one component for every row and slot (always, while no user graph has split): a view,
            # not a copy of K·e² float64 values per round (49 MB on mnist)
            inverse = by_component[int(components[0, 0])].expand(components.shape[0], -1, -1, -1)
        else:
            inverse = by_component[components, torch.arange(n_arms)]
        theta = stats.theta[slots, 0]
        arms = self._arm_inputs(context)[..., None, :]  # (B, K, 1, e): one arm per slot
        mean, width = self._mean_and_w(inverse[..., None, :, :], theta[..., None, :], arms)
        return Belief(mean=mean[..., 0], width=width[..., 0])

    def _projections(self, theta: Tensor, context: Context, row: int) -> Tensor:
        """``θ_jᵀx_l`` for every user ``j`` and slot ``l`` of round ``row``: ``(n, K)``."""
        features = context.arm_features
        if isinstance(features, BlockArms):
            grouped = theta.view(self.n_users, self.groups, self.edim)
            return grouped @ features.contexts[row]
        return theta @ features[row].T

    def update(self, feedback: Feedback) -> None:
        users = self._update_ridge(feedback)
        for row in range(users.shape[0]):
            self._update_row(feedback.context, int(users[row]), int(feedback.actions[row]), row)
        self.sync_clusters()

    def _update_row(self, context: Context, i: int, k: int, row: int) -> None:
        theta = self.ridge.theta.reshape(self.n_users, -1)
        if self.mode == "reference":
            factor = torch.ones(self.n_users)  # F(0): the counts T are never incremented
            own_inv = self.ridge.inverse.view(self.n_users, self.groups, self.edim, self.edim)[i]
            moments = self._user_moment()  # θ_j computed with u_t's inverse
            edge_theta = torch.einsum("gde,nge->ngd", own_inv, moments).reshape(self.n_users, -1)
        else:
            factor = confidence_factor(self._user_counts())
            edge_theta = theta
        threshold = self.threshold_scale * (factor[i] + factor)  # (n,)
        # 1. user edges in the graph of k's item cluster
        c = int(self.item_labels[k])
        edge_proj = self._projections(edge_theta, context, row)[:, k]
        far = (edge_proj[i] - edge_proj).abs() > threshold
        if cut_edges(self.user_adjacency[c], torch.tensor([i]), far[None]):
            self.user_labels[c] = connected_components(self.user_adjacency[c])
        # 2. item edges: neighbourhoods of i at x_k and at every neighbour slot l
        proj = self._projections(theta, context, row)  # (n, K)
        near = (proj - proj[i]).abs() < threshold[:, None]
        near[i] = True  # i itself is excluded from both sets
        differ = (near != near[:, k : k + 1]).any(0)  # (K,)
        doomed = self.item_adjacency[k] & differ
        doomed[k] = False
        if not bool(doomed.any()):
            return
        old_component = self.item_labels == self.item_labels[k]
        self.item_adjacency[k, doomed] = False
        self.item_adjacency[doomed, k] = False
        labels = connected_components(self.item_adjacency)
        if bool((labels[old_component] == labels[k]).all()):
            self.item_labels = labels
            return
        # 3. k's item component split: fresh random user graphs for its new item clusters
        probability = edge_probability(self.n_users)
        for new in torch.unique(labels[old_component]).tolist():  # ≤ K item clusters
            graph = random_graph(self.n_users, probability, self.generator)
            self.user_adjacency[new] = graph
            self.user_labels[new] = connected_components(graph)
        self.item_labels = labels
