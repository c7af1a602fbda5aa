"""The runner: plays a policy against an environment for ``T`` rounds and records every round.

Each run seed derives two independent child seeds (``SeedSequence.spawn``): one for the
environment stream, one for the policy, so every policy of a seed faces the same contexts and the
same seed gives the same curve.  At the end of a run the policy's own per-round diagnostics
(:meth:`PolicyBase.diagnostics`) are aligned with the rounds (:func:`policy_diagnostics`).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
from torch import Tensor

from neuralbandits.envs.base import BanditEnv
from neuralbandits.experiments.host import host_info
from neuralbandits.experiments.spec import ExperimentSpec, PolicySpec
from neuralbandits.policies.base import PolicyBase, build_policy
from neuralbandits.rng import spawn_seeds
from neuralbandits.types import Feedback

Progress = Callable[[int], None]


@dataclass(frozen=True)
class RunResult:
    """Per-round records of one (policy, seed) run; arrays have length ``T``."""

    policy: str
    seed: int
    actions: np.ndarray
    rewards: np.ndarray
    regrets: np.ndarray
    elapsed_s: np.ndarray  # wall-clock seconds since the start of the run, after each round
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # Outcome.extras, per round
    policy_s: float = 0.0  # seconds spent inside the policy's select and update (no environment)
    #: the policy's diagnostics per round (:func:`policy_diagnostics`); written as ``policy_<name>``
    diagnostics: dict[str, np.ndarray] = field(default_factory=dict)
    #: where the run was computed (:func:`~neuralbandits.experiments.host.host_info`): results can
    #: round differently on another CPU
    host: dict[str, str] = field(default_factory=dict)

    @property
    def cumulative_regret(self) -> np.ndarray:
        return np.cumsum(self.regrets)

    @property
    def seconds(self) -> float:
        return float(self.elapsed_s[-1]) if len(self.elapsed_s) else 0.0


def run_seeds(seed: int) -> tuple[int, int]:
    """``(environment seed, policy seed)`` of a run seed."""
    env_seed, policy_seed = spawn_seeds(seed, 2)
    return env_seed, policy_seed


def policy_diagnostics(policy: PolicyBase, learned: np.ndarray) -> dict[str, np.ndarray]:
    """The policy's :meth:`~PolicyBase.diagnostics` as series over the run's rounds.

    ``learned[t]`` is the number of feedback rows the policy had learned by the end of round ``t``
    (0-based); round ``t`` gets the value after its last update, so with delayed feedback a value holds
    until the next update, and rounds before any update are NaN.  A policy that learned before
    the run (a loaded one) has longer series; their last ``learned[-1]`` entries belong to this run.
    """
    learned = np.asarray(learned, dtype=np.int64)
    n_run = int(learned[-1]) if len(learned) else 0
    series = {}
    for name, values in policy.diagnostics().items():
        if name == "t":  # the row numbers themselves; the records have their own t
            continue
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or len(values) < n_run:
            raise ValueError(
                f"{type(policy).__name__}.diagnostics()[{name!r}] must hold one value per feedback row "
                f"learned ({n_run} in this run); got shape {values.shape}."
            )
        index = learned + (len(values) - n_run) - 1  # entry of the last row learned by round t
        column = np.full(len(learned), np.nan)
        known = index >= 0
        column[known] = values[index[known]]
        series[name] = column
    return series


def run_policy(
    env: BanditEnv,
    policy: PolicyBase,
    rounds: int,
    *,
    env_seed: int,
    label: str | None = None,
    seed: int = 0,
    delay: int = 0,
    progress: Progress | None = None,
) -> RunResult:
    """Play ``rounds`` rounds; feedback reaches the policy ``delay`` rounds after its choice.

    ``progress`` is called with the number of rounds completed since its previous call.
    """
    # Per-round tensors are only collected here and converted once at the end: a conversion per
    # round would cost more than a LinUCB step.
    chosen_log: list[Tensor] = []
    reward_log: list[Tensor] = []
    expected_log: list[Tensor] = []
    best_log: list[Tensor] = []
    extras_log: dict[str, list[Tensor]] = {}
    elapsed = np.zeros(rounds)
    learned = np.zeros(rounds, dtype=np.int64)  # feedback rows the policy has learned, after each round
    n_learned = 0
    pending: deque[Feedback] = deque()
    context = env.reset(seed=env_seed)
    start = time.perf_counter()
    step_report = max(1, rounds // 100)
    policy_s = 0.0
    clock = time.perf_counter
    for t in range(rounds):
        tick = clock()
        chosen = policy.select(context)
        policy_s += clock() - tick
        outcome = env.step(chosen)
        pending.append(Feedback(context=context, actions=chosen, rewards=outcome.rewards))
        if len(pending) > delay:
            feedback = pending.popleft()
            tick = clock()
            policy.update(feedback)
            policy_s += clock() - tick
            n_learned += feedback.actions.shape[0]
        learned[t] = n_learned
        chosen_log.append(chosen)  # whole (B, …) tensors: indexing row 0 here would cost an op
        reward_log.append(outcome.rewards)
        expected_log.append(outcome.expected_rewards)
        best_log.append(outcome.best_expected_rewards)
        for name, value in outcome.extras.items():
            extras_log.setdefault(name, []).append(value)
        elapsed[t] = time.perf_counter() - start
        context = outcome.next_context
        if progress is not None and (t + 1) % step_report == 0:
            progress(step_report)
    if progress is not None and rounds % step_report:
        progress(rounds % step_report)
    # a round's record sums the rows of its batch: one row for single-arm environments, the M users
    # of the round for combinatorial ones (envs/combinatorial.py); the action column is row 0's
    regrets = (torch.stack(best_log) - torch.stack(expected_log)).double().sum(1).numpy()
    rewards = torch.stack(reward_log).double().reshape(rounds, -1).sum(1).numpy()
    extras = {name: torch.stack(values).double().sum(1).numpy() for name, values in extras_log.items()}
    actions = torch.stack(chosen_log)[:, 0].numpy()
    return RunResult(label or policy.key, seed, actions, rewards, regrets, elapsed, extras, policy_s,
                     policy_diagnostics(policy, learned), host_info())


def iter_runs(
    spec: ExperimentSpec, env: BanditEnv, *, progress: Progress | None = None
) -> Iterator[RunResult]:
    """Every (policy, seed) run of ``spec`` on ``env``, policies in order, then seeds."""
    for policy_spec in spec.policies:
        for seed in spec.seeds:
            yield run_one(spec, policy_spec, seed, env, progress=progress)


def run_one(
    spec: ExperimentSpec, policy_spec: PolicySpec, seed: int, env: BanditEnv,
    *, progress: Progress | None = None,
) -> RunResult:
    env_seed, policy_seed = run_seeds(seed)
    policy = build_policy(policy_spec.key, env.info, seed=policy_seed, **policy_spec.params)
    with torch.inference_mode(False):
        return run_policy(
            env, policy, spec.rounds, env_seed=env_seed, label=policy_spec.label, seed=seed,
            delay=spec.delay, progress=progress,
        )
