"""Benchmarks (not tests): policy throughput and the ``LearnerBank``-vs-loop speed ratio.

Timings on shared machines are noisy, so each number is a median over repeats and the bank is
compared with a reference (a Python loop over separate ``nn.Module``s) measured in the same run.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from neuralbandits.models.bank import LearnerBank, SampleInputs, members_as_modules
from neuralbandits.models.networks import NetworkConfig

BENCH_POLICIES = ("random", "linucb", "lints", "neuucb-one", "neuucb-ind", "neuralts")


def policy_throughput(*, env: str = "classification:shuttle", rounds: int = 2000,
                      data_dir: Path | None = None, policies: tuple[str, ...] = BENCH_POLICIES,
                      repeats: int = 1) -> dict[str, float]:
    """Rounds per second of the whole loop (select + step + update) per policy; median of ``repeats``."""
    from neuralbandits.envs.registry import build_env
    from neuralbandits.experiments.runner import run_policy
    from neuralbandits.policies import build_policy

    environment = build_env(env, data_dir=data_dir)
    result = {}
    for key in policies:
        rates = [
            rounds / run_policy(environment, build_policy(key, environment.info, seed=0), rounds,
                                env_seed=0).seconds
            for _ in range(repeats)
        ]
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
                 width: int = 100, repeats: int = 5) -> list[dict[str, float]]:
    """Forward + backward of ``M`` networks on ``n_arms`` inputs each: one bank call vs a loop."""
    rows = []
    network = NetworkConfig(width=width)
    for n in sizes:
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
        rows.append({"n_networks": n, "bank_ms": 1e3 * bank_s, "loop_ms": 1e3 * loop_s,
                     "speedup": loop_s / bank_s})
    return rows
