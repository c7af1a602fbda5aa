"""Bank chunks shared among several jobs give exactly the one-job results."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import torch

from neuralbandits.models.bank import LearnerBank, SampleInputs
from neuralbandits.models.networks import NetworkConfig
from neuralbandits.models.parallel import map_chunks
from neuralbandits.models.training import half_squared_loss
from neuralbandits.types import BlockArms


@pytest.fixture
def restore_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("n_items, chunk_size", [(10, 3), (9, 3), (2, 5), (0, 4), (40, 1)])
@pytest.mark.parametrize("intra_op", [1, 2])
def test_map_chunks_covers_every_chunk_in_order(restore_threads: None, n_items: int, chunk_size: int,
                                                intra_op: int) -> None:
    torch.set_num_threads(intra_op)
    caller = threading.current_thread().name
    for jobs in (1, 2, 3):
        seen: list[tuple[int, int, str]] = []

        def record(start: int, stop: int) -> tuple[int, int]:
            seen.append((start, torch.get_num_threads(), threading.current_thread().name))
            return start, stop

        result = map_chunks(record, n_items, chunk_size, n_jobs=jobs)
        starts = list(range(0, n_items, chunk_size))
        assert result == [(start, min(start + chunk_size, n_items)) for start in starts]
        assert torch.get_num_threads() == intra_op  # the caller's setting is restored
        effective = min(jobs, len(starts) // 2)  # at least two chunks per job
        shared = effective > 1
        on_workers = [row for row in seen if row[2] != caller]
        if shared:
            assert on_workers and all(row[2].startswith("neuralbandits-chunks") for row in on_workers)
            assert all(threads == 1 for _, threads, _ in seen)  # every job single-threaded, the caller too
            assert sorted(start for start, _, name in seen if name == caller) == starts[: len(starts) // effective]
        else:
            assert not on_workers


def test_map_chunks_passes_a_workers_error_on(restore_threads: None) -> None:
    def fail_late(start: int, stop: int) -> int:
        if start >= 8:
            raise RuntimeError(f"chunk {start} failed")
        return start

    with pytest.raises(RuntimeError, match="chunk 8 failed"):
        map_chunks(fail_late, 10, 1, n_jobs=2)


@pytest.mark.parametrize("block", [False, True])
def test_predict_all_on_two_jobs_equals_one(restore_threads: None, block: bool) -> None:
    n_arms, d_x, n = 4, 6, 1100  # 5 chunks of 256 (the last one short)
    bank = LearnerBank(n_arms * d_x if block else d_x, n, network=NetworkConfig(width=16),
                       n_blocks=n_arms if block else 1, identical=False, seed=3)
    arms = BlockArms(torch.randn(1, d_x), n_arms) if block else torch.randn(1, n_arms, d_x)
    results = []
    for jobs in (1, 2):
        bank.n_jobs = jobs
        with torch.no_grad():  # the in-place path
            results.append(bank.predict_all(arms))
    assert torch.equal(results[0], results[1])
    # with autograd: the workers record the graph, and the caller's backward reaches every member
    gradients = []
    for jobs in (1, 2):
        bank.n_jobs = jobs
        bank.zero_grad(set_to_none=True)
        values = bank.predict_all(arms)
        assert values.requires_grad
        values.square().sum().backward()
        gradients.append(bank.params["first__weight"].grad.clone())
    assert torch.equal(gradients[0], gradients[1])
    assert bool((gradients[1].abs().sum((1, 2)) > 0).all())
    torch.testing.assert_close(results[0], values.detach())


@pytest.mark.parametrize("block", [False, True])
def test_loss_gradients_on_two_jobs_equal_one(restore_threads: None, block: bool) -> None:
    n_arms, d_x, n, n_samples = 3, 5, 700, 8
    bank = LearnerBank(n_arms * d_x if block else d_x, n, network=NetworkConfig(width=12),
                       n_blocks=n_arms if block else 1, identical=False, seed=5)
    generator = torch.Generator().manual_seed(6)
    blocks = torch.randint(n_arms, (n, n_samples), generator=generator) if block else None
    inputs = SampleInputs(torch.randn(n, n_samples, d_x, generator=generator), blocks)
    targets = torch.randn(n, n_samples, generator=generator)
    results = []
    for jobs in (1, 2):
        bank.n_jobs = jobs
        results.append(bank.loss_gradients(None, inputs, targets, half_squared_loss))
    (losses1, grads1), (losses2, grads2) = results
    assert torch.equal(losses1, losses2)
    assert grads1.keys() == grads2.keys()
    for name in grads1:
        assert torch.equal(grads1[name], grads2[name]), name


@pytest.mark.parametrize("n_jobs", [0, -1, 1.5, True])
def test_bank_rejects_a_bad_n_jobs(n_jobs: object) -> None:
    with pytest.raises(ValueError, match="n_jobs"):
        LearnerBank(3, 2, n_jobs=n_jobs)  # type: ignore[arg-type]
