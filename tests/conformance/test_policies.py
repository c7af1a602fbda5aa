"""Contract tests generated for every registered policy (style guide §5)."""

from __future__ import annotations

import copy

import pytest
import torch

from neuralbandits.policies import POLICIES, build_policy, load_policy, save_policy
from neuralbandits.types import BlockArms, Context, Feedback, ProblemInfo

PROBLEMS = {
    "dense": ProblemInfo(n_arms=4, dim=3, n_users=3),
    "block": ProblemInfo(n_arms=4, dim=4 * 3, n_users=3, block_dim=3),
    "users": ProblemInfo(n_arms=4, dim=3, n_users=3, user_dim=2),
}
SLATE = {k for k in POLICIES if getattr(POLICIES.get(k), "slate_policy", False)}
SINGLE_ARM = [k for k in POLICIES if k not in SLATE]


def problems_for(key: str) -> list[str]:
    """Every problem the policy supports: with user features only for those that need them."""
    if "user_features" in POLICIES.get(key).requires:  # type: ignore[attr-defined]
        return ["users"]
    return ["dense", "block"]


CASES = [(key, problem) for key in SINGLE_ARM for problem in problems_for(key)]


def make_context(info: ProblemInfo, batch: int, generator: torch.Generator, mask: bool = False) -> Context:
    if info.block_dim is not None:
        arms = BlockArms(torch.randn(batch, info.block_dim, generator=generator), info.n_arms)
    else:
        arms = torch.randn(batch, info.n_arms, info.dim, generator=generator)
    arm_mask = None
    if mask:
        arm_mask = torch.rand(batch, info.n_arms, generator=generator) > 0.5
        arm_mask[:, 0] = True
    users = torch.randint(info.n_users, (batch,), generator=generator)
    user_features = torch.randn(batch, info.user_dim, generator=generator) if info.user_dim else None
    return Context(arm_features=arms, user_ids=users, user_features=user_features, arm_mask=arm_mask)


def build(key: str, info: ProblemInfo, seed: int = 0):  # type: ignore[no-untyped-def]
    return build_policy(key, info, seed=seed, **POLICIES.get(key).test_params)


def play(policy, info: ProblemInfo, rounds: int, seed: int, batch: int = 1) -> list[list[int]]:  # type: ignore[no-untyped-def]
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for _ in range(rounds):
        context = make_context(info, batch, generator)
        actions = policy.select(context)
        rewards = torch.rand(batch, generator=generator)
        policy.update(Feedback(context, actions, rewards))
        chosen.append(actions.tolist())
    return chosen


@pytest.mark.parametrize("key,problem", CASES)
class TestPolicyContract:
    def test_valid_actions_shape_dtype_and_mask(self, key: str, problem: str) -> None:
        info = PROBLEMS[problem]
        policy = build(key, info)
        generator = torch.Generator().manual_seed(1)
        for _ in range(6):
            context = make_context(info, 5, generator, mask=True)
            selection = policy.select_with_scores(context)
            assert selection.actions.shape == (5,) and selection.actions.dtype == torch.int64
            assert selection.scores.shape == (5, info.n_arms)
            assert bool(context.arm_mask.gather(1, selection.actions[:, None]).all())
            if selection.probabilities is not None:
                assert bool(((selection.probabilities > 0) & (selection.probabilities <= 1)).all())
            policy.update(Feedback(context, selection.actions, torch.rand(5, generator=generator)))

    def test_inputs_are_not_mutated(self, key: str, problem: str) -> None:
        info = PROBLEMS[problem]
        policy = build(key, info)
        context = make_context(info, 3, torch.Generator().manual_seed(2))
        before = context.dense_arm_features().clone()
        actions = policy.select(context)
        rewards = torch.ones(3)
        policy.update(Feedback(context, actions, rewards))
        assert torch.equal(context.dense_arm_features(), before) and torch.equal(rewards, torch.ones(3))

    def test_same_seed_same_trajectory(self, key: str, problem: str) -> None:
        info = PROBLEMS[problem]
        first = play(build(key, info, seed=3), info, 12, seed=4)
        second = play(build(key, info, seed=3), info, 12, seed=4)
        assert first == second

    def test_state_round_trip_gives_identical_next_choices(self, key: str, problem: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
        info = PROBLEMS[problem]
        policy = build(key, info, seed=5)
        play(policy, info, 7, seed=6)
        save_policy(policy, tmp_path / "policy.pt")
        restored = load_policy(tmp_path / "policy.pt")
        assert play(restored, info, 9, seed=7) == play(policy, info, 9, seed=7)

    def test_a_deep_copy_continues_exactly_and_independently(self, key: str, problem: str) -> None:
        """A copy mid-stream (to fork a policy, or to time one step from a fixed state) makes the
        original's next choices, and playing it leaves the original untouched."""
        info = PROBLEMS[problem]
        policy = build(key, info, seed=5)
        play(policy, info, 7, seed=6)
        twin = copy.deepcopy(policy)
        twin_choices = play(twin, info, 9, seed=7)
        assert play(policy, info, 9, seed=7) == twin_choices

    def test_clone_repr_and_docstring(self, key: str, problem: str) -> None:
        policy = build(key, PROBLEMS[problem])
        clone = policy.clone()
        assert type(clone) is type(policy) and clone.params() == policy.params()
        assert repr(policy).startswith(type(policy).__name__ + "(")
        assert (type(policy).__doc__ or "").strip(), "every policy documents its rule"

    def test_wrong_context_is_rejected(self, key: str, problem: str) -> None:
        info = PROBLEMS[problem]
        policy = build(key, info)
        wrong = Context(arm_features=torch.randn(1, info.n_arms + 1, 2), user_features=torch.randn(1, 2))
        with pytest.raises(ValueError, match="arms of dimension"):
            policy.select(wrong)


@pytest.mark.parametrize("key", [k for k in SINGLE_ARM if k not in ("random", "lints", "neuralts")])
def test_batched_scores_equal_one_round_at_a_time(key: str) -> None:
    info = PROBLEMS[problems_for(key)[-1]]
    policy = build(key, info)
    play(policy, info, 5, seed=8)
    context = make_context(info, 4, torch.Generator().manual_seed(9))
    batched = policy.select_with_scores(context).scores
    single = torch.cat([policy.select_with_scores(context.index(slice(i, i + 1))).scores for i in range(4)])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "key,params,message",
    [
        ("linucb", {"alpha": -1.0}, r"'alpha' parameter of LinUCB must be a float in \[0, inf\); got -1.0"),
        ("linucb", {"l2_reg": 0.0}, "'l2_reg' parameter of LinUCB"),
        ("neuucb-one", {"width": 0}, "'width' parameter of NeuUCBOne"),
        ("neuucb-ind", {"design": "dense"}, "'design' parameter of NeuUCBInd must be one of"),
        ("linucb", {"alhpa": 1.0}, "LinUCB has no parameter 'alhpa'"),
    ],
)
def test_bad_hyperparameters_are_rejected(key: str, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_policy(key, PROBLEMS["dense"], **params)


def test_unknown_policy_suggests_the_closest_key() -> None:
    with pytest.raises(KeyError, match="Did you mean 'linucb'"):
        build_policy("linucbb", PROBLEMS["dense"])
