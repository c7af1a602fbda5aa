"""The five logistic-bandit policies: design updates vs dense computations, bonuses vs a slow
reference, determinism, λ_t and diagnostics, bad inputs."""

from __future__ import annotations

import math

import pytest
import torch

import neuralbandits.policies.neural_logistic  # noqa: F401  (registration)
from neuralbandits.models.logistic import ecolog_radius, logistic_ucb1_radius, neurallog_radius
from neuralbandits.policies import build_policy
from neuralbandits.types import BlockArms, Context, Feedback, ProblemInfo

DENSE = ProblemInfo(n_arms=3, dim=4)
BLOCK = ProblemInfo(n_arms=3, dim=3 * 4, block_dim=4)
SMALL = {"width": 6, "n_steps": 3, "train_every": 4}


def contexts(info: ProblemInfo, n: int, seed: int) -> list[Context]:
    g = torch.Generator().manual_seed(seed)
    if info.block_dim is not None:
        return [Context(arm_features=BlockArms(torch.rand(1, info.block_dim, generator=g), info.n_arms)) for _ in range(n)]
    return [Context(arm_features=torch.randn(1, info.n_arms, info.dim, generator=g)) for _ in range(n)]


def play(policy, info: ProblemInfo, n: int, seed: int) -> tuple[list[int], list]:  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(seed + 1)
    actions, records = [], []
    for context in contexts(info, n, seed):
        selection = policy.select_with_scores(context)
        reward = (torch.rand(1, generator=g) < 0.5).float()
        records.append((context, selection, reward))
        policy.update(Feedback(context, selection.actions, reward))
        actions.append(int(selection.actions))
    return actions, records


def slow_gradient(policy, context: Context) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[no-untyped-def]
    """Logits and ĝ = ∇_θ f(x; θ)/√m of every arm by autograd on a plain module."""
    model = policy.model
    arms = model.transform(context.arm_features)
    dense = arms.dense() if isinstance(arms, BlockArms) else arms
    params = {n: v[0].detach().clone().requires_grad_(True) for n, v in model.bank.stacked().items()}
    logits, grads = [], []
    for k in range(dense.shape[1]):
        h = dense[0, k] @ params["first.weight"].T
        f = (torch.relu(h) * params["tail.1.weight"][0]).sum()
        flat = torch.autograd.grad(f, [params["first.weight"], params["tail.1.weight"]])
        logits.append(f.detach())
        grads.append(torch.cat([g.reshape(-1) for g in flat]) * model.feature_scale)
    return torch.stack(logits), torch.stack(grads)


@pytest.mark.parametrize("info", [DENSE, BLOCK], ids=["dense", "block"])
def test_weighted_design_update_matches_dense(info: ProblemInfo) -> None:
    policy = build_policy("neurallog-ucb-2", info, seed=0, lambda_schedule="fixed", **SMALL)
    expected = torch.zeros(policy.model.n_params)
    for context in contexts(info, 5, 3):
        _, grads = slow_gradient(policy, context)
        with torch.no_grad():
            logits = policy.model.evaluate(context)[0]
        action = policy.select(context)
        mu = torch.sigmoid(logits[0, action])
        expected += mu * (1 - mu) * grads[action[0]].square()
        policy.update(Feedback(context, action, torch.ones(1)))
        if int(policy.rounds_seen) % SMALL["train_every"] == 0:
            break  # stop before training changes θ (the design uses θ at selection time)
    torch.testing.assert_close(policy.model.design.squares[0], expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("key", ["ncbf-ucb", "neurallog-ucb-1", "neurallog-ucb-2"])
@pytest.mark.parametrize("info", [DENSE, BLOCK], ids=["dense", "block"])
def test_network_bonus_matches_slow_reference(key: str, info: ProblemInfo) -> None:
    policy = build_policy(key, info, seed=1, alpha=0.3, **SMALL)
    weighted = key == "neurallog-ucb-2"
    squares = torch.zeros(policy.model.n_params)
    lam = float(policy.lambda_t)
    for t, context in enumerate(contexts(info, 7, 5), start=1):
        logits, grads = slow_gradient(policy, context)
        lam = float(policy.lambda_t)
        log_det = float(torch.log1p(squares / lam).sum())
        if key == "ncbf-ucb":
            radius = policy.kappa * math.sqrt(log_det + 2 * math.log(10)) + math.sqrt(policy.kappa * lam)
        else:
            radius = neurallog_radius(log_det, lam, t, param_norm=1.0, delta=0.1)
            radius *= math.sqrt(policy.kappa) if key == "neurallog-ucb-1" else 1.0
        width = radius * (grads.square() / (lam + squares)).sum(-1).sqrt()
        if key == "neurallog-ucb-2":
            expected = logits + 0.3 * width  # closed form, reported on the logit scale
        else:
            expected = torch.sigmoid(logits) + 0.3 * width
        selection = policy.select_with_scores(context)
        torch.testing.assert_close(selection.scores[0], expected, rtol=1e-4, atol=1e-5)
        a = selection.actions
        w = torch.sigmoid(logits[a[0]]) * (1 - torch.sigmoid(logits[a[0]])) if weighted else 1.0
        squares += w * grads[a[0]].square()
        policy.update(Feedback(context, a, torch.zeros(1)))
        if t % SMALL["train_every"] == 0:
            break


@pytest.mark.parametrize("inputs", [{}, {"input_transform": "none", "init": "pytorch"}], ids=["duplicated", "plain"])
@pytest.mark.parametrize("from_init", [False, True], ids=["warm", "from-init"])
@pytest.mark.parametrize("info", [DENSE, BLOCK], ids=["dense", "block"])
def test_network_fit_matches_autograd_gradient_descent(info: ProblemInfo, from_init: bool, inputs: dict) -> None:
    """The hand-backpropagated full-batch GD (on ``x`` alone for duplicated inputs ``(x, x)``) = GD by
    autograd on a plain copy of the network on the stored inputs."""
    policy = build_policy("neurallog-ucb-2", info, seed=2, lambda_schedule="fixed", width=6, n_steps=0,
                          train_every=1000, **inputs)
    play(policy, info, 9, seed=4)  # stores 9 samples without training
    model, n_steps, lr, c_reg, l2_reg = policy.model, 5, 0.05, 3.0, 0.7
    start = {n: v[0].detach().clone() for n, v in model.bank.stacked().items()}
    with torch.no_grad():  # move θ away from θ_0 so that the penalty matters
        for value in model.bank.stacked().values():
            value.add_(0.1)
    params = {n: v[0].detach().clone().requires_grad_(True) for n, v in model.bank.stacked().items()}
    if from_init:
        params = {n: v.clone().requires_grad_(True) for n, v in start.items()}
    n = model.buffer.n_samples
    features, targets = model.buffer.features[:n], model.buffer.targets[:n]
    if info.block_dim is not None:  # sample s reaches its block of W_1 only: zeros elsewhere
        width = features.shape[1]  # the block's inputs, duplicated
        features = torch.stack([torch.nn.functional.pad(x, (b * width, (info.n_arms - 1 - b) * width))
                                for x, b in zip(features, model.buffer.block_ids[:n].tolist())])
    strength = c_reg * l2_reg / (2 * n)
    for _ in range(n_steps):
        logits = (torch.relu(features @ params["first.weight"].T) * params["tail.1.weight"][0]).sum(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
        expected_loss = loss + strength * sum(((params[k] - start[k]) ** 2).sum() for k in params)
        grads = torch.autograd.grad(expected_loss, list(params.values()))
        with torch.no_grad():
            for value, grad in zip(params.values(), grads):
                value.sub_(lr * grad)
    last_loss = model.fit(l2_reg, n_steps=n_steps, lr=lr, c_reg=c_reg, from_init=from_init)
    for name, value in model.bank.stacked().items():
        torch.testing.assert_close(value[0], params[name].detach(), rtol=1e-5, atol=1e-6)
    assert last_loss == pytest.approx(float(expected_loss.detach()), rel=1e-5)


def test_lambda_t_is_monotone_and_logged() -> None:
    policy = build_policy("neurallog-ucb-1", DENSE, seed=2, **SMALL)
    play(policy, DENSE, 12, seed=3)
    diag = policy.diagnostics()
    assert len(diag["lambda_t"]) == 12 and list(diag["t"]) == list(range(1, 13))
    assert (diag["lambda_t"][1:] >= diag["lambda_t"][:-1]).all()
    assert diag["lambda_t"][0] >= math.log(40) - 1e-9
    assert (diag["effective_dim"] >= 0).all()


@pytest.mark.parametrize("info", [DENSE, BLOCK], ids=["dense", "block"])
def test_linear_bonuses_match_dense_computation(info: ProblemInfo) -> None:
    ucb1 = build_policy("logistic-ucb-1", info, seed=0, alpha=0.5, n_steps=5, train_every=2)
    ecolog = build_policy("ada-ofu-ecolog", info, seed=0, alpha=0.5, n_steps=5, train_every=2)
    d = info.dim
    v = d * torch.eye(d, dtype=torch.float64)
    vt = torch.eye(d, dtype=torch.float64)
    for t, context in enumerate(contexts(info, 6, 7), start=1):
        x = context.dense_arm_features()[0].double()  # (K, d)
        # Logistic-UCB-1
        theta = ucb1.model.theta.reshape(-1).double()
        lam = d if t == 1 else d * math.log(2 + t - 1)
        radius = logistic_ucb1_radius(float(ucb1.model.log_det_hessian), d, lam, kappa=ucb1.kappa,
                                      param_norm=1.0, delta=0.1)
        quad = torch.einsum("kp,pq,kq->k", x, torch.linalg.inv(v), x)
        expected = torch.sigmoid(x @ theta) + 0.5 * radius * quad.sqrt()
        selection = ucb1.select_with_scores(context)
        torch.testing.assert_close(selection.scores[0].double(), expected, rtol=1e-4, atol=1e-5)
        a = int(selection.actions)
        v += torch.outer(x[a], x[a])
        ucb1.update(Feedback(context, selection.actions, torch.ones(1)))
        # ada-OFU-ECOLog (μ̇-weighted Ṽ with θ at selection time)
        theta = ecolog.model.theta.reshape(-1).double()
        radius = ecolog_radius(t, 1.0, param_norm=1.0, delta=0.1)
        quad = torch.einsum("kp,pq,kq->k", x, torch.linalg.inv(vt), x)
        expected = torch.sigmoid(x @ theta) + 0.5 * radius * quad.sqrt()
        selection = ecolog.select_with_scores(context)
        torch.testing.assert_close(selection.scores[0].double(), expected, rtol=1e-4, atol=1e-5)
        a = int(selection.actions)
        mu = torch.sigmoid(x[a] @ theta)
        vt += mu * (1 - mu) * torch.outer(x[a], x[a])
        ecolog.update(Feedback(context, selection.actions, torch.zeros(1)))


def test_logistic_ucb1_reference_fit_is_the_newton_mle() -> None:
    policy = build_policy("logistic-ucb-1", DENSE, seed=0, fit="reference")
    _, records = play(policy, DENSE, 6, seed=4)
    x = torch.stack([r[0].arm_features[0, int(r[1].actions)] for r in records]).double()
    y = torch.cat([r[2] for r in records]).double()
    from neuralbandits.models.logistic import newton_logistic_mle
    theta, hessian = newton_logistic_mle(x, y, 4 * math.log(2 + 6), n_steps=60)
    torch.testing.assert_close(policy.model.theta[0].double(), theta, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("key", ["ncbf-ucb", "neurallog-ucb-1", "neurallog-ucb-2", "logistic-ucb-1", "ada-ofu-ecolog"])
def test_same_seed_same_choices(key: str) -> None:
    params = SMALL if "neural" in key or key == "ncbf-ucb" else {"n_steps": 3, "train_every": 4}
    first, _ = play(build_policy(key, BLOCK, seed=9, **params), BLOCK, 10, seed=1)
    second, _ = play(build_policy(key, BLOCK, seed=9, **params), BLOCK, 10, seed=1)
    assert first == second


@pytest.mark.parametrize(
    "key,params,error,message",
    [
        ("neurallog-ucb-2", {"delta": 0.0}, ValueError, "'delta' parameter of NeuralLogUCB2"),
        ("neurallog-ucb-1", {"lambda_schedule": "growing"}, ValueError, "'lambda_schedule' parameter"),
        ("ncbf-ucb", {"c_reg": "2"}, ValueError, "'c_reg' parameter of NCBFUCB"),
        ("ncbf-ucb", {"width": 7}, ValueError, "even width"),
        ("neurallog-ucb-2", {"optimism": "thompson"}, ValueError, "'optimism' parameter"),
        ("logistic-ucb-1", {"fit": "sgd"}, ValueError, "'fit' parameter of LogisticUCB1"),
        ("ada-ofu-ecolog", {"kappa": 0.5}, ValueError, "'kappa' parameter"),
    ],
)
def test_bad_hyperparameters(key: str, params: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        build_policy(key, DENSE, **params)
