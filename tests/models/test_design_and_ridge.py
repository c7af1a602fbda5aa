"""Design matrices and ridge statistics against direct dense computations."""

from __future__ import annotations

import torch

from neuralbandits.models.bank import LearnerBank
from neuralbandits.models.design import DiagonalDesign, FullDesign
from neuralbandits.models.networks import NetworkConfig
from neuralbandits.models.ridge import RidgeBank
from neuralbandits.types import BlockArms


def test_ridge_bank_matches_closed_form_solution() -> None:
    generator = torch.Generator().manual_seed(0)
    ridge = RidgeBank(3, 4, l2_reg=0.5)
    xs, rs, members = torch.randn(12, 4, generator=generator), torch.rand(12, generator=generator), torch.tensor([0, 1, 2, 1] * 3)
    for i in range(8):  # single updates: Sherman–Morrison
        ridge.update(members[i : i + 1], xs[i : i + 1], rs[i : i + 1])
    ridge.update(members[8:], xs[8:], rs[8:])  # one batch with a repeated member
    for member in range(3):
        rows = members == member
        a = 0.5 * torch.eye(4, dtype=torch.float64) + xs[rows].double().T @ xs[rows].double()
        theta = torch.linalg.solve(a, xs[rows].double().T @ rs[rows].double())
        torch.testing.assert_close(ridge.theta[member].double(), theta, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(ridge.inverse[member].double(), torch.linalg.inv(a), atol=1e-5, rtol=1e-4)
    assert ridge.counts.tolist() == [3, 6, 3]


def test_diagonal_design_is_the_diagonal_of_the_full_one_and_factored_equals_dense() -> None:
    bank = LearnerBank(3 * 2, 2, network=NetworkConfig(width=5, bias=True), n_blocks=3, identical=False, seed=1)
    full = FullDesign(2, bank.n_params, l2_reg=0.3)
    diag = DiagonalDesign(2, bank.n_params, l2_reg=0.3)
    diag_dense = DiagonalDesign(2, bank.n_params, l2_reg=0.3)
    dense_rows = []
    for step in range(6):
        arms = BlockArms(torch.randn(2, 2), 3)
        members = torch.tensor([step % 2, 1])
        _, factored = bank.gradient_features(members, arms)
        actions = torch.tensor([step % 3, (step + 1) % 3])
        chosen = factored.chosen(actions)
        torch.testing.assert_close(chosen.dense(), factored.dense()[torch.arange(2), actions])
        # quadratic forms before the update: factored == dense
        torch.testing.assert_close(diag.quad_form(members, factored), diag_dense.quad_form(members, factored.dense()),
                                   atol=1e-5, rtol=1e-4)
        full.update(members, chosen)
        diag.update(members, chosen)
        diag_dense.update(members, chosen.dense())
        dense_rows += [(int(m), g) for m, g in zip(members, chosen.dense())]
    for member in range(2):
        z = 0.3 * torch.eye(bank.n_params, dtype=torch.float64)
        for m, g in dense_rows:
            if m == member:
                z += torch.outer(g.double(), g.double())
        torch.testing.assert_close(diag.squares[member].double() + 0.3, torch.diagonal(z), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(full.inverse[member].double(), torch.linalg.inv(z), atol=1e-4, rtol=1e-3)
        expected_logdet = torch.logdet(z / 0.3)
        torch.testing.assert_close(full.logdet(torch.tensor([member]))[0].double(), expected_logdet, atol=1e-4, rtol=1e-4)
        # Hadamard: the diagonal log-det bounds the full one from above
        assert diag.logdet(torch.tensor([member]))[0] >= full.logdet(torch.tensor([member]))[0] - 1e-4
