"""Execution backends: the same jobs on a local process pool or a Ray cluster.

A backend's ``run(jobs)`` yields ``(spec, result)`` as runs finish, where ``result`` is a
:class:`~neuralbandits.experiments.runner.RunResult` or, for a failed run, the error text; a failed
run never stops the others.
"""

from __future__ import annotations

import traceback
from functools import lru_cache
from typing import Iterator, Protocol

from neuralbandits.experiments.runner import RunResult, run_seeds
from neuralbandits.experiments.sweep import RunSpec, canonical_json

Outcome = RunResult | str


class Backend(Protocol):
    def run(self, jobs: list[RunSpec]) -> Iterator[tuple[RunSpec, Outcome]]: ...


@lru_cache(maxsize=4)
def _environment(spec: str, params_json: str):  # type: ignore[no-untyped-def]
    import json

    from neuralbandits.envs.registry import build_env

    return build_env(spec, **json.loads(params_json))


def execute(job: RunSpec) -> Outcome:
    """Run one job in this process; exceptions become their last traceback line (picklable)."""
    try:
        import torch

        from neuralbandits.allocator import keep_freed_memory
        from neuralbandits.experiments.runner import run_policy
        from neuralbandits.policies import build_policy

        torch.set_num_threads(1)
        keep_freed_memory()  # (once per worker process)
        env = _environment(job.env, canonical_json(dict(job.env_params)))
        env_seed, policy_seed = run_seeds(job.seed)
        policy = build_policy(job.policy, env.info, seed=policy_seed, **dict(job.params))
        return run_policy(env, policy, job.rounds, env_seed=env_seed, label=job.name, seed=job.seed)
    except Exception:  # noqa: BLE001 - reported in the store, never raised across the pool
        return traceback.format_exc().strip().splitlines()[-1]
