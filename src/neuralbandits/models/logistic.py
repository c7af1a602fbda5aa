"""The math of logistic bandits (paper 003): link, constants, λ schedules, confidence radii, fits.

Everything a logistic-bandit policy believes and computes, apart from the decision rule:

* the link ``μ(z) = 1/(1+e^{−z})`` and ``μ̇ = μ(1−μ)``; the default ``κ = 1/μ̇(S·N)`` (Faury et al.);
* the data-adaptive regulariser ``λ_t`` of paper 003's Eq. (4) (**reconstructed**, see
  :func:`adaptive_lambda`) and Faury et al. 2020's ``λ_t = d ln(2 + t)``;
* the confidence radii: Logistic-UCB-1 and ada-OFU-ECOLog exactly as in the official code
  ``louisfaury/logistic_bandit`` (**verified**), NCBF-UCB and NeuralLog-UCB-1/-2 (**reconstructed**);
* the regularised logistic MLE by Newton's method (Logistic-UCB-1's reference fit);
* the online ECOLog step of ada-OFU-ECOLog's reference fit (projected gradient steps in
  ``Ṽ^{1/2}``-whitened coordinates, the companion estimate θ̄, the loss-gap term ``L_t``), as in
  ``louisfaury/logistic_bandit`` (**verified**, see :class:`ECOLogModel`);
* the realised effective dimension ``d̃ = ln det(I + (1/λ) Σ g gᵀ)``;
* :class:`NeuralLogitModel` (a network in Zhou et al. 2020's parameterisation, gradient features,
  diagonal design, full-batch gradient descent on the regularised cross-entropy) and
  :class:`LinearLogitModel` (``θ ∈ R^d`` per block, full design), the two estimators that the five
  policies of :mod:`neuralbandits.policies.neural_logistic` share, and :class:`ECOLogModel`.

Tags follow ``docs/paper-notes.md`` §2: [V] verified, [R] reconstructed (our default, an option).
"""

from __future__ import annotations

import math

import torch
from scipy.stats import chi2
from torch import Tensor, nn

from neuralbandits.models.bank import LearnerBank
from neuralbandits.models.design import DiagonalDesign, FullDesign
from neuralbandits.models.gradient_features import FactoredGradients
from neuralbandits.models.networks import (
    NetworkConfig,
    first_layer_by_block,
    group_by_block,
    tail_backward,
    tail_forward,
)
from neuralbandits.models.training import SampleBuffer
from neuralbandits.types import ArmFeatures, BlockArms, Context
from neuralbandits.validation import InvalidParameterError

__all__ = [
    "ECOLogModel",
    "LinearLogitModel",
    "NeuralLogitModel",
    "adaptive_lambda",
    "ball_multiplier",
    "default_kappa",
    "ecolog_descent",
    "ecolog_n_iterations",
    "ecolog_radius",
    "ecolog_step_size",
    "effective_dimension",
    "faury_lambda",
    "initial_lambda",
    "logistic_ucb1_radius",
    "ncbf_radius",
    "neurallog_radius",
    "newton_logistic_mle",
    "project_whitened",
    "sigmoid_derivative",
    "zhou_init_",
]


# ------------------------------------------------------------------------------------------------
# Link and constants
# ------------------------------------------------------------------------------------------------
def sigmoid_derivative(z: Tensor | float) -> Tensor | float:
    """``μ̇(z) = μ(z)(1 − μ(z))`` for a tensor or a float."""
    if isinstance(z, Tensor):
        mu = torch.sigmoid(z)
        return mu * (1.0 - mu)
    mu = 1.0 / (1.0 + math.exp(-z))
    return mu * (1.0 - mu)


def default_kappa(param_norm: float, arm_norm: float = 1.0) -> float:
    """``κ = 1/μ̇(S·N)``: Faury et al.'s convention (``logistic_ucb_1.py``); ``S = N = 1`` → 5.09. [R]"""
    if param_norm < 0 or arm_norm < 0:
        raise InvalidParameterError(
            f"default_kappa needs param_norm >= 0 and arm_norm >= 0; got {param_norm!r}, {arm_norm!r}."
        )
    return 1.0 / float(sigmoid_derivative(param_norm * arm_norm))


# ------------------------------------------------------------------------------------------------
# Regularisation schedules
# ------------------------------------------------------------------------------------------------
def initial_lambda(c_lambda: float, delta: float, param_norm: float) -> float:
    """``λ_0 = C_λ ln(4/δ) / S²`` (paper 003, Algorithm 1 initialisation; formula [R])."""
    _check_delta(delta)
    return c_lambda * math.log(4.0 / delta) / param_norm**2


def adaptive_lambda(
    previous: float, log_det_initial: float, t: int, *, c_lambda: float, delta: float, param_norm: float
) -> float:
    """Paper 003 Eq. (4), reconstructed: ``λ_t = max(λ_{t−1}, (C_λ/S²)(D̄_t + ln(4t²/δ)))``.

    ``log_det_initial`` is ``D̄_t = ln det(A_t/λ_0)`` of the algorithm's design formed with ``λ_0``
    (the proofs' convention); ``t`` is the 1-based round.  [V: data-adaptive, non-decreasing, in both
    design and loss, ``λ_0 ≤ min_t λ_t``; R: the formula.]
    """
    _check_delta(delta)
    if t < 1:
        raise InvalidParameterError(f"adaptive_lambda needs a 1-based round t >= 1; got {t!r}.")
    candidate = c_lambda / param_norm**2 * (log_det_initial + math.log(4.0 * t * t / delta))
    return max(previous, candidate)


def faury_lambda(dim: int, n_observed: int) -> float:
    """Logistic-UCB-1's ``λ_t = d ln(2 + n)`` after ``n`` observations (``logistic_ucb_1.py``). [V code]"""
    return dim * math.log(2.0 + n_observed)


def _check_delta(delta: float) -> None:
    if not 0.0 < delta < 1.0:
        raise InvalidParameterError(f"The failure level delta must lie in (0, 1); got {delta!r}.")


# ------------------------------------------------------------------------------------------------
# Confidence radii (scalars multiplying a norm)
# ------------------------------------------------------------------------------------------------
def logistic_ucb1_radius(
    log_det_hessian: float, dim: int, l2_reg: float, *, kappa: float, param_norm: float, delta: float
) -> float:
    """Logistic-UCB-1's bonus scalar exactly as ``louisfaury/logistic_bandit`` computes it. [V code]

    ``c = ¼√κ · min(√(1+2S)·γ, γ + γ²/√λ) + √λ·S`` with ``γ = min(γ₁, γ₂)``,
    ``γ₁ = √λ/2 + (2/√λ)(ln(1/δ) + ½ ln det H − ½ d ln λ + ln(F_d(2λ)/F_d(λ)))``,
    ``γ₂ = 1 + ln(1/δ) + ln(F_d(2λ)/F_d(λ)) + ½ ln det H − ½ d ln λ``, ``F_d`` the χ²_d CDF,
    ``H`` the Hessian ``λI + Σ μ̇(θᵀx_s) x_s x_sᵀ`` of the last fit and ``λ = λ_t``.
    """
    _check_delta(delta)
    if l2_reg <= 0:
        raise InvalidParameterError(f"logistic_ucb1_radius needs l2_reg > 0; got {l2_reg!r}.")
    dist = chi2(dim)
    # ln F(2λ) − ln F(λ) via logcdf: the CDF underflows for d in the thousands (block encodings)
    cdf_ratio = float(dist.logcdf(2.0 * l2_reg) - dist.logcdf(l2_reg))
    shared = math.log(1.0 / delta) + 0.5 * log_det_hessian - 0.5 * dim * math.log(l2_reg) + cdf_ratio
    root = math.sqrt(l2_reg)
    gamma = min(root / 2.0 + 2.0 / root * shared, 1.0 + shared)
    radius = 0.25 * math.sqrt(kappa) * min(math.sqrt(1.0 + 2.0 * param_norm) * gamma, gamma + gamma**2 / root)
    return radius + root * param_norm


def ecolog_radius(
    t: int, l2_reg: float, *, param_norm: float, delta: float, cumulative_loss: float = 0.0
) -> float:
    """ada-OFU-ECOLog's radius (``ecolog.py``, ``update_ucb_bonus``): [V code]

    ``r_t = √(2λS² + (1+S)²γ_t + L_t)``, ``γ_t = √λ/2 + (2/√λ) ln(2√(1 + t/(4λ))/δ)``, ``t`` the
    1-based round, ``L_t`` the cumulative loss-gap term (0 for the gradient-descent fit [R]).
    """
    _check_delta(delta)
    root = math.sqrt(l2_reg)
    gamma = root / 2.0 + 2.0 / root * math.log(2.0 * math.sqrt(1.0 + t / (4.0 * l2_reg)) / delta)
    return math.sqrt(max(2.0 * l2_reg * param_norm**2 + (1.0 + param_norm) ** 2 * gamma + cumulative_loss, 0.0))


def ncbf_radius(log_det: float, l2_reg: float, *, kappa: float, param_norm: float, delta: float) -> float:
    """NCBF-UCB (Verma et al. 2024), order ``κ√d̃``: ``c = κ√(D(λ) + 2 ln(1/δ)) + √(κλ)·S``. [R]"""
    _check_delta(delta)
    return kappa * math.sqrt(max(log_det, 0.0) + 2.0 * math.log(1.0 / delta)) + math.sqrt(kappa * l2_reg) * param_norm


def neurallog_radius(log_det: float, l2_reg: float, t: int, *, param_norm: float, delta: float) -> float:
    """Paper 003 Eq. (2)/(3): ``ν_t = √(2 D(λ_t) ℓ_t) + √λ_t·S``, ``ℓ_t = ln(4t²/δ)``. [R]

    The same form serves NeuralLog-UCB-1 (``D`` of ``V_t``; its score multiplies by ``√κ``) and
    NeuralLog-UCB-2 (``D`` of ``W_t``, giving ``β_t``).
    """
    _check_delta(delta)
    ell = math.log(4.0 * t * t / delta)
    return math.sqrt(2.0 * max(log_det, 0.0) * ell) + math.sqrt(l2_reg) * param_norm


# ------------------------------------------------------------------------------------------------
# Regularised maximum likelihood
# ------------------------------------------------------------------------------------------------
def newton_logistic_mle(
    features: Tensor, rewards: Tensor, l2_reg: float, *, init: Tensor | None = None, n_steps: int = 5
) -> tuple[Tensor, Tensor]:
    """``argmin_θ Σ_s ℓ(r_s, μ(θᵀx_s)) + (λ/2)‖θ‖²`` by ``n_steps`` Newton steps.

    ``features`` ``(n, d)``, ``rewards`` ``(n,)`` in ``[0, 1]``; returns ``θ`` ``(d,)`` and the Hessian
    ``H = λI + Σ μ̇(θ_prevᵀx) x xᵀ`` of the last step (the matrix Logistic-UCB-1 keeps).  In
    scikit-learn's convention this is ``LogisticRegression(C=1/λ, fit_intercept=False)``.
    Float64 throughout.  Reference: ``louisfaury/logistic_bandit:logistic_ucb_1.py`` (``learn``).
    """
    if l2_reg <= 0:
        raise InvalidParameterError(f"newton_logistic_mle needs l2_reg > 0; got {l2_reg!r}.")
    x = features.to(torch.float64)
    r = rewards.to(torch.float64)
    dim = x.shape[1]
    theta = torch.zeros(dim, dtype=torch.float64) if init is None else init.to(torch.float64).clone()
    eye = torch.eye(dim, dtype=torch.float64)
    hessian = l2_reg * eye
    for _ in range(n_steps):
        mu = torch.sigmoid(x @ theta)
        gradient = l2_reg * theta + x.T @ (mu - r)
        hessian = (x.T * (mu * (1.0 - mu))) @ x + l2_reg * eye
        theta = theta - torch.linalg.solve(hessian, gradient)
    return theta, hessian


# ------------------------------------------------------------------------------------------------
# Online ECOLog: ada-OFU-ECOLog's reference estimator (louisfaury/logistic_bandit)
# Line numbers: logbexp/utils/optimization.py at ec68850, logbexp/algorithms/ecolog.py at 7dbe05d.
# ------------------------------------------------------------------------------------------------
#: the official code's projection treats points with ``‖θ‖² − S² < 1e-3`` as inside the ball
#: (``project_ellipsoid``, optimization.py L74–77) and searches the multiplier in ``[0, 1000]`` (L101)
ECOLOG_INSIDE_TOLERANCE = 1e-3
ECOLOG_MAX_MULTIPLIER = 1000.0


def ecolog_step_size(diameter: float) -> float:
    """``η = 0.75 / (1/4 + 1/(1 + D/2))`` ("slightly smaller step for stability"). [V code: optimization.py L21, L48]"""
    return 1.0 / (0.25 + 1.0 / (1.0 + diameter / 2.0)) * 0.75


def ecolog_n_iterations(diameter: float, precision: float) -> int:
    """``int((1/0.75) · ⌈(9/4 + D/8) ln(D/ε)⌉)`` steps (0 when ``D ≤ ε``). [V code: optimization.py L22, L49]"""
    rounds = math.ceil((9.0 / 4.0 + diameter / 8.0) * math.log(diameter / precision))
    return max(int((1.0 / 0.75) * rounds), 0)


def ball_multiplier(y: Tensor, eigenvalues: Tensor, radius: float, *, upper: float = ECOLOG_MAX_MULTIPLIER,
                    max_iterations: int = 100) -> float:
    """The multiplier ``λ ≥ 0`` of ``min_θ ‖Ṽ^{1/2}θ − z‖²`` s.t. ``‖θ‖ ≤ S``: the root of
    ``Σ_i y_i²/(e_i + λ)² = S²`` (``e`` the eigenvalues of Ṽ, ``y`` the eigen-coordinates of
    ``Ṽ^{1/2}z``), clipped to ``[0, upper]``.

    It minimises the official code's convex dual ``λS² + yᵀ(Ṽ + λI)⁻¹y`` (optimization.py ``fun_proj``, L92–98), which
    the code minimises by bounded Brent on ``[0, 1000]`` to ``xatol = 1e-5``; here Newton's method on
    ``1/‖u(λ)‖ − 1/S`` (Moré–Sorensen), which rises monotonically from ``λ = 0`` to the exact root.
    Float64; ``y`` and ``eigenvalues`` of any matching shape (all blocks at once).
    """
    multiplier = 0.0
    for _ in range(max_iterations):
        shifted = eigenvalues + multiplier
        squares = (y / shifted).square()
        norm_sq = float(squares.sum())
        slope = float((squares / shifted).sum())  # Σ y²/(e + λ)³ = −½ d‖u‖²/dλ
        norm = math.sqrt(norm_sq)
        step = (norm - radius) * norm_sq / (radius * slope)
        multiplier += step
        if multiplier >= upper:
            return upper
        if abs(step) <= 4.0 * torch.finfo(torch.float64).eps * max(multiplier, 1.0):
            break
    return max(multiplier, 0.0)


def project_whitened(w: Tensor, eigenvalues: Tensor, radius: float) -> Tensor:
    """Euclidean projection, in whitened coordinates, onto the image of the ball ``‖θ‖₂ ≤ S``.

    ``w`` are the eigen-coordinates of ``z = Ṽ^{1/2}θ`` (``Ṽ = Q diag(e) Qᵀ``, ``w = Qᵀz``, so
    ``θ = Q(w/√e)``).  As ``project_ellipsoid(z, 0, Ṽ, S)`` (optimization.py L64–105): returned as is
    when ``‖θ‖² − S² < 1e-3``; else ``θ = (Ṽ + λI)⁻¹Ṽ^{1/2}z``, i.e. ``w ← e·w/(e + λ)`` with
    :func:`ball_multiplier`.  [V code; the exact multiplier instead of Brent's is ours]
    """
    if float((w.square() / eigenvalues).sum()) - radius**2 < ECOLOG_INSIDE_TOLERANCE:
        return w
    y = eigenvalues.sqrt() * w
    multiplier = ball_multiplier(y, eigenvalues, radius)
    return eigenvalues * w / (eigenvalues + multiplier)


def ecolog_descent(anchor: Tensor, arm: Tensor, eigenvalues: Tensor, labels: tuple[float, ...], *,
                   radius: float, step_size: float, n_iterations: int) -> Tensor:
    """``n_iterations`` projected gradient steps, from ``anchor``, on
    ``½‖w − anchor‖² + Σ_{y ∈ labels} ℓ(wᵀa, y)`` in whitened eigen-coordinates.

    ``arm`` is ``a = Qᵀ Ṽ^{-1/2} x`` (zero outside the played block), ``ℓ`` the logistic loss, so the
    gradient is ``w − anchor + Σ_y (μ(wᵀa) − y) a``.  ``labels = (r,)`` gives θ_{t+1}
    (optimization.py ``fit_online_logistic_estimate``, L10–34); ``labels = (1, 0)`` gives the companion θ̄, whose
    gradient carries ``2μ − 1`` (``fit_online_logistic_estimate_bar``, L37–61).  [V code]
    """
    w = anchor
    for _ in range(n_iterations):
        mu = torch.sigmoid((w * arm).sum())
        residual = len(labels) * mu - sum(labels)  # μ − r, or the code's 2μ − 1 for labels (1, 0)
        gradient = w - anchor + residual * arm
        w = project_whitened(w - step_size * gradient, eigenvalues, radius)
    return w


# ------------------------------------------------------------------------------------------------
# Effective dimension
# ------------------------------------------------------------------------------------------------
def effective_dimension(features: Tensor, l2_reg: float, multiplicities: Tensor | None = None) -> float:
    """``d̃ = ln det(I + (1/λ) Σ_i c_i g_i g_iᵀ)`` of ``N`` distinct vectors ``features`` ``(N, p)``
    with multiplicities ``c_i`` (1 by default).

    Computed in the smaller of ``p × p`` and ``N × N`` (``det(I_p + GᵀCG/λ) = det(I_N + C½GGᵀC½/λ)``),
    in float64.  Paper 003 Appendix A's effective dimension (formula [R]); Zhou et al.'s normalised
    form is ``d̃ / ln(1 + TK/λ)``.
    """
    g = features.to(torch.float64)
    weights = torch.ones(g.shape[0], dtype=torch.float64) if multiplicities is None else multiplicities.to(torch.float64)
    n, p = g.shape
    if n <= p:
        scaled = g * weights.sqrt()[:, None]
        gram = scaled @ scaled.T / l2_reg
        return float(torch.linalg.slogdet(torch.eye(n, dtype=torch.float64) + gram)[1])
    gram = (g.T * weights) @ g / l2_reg
    return float(torch.linalg.slogdet(torch.eye(p, dtype=torch.float64) + gram)[1])


# ------------------------------------------------------------------------------------------------
# Zhou et al. 2020 initialisation and input transform
# ------------------------------------------------------------------------------------------------
@torch.no_grad()
def zhou_init_(bank: LearnerBank, generator: torch.Generator) -> None:
    """Overwrite every member of a bias-free ``bank`` with Zhou et al. 2020's initialisation.

    For ``l < L``: ``W_l = [[W, 0], [0, W]]``, ``W_{ij} ~ N(0, 4/m)``; ``W_L = (wᵀ, −wᵀ)``,
    ``w_j ~ N(0, 2/m)``.  The first layer's two diagonal blocks act on the two copies of a duplicated
    input ``(x, x)``: in every arm block of ``2·d_half`` inputs the first ``d_half`` feed hidden units
    ``1..m/2`` and the last ``d_half`` units ``m/2+1..m`` (a permutation of Zhou's layout for the
    block encoding), so ``f(x; θ_0) = 0`` for every duplicated input.  Needs an even width and an
    even input block.  [V: "standard initialisation of Zhou et al."; R: values]
    """
    if bank.has_bias:
        raise InvalidParameterError("zhou_init_ needs a bank without biases (NetworkConfig(bias=False)).")
    width = bank.width
    block = bank.dim // bank.n_blocks
    if width % 2 or block % 2:
        raise InvalidParameterError(
            f"zhou_init_ needs an even width and an even input block; got width={width}, block={block}."
        )
    half, d_half = width // 2, block // 2
    params = bank.stacked()
    n_members = bank.n_members
    first = params["first.weight"]  # (M, m, K·2·d_half)
    w = torch.randn(n_members, half, bank.n_blocks, d_half, generator=generator) * math.sqrt(4.0 / width)
    layout = torch.zeros(n_members, width, bank.n_blocks, 2, d_half)
    layout[:, :half, :, 0, :] = w
    layout[:, half:, :, 1, :] = w
    first.copy_(layout.reshape(first.shape))
    tail_names = [n for n in bank.names if n.startswith("tail.")]
    for name in tail_names[:-1]:  # hidden m × m layers
        w = torch.randn(n_members, half, half, generator=generator) * math.sqrt(4.0 / width)
        hidden = torch.zeros(n_members, width, width)
        hidden[:, :half, :half] = w
        hidden[:, half:, half:] = w
        params[name].copy_(hidden)
    w = torch.randn(n_members, half, generator=generator) * math.sqrt(2.0 / width)
    params[tail_names[-1]].copy_(torch.cat([w, -w], dim=-1)[:, None, :])


def duplicate_inputs(arms: ArmFeatures, scale: float) -> ArmFeatures:
    """``x ↦ scale · (x, x)/√2`` per arm (dense) or per raw context (block arms).  [R transform]"""
    if isinstance(arms, BlockArms):
        doubled = torch.cat([arms.contexts, arms.contexts], dim=-1) * (scale / math.sqrt(2.0))
        return BlockArms(doubled, arms.n_arms)
    return torch.cat([arms, arms], dim=-1) * (scale / math.sqrt(2.0))


def scale_inputs(arms: ArmFeatures, scale: float) -> ArmFeatures:
    """``x ↦ scale · x`` (dense or block arms)."""
    if scale == 1.0:
        return arms
    if isinstance(arms, BlockArms):
        return BlockArms(arms.contexts * scale, arms.n_arms)
    return arms * scale


# ------------------------------------------------------------------------------------------------
# Estimators: logits, features ``z`` and a design ``A = λI + Σ w z zᵀ``
# ------------------------------------------------------------------------------------------------
class NeuralLogitModel(nn.Module):
    """``f(x; θ) = √m · W_L σ(… σ(W_1 x'))`` with ``x' = (x, x)/√2``, its gradient features
    ``ĝ = ∇_θ f / √m`` at the **current** θ, a diagonal design of ``ĝ`` and full-batch GD training.

    Implementation of the ``√m`` output scale: a bias-free ReLU network is positively homogeneous
    in its input, so ``√m·f(x; θ) = f(√m·x; θ)`` and ``√m·∇_θ f(x; θ) = ∇_θ f(√m·x; θ)`` exactly;
    the bank therefore receives ``√m·x'`` and nothing in :mod:`neuralbandits.models.networks` changes.
    ``init="pytorch"`` uses PyTorch's default ``Linear`` init, ``input_transform="none"`` no
    duplication and ``output_scale="none"`` drops the ``√m`` (then ``ĝ = ∇_θ f``).

    Training (paper 003 TrainNN): full-batch gradient descent on
    ``L(θ)/n = mean_s BCE(r_s, f(x_s; θ)) + (c_reg·λ/(2n))‖θ − θ_0‖²`` with ``c_reg = 1`` or ``m``,
    from the current θ (``train_from="current"``) or from ``θ_0`` (``"init"``).
    """

    def __init__(
        self,
        dim: int,
        *,
        n_blocks: int,
        block_dim: int | None,
        width: int,
        depth: int,
        init: str,
        input_transform: str,
        output_scale: str,
        design: str,
        seed: int,
    ) -> None:
        super().__init__()
        self.blocked = block_dim is not None
        self.duplicate = input_transform == "duplicate"
        self.input_scale = math.sqrt(width) if output_scale == "sqrt_m" else 1.0
        self.feature_scale = 1.0 / self.input_scale  # ĝ = ∇f(√m x)/√m
        factor = 2 if self.duplicate else 1
        generator = torch.Generator().manual_seed(seed)
        network = NetworkConfig(width=width, depth=depth, bias=False, init="pytorch" if init == "pytorch" else "gaussian")
        self.bank = LearnerBank(dim * factor, 1, network=network, n_blocks=n_blocks, seed=seed)
        if init == "zhou":
            zhou_init_(self.bank, generator)
        for name, value in self.bank.stacked().items():
            self.register_buffer("initial__" + name.replace(".", "__"), value.detach().clone())
        sample_dim = (block_dim if self.blocked else dim) * factor
        self.buffer = SampleBuffer(sample_dim)
        if design == "diagonal":
            self.design = DiagonalDesign(1, self.bank.n_params, l2_reg=1.0)
        else:
            raise InvalidParameterError("NeuralLogitModel supports design='diagonal' only.")
        self.members = torch.zeros(1, dtype=torch.int64)

    @property
    def n_params(self) -> int:
        return self.bank.n_params

    def transform(self, arms: ArmFeatures) -> ArmFeatures:
        arms = duplicate_inputs(arms, 1.0) if self.duplicate else arms
        return scale_inputs(arms, self.input_scale)

    def evaluate(self, context: Context) -> tuple[Tensor, FactoredGradients]:
        """Logits ``f(x; θ)`` ``(B, K)`` and the factored gradients of every arm (unscaled)."""
        members = self.members.expand(context.batch_size)
        return self.bank.gradient_features(members, self.transform(context.arm_features))

    def quad_form(self, features: FactoredGradients, l2_reg: float) -> Tensor:
        """``‖ĝ‖²_{A⁻¹}`` with the diagonal ``A = λI + G`` → ``(B, K)``."""
        members = self.members.expand(features.delta.shape[0])
        return self.design.quad_form(members, features, l2_reg=l2_reg) * self.feature_scale**2

    def log_det(self, l2_reg: float) -> float:
        """``D(λ) = Σ_j ln(1 + G_j/λ)``."""
        return float(self.design.logdet(self.members, l2_reg)[0])

    @torch.no_grad()
    def record(self, context: Context, actions: Tensor, rewards: Tensor, features: FactoredGradients,
               weights: Tensor | None) -> None:
        """``G += w ĝ(x_t)²`` for the played arms and store the samples."""
        batch = actions.shape[0]
        scale = torch.full((batch,), self.feature_scale**2)
        weights = scale if weights is None else weights * scale
        self.design.update(self.members.expand(batch), features.chosen(actions), weights)
        arms = self.transform(context.arm_features)
        rows = torch.arange(batch)
        if isinstance(arms, BlockArms):
            self.buffer.add(arms.contexts, actions, rewards, self.members.expand(batch), rows)
        else:
            self.buffer.add(arms[rows, actions], None, rewards, self.members.expand(batch), rows)

    def fit(self, l2_reg: float, *, n_steps: int, lr: float, c_reg: float, from_init: bool) -> float:
        """Full-batch GD on the regularised mean cross-entropy; returns the loss before the last step.

        The gradient is backpropagated by hand (:func:`tail_backward`; the cross-entropy's
        ``∂/∂f = μ(f) − r``), with no autograd graph: the fits are most of a run's time (O(T²) over a
        run), and a step is 1.8× faster than with autograd on h1, 1.4× on mnist's blocks
        (``tests/logistic/test_logistic_policies.py`` checks it against GD by autograd).  Block
        samples are grouped by block once, so each step's first layer and its gradient are one
        product per block.  A duplicated input ``(x, x)`` meets ``W_1 = (W_a, W_b)`` as ``(W_a + W_b) x``
        and both halves get the gradient ``δ xᵀ``: the steps work on ``x`` alone, at half the
        arithmetic of the first layer (most of a step on mnist).
        """
        n = self.buffer.n_samples
        if n == 0 or n_steps == 0:
            return float("nan")
        params = self.bank.stacked()
        initial = {name: self._buffers["initial__" + name.replace(".", "__")] for name in params}
        if from_init:
            with torch.no_grad():
                for name, value in params.items():
                    value.copy_(initial[name])
        features, targets = self._samples_by_block(n)
        strength = c_reg * l2_reg / (2.0 * n)
        loss_value = float("nan")
        for _ in range(n_steps):
            loss, gradients = self._loss_gradients(params, features, targets)
            with torch.no_grad():
                penalty = 0.0
                for name, value in params.items():
                    offset = value - initial[name]
                    penalty += float(offset.square().sum())
                    value.sub_(gradients[name].add_(offset, alpha=2.0 * strength), alpha=lr)
            loss_value = loss + strength * penalty
        return loss_value

    def _samples_by_block(self, n: int) -> tuple[Tensor | list[Tensor], Tensor]:
        """The ``n`` stored samples and targets; block samples as one ``(n_k, d_x)`` piece per block."""
        features, targets = self.buffer.features[:n], self.buffer.targets[:n]
        if self.duplicate:  # the second copy of every input is the first
            features = features[:, : features.shape[1] // 2].contiguous()
        if not self.blocked:
            return features, targets
        order, counts = group_by_block(self.buffer.block_ids[:n], self.bank.n_blocks)
        return list(features[order].split(counts)), targets[order]

    @torch.no_grad()
    def _loss_gradients(self, params: dict[str, Tensor], features: Tensor | list[Tensor],
                        targets: Tensor) -> tuple[float, dict[str, Tensor]]:
        """Mean binary cross-entropy of the samples and its gradient (member 0 of the bank)."""
        weight = params["first.weight"][0]
        if self.duplicate:
            weight = weight.view(weight.shape[0], self.bank.n_blocks, 2, -1).sum(2).flatten(1)
        if self.blocked:
            hidden = first_layer_by_block(weight, features)
        else:
            hidden = features @ weight.T
        tail = {name: params[name] for name in params if name.startswith("tail.")}
        logits, activations = tail_forward(hidden[None], tail)
        loss = float(nn.functional.binary_cross_entropy_with_logits(logits[0], targets))
        upstream = (torch.sigmoid(logits) - targets) / targets.shape[0]
        delta, gradients = tail_backward(tail, activations, upstream)
        delta = delta[0]
        if self.blocked:
            pieces = delta.split([len(piece) for piece in features])
            first = torch.stack([d.T @ piece for d, piece in zip(pieces, features)], 1)  # (m, K, d_x)
        else:
            first = (delta.T @ features)[:, None, :]  # (m, 1, d)
        if self.duplicate:
            first = first[:, :, None, :].expand(-1, -1, 2, -1)
        gradients["first.weight"] = first.reshape(1, *params["first.weight"].shape[1:])
        return loss, gradients


def arms_per_member(arms: ArmFeatures) -> tuple[Tensor, Tensor]:
    """Features ``(B, K, d_m)`` and members ``(B, K)`` of a linear model with one ``θ_a`` per arm block
    (block arms: ``d_m = d_x``, member ``a``) or a single ``θ`` (dense arms: ``d_m = d``, member 0)."""
    if isinstance(arms, BlockArms):
        batch = arms.batch_size
        features = arms.contexts[:, None, :].expand(-1, arms.n_arms, -1)
        members = torch.arange(arms.n_arms).expand(batch, -1)
        return features, members
    return arms, torch.zeros(arms.shape[:2], dtype=torch.int64)


class LinearLogitModel(nn.Module):
    """``f(x; θ) = θᵀx`` with ``θ ∈ R^d``; on block arms one ``θ_a ∈ R^{d_x}`` per arm (the design,
    the Hessian and the regularised loss of the ``K·d_x`` encoding are block-diagonal, so this is the
    same model at ``1/K`` of the work).  Features ``z = x``; full design ``λ_V I + Σ w x xᵀ``
    (Sherman–Morrison); ``log_det_hessian`` caches ``ln det H`` of the last fit.
    """

    def __init__(self, dim: int, *, n_blocks: int, block_dim: int | None, design_l2_reg: float) -> None:
        super().__init__()
        self.blocked = block_dim is not None
        self.n_members = n_blocks if self.blocked else 1
        self.member_dim = block_dim if self.blocked else dim
        self.register_buffer("theta", torch.zeros(self.n_members, self.member_dim))
        self.register_buffer("log_det_hessian", torch.zeros((), dtype=torch.float64))
        self.design = FullDesign(self.n_members, self.member_dim, l2_reg=design_l2_reg)
        self.buffer = SampleBuffer(self.member_dim)

    def _per_arm(self, arms: ArmFeatures) -> tuple[Tensor, Tensor]:
        return arms_per_member(arms)

    def evaluate(self, context: Context) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        features, members = self._per_arm(context.arm_features)
        logits = (features * self.theta[members]).sum(-1)
        return logits, (features, members)

    def quad_form(self, features: tuple[Tensor, Tensor], l2_reg: float | None = None) -> Tensor:
        """``xᵀ A⁻¹ x`` → ``(B, K)`` (the design's own λ; ``l2_reg`` is ignored)."""
        x, members = features
        return torch.einsum("bkp,bkpq,bkq->bk", x, self.design.inverse[members], x)

    def log_det(self, l2_reg: float | None = None) -> float:
        return float(self.design.log_det_ratio.sum())

    @torch.no_grad()
    def record(self, context: Context, actions: Tensor, rewards: Tensor, features: tuple[Tensor, Tensor],
               weights: Tensor | None) -> None:
        x, members = features
        rows = torch.arange(actions.shape[0])
        chosen, chosen_members = x[rows, actions], members[rows, actions]
        self.design.update(chosen_members, chosen, weights)
        self.buffer.add(chosen, None, rewards, chosen_members, rows)

    def _samples(self) -> tuple[Tensor, Tensor, Tensor]:
        n = self.buffer.n_samples
        return self.buffer.features[:n], self.buffer.targets[:n], self.buffer.owners[:n]

    def fit_gd(self, l2_reg: float, *, n_steps: int, lr: float) -> float:
        """Full-batch GD on ``mean BCE + (λ/(2n))‖θ‖²`` (every block at once)."""
        x, r, owners = self._samples()
        n = x.shape[0]
        if n == 0 or n_steps == 0:
            return float("nan")
        theta = self.theta.clone().requires_grad_(True)
        value = float("nan")
        for _ in range(n_steps):
            logits = (x * theta[owners]).sum(-1)
            total = nn.functional.binary_cross_entropy_with_logits(logits, r) + l2_reg / (2.0 * n) * theta.square().sum()
            (gradient,) = torch.autograd.grad(total, [theta])
            with torch.no_grad():
                theta -= lr * gradient
            value = float(total.detach())
        self.theta.copy_(theta.detach())
        return value

    @torch.no_grad()
    def fit_newton(self, l2_reg: float, *, n_steps: int) -> None:
        """Regularised MLE per block by Newton (from the current θ); caches ``ln det H``."""
        x, r, owners = self._samples()
        total = 0.0
        for member in range(self.n_members):  # K blocks at fit time only, never per arm at selection
            rows = owners == member  # an empty block: one Newton step takes θ_a to 0, H = λI
            theta, hessian = newton_logistic_mle(x[rows], r[rows], l2_reg, init=self.theta[member], n_steps=n_steps)
            self.theta[member] = theta.to(self.theta.dtype)
            total += float(torch.linalg.slogdet(hessian)[1])
        self.log_det_hessian.fill_(total)

    @torch.no_grad()
    def refresh_hessian(self, l2_reg: float) -> None:
        """``ln det(λI + Σ μ̇(θᵀx_s) x_s x_sᵀ)`` at the current θ (block-diagonal sum)."""
        x, _, owners = self._samples()
        total = 0.0
        eye = torch.eye(self.member_dim, dtype=torch.float64)
        for member in range(self.n_members):
            rows = owners == member
            xm = x[rows].to(torch.float64)
            weights = sigmoid_derivative(xm @ self.theta[member].to(torch.float64))
            hessian = (xm.T * weights) @ xm + l2_reg * eye
            total += float(torch.linalg.slogdet(hessian)[1])
        self.log_det_hessian.fill_(total)


class ECOLogModel(nn.Module):
    """ada-OFU-ECOLog's online estimator exactly as ``louisfaury/logistic_bandit`` runs it (the
    ``reference`` fit): ``θ ∈ R^d`` (one ``θ_a ∈ R^{d_x}`` per block on block arms), the μ̇-weighted
    ``Ṽ = λI + Σ_s μ̇(θ_{s+1}ᵀx_s) x_s x_sᵀ``, the companion θ̄ and the loss-gap term ``L``; float64.

    One update (:meth:`learn`, per played row, after round ``t``; ``ecolog.py`` ``learn``, L49–87):

    1. whiten with the current ``Ṽ_t``: ``z = Ṽ_t^{1/2}θ``, arm ``Ṽ_t^{-1/2}x_t`` (the code's ``sqrtm``;
       here in ``Ṽ_t``'s eigenbasis, the same coordinates up to a rotation);
    2. ``θ_{t+1}``: :func:`ecolog_descent` with label ``r_t`` from ``θ_t``, ``D = S``, precision
       ``ε = 1/(t + 1)`` (the code's counter ``ctr`` is already ``t + 1`` when ``learn`` runs);
    3. ``θ̄``: :func:`ecolog_descent` with labels ``(1, 0)`` from ``θ_{t+1}`` (not ``θ_t``), same ``Ṽ_t``;
    4. the check ``μ̇(θ̄ᵀx_t)/μ̇(θ_{t+1}ᵀx_t) ≤ 2`` (raises ``RuntimeError``, before any state changes;
       the code raises ``ValueError`` after updating ``Ṽ``);
    5. ``L += 2(1 + S)(ℓ(θ̄ᵀx_t, r_t) − ℓ(θ_{t+1}ᵀx_t, r_t)) − ½‖θ_{t+1} − θ̄‖_{Ṽ_t}`` (the norm, not
       its square, as in the code);
    6. ``Ṽ_{t+1} = Ṽ_t + μ̇(θ_{t+1}ᵀx_t) x_t x_tᵀ`` (weighted with the **new** estimate).

    Block arms: ``Ṽ`` is block-diagonal and a played arm touches one block, but the ball
    ``‖θ‖₂ ≤ S`` is over all ``K·d_x`` coordinates, so the projection (one multiplier) couples every
    block, as the code on the dense ``K·d_x`` encoding.  State: ``theta``, ``theta_bar`` (of the last
    update), ``design`` Ṽ and its eigen-decomposition, ``cumulative_loss`` L — all buffers.
    """

    def __init__(self, dim: int, *, n_blocks: int, block_dim: int | None, l2_reg: float, param_norm: float) -> None:
        super().__init__()
        self.blocked = block_dim is not None
        self.n_members = n_blocks if self.blocked else 1
        self.member_dim = block_dim if self.blocked else dim
        self.l2_reg, self.param_norm = float(l2_reg), float(param_norm)
        m, p = self.n_members, self.member_dim
        eye = torch.eye(p, dtype=torch.float64).expand(m, p, p)
        self.register_buffer("theta", torch.zeros(m, p, dtype=torch.float64))
        self.register_buffer("theta_bar", torch.zeros(m, p, dtype=torch.float64))
        self.register_buffer("design", self.l2_reg * eye.clone())
        self.register_buffer("eigenvalues", torch.full((m, p), self.l2_reg, dtype=torch.float64))
        self.register_buffer("eigenvectors", eye.clone())
        self.register_buffer("cumulative_loss", torch.zeros((), dtype=torch.float64))

    def evaluate(self, context: Context) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Logits ``θᵀx`` ``(B, K)`` and the per-arm features ``(B, K, d_m)`` with their members, float64."""
        features, members = arms_per_member(context.arm_features)
        features = features.to(torch.float64)
        return (features * self.theta[members]).sum(-1), (features, members)

    def quad_form(self, features: tuple[Tensor, Tensor], l2_reg: float | None = None) -> Tensor:
        """``xᵀṼ⁻¹x = Σ_i (q_iᵀx)²/e_i`` → ``(B, K)`` (``l2_reg`` is ignored)."""
        x, members = features
        rotated = torch.einsum("bkp,bkpq->bkq", x, self.eigenvectors[members])
        return (rotated.square() / self.eigenvalues[members]).sum(-1)

    def log_det(self, l2_reg: float | None = None) -> float:
        """``ln det(Ṽ/λ)`` (block-diagonal sum)."""
        return float(self.eigenvalues.log().sum()) - self.eigenvalues.numel() * math.log(self.l2_reg)

    @torch.no_grad()
    def learn(self, features: Tensor, members: Tensor, rewards: Tensor, first_round: int) -> None:
        """One online ECOLog update per row, in order: ``features`` ``(B, d_m)`` of the played arms,
        their ``members`` ``(B,)``, ``rewards`` ``(B,)`` in ``[0, 1]``; row ``b`` closes round
        ``first_round + b`` (1-based).  Nothing changes if a row fails the μ̇ ratio check."""
        theta, design = self.theta.clone(), self.design.clone()
        eigenvalues, eigenvectors = self.eigenvalues.clone(), self.eigenvectors.clone()
        theta_bar, loss = self.theta_bar, float(self.cumulative_loss)
        radius = self.param_norm
        step_size = ecolog_step_size(radius)
        for row in range(features.shape[0]):  # delayed rows are sequential rounds
            x, member = features[row].to(torch.float64), int(members[row])
            reward = float(rewards[row])
            n_iterations = ecolog_n_iterations(radius, 1.0 / (first_round + row + 1))
            # ALGO LOGIC: whitened coordinates w = Qᵀ Ṽ_t^{1/2} θ, a = Qᵀ Ṽ_t^{-1/2} x
            root = eigenvalues.sqrt()
            anchor = root * torch.einsum("mpq,mp->mq", eigenvectors, theta)
            arm = torch.zeros_like(theta)
            arm[member] = (eigenvectors[member].T @ x) / root[member]
            w_new = ecolog_descent(anchor, arm, eigenvalues, (reward,), radius=radius, step_size=step_size,
                                   n_iterations=n_iterations)
            w_bar = ecolog_descent(w_new, arm, eigenvalues, (1.0, 0.0), radius=radius, step_size=step_size,
                                   n_iterations=n_iterations)
            theta = torch.einsum("mpq,mq->mp", eigenvectors, w_new / root)
            theta_bar = torch.einsum("mpq,mq->mp", eigenvectors, w_bar / root)
            # the μ̇ ratio check, then the loss-gap term and Ṽ weighted with θ_{t+1}
            logits = torch.stack([theta[member] @ x, theta_bar[member] @ x])
            sensitivity, sensitivity_bar = sigmoid_derivative(logits).tolist()
            if sensitivity_bar / sensitivity > 2.0:
                raise RuntimeError(
                    f"ECOLog's data-dependent condition μ̇(θ̄ᵀx)/μ̇(θᵀx) <= 2 failed at round "
                    f"{first_round + row} (ratio {sensitivity_bar / sensitivity:.4g}); the official code stops here too and "
                    "suggests a larger regularisation. Nothing was updated."
                )
            losses = nn.functional.binary_cross_entropy_with_logits(
                logits, torch.full_like(logits, reward), reduction="none").tolist()
            loss += 2.0 * (1.0 + radius) * (losses[1] - losses[0]) - 0.5 * float((w_new - w_bar).norm())
            design[member] += sensitivity * torch.outer(x, x)
            eigenvalues[member], eigenvectors[member] = torch.linalg.eigh(design[member])
        self.theta.copy_(theta)
        self.theta_bar.copy_(theta_bar)
        self.design.copy_(design)
        self.eigenvalues.copy_(eigenvalues)
        self.eigenvectors.copy_(eigenvectors)
        self.cumulative_loss.fill_(loss)
