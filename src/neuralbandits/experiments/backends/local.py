"""Local execution: in this process (``workers=1``) or a process pool."""

from __future__ import annotations

import multiprocessing
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Generator, Iterator

from neuralbandits.experiments.backends import Outcome, execute
from neuralbandits.experiments.sweep import RunSpec

WORKER_DIED = "worker process died while running this job (killed, e.g. out of memory, or crashed)"


class LocalBackend:
    """``workers`` processes, each running one job at a time with ``runner`` (default
    :func:`~neuralbandits.experiments.backends.execute`, which must be importable by name: the
    processes are spawned).

    A process that dies (killed for memory, a crash in native code) takes the whole pool with it.
    Only ``workers`` jobs are ever in flight, so only those are suspects: each is then run again
    alone, in a fresh process, and reported failed only if that process dies too; the jobs not yet
    started go on in a new pool.  Nothing that finished is lost.
    """

    def __init__(self, workers: int = 1, *, runner: Callable[[RunSpec], Outcome] | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1; got {workers}.")
        self.workers, self.runner = workers, runner or execute

    def run(self, jobs: list[RunSpec]) -> Iterator[tuple[RunSpec, Outcome]]:
        if self.workers == 1:
            for job in jobs:
                yield job, self.runner(job)
            return
        waiting = deque(jobs)
        while waiting:
            suspects = yield from self._pool(waiting, self.workers)
            for job in suspects:  # alone: a second death convicts it, a success clears it
                alone = yield from self._pool(deque([job]), 1)
                if alone:
                    yield job, WORKER_DIED

    def _pool(self, waiting: deque[RunSpec], size: int) -> Generator[tuple[RunSpec, Outcome], None, list[RunSpec]]:
        """Run jobs from ``waiting`` (consumed) with at most ``size`` in flight until it is empty or
        the pool breaks; returns (as the generator's value) the jobs in flight when it broke."""
        # spawn: forked children would inherit PyTorch's thread pools in an undefined state
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=size, mp_context=context) as pool:
            running: dict[Future[Outcome], RunSpec] = {}
            while waiting or running:
                broken = False
                while waiting and len(running) < size:
                    try:
                        running[pool.submit(self.runner, waiting[0])] = waiting[0]
                    except BrokenProcessPool:  # it broke since the last wait: the job stays waiting
                        broken = True
                        break
                    waiting.popleft()
                if not broken:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    broken = any(isinstance(future.exception(), BrokenProcessPool) for future in done)
                if broken:  # every job in flight has ended with the pool
                    done = set(running)
                suspects: list[RunSpec] = []
                for future in done:
                    job = running.pop(future)
                    outcome = _outcome(future)
                    if outcome is None:
                        suspects.append(job)
                    else:
                        yield job, outcome
                if broken:
                    return suspects
        return []


def _outcome(future: Future[Outcome]) -> Outcome | None:
    """The job's outcome, its error text if the call itself failed, ``None`` if its process died."""
    error = future.exception()  # waits for it
    if isinstance(error, BrokenProcessPool):
        return None
    return future.result() if error is None else f"{type(error).__name__}: {error}"
