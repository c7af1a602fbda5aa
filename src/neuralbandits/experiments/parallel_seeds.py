"""Several seeds as one batched computation (for policies whose state is per user).

``S`` seeds of an environment with ``n`` users become one policy over ``S·n`` users: stream ``s``'s
user ``u`` is user ``s·n + u``, and every round stacks the ``S`` streams' contexts into one batch of
``S`` rows, so a learner bank evaluates and trains the networks of all seeds together.  This is
exact for policies that keep nothing shared between users and treat the rows of a batch
independently (class attribute ``seed_batchable``): each stream sees the same contexts and rewards
as its own run (every environment copy is reset with that seed's environment seed) and starts from
the initial state of its own run (:func:`start_from_separate_runs`).  What differs from separate
runs is the policy's random generator, which the streams share, so per-seed curves are
statistically equivalent to the separate runs rather than identical — until a policy first draws
(e.g. its first training), they are identical.

The results carry no policy diagnostics (:meth:`PolicyBase.diagnostics`, ``RunResult.diagnostics``
stays empty): the one batched policy's diagnostics describe the state of all ``S`` seeds together
(e.g. one λ_t over ``S·n`` users), so they are no single seed's, and none of the seed-batchable
policies exposes any.  Runs that need them go through the runner, one seed at a time.
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace

import numpy as np
import torch

from neuralbandits.envs.base import BanditEnv
from neuralbandits.experiments.host import host_info
from neuralbandits.experiments.runner import Progress, RunResult, run_seeds
from neuralbandits.policies.base import POLICIES, PolicyBase, build_policy
from neuralbandits.types import BlockArms, Context, Feedback
from neuralbandits.validation import InvalidParameterError


def stack_contexts(contexts: list[Context], n_users: int) -> Context:
    """One batch from single-row contexts of ``S`` streams; stream ``s``'s users are shifted by ``s·n``."""
    first = contexts[0].arm_features
    if isinstance(first, BlockArms):
        arms = BlockArms(torch.cat([c.arm_features.contexts for c in contexts]), first.n_arms)  # type: ignore[union-attr]
    else:
        arms = torch.cat([c.arm_features for c in contexts])  # type: ignore[misc]
    users = torch.cat([
        (c.user_ids if c.user_ids is not None else torch.zeros(c.batch_size, dtype=torch.int64)) + s * n_users
        for s, c in enumerate(contexts)
    ])
    def joined(name: str) -> torch.Tensor | None:
        values = [getattr(c, name) for c in contexts]
        return None if values[0] is None else torch.cat(values)
    return Context(arms, user_ids=users, user_features=joined("user_features"), arm_mask=joined("arm_mask"))


def start_from_separate_runs(batched: PolicyBase, separate: list[PolicyBase]) -> None:
    """Give stream ``s`` of ``batched`` the initial state of ``separate[s]`` (built with seed ``s``'s
    policy seed): every per-user tensor (first dimension ``n`` there, ``S·n`` here) is the
    concatenation of the separate policies' tensors, so each stream starts exactly where its own run
    would."""
    n_users = separate[0].info.n_users
    state = batched.get_state()
    parts = [p.get_state() for p in separate]
    for name, value in state.items():
        if name == "__generator__" or value.is_meta or value.ndim == 0:
            continue
        if value.shape[0] == n_users * len(separate) and parts[0][name].shape[0] == n_users:
            state[name] = torch.cat([part[name] for part in parts])
    batched.set_state(state)


def check_batchable(key: str) -> None:
    cls = POLICIES.get(key)
    if not getattr(cls, "seed_batchable", False):
        batchable = sorted(k for k in POLICIES if getattr(POLICIES.get(k), "seed_batchable", False))
        raise InvalidParameterError(
            f"Policy {key!r} shares state between users, so its seeds cannot run as one batch; "
            f"policies that can: {', '.join(batchable)}."
        )


def run_seeds_batched(
    env: BanditEnv, key: str, seeds: list[int], rounds: int, *, params: dict | None = None,
    label: str | None = None, progress: Progress | None = None,
) -> list[RunResult]:
    """Play ``rounds`` rounds of every seed at once; one :class:`RunResult` per seed.

    The policy's generator is seeded from the first seed.  ``elapsed_s`` and ``policy_s`` of each
    result are the batched run's times divided by ``S`` (the cost per seed); ``diagnostics`` is empty
    (see the module docstring).
    """
    check_batchable(key)
    if env.info.slate_size is not None:
        raise InvalidParameterError("Seeds in one batch need a single-arm environment (no slates).")
    n_streams, n_users = len(seeds), env.info.n_users
    envs = [copy.copy(env) for _ in seeds]  # shallow: the data are shared, every stream state is reset
    contexts = [e.reset(seed=run_seeds(seed)[0]) for e, seed in zip(envs, seeds)]
    info = replace(env.info, n_users=n_streams * n_users)
    policy: PolicyBase = build_policy(key, info, seed=run_seeds(seeds[0])[1], **(params or {}))
    start_from_separate_runs(policy, [build_policy(key, env.info, seed=run_seeds(seed)[1], **(params or {}))
                                      for seed in seeds])
    policy.streams = n_streams
    actions, rewards, regrets = (np.zeros((rounds, n_streams)) for _ in range(3))
    elapsed = np.zeros(rounds)
    policy_s, start = 0.0, time.perf_counter()
    for t in range(rounds):
        context = stack_contexts(contexts, n_users)
        tick = time.perf_counter()
        chosen = policy.select(context)
        policy_s += time.perf_counter() - tick
        outcomes = [e.step(chosen[s : s + 1]) for s, e in enumerate(envs)]
        played = torch.cat([o.rewards for o in outcomes])
        tick = time.perf_counter()
        policy.update(Feedback(context, chosen, played))
        policy_s += time.perf_counter() - tick
        actions[t], rewards[t] = chosen.numpy(), played.numpy()
        regrets[t] = torch.cat([o.regret for o in outcomes]).numpy()
        contexts = [o.next_context for o in outcomes]
        elapsed[t] = time.perf_counter() - start
        if progress is not None:
            progress(1)
    return [
        RunResult(label or key, seed, actions[:, s].astype(np.int64), rewards[:, s], regrets[:, s],
                  elapsed / n_streams, {}, policy_s / n_streams, host=host_info())
        for s, seed in enumerate(seeds)
    ]
