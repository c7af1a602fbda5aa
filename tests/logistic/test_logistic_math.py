"""Reference tests for the logistic-bandit math (models/logistic.py): radii by hand, Newton MLE vs
scikit-learn, λ_t monotone, effective dimension, the Zhou initialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import chi2
from sklearn.linear_model import LogisticRegression

from neuralbandits.models.bank import LearnerBank
from neuralbandits.models.logistic import (
    adaptive_lambda,
    default_kappa,
    duplicate_inputs,
    ecolog_radius,
    effective_dimension,
    faury_lambda,
    initial_lambda,
    logistic_ucb1_radius,
    ncbf_radius,
    neurallog_radius,
    newton_logistic_mle,
    zhou_init_,
)
from neuralbandits.models.networks import NetworkConfig
from neuralbandits.types import BlockArms
from neuralbandits.validation import InvalidParameterError


def test_default_kappa_is_faury_convention() -> None:
    mu = 1 / (1 + math.exp(-1.0))
    assert default_kappa(1.0) == pytest.approx(1 / (mu * (1 - mu)))
    assert default_kappa(1.0) == pytest.approx(5.0862, abs=1e-4)


def test_logistic_ucb1_radius_by_hand() -> None:
    # d = 2, λ = 2 ln 3, ln det H = 3, κ = 5, S = 1, δ = 0.1, written out step by step
    d, lam, logdet, kappa, s, delta = 2, 2 * math.log(3), 3.0, 5.0, 1.0, 0.1
    ratio = math.log(chi2(d).cdf(2 * lam) / chi2(d).cdf(lam))
    # for d = 2 the χ² CDF is 1 − e^{−x/2}
    assert ratio == pytest.approx(math.log((1 - math.exp(-lam)) / (1 - math.exp(-lam / 2))))
    inner = math.log(10.0) + 1.5 - math.log(lam) + ratio
    gamma1 = math.sqrt(lam) / 2 + 2 / math.sqrt(lam) * inner
    gamma2 = 1 + inner
    gamma = min(gamma1, gamma2)
    expected = 0.25 * math.sqrt(5) * min(math.sqrt(3) * gamma, gamma + gamma**2 / math.sqrt(lam)) + math.sqrt(lam)
    got = logistic_ucb1_radius(logdet, d, lam, kappa=kappa, param_norm=s, delta=delta)
    assert got == pytest.approx(expected, rel=1e-12)
    assert faury_lambda(2, 1) == pytest.approx(lam)


def test_logistic_ucb1_radius_survives_large_dimensions() -> None:
    value = logistic_ucb1_radius(2000 * math.log(3000.0), 1960, 1960 * math.log(100), kappa=5.0, param_norm=1.0, delta=0.1)
    assert math.isfinite(value)


def test_ecolog_radius_by_hand() -> None:
    t, lam, s, delta = 9, 1.0, 2.0, 0.05
    gamma = 0.5 + 2 * math.log(2 * math.sqrt(1 + 9 / 4) / 0.05)
    expected = math.sqrt(2 * 4 + 9 * gamma)
    assert ecolog_radius(t, lam, param_norm=s, delta=delta) == pytest.approx(expected, rel=1e-12)
    assert ecolog_radius(t, lam, param_norm=s, delta=delta, cumulative_loss=1.0) == pytest.approx(
        math.sqrt(expected**2 + 1.0))


def test_network_radii_by_hand() -> None:
    assert ncbf_radius(4.0, 2.0, kappa=3.0, param_norm=1.5, delta=0.1) == pytest.approx(
        3 * math.sqrt(4 + 2 * math.log(10)) + math.sqrt(6) * 1.5)
    assert neurallog_radius(4.0, 2.0, 5, param_norm=1.5, delta=0.1) == pytest.approx(
        math.sqrt(2 * 4 * math.log(4 * 25 / 0.1)) + math.sqrt(2) * 1.5)


def test_lambda_schedule_starts_low_and_never_decreases() -> None:
    lam0 = initial_lambda(1.0, 0.1, 1.0)
    assert lam0 == pytest.approx(math.log(40))
    lam, history = lam0, []
    for t, log_det in enumerate([0.0, 5.0, 3.0, 3.0, 12.0, 1.0], start=1):
        lam = adaptive_lambda(lam, log_det, t, c_lambda=1.0, delta=0.1, param_norm=1.0)
        history.append(lam)
    assert all(b >= a for a, b in zip(history, history[1:]))
    assert min(history) >= lam0
    assert history[1] == pytest.approx(5.0 + math.log(4 * 4 / 0.1))


@pytest.mark.parametrize("l2_reg", [0.5, 3.0])
def test_newton_mle_matches_scikit_learn(l2_reg: float) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (rng.random(200) < 1 / (1 + np.exp(-x @ np.array([1.0, -2.0, 0.5, 0.0])))).astype(float)
    theta, hessian = newton_logistic_mle(torch.from_numpy(x), torch.from_numpy(y), l2_reg, n_steps=25)
    # scikit-learn minimises C Σ ℓ + ½‖θ‖², i.e. Σ ℓ + (λ/2)‖θ‖² with C = 1/λ
    reference = LogisticRegression(C=1 / l2_reg, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(theta.numpy(), reference.coef_[0], atol=1e-6)
    mu = 1 / (1 + np.exp(-x @ theta.numpy()))
    dense = (x.T * (mu * (1 - mu))) @ x + l2_reg * np.eye(4)
    np.testing.assert_allclose(hessian.numpy(), dense, rtol=1e-6)


def test_effective_dimension_both_routes_agree() -> None:
    g = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    counts = torch.tensor([1.0, 2.0, 3.0, 1.0, 5.0, 2.0])
    dense = torch.eye(3, dtype=torch.float64) + (g.T * counts) @ g / 2.0
    expected = float(torch.logdet(dense))
    assert effective_dimension(g, 2.0, counts) == pytest.approx(expected)  # p × p route (N > p)
    assert effective_dimension(g.T.contiguous()[:, :2], 2.0) == pytest.approx(
        float(torch.logdet(torch.eye(3, dtype=torch.float64) + g.T[:, :2] @ g.T[:, :2].T / 2)))


@pytest.mark.parametrize("blocks,depth", [(1, 2), (3, 2), (1, 3)])
def test_zhou_init_gives_zero_output(blocks: int, depth: int) -> None:
    d_x = 5
    bank = LearnerBank(2 * d_x * blocks, 1, network=NetworkConfig(width=8, depth=depth), n_blocks=blocks, seed=0)
    zhou_init_(bank, torch.Generator().manual_seed(1))
    contexts = torch.randn(4, d_x, generator=torch.Generator().manual_seed(2))
    if blocks > 1:
        arms = duplicate_inputs(BlockArms(contexts, blocks), 3.0)
    else:
        arms = duplicate_inputs(contexts[:, None, :], 3.0)
    values, _ = bank.gradient_features(torch.zeros(4, dtype=torch.int64), arms)
    assert values.abs().max() < 1e-5
    assert bank.stacked()["first.weight"].abs().sum() > 0


def test_bad_inputs_raise() -> None:
    with pytest.raises(InvalidParameterError, match="delta"):
        ecolog_radius(1, 1.0, param_norm=1.0, delta=1.5)
    with pytest.raises(InvalidParameterError, match="l2_reg > 0"):
        newton_logistic_mle(torch.zeros(2, 2), torch.zeros(2), 0.0)
    with pytest.raises(InvalidParameterError, match="t >= 1"):
        adaptive_lambda(1.0, 0.0, 0, c_lambda=1.0, delta=0.1, param_norm=1.0)
    bank = LearnerBank(6, 1, network=NetworkConfig(width=7), seed=0)
    with pytest.raises(InvalidParameterError, match="even width"):
        zhou_init_(bank, torch.Generator())
