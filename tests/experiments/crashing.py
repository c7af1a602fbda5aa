"""A runner whose process dies on one job, for the backends' tests (imported by name in workers)."""

import os

from neuralbandits.experiments.backends import Outcome, execute
from neuralbandits.experiments.sweep import RunSpec


def dies_on_seed_1_of_random(job: RunSpec) -> Outcome:
    if job.policy == "random" and job.seed == 1:
        os._exit(3)  # as a worker killed for memory: no exception, the process is gone
    return execute(job)
