"""Benchmarks (not tests): policy throughput and the ``LearnerBank``-vs-loop speed ratio.

Timings on shared machines are noisy, so each number is a median over repeats and the bank is
compared with a reference (a Python loop over separate ``nn.Module``s) measured in the same run.
"""

from __future__ import annotations

import copy
import inspect
import statistics
import time
from pathlib import Path

import torch
from torch import Tensor

from neuralbandits.models.bank import LearnerBank, SampleInputs, members_as_modules
from neuralbandits.models.networks import NetworkConfig

BENCH_POLICIES = ("random", "linucb", "lints", "neuucb-one", "neuucb-ind", "neuralts")


def policy_throughput(*, env: str = "classification:shuttle", rounds: int = 2000,
                      data_dir: Path | None = None, policies: tuple[str, ...] = BENCH_POLICIES,
                      repeats: int = 1, policy_only: bool = False) -> dict[str, float]:
    """Rounds per second per policy, median of ``repeats``: of the whole loop (select + environment
    step + update), or with ``policy_only`` of the policy's own select + update."""
    from neuralbandits.envs.registry import build_env
    from neuralbandits.experiments.runner import run_policy
    from neuralbandits.policies import build_policy

    environment = build_env(env, data_dir=data_dir)
    result = {}
    for key in policies:
        runs = [run_policy(environment, build_policy(key, environment.info, seed=0), rounds, env_seed=0)
                for _ in range(repeats)]
        rates = [rounds / (run.policy_s if policy_only else run.seconds) for run in runs]
        result[key] = statistics.median(rates)
    return result


def _median_seconds(action, repeats: int) -> float:  # type: ignore[no-untyped-def]
    action()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bank_vs_loop(*, sizes: tuple[int, ...] = (50, 1000), dim: int = 10, n_arms: int = 10,
                 width: int = 100, repeats: int = 5, threads: tuple[int, ...] = (1,)) -> list[dict[str, float]]:
    """Forward + backward of ``M`` networks on ``n_arms`` inputs each: one bank call vs a loop, both
    measured with each thread count in ``threads`` (restored afterwards)."""
    rows = []
    network = NetworkConfig(width=width)
    before = torch.get_num_threads()
    for n, count in [(n, c) for n in sizes for c in threads]:
        torch.set_num_threads(count)
        bank = LearnerBank(dim, n, network=network, identical=False, seed=0)
        modules = members_as_modules(bank, network)
        inputs = torch.randn(n, n_arms, dim)

        def bank_step() -> None:
            bank.zero_grad(set_to_none=True)
            bank.predict(None, SampleInputs(inputs)).sum().backward()

        def loop_step() -> None:
            for index, module in enumerate(modules):
                module.zero_grad(set_to_none=True)
                module(inputs[index]).sum().backward()

        bank_s, loop_s = _median_seconds(bank_step, repeats), _median_seconds(loop_step, repeats)
        rows.append({"n_networks": n, "threads": count, "bank_ms": 1e3 * bank_s, "loop_ms": 1e3 * loop_s,
                     "speedup": loop_s / bank_s})
    torch.set_num_threads(before)
    return rows


def read_bandwidth_gbs(size_mb: int = 256, repeats: int = 5) -> float:
    """Measured memory read bandwidth (GB/s): the median time to sum a ``size_mb`` float32 tensor."""
    values = torch.ones(size_mb * 1024 * 1024 // 4)
    seconds = _median_seconds(lambda: values.sum(), repeats)
    return values.numel() * 4 / seconds / 1e9


def mcnb_breakdown(n_users: int, *, rounds: int = 50, warmup: int = 30, dim: int = 10, n_arms: int = 10,
                   width: int = 100, seed: int = 0, n_jobs: int = 1) -> dict[str, float]:
    """Paper 000 Table 1 for one ``n``: median seconds per round of each M-CNB component, with the
    user bank's chunks shared among ``n_jobs`` threads.

    ``clustering_s`` (line 7, one forward of the whole user bank), ``meta_adaptation_s`` (Alg. 2 for
    every arm), ``user_training_s`` (one training of the grown user-learners, amortised over the
    paper's schedule: one training every 10 rounds in the first 1000), ``meta_replay_s`` (the replay
    of one round's line-13 meta step at the next training), ``round_s`` (select + step + update
    without training, plus the replay and the amortised training) and ``round_after_switch_s`` (the same
    with the schedule's later period, one training every 100 rounds).  The environment gives every
    user the same initialisation and data, so every cluster is every user and all ``n`` learners
    train: the faithful worst case.  ``user_training_served_s`` and ``round_served_s`` are the same
    when only the users served in the period grew (``append_to="served"``, the official code).  Also the memory floor of
    clustering: the bytes of user-learner parameters read per round over the measured read bandwidth.
    """
    from neuralbandits.envs.synthetic import ClusteredEnv
    from neuralbandits.policies import build_policy
    from neuralbandits.policies.meta import MCNB
    from neuralbandits.types import Feedback

    env = ClusteredEnv(n_users=n_users, n_clusters=5, n_arms=n_arms, dim=dim)
    policy = build_policy("mcnb", env.info, seed=seed, width=width, train_every=10**9,
                          train_switch_at=10**9, train_every_after=10**9, n_jobs=n_jobs)
    defaults = inspect.signature(MCNB.__init__).parameters  # the paper's schedule: every 10, then 100
    period, period_after = defaults["train_every"].default, defaults["train_every_after"].default
    context = env.reset(seed=seed)
    clustering, adaptation, rounds_s = [], [], []
    for step in range(warmup + rounds):
        start = time.perf_counter()
        clusters = policy.clusters(context)
        middle = time.perf_counter()
        policy.adapt(clusters[0], policy.adaptation_samples(n_arms))
        end = time.perf_counter()
        round_start = time.perf_counter()
        actions = policy.select(context)
        outcome = env.step(actions)
        policy.update(Feedback(context, actions, outcome.rewards))
        round_end = time.perf_counter()
        context = outcome.next_context
        if step >= warmup:
            clustering.append(middle - start)
            adaptation.append(end - middle)
            rounds_s.append(round_end - round_start)
        if step == warmup + rounds - period - 1:  # (untimed) the last period's line-13 steps stay queued
            policy.train()
    served = torch.randperm(n_users, generator=torch.Generator().manual_seed(seed))[:period]

    def train(users: Tensor, *, replay: bool = False) -> float:
        """Seconds of one training from the state after the last round, on a copy (every repeat starts
        from the same state): the learners of ``users``, or the queued meta steps with ``replay``."""
        trial = copy.deepcopy(policy)
        trial.pending.zero_()
        trial.pending[users] = True
        if not replay:
            trial.meta_steps.zero_()
        start = time.perf_counter()
        trial.train()
        return time.perf_counter() - start

    # the faithful worst case: every user with data grew (here every cluster is every user)
    training = statistics.median(train(policy.mu.nonzero().squeeze(1)) for _ in range(3))
    # the official code's case (append_to="served"): only the users served in the period grew
    training_served = statistics.median(train(served) for _ in range(3))
    # line 13 queues one meta step a round, replayed once at the next training round
    queued = int(policy.meta_steps[0])
    replay = statistics.median(train(served[:0], replay=True) for _ in range(3)) / max(queued, 1)
    bytes_read = n_users * policy.users.n_params * 4
    bandwidth = read_bandwidth_gbs()
    return {
        "n_users": n_users,
        "clustering_s": statistics.median(clustering),
        "meta_adaptation_s": statistics.median(adaptation),
        "user_training_s": training / period,
        "user_training_call_s": training,
        "meta_replay_s": replay,
        "round_s": statistics.median(rounds_s) + replay + training / period,
        "round_after_switch_s": statistics.median(rounds_s) + replay + training / period_after,
        "user_training_served_s": training_served / period,
        "round_served_s": statistics.median(rounds_s) + replay + training_served / period,
        "clustering_floor_s": bytes_read / (bandwidth * 1e9),
        "read_bandwidth_gbs": bandwidth,
    }


def seeds_batched_speedup(*, env: str = "classification:letter", key: str = "neuucb-ind", n_seeds: int = 8,
                          rounds: int = 300, repeats: int = 3, params: dict | None = None) -> dict[str, float]:
    """Seconds to run ``n_seeds`` seeds one after the other vs as one batch
    (:mod:`~neuralbandits.experiments.parallel_seeds`), medians of ``repeats`` taken in the same run,
    and the mean final regret of both (equal in distribution, not run by run)."""
    from neuralbandits.envs.registry import build_env
    from neuralbandits.experiments.parallel_seeds import run_seeds_batched
    from neuralbandits.experiments.runner import run_policy, run_seeds
    from neuralbandits.policies import build_policy

    environment = build_env(env, users="label") if env.startswith("classification:") else build_env(env)
    seeds = list(range(n_seeds))
    sequential_regret: list[float] = []
    batched_regret: list[float] = []

    def sequential() -> None:
        sequential_regret.clear()
        for seed in seeds:
            env_seed, policy_seed = run_seeds(seed)
            policy = build_policy(key, environment.info, seed=policy_seed, **(params or {}))
            sequential_regret.append(float(run_policy(environment, policy, rounds, env_seed=env_seed).regrets.sum()))

    def batched() -> None:
        batched_regret[:] = [float(r.regrets.sum()) for r in
                             run_seeds_batched(environment, key, seeds, rounds, params=params)]

    sequential_s, batched_s = _median_seconds(sequential, repeats), _median_seconds(batched, repeats)
    return {"env": env, "policy": key, "seeds": n_seeds, "rounds": rounds, "sequential_s": sequential_s,
            "batched_s": batched_s, "speedup": sequential_s / batched_s,
            "sequential_mean_regret": statistics.fmean(sequential_regret),
            "batched_mean_regret": statistics.fmean(batched_regret)}
