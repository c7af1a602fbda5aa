"""Hypercube partition: indexing at cube boundaries, batched statistics, h_T and K(n)."""

from __future__ import annotations

import math

import pytest
import torch

from neuralbandits.models.partition import HypercubePartition, check_unit_cube
from neuralbandits.policies.combinatorial import control_function, cubes_per_dimension
from neuralbandits.validation import InvalidParameterError


@pytest.mark.parametrize("h", [1, 2, 3, 4, 7, 10, 18])
def test_boundaries_zero_one_over_h_and_one(h: int) -> None:
    partition = HypercubePartition(1, h)
    values = torch.tensor([[0.0], [1.0 / h], [1.0]])
    assert partition.cube_ids(values).tolist() == [0, min(1, h - 1), h - 1]
    # every k/h (as float32) lands in cube k, and just below it in cube k - 1
    k = torch.arange(1, h)
    assert torch.equal(partition.cube_ids((k.float() / h)[:, None]), k)
    below = (k.double() / h - 1e-4).float()[:, None]
    assert torch.equal(partition.cube_ids(below), k - 1)


def test_two_dimensional_flat_index_is_row_major() -> None:
    partition = HypercubePartition(2, 3)
    contexts = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.5, 0.34]])
    assert partition.cube_ids(contexts).tolist() == [0, 2, 6, 8, 4]
    centers = partition.cube_centers()
    assert torch.equal(partition.cube_ids(centers), torch.arange(9))


def test_batched_update_equals_incremental_means() -> None:
    generator = torch.Generator().manual_seed(0)
    partition = HypercubePartition(1, 5, n_members=3)
    counts = torch.zeros(3, 5, dtype=torch.int64)
    means = torch.zeros(3, 5, dtype=torch.float64)
    for _ in range(20):
        members = torch.randint(3, (7,), generator=generator)
        cubes = torch.randint(5, (7,), generator=generator)
        qualities = torch.rand(7, generator=generator)
        partition.update(members, cubes, qualities)
        for m, c, r in zip(members.tolist(), cubes.tolist(), qualities.tolist()):
            counts[m, c] += 1
            means[m, c] += (r - means[m, c]) / counts[m, c]
    assert torch.equal(partition.counts, counts)
    torch.testing.assert_close(partition.means.double(), means, atol=1e-6, rtol=0)


def test_contexts_outside_the_unit_cube_are_named() -> None:
    with pytest.raises(InvalidParameterError, match=r"Context.arm_features must lie in the unit cube.*1.5"):
        check_unit_cube("Context.arm_features", torch.tensor([[[0.2], [1.5]]]))
    with pytest.raises(InvalidParameterError, match="NaN"):
        check_unit_cube("x", torch.tensor([[float("nan")]]))
    # masked-out padding is not checked
    check_unit_cube("x", torch.tensor([[[0.2], [-3.0]]]), torch.tensor([[True, False]]))


def test_h_t_rules_and_control_function() -> None:
    assert cubes_per_dimension(10_000, 1) == 10  # ⌈T^{1/4}⌉ exactly, no rounding error
    assert cubes_per_dimension(10_001, 1) == 11
    assert cubes_per_dimension(1000, 1) == 6
    assert cubes_per_dimension(100_000, 1) == 18
    assert cubes_per_dimension(10_000, 2, h_rule="ccmab") == 7  # ⌈10⁴^{1/5}⌉ = ⌈6.31⌉
    assert cubes_per_dimension(10_000, 2, partition="total") == 3  # ⌊10^{1/2}⌋
    n = torch.tensor([0, 1, 2, 4, 100])
    expected = [0.0, 0.0, math.sqrt(2) * math.log(2), 2 * math.log(4), 10 * math.log(100)]
    torch.testing.assert_close(control_function(n, 1), torch.tensor(expected, dtype=torch.float64))
    ccmab = control_function(torch.tensor([16]), 2, k_rule="ccmab")
    assert float(ccmab) == pytest.approx(16 ** 0.4 * math.log(16))
