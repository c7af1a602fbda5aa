"""``MCNB(mode="reference")`` against a slow transcription of the official code (``banyikun/MCNB``,
notes §1.3): one ``nn.Module`` per user, ``torch.optim`` optimisers re-created per call, autograd,
Python loops over users and arms — fed the same initial weights and the same random draws."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from neuralbandits.policies import build_policy, load_policy, save_policy
from neuralbandits.policies.meta import MCNB
from neuralbandits.policies.meta_reference import MCNBReference
from neuralbandits.types import BlockArms, Context, Feedback, ProblemInfo
from neuralbandits.validation import InvalidParameterError

torch.set_num_threads(1)
SMALL = dict(width=8, train_every=5, train_every_after=20, train_switch_at=40)


def module_of(bank, member: int) -> nn.Module:  # type: ignore[no-untyped-def]
    width, dim = bank.stacked()["first.weight"].shape[1:]
    net = nn.Sequential(nn.Linear(dim, width), nn.ReLU(), nn.Linear(width, 1))
    with torch.no_grad():
        stacked = bank.stacked()
        net[0].weight.copy_(stacked["first.weight"][member])
        net[0].bias.copy_(stacked["first.bias"][member])
        net[2].weight.copy_(stacked["tail.1.weight"][member])
        net[2].bias.copy_(stacked["tail.1.bias"][member])
    return net.double()


class OfficialMCNB:
    """The official ``MCNB`` class and driver, transcribed literally (float64)."""

    def __init__(self, policy: MCNBReference) -> None:
        n = policy.info.n_users
        self.n, self.gamma, self.nu = n, policy.gamma, policy.exploration
        self.users = [module_of(policy.users, u) for u in range(n)]
        self.meta = module_of(policy.meta, 0)
        self.count = [0] * n
        self.contexts: list[list[torch.Tensor]] = [[] for _ in range(n)]
        self.rewards: list[list[float]] = [[] for _ in range(n)]
        self.generator = torch.Generator()
        self.generator.set_state(policy.generator.get_state())
        self.policy = policy

    def fit(self, net: nn.Module, optimizer, data: list[tuple[torch.Tensor, float]], limit: int,  # type: ignore[no-untyped-def]
            reshuffle: bool) -> None:
        if not data:
            return
        order = torch.randperm(len(data), generator=self.generator).tolist()
        count = 0
        while True:
            epoch = 0.0
            for index in order:
                x, r = data[index]
                optimizer.zero_grad()
                loss = (net(x) - r).pow(2).sum()
                loss.backward()
                optimizer.step()
                epoch += loss.item()
                count += 1
                if count >= limit:
                    return
            if epoch / len(data) <= 1e-3:
                return
            if reshuffle:
                order = torch.randperm(len(data), generator=self.generator).tolist()

    def group(self, user: int, x: torch.Tensor) -> list[int]:
        with torch.no_grad():
            own = self.users[user](x).item()
            group = sorted({user} | {u for u in range(self.n) if abs(self.users[u](x).item() - own) < self.gamma})
        limit = int(self.n / 5)
        if len(group) > limit:
            picks = torch.randint(len(group), (limit,), generator=self.generator).tolist()
            group = sorted({group[i] for i in picks} | {user})
        return group

    def select(self, user: int, arms: torch.Tensor, t: int) -> tuple[int, list[float]]:
        self.count[user] += 1
        scores = []
        for x in arms:
            if t % 10 == 0:
                group = self.group(user, x)
                data = [(c, r) for u in group for c, r in zip(self.contexts[u], self.rewards[u])]
                self.fit(self.meta, torch.optim.SGD(self.meta.parameters(), lr=self.policy.adapt_lr), data,
                         100, reshuffle=True)
            self.meta.zero_grad()
            value = self.meta(x).sum()
            value.backward()
            gradient = torch.cat([p.grad.flatten() for p in self.meta.parameters()])
            scores.append(value.item() + math.sqrt(self.nu * gradient.square().sum().item())
                          + self.nu * math.sqrt(1 / self.count[user]))
        return int(torch.tensor(scores).argmax()), scores

    def update(self, user: int, x: torch.Tensor, reward: float, t: int) -> None:
        self.contexts[user].append(x)
        self.rewards[user].append(reward)
        if self.policy.schedule.is_training_round(t):
            net = self.users[user]
            data = list(zip(self.contexts[user], self.rewards[user]))
            self.fit(net, torch.optim.Adam(net.parameters(), lr=self.policy.user_lr), data, 500, reshuffle=False)
            everyone = [(c, r) for u in range(self.n) for c, r in zip(self.contexts[u], self.rewards[u])]
            self.fit(self.meta, torch.optim.Adam(self.meta.parameters(), lr=self.policy.meta_lr), everyone,
                     1000, reshuffle=True)


def stream(blocks: bool, rounds: int, seed: int = 1):  # type: ignore[no-untyped-def]
    """Rounds of a two-group problem: ``(context, rewards (K,))``; dense arms ``(1, 4, 5)`` or the
    block encoding of one 5-d context (arm ``a`` = block ``a``)."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(rounds):
        user = torch.randint(10, (1,), generator=generator)
        if blocks:
            x = torch.randn(1, 5, generator=generator)
            x = x / x.norm()
            best = (int(user) % 2 + int(x[0, 0] > 0)) % 4
            context = Context(BlockArms(x, 4), user_ids=user)
        else:
            x = torch.randn(1, 4, 5, generator=generator)
            x = x / x.norm(dim=-1, keepdim=True)
            best = int(x[0, :, int(user) % 2].argmax())
            context = Context(x, user_ids=user)
        rewards = torch.zeros(4)
        rewards[best] = 1.0
        yield context, rewards


def dense(context: Context) -> torch.Tensor:
    arms = context.arm_features
    if isinstance(arms, BlockArms):
        return torch.block_diag(*[arms.contexts[0]] * arms.n_arms)  # row a = e_a ⊗ x
    return arms[0]


@pytest.mark.parametrize("blocks", [False, True])
def test_reference_mode_matches_the_official_code_transcription(blocks: bool) -> None:
    info = ProblemInfo(n_arms=4, dim=20 if blocks else 5, n_users=10, block_dim=5 if blocks else None)
    policy = MCNB(info, seed=3, mode="reference", gamma=0.2, **SMALL)
    assert isinstance(policy, MCNBReference)
    slow = OfficialMCNB(policy)
    chosen = set()
    for t, (context, rewards) in enumerate(stream(blocks, 70)):
        user = int(context.user_ids[0])
        action, scores = slow.select(user, dense(context).double(), t)
        selection = policy.select_with_scores(context)
        torch.testing.assert_close(selection.scores[0].double(), torch.tensor(scores, dtype=torch.float64),
                                   atol=1e-4, rtol=1e-4)
        assert int(selection.actions[0]) == action
        policy.update(Feedback(context, selection.actions, rewards[selection.actions]))
        slow.update(user, dense(context)[action].double(), float(rewards[action]), t)
        chosen.add(action)
    assert len(chosen) > 1
    assert policy.mu.tolist() == slow.count
    for member, net in enumerate(slow.users):
        torch.testing.assert_close(module_of(policy.users, member)[0].weight, net[0].weight, atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(module_of(policy.meta, 0)[2].weight, slow.meta[2].weight, atol=1e-4, rtol=1e-3)


def test_reference_cluster_rule_and_cap() -> None:
    policy = MCNB(ProblemInfo(n_arms=2, dim=3, n_users=10), mode="reference", gamma=0.4, seed=0)
    predictions = torch.tensor([0.0, 0.1, 0.39, 0.4, 0.9, 1.0, -0.3, -0.41, 2.0, 0.2]).numpy()
    # |Δf| < γ strictly: users 0, 1, 2, 6, 9 (0.4 and −0.41 are out); 5 > ⌊10/5⌋ = 2 → 2 draws + u_t
    for _ in range(20):
        group = policy._cluster(predictions, 0)
        assert 0 in group and 1 <= len(group) <= 3 and set(group) <= {0, 1, 2, 6, 9}
    policy.cluster_cap = 1.0  # no cap: exactly the users within γ
    assert policy._cluster(predictions, 0) == [0, 1, 2, 6, 9]
    assert policy._cluster(predictions, 4) == [4, 5]
    assert policy._cluster(predictions, 3) == [1, 2, 3, 9]  # |0.4 − 0.0| = γ is out: the rule is strict


def test_reference_mode_state_round_trip_and_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    info = ProblemInfo(n_arms=4, dim=5, n_users=10)
    policy = build_policy("mcnb", info, seed=2, mode="reference", **SMALL)
    rounds = list(stream(False, 40))
    for context, rewards in rounds[:25]:
        action = policy.select(context)
        policy.update(Feedback(context, action, rewards[action]))
    save_policy(policy, tmp_path / "ref.pt")
    restored = load_policy(tmp_path / "ref.pt")
    assert isinstance(restored, MCNBReference) and restored.params() == policy.params()
    for context, rewards in rounds[25:]:
        a, b = policy.select(context), restored.select(context)
        assert torch.equal(a, b)
        policy.update(Feedback(context, a, rewards[a]))
        restored.update(Feedback(context, b, rewards[b]))
    with pytest.raises(InvalidParameterError, match="2-layer"):
        MCNB(info, mode="reference", depth=3)
    with pytest.raises(InvalidParameterError, match="no warm start"):
        policy.warm_start(Feedback(*rounds[0][:1], torch.zeros(1, dtype=torch.int64), torch.zeros(1)))
