"""Synthetic environments with known reward functions: clustered users and nonlinear rewards.

:class:`ClusteredEnv` serves users who belong to known clusters with a γ-gap between clusters; it is
the test bed of the clustering policies (CLUB, SCLUB, LOCB, M-CNB).  :class:`NonlinearEnv` is the
single-user environment of the neural-bandit papers, with the rewards ``10 (xᵀa)²``, ``xᵀAᵀAx`` and
``cos(3xᵀa)`` observed with Gaussian noise or as Bernoulli draws of ``sigmoid(h)``.

Both separate the *problem* from the *stream*: parameters (cluster vectors, ``a``, ``A``, a context
pool, the user-to-cluster map) come from a generator seeded by ``problem_seed`` in the constructor;
contexts, served users and reward noise come from the generator that ``reset(seed=...)`` creates.
All tensors are float32 (indices int64) on the CPU.

References: paper 000 §3 (γ-gap, relative clusters) and §6; paper 003 §2.5 (synthetic logistic
rewards); Zhou et al. 2020, NeuralUCB, §7.1 (the three reward functions).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from neuralbandits.envs.base import BanditEnv
from neuralbandits.rng import make_generator
from neuralbandits.types import Context, ProblemInfo
from neuralbandits.validation import (
    Interval,
    InvalidParameterError,
    OneOf,
    Optional,
    check_params,
)

__all__ = ["ClusteredEnv", "NonlinearEnv"]

_DTYPE = torch.float32

# Angles of the circle on which the γ-gap of two cluster vectors is measured (see ClusteredEnv).
_GAP_GRID = 720
# Rejection sampling of cluster vectors: candidates drawn per attempt, attempts per cluster.
_REJECTION_BLOCK = 128
_REJECTION_ATTEMPTS = 200


def _uniform_sphere(shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    """``shape`` unit vectors (last dimension is ``d``), uniform on the sphere ``S^{d-1}``."""
    z = torch.randn(shape, generator=generator, dtype=_DTYPE)
    return z / z.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _bernoulli_or_noise(
    expected: Tensor, noise: str, noise_std: float, generator: torch.Generator
) -> Tensor:
    """Observed rewards of expected rewards ``expected`` ``(B,)`` under ``noise``."""
    if noise == "gaussian":
        return expected + noise_std * torch.randn(
            expected.shape, generator=generator, dtype=expected.dtype
        )
    if noise == "bernoulli":
        return torch.bernoulli(expected, generator=generator)
    return expected.clone()


def _check_user_ids(user_ids: Tensor, n_users: int, owner: str) -> Tensor:
    user_ids = torch.as_tensor(user_ids)
    if user_ids.ndim != 1 or user_ids.dtype != torch.int64:
        raise ValueError(
            f"user_ids of {owner} must be a (B,) int64 tensor; "
            f"got {user_ids.dtype} {tuple(user_ids.shape)}."
        )
    if user_ids.numel() == 0:
        raise ValueError(f"user_ids of {owner} must name at least one user; got an empty tensor.")
    if int(user_ids.min()) < 0 or int(user_ids.max()) >= n_users:
        raise ValueError(
            f"user_ids of {owner} must lie in [0, {n_users}); "
            f"got values in [{int(user_ids.min())}, {int(user_ids.max())}]."
        )
    return user_ids


# ------------------------------------------------------------------------------------------------
# Clustered users
# ------------------------------------------------------------------------------------------------
class ClusteredEnv(BanditEnv):
    r"""Users in known clusters with a γ-gap; each round one user arrives with ``K`` random arms.

    Problem (fixed by ``problem_seed``): ``n_users`` users are split into ``n_clusters`` balanced
    clusters by a seeded permutation (cluster sizes differ by at most one; ``true_clusters[u]``
    is the cluster ``c(u)``).  Cluster ``c`` has a unit parameter vector ``θ_c``
    (``cluster_params[c]``) and every user of the cluster shares its expected reward function,
    mapped into ``[0, 1]``:

    * ``reward="linear"``    ``h_c(x) = (1 + xᵀθ_c) / 2``
    * ``reward="quadratic"`` ``h_c(x) = (xᵀθ_c)²``
    * ``reward="cosine"``    ``h_c(x) = (1 + cos(3 xᵀθ_c)) / 2``

    Round (drawn from the stream generator): the served user ``u_t`` is uniform on
    ``{0, …, n_users − 1}`` (``Context.user_ids``); the ``K`` arms ``x_{t,1..K}`` are i.i.d.
    uniform on the unit sphere of ``R^d``; the expected reward of arm ``i`` is
    ``h_{c(u_t)}(x_{t,i})``.  Observed rewards: ``noise="gaussian"`` adds ``N(0, noise_std²)``
    (not clipped, so they may leave ``[0, 1]``; the expected reward stays noiseless),
    ``"bernoulli"`` draws ``Bernoulli(h)`` and ``"none"`` returns ``h`` itself.

    γ-gap.  For two clusters with ``θ_cᵀθ_c' = cos α`` the gap is
    ``gap(c, c') = sup_{‖x‖=1} |h_c(x) − h_c'(x)|``, computed on the circle of unit vectors
    spanned by the two parameters, where ``xᵀθ_c = cos φ`` and ``xᵀθ_c' = cos(φ − α)`` (720
    angles: a lower bound of the supremum, exact up to grid error; exactly ``sin(α/2)`` for linear
    and ``sin α`` for quadratic rewards).  For linear rewards ``gap(c, c') = ‖θ_c − θ_c'‖ / 2``,
    so the CLUB condition ``‖θ_c − θ_c'‖ ≥ 2γ`` and the M-CNB condition coincide.  Construction:

    * ``dim ≥ n_clusters``: a random orthonormal family (QR of a Gaussian ``d × C`` matrix),
      pairwise angle ``π/2``, gaps ``1/√2`` (linear), ``1`` (quadratic), ``≈ 0.99`` (cosine) —
      used whenever it meets ``gap``;
    * otherwise rejection sampling: cluster ``c`` takes the first uniform unit vector whose gap to
      every accepted ``θ_0..θ_{c−1}`` is ``≥ gap`` (greedy; ``128 × 200`` candidates per cluster).

    If neither construction reaches ``gap`` an ``InvalidParameterError`` naming ``gap`` is raised.
    Users of one cluster have identical expected rewards on every arm; ``cluster_gaps`` holds the
    ``(C, C)`` gap matrix.  The supremum is reached only on arms aligned with ``θ_c − θ_c'``: a
    random arm of ``R^d`` separates two clusters by ``γ`` with a probability that shrinks with
    ``d`` (defaults ``d = 10``, ``C = 5``, ``γ = 0.2``: about 0.40 linear, 0.22 quadratic, 0.43
    cosine).

    Parameters ↔ symbols: ``n_users`` n, ``n_clusters`` C (≤ n), ``n_arms`` K, ``dim`` d (≥ 2),
    ``gap`` γ ∈ [0, 1], ``noise_std`` σ.

    Shapes: ``Context.arm_features`` ``(B, K, d)`` float32, ``Context.user_ids`` ``(B,)`` int64,
    expected rewards ``(B, K)``; ``true_clusters`` ``(n,)`` int64, ``cluster_params`` ``(C, d)``.

    References: paper 000 §3 (γ-gap, relative clusters N(x)); Gentile et al. 2014, CLUB
    (``‖θ_i − θ_j‖ ≥ γ``); Ban & He 2021, LOCB.
    """

    REWARDS = ("linear", "quadratic", "cosine")
    NOISES = ("gaussian", "bernoulli", "none")

    def __init__(
        self,
        *,
        n_users: int = 50,
        n_clusters: int = 5,
        n_arms: int = 10,
        dim: int = 10,
        reward: str = "linear",
        gap: float = 0.2,
        noise: str = "gaussian",
        noise_std: float = 0.1,
        problem_seed: int = 0,
    ) -> None:
        owner = type(self).__name__
        values = dict(
            n_users=n_users,
            n_clusters=n_clusters,
            n_arms=n_arms,
            dim=dim,
            reward=reward,
            gap=gap,
            noise=noise,
            noise_std=noise_std,
            problem_seed=problem_seed,
        )
        check_params(
            owner,
            values,
            dict(
                n_users=Interval(1, None, integer=True),
                n_clusters=Interval(1, None, integer=True),
                n_arms=Interval(1, None, integer=True),
                dim=Interval(2, None, integer=True),
                reward=OneOf(self.REWARDS),
                gap=Interval(0, 1),
                noise=OneOf(self.NOISES),
                noise_std=Interval(0, None),
                problem_seed=Interval(0, None, integer=True),
            ),
        )
        check_params(owner, values, dict(n_clusters=Interval(1, n_users, integer=True)))
        super().__init__()
        # n_arms and dim are read back through BanditEnv's properties (they live in self.info).
        self.n_users = n_users
        self.n_clusters = n_clusters
        self.reward = reward
        self.gap = gap
        self.noise = noise
        self.noise_std = noise_std
        self.problem_seed = problem_seed
        self.info = ProblemInfo(n_arms=n_arms, dim=dim, n_users=n_users)

        problem = make_generator(problem_seed)
        # Balanced assignment: user perm[j] joins cluster j mod C.
        perm = torch.randperm(n_users, generator=problem)
        clusters = torch.empty(n_users, dtype=torch.int64)
        clusters[perm] = torch.arange(n_users, dtype=torch.int64) % n_clusters
        self.true_clusters: Tensor = clusters
        self.cluster_params: Tensor = self._cluster_vectors(problem)
        cosines = (self.cluster_params @ self.cluster_params.T).clamp(-1.0, 1.0)
        gaps = self._gap_of_cosine(cosines)
        gaps.fill_diagonal_(0.0)
        self.cluster_gaps: Tensor = gaps

    # -- the reward function -------------------------------------------------------------------
    def _link(self, inner: Tensor) -> Tensor:
        """``h`` as a function of ``s = xᵀθ_c`` (clamped to ``[−1, 1]`` against rounding)."""
        s = inner.clamp(-1.0, 1.0)
        if self.reward == "linear":
            return (1.0 + s) / 2.0
        if self.reward == "quadratic":
            return s * s
        return (1.0 + torch.cos(3.0 * s)) / 2.0

    def _gap_of_cosine(self, cosines: Tensor) -> Tensor:
        """``max_φ |h(cos φ) − h(cos(φ − α))|`` with ``cos α = cosines`` (any shape)."""
        alpha = torch.arccos(cosines.clamp(-1.0, 1.0))[..., None]
        phi = torch.linspace(0.0, 2.0 * math.pi, _GAP_GRID + 1, dtype=_DTYPE)[:-1]
        return (self._link(torch.cos(phi)) - self._link(torch.cos(phi - alpha))).abs().amax(-1)

    def _cluster_vectors(self, problem: torch.Generator) -> Tensor:
        """``(C, d)`` unit vectors with pairwise γ-gap ``≥ gap`` (see the class docstring)."""
        n_clusters, dim = self.n_clusters, self.dim
        orthogonal_gap = float(self._gap_of_cosine(torch.zeros((), dtype=_DTYPE)))
        if dim >= n_clusters and (n_clusters == 1 or orthogonal_gap >= self.gap):
            gaussian = torch.randn(dim, n_clusters, generator=problem, dtype=_DTYPE)
            basis, _ = torch.linalg.qr(gaussian)
            return basis.T.contiguous()
        accepted = [_uniform_sphere((dim,), problem)]
        for cluster in range(1, n_clusters):  # construction time only, not the hot path
            for _ in range(_REJECTION_ATTEMPTS):
                candidates = _uniform_sphere((_REJECTION_BLOCK, dim), problem)
                gaps = self._gap_of_cosine(candidates @ torch.stack(accepted).T)
                good = (gaps >= self.gap).all(dim=1).nonzero()
                if good.numel():
                    accepted.append(candidates[int(good[0, 0])])
                    break
            else:
                raise InvalidParameterError(
                    f"The 'gap' parameter of {type(self).__name__} must be reachable by "
                    f"{n_clusters} unit vectors of R^{dim} under reward={self.reward!r}; got "
                    f"{self.gap!r} (rejection sampling found only {cluster} clusters). "
                    "Lower the gap, use fewer clusters or a larger dim."
                )
        return torch.stack(accepted)

    def mean_rewards(self, context: Context) -> Tensor:
        """``(B, K)`` true expected rewards ``h_{c(u)}(x)`` of a context carrying ``user_ids``."""
        if context.user_ids is None:
            raise ValueError(f"{type(self).__name__}.mean_rewards needs a context with user_ids.")
        user_ids = _check_user_ids(context.user_ids, self.n_users, type(self).__name__)
        theta = self.cluster_params[self.true_clusters[user_ids]]  # (B, d)
        inner = torch.einsum("bkd,bd->bk", context.dense_arm_features(), theta)
        return self._link(inner)

    # -- drawing rounds ------------------------------------------------------------------------
    def context_for_user(self, user_ids: Tensor, generator: torch.Generator) -> Context:
        """A fresh context for the given users ``(B,)``: ``K`` uniform unit arms each.

        Used by M-CNB's warm start ("observe one data for each user"); pair it with
        :meth:`mean_rewards` for the rewards.  Draws from ``generator`` only.
        """
        user_ids = _check_user_ids(user_ids, self.n_users, type(self).__name__)
        return self._draw_for_users(user_ids, generator)[0]

    def _draw_for_users(
        self, user_ids: Tensor, generator: torch.Generator
    ) -> tuple[Context, Tensor]:
        arms = _uniform_sphere((int(user_ids.shape[0]), self.n_arms, self.dim), generator)
        context = Context(arm_features=arms, user_ids=user_ids)
        return context, self.mean_rewards(context)

    def _draw(self, batch_size: int, generator: torch.Generator) -> tuple[Context, Tensor]:
        user_ids = torch.randint(
            self.n_users, (batch_size,), generator=generator, dtype=torch.int64
        )
        return self._draw_for_users(user_ids, generator)

    def _sample_rewards(
        self, expected: Tensor, actions: Tensor, context: Context, generator: torch.Generator
    ) -> Tensor:
        chosen = expected.gather(1, actions[:, None]).squeeze(1)
        return _bernoulli_or_noise(chosen, self.noise, self.noise_std, generator)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_users={self.n_users}, n_clusters={self.n_clusters}, "
            f"n_arms={self.n_arms}, dim={self.dim}, reward={self.reward!r}, gap={self.gap!r}, "
            f"noise={self.noise!r}, noise_std={self.noise_std!r}, problem_seed={self.problem_seed})"
        )


# ------------------------------------------------------------------------------------------------
# Single-user nonlinear rewards
# ------------------------------------------------------------------------------------------------
class NonlinearEnv(BanditEnv):
    r"""One user, ``K`` arms with the classic neural-bandit reward functions.

    Latent reward ``h`` of an arm ``x ∈ R^d``:

    * ``reward="quadratic"``        ``h(x) = 10 (xᵀa)²``
    * ``reward="quadratic_matrix"`` ``h(x) = xᵀAᵀAx = ‖Ax‖²``
    * ``reward="cosine"``           ``h(x) = cos(3 xᵀa)``

    with ``a ∈ R^d`` and ``A ∈ R^{d×d}`` of i.i.d. ``N(0, 1/d)`` entries (``param_scale="1/d"``)
    or ``N(0, 1)`` entries (``"unit"``), drawn once from ``problem_seed`` (``a`` first, then ``A``,
    then the pool, whatever ``reward`` is, so the three forms share ``a``).

    Contexts: ``context_law="sphere"`` draws arms uniformly on the unit sphere of ``R^d``,
    ``"cube"`` uniformly on ``[0, 1]^d``.  With ``n_pool=None`` every round has ``K`` fresh i.i.d.
    arms; with ``n_pool = N`` a pool of ``N`` vectors is drawn once (from ``problem_seed``) and each
    round uses ``K`` distinct pool vectors chosen uniformly (so ``N ≥ K``).

    Observations: ``noise="gaussian"`` gives ``r = h(x) + N(0, noise_std²)`` with expected reward
    ``h(x)``; ``"bernoulli"`` gives ``r ~ Bernoulli(μ(h(x)))``, ``μ`` the logistic sigmoid, with
    expected reward ``μ(h(x)) ∈ (0, 1)``; ``"none"`` gives ``r = h(x)``.

    Parameters ↔ symbols: ``n_arms`` K, ``dim`` d, ``noise_std`` σ, ``n_pool`` N_pool.
    Shapes: ``Context.arm_features`` ``(B, K, d)`` float32, expected rewards ``(B, K)``,
    ``a`` ``(d,)``, ``A`` ``(d, d)``, ``pool`` ``(N_pool, d)`` or ``None``.

    References: Zhou et al. 2020, NeuralUCB, §7.1 (``h₁, h₂, h₃``); paper 003 §2.5 (Bernoulli
    rewards of ``μ(h)``, pool of contexts).
    """

    REWARDS = ("quadratic", "quadratic_matrix", "cosine")
    NOISES = ("gaussian", "bernoulli", "none")
    PARAM_SCALES = ("1/d", "unit")
    CONTEXT_LAWS = ("sphere", "cube")

    def __init__(
        self,
        *,
        n_arms: int = 4,
        dim: int = 20,
        reward: str = "quadratic",
        noise: str = "gaussian",
        noise_std: float = 0.1,
        param_scale: str = "1/d",
        context_law: str = "sphere",
        n_pool: int | None = None,
        problem_seed: int = 0,
    ) -> None:
        owner = type(self).__name__
        values = dict(
            n_arms=n_arms,
            dim=dim,
            reward=reward,
            noise=noise,
            noise_std=noise_std,
            param_scale=param_scale,
            context_law=context_law,
            n_pool=n_pool,
            problem_seed=problem_seed,
        )
        check_params(
            owner,
            values,
            dict(
                n_arms=Interval(1, None, integer=True),
                dim=Interval(1, None, integer=True),
                reward=OneOf(self.REWARDS),
                noise=OneOf(self.NOISES),
                noise_std=Interval(0, None),
                param_scale=OneOf(self.PARAM_SCALES),
                context_law=OneOf(self.CONTEXT_LAWS),
                n_pool=Optional(Interval(1, None, integer=True)),
                problem_seed=Interval(0, None, integer=True),
            ),
        )
        # Each round needs K distinct pool vectors.
        check_params(owner, values, dict(n_pool=Optional(Interval(n_arms, None, integer=True))))
        super().__init__()
        # n_arms and dim are read back through BanditEnv's properties (they live in self.info).
        self.reward = reward
        self.noise = noise
        self.noise_std = noise_std
        self.param_scale = param_scale
        self.context_law = context_law
        self.n_pool = n_pool
        self.problem_seed = problem_seed
        self.info = ProblemInfo(n_arms=n_arms, dim=dim)

        problem = make_generator(problem_seed)
        scale = 1.0 / math.sqrt(dim) if param_scale == "1/d" else 1.0
        self.a: Tensor = scale * torch.randn(dim, generator=problem, dtype=_DTYPE)
        self.A: Tensor = scale * torch.randn(dim, dim, generator=problem, dtype=_DTYPE)
        self.pool: Tensor | None = (
            None if n_pool is None else self._sample_arms((n_pool, dim), problem)
        )

    def _sample_arms(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        if self.context_law == "sphere":
            return _uniform_sphere(shape, generator)
        return torch.rand(shape, generator=generator, dtype=_DTYPE)

    def latent(self, arm_features: Tensor) -> Tensor:
        """``h(x)`` of arms ``(..., d)`` → ``(...)`` (before the sigmoid of Bernoulli noise)."""
        if self.reward == "quadratic":
            return 10.0 * (arm_features @ self.a) ** 2
        if self.reward == "quadratic_matrix":
            return ((arm_features @ self.A.T) ** 2).sum(-1)
        return torch.cos(3.0 * (arm_features @ self.a))

    def mean_rewards(self, context: Context) -> Tensor:
        """``(B, K)`` true expected rewards: ``h(x)``, or ``μ(h(x))`` under Bernoulli noise."""
        h = self.latent(context.dense_arm_features())
        return torch.sigmoid(h) if self.noise == "bernoulli" else h

    def _draw(self, batch_size: int, generator: torch.Generator) -> tuple[Context, Tensor]:
        shape = (batch_size, self.n_arms, self.dim)
        if self.pool is None:
            arms = self._sample_arms(shape, generator)
        else:
            weights = torch.ones(batch_size, self.pool.shape[0], dtype=_DTYPE)
            pool_ids = torch.multinomial(
                weights, self.n_arms, replacement=False, generator=generator
            )
            arms = self.pool[pool_ids]
        context = Context(arm_features=arms)
        return context, self.mean_rewards(context)

    def _sample_rewards(
        self, expected: Tensor, actions: Tensor, context: Context, generator: torch.Generator
    ) -> Tensor:
        chosen = expected.gather(1, actions[:, None]).squeeze(1)
        return _bernoulli_or_noise(chosen, self.noise, self.noise_std, generator)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_arms={self.n_arms}, dim={self.dim}, reward={self.reward!r}, "
            f"noise={self.noise!r}, noise_std={self.noise_std!r}, "
            f"param_scale={self.param_scale!r}, context_law={self.context_law!r}, "
            f"n_pool={self.n_pool!r}, problem_seed={self.problem_seed})"
        )
