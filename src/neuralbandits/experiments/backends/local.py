"""Local execution: in this process (``workers=1``) or a process pool."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Iterator

from neuralbandits.experiments.backends import Outcome, execute
from neuralbandits.experiments.sweep import RunSpec


class LocalBackend:
    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1; got {workers}.")
        self.workers = workers

    def run(self, jobs: list[RunSpec]) -> Iterator[tuple[RunSpec, Outcome]]:
        if self.workers == 1:
            for job in jobs:
                yield job, execute(job)
            return
        # spawn: forked children would inherit PyTorch's thread pools in an undefined state
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=context) as pool:
            futures = {pool.submit(execute, job): job for job in jobs}
            for future in as_completed(futures):
                yield futures[future], future.result()
