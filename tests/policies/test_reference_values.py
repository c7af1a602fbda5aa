"""Policies against closed forms and hand computations."""

from __future__ import annotations

import torch
from torch.func import functional_call, grad

from neuralbandits.models.bank import members_as_modules
from neuralbandits.models.networks import NetworkConfig
from neuralbandits.policies import build_policy
from neuralbandits.types import BlockArms, Context, Feedback, ProblemInfo


def test_linucb_scores_equal_closed_form_ridge() -> None:
    generator = torch.Generator().manual_seed(0)
    info = ProblemInfo(n_arms=3, dim=4)
    policy = build_policy("linucb", info, alpha=0.7, l2_reg=0.5, seed=0)
    played, rewards = [], []
    for _ in range(15):
        context = Context(torch.randn(1, 3, 4, generator=generator))
        action = policy.select(context)
        reward = torch.rand(1, generator=generator)
        policy.update(Feedback(context, action, reward))
        played.append(context.arm_features[0, action[0]].double())
        rewards.append(float(reward))
    x, r = torch.stack(played), torch.tensor(rewards, dtype=torch.float64)
    a = 0.5 * torch.eye(4, dtype=torch.float64) + x.T @ x
    theta = torch.linalg.solve(a, x.T @ r)
    arms = torch.randn(1, 3, 4, generator=generator)
    expected = arms[0].double() @ theta + 0.7 * torch.sqrt(
        torch.einsum("kd,de,ke->k", arms[0].double(), torch.linalg.inv(a), arms[0].double())
    )
    scores = policy.select_with_scores(Context(arms)).scores[0]
    torch.testing.assert_close(scores.double(), expected, atol=1e-5, rtol=1e-5)


def test_block_linucb_equals_dense_linucb_on_the_dense_encoding() -> None:
    generator = torch.Generator().manual_seed(1)
    n_arms, d_x = 4, 3
    # λ = 1 keeps A⁻¹ well conditioned, so float32 round-off stays far below the tolerance
    block = build_policy("linucb", ProblemInfo(n_arms=n_arms, dim=n_arms * d_x, block_dim=d_x), seed=0, l2_reg=1.0)
    dense = build_policy("linucb", ProblemInfo(n_arms=n_arms, dim=n_arms * d_x), seed=0, l2_reg=1.0)
    for _ in range(30):
        arms = BlockArms(torch.randn(1, d_x, generator=generator), n_arms)
        block_sel = block.select_with_scores(Context(arms))
        dense_sel = dense.select_with_scores(Context(arms.dense()))
        torch.testing.assert_close(block_sel.scores, dense_sel.scores, atol=1e-5, rtol=1e-5)
        assert torch.equal(block_sel.actions, dense_sel.actions)
        reward = torch.rand(1, generator=generator)
        block.update(Feedback(Context(arms), block_sel.actions, reward))
        dense.update(Feedback(Context(arms.dense()), dense_sel.actions, reward))


def test_neuralucb_diagonal_bonus_by_hand() -> None:
    """score = f(x; θ) + √(Σ_j λ α g_j² / U_j), U = λ + Σ g_played², g at the current θ."""
    generator = torch.Generator().manual_seed(2)
    info = ProblemInfo(n_arms=3, dim=5)
    lam, alpha = 0.3, 0.2
    policy = build_policy("neuucb-one", info, alpha=alpha, l2_reg=lam, width=7, n_steps=0, seed=0)
    module = members_as_modules(policy.bank, NetworkConfig(width=7))[0]
    params = {n: p.detach() for n, p in module.named_parameters()}

    def g(x: torch.Tensor) -> torch.Tensor:
        grads = grad(lambda p: functional_call(module, p, (x,)))(params)
        return torch.cat([grads[n].reshape(-1) for n in params])

    u = torch.full((sum(p.numel() for p in params.values()),), lam)
    for _ in range(4):  # n_steps = 0: θ never changes, so g can be recomputed by hand
        context = Context(torch.randn(1, 3, 5, generator=generator))
        arms = context.arm_features[0]
        expected = torch.stack([module(x) + torch.sqrt((lam * alpha * g(x) ** 2 / u).sum()) for x in arms])
        selection = policy.select_with_scores(context)
        torch.testing.assert_close(selection.scores[0], expected.detach(), atol=1e-5, rtol=1e-5)
        policy.update(Feedback(context, selection.actions, torch.rand(1, generator=generator)))
        u = u + g(arms[selection.actions[0]]) ** 2
