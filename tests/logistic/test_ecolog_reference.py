"""ada-OFU-ECOLog's reference fit (the online ECOLog estimator of ``louisfaury/logistic_bandit``):
against a literal, slow float64 NumPy transcription of the official code, a projected step by hand,
block vs dense encodings, delayed rows, save/load, determinism and bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm
from scipy.optimize import brentq, minimize_scalar

import neuralbandits.policies.neural_logistic  # noqa: F401  (registration)
from neuralbandits.models.logistic import (
    ECOLogModel,
    ball_multiplier,
    ecolog_descent,
    ecolog_n_iterations,
    ecolog_step_size,
    project_whitened,
)
from neuralbandits.policies import build_policy, load_policy, save_policy
from neuralbandits.types import BlockArms, Context, Feedback, ProblemInfo

DENSE = ProblemInfo(n_arms=4, dim=3)
BLOCK = ProblemInfo(n_arms=3, dim=3 * 2, block_dim=2)


# ------------------------------------------------------------------------------------------------
# A literal transcription of the official code (slow, loops, float64 NumPy + SciPy)
# ------------------------------------------------------------------------------------------------
def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + np.exp(-z))


def _sigmoid_derivative(z: float) -> float:
    return _sigmoid(z) * (1.0 - _sigmoid(z))


def _weighted_norm(v: np.ndarray, matrix: np.ndarray) -> float:
    return float(np.sqrt(v @ matrix @ v))


def official_projection(x: np.ndarray, matrix: np.ndarray, radius: float, multiplier: str) -> tuple[np.ndarray, bool]:
    """``project_ellipsoid(x, 0, Ṽ, S)`` (optimization.py L64–105): ``x`` in ``z = Ṽ^{1/2}θ`` coordinates.

    ``multiplier="brent"`` is the code (bounded Brent on the dual over [0, 1000], maxiter 500);
    ``"root"`` solves the dual's stationarity condition to machine precision instead (the one
    deviation of our implementation).
    """
    if x @ np.linalg.solve(matrix, x) - radius**2 < 1e-3:
        return x, False
    root = sqrtm(matrix)
    y = root @ x
    eye = np.eye(len(x))

    def dual(lam: float) -> float:
        return lam * radius**2 + y @ np.linalg.solve(matrix + lam * eye, y)

    def dual_slope(lam: float) -> float:
        u = np.linalg.solve(matrix + lam * eye, y)
        return radius**2 - u @ u

    if multiplier == "brent":
        lam = minimize_scalar(dual, method="bounded", bounds=(0, 1000), options={"maxiter": 500}).x
    else:
        eps = np.finfo(float).eps
        lam = 1000.0 if dual_slope(1000.0) < 0 else brentq(dual_slope, 0.0, 1000.0, xtol=1e-300, rtol=4 * eps)
    return root @ np.linalg.solve(matrix + lam * eye, y), True


def official_descent(arm: np.ndarray, reward: float, start: np.ndarray, v: np.ndarray, v_inv: np.ndarray,
                     radius: float, precision: float, bar: bool, multiplier: str) -> tuple[np.ndarray, int]:
    """``fit_online_logistic_estimate`` (``bar=False``, L10–34) and ``..._bar`` (L37–61)."""
    root, root_inv = sqrtm(v), sqrtm(v_inv)
    anchor = root @ start
    z = anchor
    a = root_inv @ arm
    step = 1 / (1 / 4 + 1 / (1 + radius / 2)) * 0.75
    n_iterations = int((1 / 0.75) * np.ceil((9 / 4 + radius / 8) * np.log(radius / precision)))
    projected = 0
    for _ in range(n_iterations):
        p = _sigmoid(np.sum(z * a))
        gradient = z - anchor + ((2 * p - 1) if bar else (p - reward)) * a
        z, hit = official_projection(z - step * gradient, v, radius, multiplier)
        projected += hit
    return np.real_if_close(root_inv @ z), projected


class OfficialECOLog:
    """``EcoLog`` of ``logbexp/algorithms/ecolog.py``: ``pull`` (L89–100), ``learn`` (L49–87)."""

    def __init__(self, dim: int, param_norm: float, delta: float, multiplier: str = "brent") -> None:
        self.s, self.delta, self.l2reg, self.multiplier = param_norm, delta, 1.0, multiplier
        self.v, self.v_inv = np.eye(dim), np.eye(dim)
        self.theta, self.theta_bar = np.zeros(dim), np.zeros(dim)
        self.cum_loss, self.ctr, self.n_projected = 0.0, 1, 0

    def scores(self, arms: np.ndarray) -> np.ndarray:
        gamma = np.sqrt(self.l2reg) / 2 + 2 * np.log(
            2 * np.sqrt(1 + self.ctr / (4 * self.l2reg)) / self.delta) / np.sqrt(self.l2reg)
        radius = np.sqrt(2 * self.l2reg * self.s**2 + (1 + self.s) ** 2 * gamma + self.cum_loss)
        return np.array([_sigmoid(np.sum(self.theta * x)) + radius * _weighted_norm(x, self.v_inv) for x in arms])

    def pull(self, arms: np.ndarray) -> tuple[int, np.ndarray]:
        scores = self.scores(arms)
        best = max(range(len(arms)), key=lambda k: scores[k])  # ArmSet.argmax: the first maximum
        self.ctr += 1
        return best, scores

    def learn(self, arm: np.ndarray, reward: float) -> None:
        precision = 1 / self.ctr
        self.theta, hits = official_descent(arm, reward, self.theta, self.v, self.v_inv, self.s, precision, False,
                                            self.multiplier)
        self.theta_bar, hits_bar = official_descent(arm, reward, self.theta, self.v, self.v_inv, self.s, precision,
                                                    True, self.multiplier)
        self.n_projected += hits + hits_bar
        disc_norm = np.clip(_weighted_norm(self.theta - self.theta_bar, self.v), 0, np.inf)
        sensitivity = _sigmoid_derivative(self.theta @ arm)
        self.v = self.v + sensitivity * np.outer(arm, arm)
        self.v_inv = self.v_inv - sensitivity * (self.v_inv @ np.outer(arm, arm) @ self.v_inv) / (
            1 + sensitivity * arm @ self.v_inv @ arm)
        if _sigmoid_derivative(self.theta_bar @ arm) / sensitivity > 2:
            raise ValueError("data-dependent condition not met")
        c, c_bar = _sigmoid(self.theta @ arm), _sigmoid(self.theta_bar @ arm)
        loss = -reward * np.log(c) - (1 - reward) * np.log(1 - c)
        loss_bar = -reward * np.log(c_bar) - (1 - reward) * np.log(1 - c_bar)
        self.cum_loss += 2 * (1 + self.s) * (loss_bar - loss) - 0.5 * disc_norm


def ball_arms(rng: np.random.Generator, n_arms: int, dim: int) -> np.ndarray:
    """``ArmSet.generate_arm_list``: uniform in the unit ball; float32-representable values."""
    u = rng.normal(size=(n_arms, dim))
    arms = u / np.linalg.norm(u, axis=1, keepdims=True) * rng.uniform(size=(n_arms, 1)) ** (1.0 / dim)
    return arms.astype(np.float32).astype(np.float64)


# ------------------------------------------------------------------------------------------------
# (1) our reference fit = the official code
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("multiplier,tolerance", [("brent", 1e-6), ("root", 1e-12)])
def test_reference_fit_matches_literal_transcription_of_official_code(multiplier: str, tolerance: float) -> None:
    """50 rounds, d = 3, K = 4, S = 1, a true θ* of norm 3 (so the ball constraint binds): same scores,
    choices, θ, θ̄, L_t and Ṽ_t.  With the code's Brent multiplier (xatol 1e-5) to 1e-6; with the
    multiplier solved exactly on both sides to 1e-12."""
    policy = build_policy("ada-ofu-ecolog", DENSE, seed=0, fit="reference")
    official = OfficialECOLog(DENSE.dim, param_norm=1.0, delta=0.1, multiplier=multiplier)
    rng = np.random.default_rng(0)
    theta_star = rng.normal(size=DENSE.dim)
    theta_star *= 3.0 / np.linalg.norm(theta_star)
    close = {"atol": tolerance, "rtol": tolerance}
    for t in range(1, 51):
        arms = ball_arms(rng, DENSE.n_arms, DENSE.dim)
        context = Context(arm_features=torch.tensor(arms, dtype=torch.float32)[None])
        selection = policy.select_with_scores(context)
        action, scores = official.pull(arms)
        torch.testing.assert_close(selection.scores[0], torch.from_numpy(scores), **close, msg=f"scores, round {t}")
        assert int(selection.actions) == action, f"choice, round {t}"
        reward = float(rng.uniform() < _sigmoid(arms[action] @ theta_star))
        policy.update(Feedback(context, selection.actions, torch.tensor([reward])))
        official.learn(arms[action], reward)
        model = policy.model
        torch.testing.assert_close(model.theta[0], torch.from_numpy(official.theta), **close, msg=f"θ, round {t}")
        torch.testing.assert_close(model.theta_bar[0], torch.from_numpy(official.theta_bar), **close,
                                   msg=f"θ̄, round {t}")
        torch.testing.assert_close(model.design[0], torch.from_numpy(official.v), **close, msg=f"Ṽ, round {t}")
        assert float(model.cumulative_loss) == pytest.approx(official.cum_loss, abs=tolerance, rel=tolerance), t
    # the run exercised what it claims to check
    assert official.n_projected > 100
    assert float(policy.model.theta.norm()) == pytest.approx(1.0, abs=1e-3)
    assert abs(official.cum_loss) > 0.1


# ------------------------------------------------------------------------------------------------
# (2) by hand
# ------------------------------------------------------------------------------------------------
def test_step_size_and_iteration_count_by_hand() -> None:
    assert ecolog_step_size(1.0) == pytest.approx(9.0 / 11.0, rel=1e-15)  # 0.75/(1/4 + 2/3)
    assert ecolog_n_iterations(1.0, 1.0 / 2) == 2  # ⌈2.375 ln 2⌉ = 2, int(2/0.75) = 2
    assert ecolog_n_iterations(1.0, 1.0 / 2001) == 25  # ⌈2.375 ln 2001⌉ = 19, int(19/0.75) = 25
    assert ecolog_n_iterations(0.25, 1.0 / 2) == 0  # ln(D/ε) < 0: no step, as range(negative)


def test_one_projected_step_by_hand() -> None:
    """Ṽ = diag(1, 4) (its own eigenbasis), θ_t = 0, r = 1, S = 1, one step of size η = 9/11.

    ``a = (22/9)(√5, 2)`` gives the unprojected ``w' = −η(μ(0) − 1)a = (√5, 2)``, outside the ball
    (``‖θ'‖² = 5 + 1 = 6``); the multiplier solves ``5/(1+λ)² + 16/(4+λ)² = 1`` → ``λ = 2``, so
    ``w = e·w'/(e + λ) = (√5/3, 4/3)`` and ``θ = w/√e = (√5/3, 2/3)`` with ``‖θ‖ = 1``.
    """
    eigenvalues = torch.tensor([1.0, 4.0], dtype=torch.float64)
    root5 = math.sqrt(5.0)
    arm = torch.tensor([root5, 2.0], dtype=torch.float64) * 22.0 / 9.0
    w = ecolog_descent(torch.zeros(2, dtype=torch.float64), arm, eigenvalues, (1.0,), radius=1.0,
                       step_size=ecolog_step_size(1.0), n_iterations=1)
    torch.testing.assert_close(w, torch.tensor([root5 / 3.0, 4.0 / 3.0], dtype=torch.float64), atol=1e-14, rtol=0)
    theta = w / eigenvalues.sqrt()
    torch.testing.assert_close(theta, torch.tensor([root5 / 3.0, 2.0 / 3.0], dtype=torch.float64), atol=1e-14, rtol=0)
    y = eigenvalues.sqrt() * torch.tensor([root5, 2.0], dtype=torch.float64)
    assert ball_multiplier(y, eigenvalues, 1.0) == pytest.approx(2.0, abs=1e-13)
    # the companion's gradient carries 2μ − 1: at w = 0 it vanishes, so θ̄ stays at its anchor
    assert torch.equal(ecolog_descent(torch.zeros(2, dtype=torch.float64), arm, eigenvalues, (1.0, 0.0), radius=1.0,
                                      step_size=0.8, n_iterations=3), torch.zeros(2, dtype=torch.float64))


def test_projection_tolerance_and_multiplier_cap() -> None:
    eigenvalues = torch.tensor([1.0, 1.0], dtype=torch.float64)
    slightly_out = torch.tensor([math.sqrt(1.0009), 0.0], dtype=torch.float64)  # ‖θ‖² − S² = 9e-4 < 1e-3
    assert torch.equal(project_whitened(slightly_out, eigenvalues, 1.0), slightly_out)
    out = torch.tensor([math.sqrt(1.0011), 0.0], dtype=torch.float64)
    torch.testing.assert_close(project_whitened(out, eigenvalues, 1.0), torch.tensor([1.0, 0.0], dtype=torch.float64))
    far = torch.tensor([5000.0, 0.0], dtype=torch.float64)  # exact multiplier 4999 > 1000: capped as in the code
    torch.testing.assert_close(project_whitened(far, eigenvalues, 1.0),
                               torch.tensor([5000.0 / 1001.0, 0.0], dtype=torch.float64))


# ------------------------------------------------------------------------------------------------
# Blocks, delayed rows
# ------------------------------------------------------------------------------------------------
def _block_contexts(n: int, seed: int) -> list[Context]:
    g = torch.Generator().manual_seed(seed)
    return [Context(arm_features=BlockArms(torch.rand(1, BLOCK.block_dim, generator=g), BLOCK.n_arms))
            for _ in range(n)]


def test_block_arms_match_the_dense_encoding() -> None:
    """One Ṽ block per arm with the ball over all blocks = the code on the dense K·d_x encoding."""
    blocked = build_policy("ada-ofu-ecolog", BLOCK, seed=3, fit="reference", param_norm=0.5)
    dense = build_policy("ada-ofu-ecolog", ProblemInfo(n_arms=BLOCK.n_arms, dim=BLOCK.dim), seed=3,
                         fit="reference", param_norm=0.5)
    g = torch.Generator().manual_seed(4)
    for context in _block_contexts(30, 5):
        dense_context = Context(arm_features=context.dense_arm_features())
        selection = blocked.select_with_scores(context)
        dense_scores = dense.select_with_scores(dense_context).scores
        torch.testing.assert_close(selection.scores, dense_scores, atol=1e-10, rtol=1e-10)
        reward = (torch.rand(1, generator=g) < 0.7).float()
        blocked.update(Feedback(context, selection.actions, reward))
        dense.update(Feedback(dense_context, selection.actions, reward))
    torch.testing.assert_close(blocked.model.theta.reshape(-1), dense.model.theta[0], atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(torch.block_diag(*blocked.model.design), dense.model.design[0], atol=1e-10, rtol=1e-10)
    assert float(blocked.model.cumulative_loss) == pytest.approx(float(dense.model.cumulative_loss), abs=1e-10)
    assert float(blocked.model.theta.norm()) == pytest.approx(0.5, abs=1e-3)  # the joint ball binds


def test_delayed_rows_equal_sequential_rounds() -> None:
    contexts = _block_contexts(6, 8)
    actions, rewards = torch.tensor([0, 2, 2, 1, 0, 2]), torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    one_by_one = build_policy("ada-ofu-ecolog", BLOCK, seed=0, fit="reference")
    for i, context in enumerate(contexts):
        one_by_one.update(Feedback(context, actions[i : i + 1], rewards[i : i + 1]))
    batched = build_policy("ada-ofu-ecolog", BLOCK, seed=0, fit="reference")
    stacked = Context(arm_features=BlockArms(torch.cat([c.arm_features.contexts for c in contexts]), BLOCK.n_arms))
    batched.update(Feedback(stacked, actions, rewards))
    for name, value in one_by_one.model.state_dict().items():
        torch.testing.assert_close(batched.model.state_dict()[name], value, atol=1e-12, rtol=1e-12)


# ------------------------------------------------------------------------------------------------
# (3) save/load, (4) determinism
# ------------------------------------------------------------------------------------------------
def _play(policy, info: ProblemInfo, contexts: list[Context], seed: int) -> list[int]:  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for context in contexts:
        action = policy.select(context)
        policy.update(Feedback(context, action, (torch.rand(1, generator=g) < 0.6).float()))
        chosen.append(int(action))
    return chosen


def _dense_contexts(n: int, seed: int) -> list[Context]:
    rng = np.random.default_rng(seed)
    return [Context(arm_features=torch.tensor(ball_arms(rng, DENSE.n_arms, DENSE.dim), dtype=torch.float32)[None])
            for _ in range(n)]


@pytest.mark.parametrize("info", [DENSE, BLOCK], ids=["dense", "block"])
def test_save_load_mid_run_continues_identically(info: ProblemInfo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    make = _dense_contexts if info.block_dim is None else _block_contexts
    policy = build_policy("ada-ofu-ecolog", info, seed=5, fit="reference")
    _play(policy, info, make(20, 1), seed=2)
    save_policy(policy, tmp_path / "ecolog.pt")
    restored = load_policy(tmp_path / "ecolog.pt")
    assert isinstance(restored.model, ECOLogModel) and restored.fit == "reference"
    later = make(20, 3)
    assert _play(restored, info, later, seed=4) == _play(policy, info, later, seed=4)
    for name, value in policy.state_dict().items():
        assert torch.equal(restored.state_dict()[name], value), name


@pytest.mark.parametrize("info", [DENSE, BLOCK], ids=["dense", "block"])
def test_same_seed_same_trajectory(info: ProblemInfo) -> None:
    make = _dense_contexts if info.block_dim is None else _block_contexts
    runs = []
    for _ in range(2):
        policy = build_policy("ada-ofu-ecolog", info, seed=7, fit="reference")
        runs.append((_play(policy, info, make(25, 6), seed=8), policy.model.theta.clone(),
                     float(policy.model.cumulative_loss), policy.diagnostics()["radius"]))
    assert runs[0][0] == runs[1][0]
    assert torch.equal(runs[0][1], runs[1][1]) and runs[0][2] == runs[1][2]
    assert np.array_equal(runs[0][3], runs[1][3])


# ------------------------------------------------------------------------------------------------
# (5) bad inputs
# ------------------------------------------------------------------------------------------------
def _snapshot(policy) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    return {name: value.clone() for name, value in policy.state_dict().items()}


def test_rewards_outside_unit_interval_are_rejected_without_update() -> None:
    policy = build_policy("ada-ofu-ecolog", DENSE, seed=0, fit="reference")
    context = _dense_contexts(1, 0)[0]
    before = _snapshot(policy)
    with pytest.raises(ValueError, match=r"Feedback.rewards of AdaOFUECOLog\(fit='reference'\) must lie in \[0, 1\]"):
        policy.update(Feedback(context, torch.tensor([1]), torch.tensor([2.0])))
    after = _snapshot(policy)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_failed_ratio_check_raises_like_the_code_and_changes_nothing() -> None:
    """S = 5 and an arm of norm 2 (outside the code's ‖x‖ ≤ 1): θ̄ leaves μ̇ more than doubled."""
    info = ProblemInfo(n_arms=2, dim=2)
    policy = build_policy("ada-ofu-ecolog", info, seed=0, fit="reference", param_norm=5.0)
    arms = np.array([[2.0, 0.0], [0.0, 0.5]])
    context = Context(arm_features=torch.tensor(arms, dtype=torch.float32)[None])
    before = _snapshot(policy)
    with pytest.raises(RuntimeError, match=r"μ̇\(θ̄ᵀx\)/μ̇\(θᵀx\) <= 2 failed at round 1"):
        policy.update(Feedback(context, torch.tensor([0]), torch.ones(1)))
    after = _snapshot(policy)
    assert all(torch.equal(before[k], after[k]) for k in before)
    official = OfficialECOLog(2, param_norm=5.0, delta=0.1)
    official.pull(arms)
    with pytest.raises(ValueError, match="data-dependent condition"):
        official.learn(arms[0], 1.0)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"fit": "newton"}, r"'fit' parameter of AdaOFUECOLog"),
        ({"fit": "reference", "param_norm": 0.0}, r"'param_norm' parameter of AdaOFUECOLog"),
        ({"fit": "reference", "delta": 1.5}, r"'delta' parameter of AdaOFUECOLog"),
    ],
)
def test_bad_hyperparameters(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_policy("ada-ofu-ecolog", DENSE, **params)
