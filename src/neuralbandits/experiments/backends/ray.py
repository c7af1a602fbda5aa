"""Ray execution: the same jobs as Ray tasks, on a local instance or a cluster (``address``)."""

from __future__ import annotations

from typing import Iterator

from neuralbandits.experiments.backends import Outcome, execute
from neuralbandits.experiments.sweep import RunSpec


class RayBackend:
    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        try:
            import ray
        except ImportError as error:  # pragma: no cover - depends on the extra
            raise ImportError("The Ray backend needs Ray: pip install 'neuralbandits[ray]'.") from error
        self.ray = ray
        self.workers, self.address = workers, address

    def run(self, jobs: list[RunSpec]) -> Iterator[tuple[RunSpec, Outcome]]:
        ray = self.ray
        started_here = not ray.is_initialized()
        if started_here:
            kwargs = {"address": self.address} if self.address else {"num_cpus": self.workers}
            ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        try:
            remote = ray.remote(num_cpus=1)(execute)
            pending = {remote.remote(job): job for job in jobs}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(done[0])
                yield job, ray.get(done[0])
        finally:
            if started_here:
                ray.shutdown()
