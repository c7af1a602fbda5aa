"""Independent chunks of a bank's members on several CPU cores (``n_jobs``).

A bank's members run in chunks of a few hundred so that a chunk's activations stay in cache
(:meth:`~neuralbandits.models.bank.LearnerBank.predict_all`).  Each chunk's operations are too small
for PyTorch's intra-op threads to help (M-CNB's clustering at 20 000 users: 21 ms with one thread
and with two), but the chunks are independent: :func:`map_chunks` gives each of ``n_jobs`` threads
(the caller and ``n_jobs − 1`` workers) a contiguous run of chunks, each with one intra-op thread
(PyTorch's OpenMP thread count is per thread), and PyTorch releases the GIL inside its operations.
With two jobs on two cores and one intra-op thread, that clustering takes 11 ms.

``n_jobs`` is meant to be used with one intra-op thread (``torch.set_num_threads(1)``, the CLI's
default): with more, the caller's own OpenMP threads keep spinning on the cores after its other
operations and slow the jobs down (the same clustering: 18 ms with two intra-op threads).

Every chunk runs the same single-threaded operations whatever ``n_jobs`` is, so the results do not
depend on it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

import torch
from torch import Tensor

T = TypeVar("T")

_pools: dict[int, ThreadPoolExecutor] = {}
_local = threading.local()


def thread_scratch(numel: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """A flat scratch tensor of at least ``numel`` elements, owned by the calling thread and reused
    by its next call: write into it, return nothing that views it.

    Why: glibc gives each thread its own malloc arena and hands a freed megabyte back to the system,
    so a fresh chunk-sized tensor per chunk page-faults in a worker thread (M-CNB's clustering at
    20 000 users on two jobs: 30 ms with a tensor per chunk, 11 ms with the scratch).
    """
    scratch = getattr(_local, "scratch", None)
    if scratch is None or scratch.numel() < numel or scratch.dtype != dtype:
        scratch = _local.scratch = torch.empty(numel, dtype=dtype)
    return scratch


def _single_threaded() -> None:
    torch.set_num_threads(1)  # OpenMP's thread count is per thread: the caller's is unchanged


def _pool(workers: int) -> ThreadPoolExecutor:
    if workers not in _pools:
        _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix="neuralbandits-chunks",
                                             initializer=_single_threaded)
    return _pools[workers]


def map_chunks(fn: Callable[[int, int], T], n_items: int, chunk_size: int, *, n_jobs: int = 1,
               min_chunks_per_job: int = 2) -> list[T]:
    """``[fn(start, stop)]`` for the consecutive chunks ``[start, stop)`` of ``range(n_items)``, in order.

    With ``n_jobs > 1`` and at least ``min_chunks_per_job`` chunks per job, the chunks are split into
    contiguous runs: the first on the calling thread (single-threaded meanwhile), the others on worker
    threads (a handoff costs about 0.1 ms, so small banks stay on the caller).  ``fn`` must only read
    shared state.
    """
    bounds = [(start, min(start + chunk_size, n_items)) for start in range(0, n_items, chunk_size)]
    jobs = min(n_jobs, len(bounds) // max(min_chunks_per_job, 1))
    if jobs <= 1:
        return [fn(start, stop) for start, stop in bounds]
    runs = [bounds[len(bounds) * j // jobs : len(bounds) * (j + 1) // jobs] for j in range(jobs)]
    grad_mode = torch.is_grad_enabled()  # grad mode is per thread too: the workers take the caller's

    def run(part: list[tuple[int, int]]) -> list[T]:
        with torch.set_grad_enabled(grad_mode):
            return [fn(start, stop) for start, stop in part]

    futures = [_pool(jobs - 1).submit(run, part) for part in runs[1:]]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the caller's own intra-op threads would compete with the workers
    try:
        first = run(runs[0])
    finally:
        torch.set_num_threads(threads)
    return first + [result for future in futures for result in future.result()]
