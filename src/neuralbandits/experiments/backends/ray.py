"""Ray execution: the same jobs as Ray tasks, on a local instance or a cluster (``address``)."""

from __future__ import annotations

from typing import Callable, Iterator

from neuralbandits.experiments.backends import Outcome, execute
from neuralbandits.experiments.sweep import RunSpec


class RayBackend:
    """Each job a Ray task of one CPU running ``runner`` (default
    :func:`~neuralbandits.experiments.backends.execute`).  A task whose worker dies (a lost node, a
    worker killed for memory) is run again up to ``retries`` times, then reported failed with Ray's
    error; the other jobs go on."""

    def __init__(self, workers: int | None = None, address: str | None = None, *,
                 runner: Callable[[RunSpec], Outcome] | None = None, retries: int = 3) -> None:
        try:
            import ray
        except ImportError as error:  # pragma: no cover - depends on the extra
            raise ImportError("The Ray backend needs Ray: pip install 'neuralbandits[ray]'.") from error
        if retries < 0:
            raise ValueError(f"retries must be >= 0; got {retries}.")
        self.ray = ray
        self.workers, self.address, self.runner, self.retries = workers, address, runner or execute, retries

    def run(self, jobs: list[RunSpec]) -> Iterator[tuple[RunSpec, Outcome]]:
        ray = self.ray
        started_here = not ray.is_initialized()
        if started_here:
            kwargs = {"address": self.address} if self.address else {"num_cpus": self.workers}
            ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        try:
            remote = ray.remote(num_cpus=1, max_retries=self.retries)(self.runner)
            pending = {remote.remote(job): job for job in jobs}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(done[0])
                try:
                    outcome = ray.get(done[0])
                except ray.exceptions.RayError as error:  # its worker died, retries included
                    cause = getattr(error, "cause", None) or error  # a runner's own exception, if any
                    outcome = f"{type(cause).__name__}: {str(cause).strip().splitlines()[0]}"
                yield job, outcome
        finally:
            if started_here:
                ray.shutdown()
