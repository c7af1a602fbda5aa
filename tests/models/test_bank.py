"""LearnerBank against a loop of separate modules, and gradient features against autograd."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.func import functional_call, grad

from neuralbandits.models.bank import LearnerBank, SampleInputs, members_as_modules
from neuralbandits.models.networks import MLP, NetworkConfig, encode_blocks, first_layer_by_block, group_by_block
from neuralbandits.models.training import MaskedAdam, half_squared_loss
from neuralbandits.types import BlockArms

NETWORKS = [NetworkConfig(width=16), NetworkConfig(width=8, depth=3, bias=True, init="pytorch")]


@pytest.mark.parametrize("network", NETWORKS)
def test_forward_gradients_and_adam_step_match_separate_modules(network: NetworkConfig) -> None:
    bank = LearnerBank(6, 5, network=network, identical=False, seed=0)
    modules = members_as_modules(bank, network)
    inputs = torch.randn(5, 7, 6)
    members = torch.tensor([0, 1, 2, 3, 4])
    out = bank.predict(members, SampleInputs(inputs))
    expected = torch.stack([m(inputs[i]) for i, m in enumerate(modules)])
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)

    # one Adam step on members 1 and 3 only, with per-member mean losses summed
    active = torch.tensor([1, 3])
    targets = torch.rand(5, 7)
    loss = 0.5 * (bank.predict(active, SampleInputs(inputs[active])) - targets[active]).square().mean(1)
    loss.sum().backward()
    for index in active.tolist():
        module_loss = 0.5 * (modules[index](inputs[index]) - targets[index]).square().mean()
        module_loss.backward()
        for name, param in modules[index].named_parameters():
            torch.testing.assert_close(bank.stacked()[name].grad[index], param.grad, atol=1e-5, rtol=1e-5)
    optimizer = MaskedAdam(bank, lr=0.01)
    optimizer.step(bank.stacked(), active)
    for index, module in enumerate(modules):
        reference = torch.optim.Adam(module.parameters(), lr=0.01)
        if index in active.tolist():
            reference.step()
        for name, param in module.named_parameters():
            torch.testing.assert_close(bank.stacked()[name][index], param, atol=1e-5, rtol=1e-5)


def test_masked_adam_leaves_inactive_members_state_untouched() -> None:
    bank = LearnerBank(3, 4, network=NetworkConfig(width=4), identical=False, seed=1)
    optimizer = MaskedAdam(bank, lr=0.1)
    before = {n: v.detach().clone() for n, v in bank.stacked().items()}
    bank.predict(None, SampleInputs(torch.randn(4, 2, 3))).sum().backward()
    optimizer.step(bank.stacked(), torch.tensor([2]))
    assert optimizer.steps.tolist() == [0, 0, 1, 0]
    for name, value in bank.stacked().items():
        changed = (value.detach() != before[name]).flatten(1).any(1)
        assert changed.tolist() == [False, False, True, False]


def test_identical_members_start_equal() -> None:
    bank = LearnerBank(4, 3, network=NetworkConfig(width=5), identical=True, seed=2)
    for value in bank.stacked().values():
        assert torch.equal(value[0], value[1]) and torch.equal(value[0], value[2])


def test_block_inputs_equal_dense_encoding() -> None:
    n_arms, d_x = 4, 3
    bank = LearnerBank(n_arms * d_x, 2, network=NetworkConfig(width=6, bias=True), n_blocks=n_arms,
                       identical=False, seed=3)
    arms = BlockArms(torch.randn(2, d_x), n_arms)
    members = torch.tensor([1, 0])
    torch.testing.assert_close(bank.predict_arms(members, arms), bank.predict_arms(members, arms.dense()))
    # training path: one block per sample
    blocks = torch.tensor([[0, 3, 2], [1, 1, 0]])
    contexts = torch.randn(2, 3, d_x)
    dense = BlockArms(contexts.reshape(6, d_x), n_arms).dense()[torch.arange(6), blocks.reshape(-1)]
    torch.testing.assert_close(
        bank.predict(members, SampleInputs(contexts, blocks)),
        bank.predict(members, SampleInputs(dense.reshape(2, 3, -1))),
    )
    torch.testing.assert_close(bank.predict_all(arms.index(slice(0, 1))),
                               bank.predict_arms(torch.arange(2), BlockArms(arms.contexts[:1].expand(2, -1), n_arms)))


@pytest.mark.parametrize("block_ids", [[2, 0, 2, 3, 0], [1, 1, 1, 1, 1], []])  # blocks empty, all in one, no sample
def test_first_layer_by_block_equals_the_long_vectors(block_ids: list[int]) -> None:
    n_blocks, d_x, width = 4, 3, 5
    weight = torch.randn(width, n_blocks * d_x)
    block_ids_t = torch.tensor(block_ids, dtype=torch.int64)
    contexts = torch.randn(len(block_ids), d_x)
    order, counts = group_by_block(block_ids_t, n_blocks)
    assert sum(counts) == len(block_ids) and block_ids_t[order].tolist() == sorted(block_ids)
    hidden = first_layer_by_block(weight, contexts[order].split(counts))
    long_vectors = encode_blocks(contexts[None], block_ids_t[None], n_blocks)[0]  # (N, K·d_x)
    torch.testing.assert_close(hidden, long_vectors[order] @ weight.T)


@pytest.mark.parametrize("block", [False, True])
@pytest.mark.parametrize("network", NETWORKS)
def test_gradient_features_match_autograd(block: bool, network: NetworkConfig) -> None:
    n_arms, d_x = 3, 4
    dim = n_arms * d_x if block else d_x
    bank = LearnerBank(dim, 2, network=network, n_blocks=n_arms if block else 1, identical=False, seed=4)
    modules = members_as_modules(bank, network)
    arms = BlockArms(torch.randn(2, d_x), n_arms) if block else torch.randn(2, n_arms, d_x)
    dense_arms = arms.dense() if block else arms
    members = torch.tensor([1, 0])
    values, factored = bank.gradient_features(members, arms)
    g = factored.dense()
    assert g.shape == (2, n_arms, bank.n_params)
    for row, member in enumerate(members.tolist()):
        module = modules[member]
        params = {n: p.detach() for n, p in module.named_parameters()}
        for arm in range(n_arms):
            grads = grad(lambda p: functional_call(module, p, (dense_arms[row, arm],)))(params)
            flat = torch.cat([grads[n].reshape(-1) for n in params])
            torch.testing.assert_close(g[row, arm], flat, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(values[row, arm], module(dense_arms[row, arm]), atol=1e-5, rtol=1e-5)


def test_mlp_gaussian_init_variances() -> None:
    net = MLP(50, width=400, init="gaussian", generator=torch.Generator().manual_seed(0))
    assert net.first.bias is None
    assert abs(net.first.weight.var().item() - 2 / 400) < 2e-4
    assert abs(net.tail[1].weight.var().item() - 1 / 400) < 4e-4
    copy.deepcopy(net)  # modules stay ordinary nn.Modules


def test_adam_step_on_every_member_matches_torch_adam() -> None:
    network = NetworkConfig(width=6, bias=True)
    bank = LearnerBank(4, 3, network=network, identical=False, seed=7)
    modules = members_as_modules(bank, network)
    optimizer = MaskedAdam(bank, lr=0.05)
    references = [torch.optim.Adam(m.parameters(), lr=0.05) for m in modules]
    inputs, targets = torch.randn(3, 5, 4), torch.randn(3, 5)
    for _ in range(3):  # several steps: bias corrections and moments must agree too
        bank.zero_grad(set_to_none=True)
        (0.5 * (bank.predict(None, SampleInputs(inputs)) - targets).square().mean(1)).sum().backward()
        optimizer.step(bank.stacked(), torch.arange(3))
        for index, (module, reference) in enumerate(zip(modules, references)):
            reference.zero_grad()
            (0.5 * (module(inputs[index]) - targets[index]).square().mean()).backward()
            reference.step()
    for index, module in enumerate(modules):
        for name, param in module.named_parameters():
            torch.testing.assert_close(bank.stacked()[name][index], param, atol=1e-5, rtol=1e-5)


def test_adam_on_changing_member_subsets_matches_torch_adam_per_member() -> None:
    """Every update path of ``MaskedAdam`` over several steps with differing per-member counts: all
    members, most of them (whole tensors, the rest held by coefficients), a minority above the fused
    limit (gathered rows) and a few (fused slices); members off a step must not move at all."""
    network = NetworkConfig(width=5, bias=True)
    n_members = 40
    bank = LearnerBank(3, n_members, network=network, identical=False, seed=11)
    modules = members_as_modules(bank, network)
    optimizer = MaskedAdam(bank, lr=0.05)
    references = [torch.optim.Adam(m.parameters(), lr=0.05) for m in modules]
    generator = torch.Generator().manual_seed(12)
    inputs, targets = torch.randn(n_members, 4, 3), torch.randn(n_members, 4)
    for size in [n_members, 30, 18, 5, 30, n_members, 25, 18]:
        active = torch.randperm(n_members, generator=generator)[:size].sort().values
        before = {n: v.detach().clone() for n, v in bank.stacked().items()}
        bank.zero_grad(set_to_none=True)
        (0.5 * (bank.predict(None, SampleInputs(inputs)) - targets).square().mean(1)).sum().backward()
        optimizer.step(bank.stacked(), active)
        for index in active.tolist():
            references[index].zero_grad()
            (0.5 * (modules[index](inputs[index]) - targets[index]).square().mean()).backward()
            references[index].step()
        idle = torch.ones(n_members, dtype=torch.bool)
        idle[active] = False
        for name, value in bank.stacked().items():
            assert torch.equal(value.detach()[idle], before[name][idle]), name
    assert optimizer.steps.unique().numel() > 1  # the counts really differ between members
    for index, module in enumerate(modules):
        for name, param in module.named_parameters():
            torch.testing.assert_close(bank.stacked()[name][index], param, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("loss_fn", [lambda f, r: 0.5 * (f - r).square(), half_squared_loss],
                         ids=["via-autograd", "via-derivative"])
@pytest.mark.parametrize("block", [False, True])
@pytest.mark.parametrize("network", NETWORKS)
def test_loss_gradients_by_hand_equal_autograd_on_separate_modules(block: bool, network: NetworkConfig,
                                                                   loss_fn) -> None:  # type: ignore[no-untyped-def]
    n_arms, d_x = 3, 4
    dim = n_arms * d_x if block else d_x
    bank = LearnerBank(dim, 4, network=network, n_blocks=n_arms if block else 1, identical=False, seed=5)
    modules = members_as_modules(bank, network)
    generator = torch.Generator().manual_seed(6)
    members = torch.tensor([3, 0, 2])
    if block:
        contexts = torch.randn(3, 5, d_x, generator=generator)
        block_ids = torch.randint(n_arms, (3, 5), generator=generator)
        inputs = SampleInputs(contexts, block_ids)
        dense = BlockArms(contexts.reshape(15, d_x), n_arms).dense()[torch.arange(15), block_ids.reshape(-1)]
        dense = dense.reshape(3, 5, dim)
    else:
        dense = torch.randn(3, 5, d_x, generator=generator)
        inputs = SampleInputs(dense)
    targets = torch.randn(3, 5, generator=generator)
    losses, grads = bank.loss_gradients(members, inputs, targets, loss_fn)
    assert set(grads) == set(bank.names)
    for row, member in enumerate(members.tolist()):
        module = modules[member]
        loss = 0.5 * (module(dense[row]) - targets[row]).square().mean()
        module.zero_grad()
        loss.backward()
        torch.testing.assert_close(losses[row], loss.detach())
        for name, param in module.named_parameters():
            torch.testing.assert_close(grads[name][row], param.grad, atol=1e-5, rtol=1e-5)
    every, _ = bank.loss_gradients(None, SampleInputs(dense[:1].expand(4, -1, -1)) if not block
                                   else SampleInputs(inputs.features[:1].expand(4, -1, -1),
                                                     inputs.block_ids[:1].expand(4, -1)),
                                   targets[:1].expand(4, -1), lambda f, r: 0.5 * (f - r).square())
    torch.testing.assert_close(every[members[0]], losses[0])  # member 3 on row 0's samples


@pytest.mark.parametrize("block", [False, True])
@pytest.mark.parametrize("network", NETWORKS)
def test_predict_all_in_chunks_equals_each_member(block: bool, network: NetworkConfig) -> None:
    n_arms, d_x, n = 3, 4, 7
    bank = LearnerBank(n_arms * d_x if block else d_x, n, network=network, n_blocks=n_arms if block else 1,
                       identical=False, seed=8)
    generator = torch.Generator().manual_seed(9)
    arms = BlockArms(torch.randn(1, d_x, generator=generator), n_arms) if block else torch.randn(1, n_arms, d_x)
    every = BlockArms(arms.contexts.expand(n, -1), n_arms) if block else arms.expand(n, -1, -1)
    expected = bank.predict_arms(torch.arange(n), every)
    for chunk_size in (1, 3, 7, 100):  # chunks that split the bank unevenly, exactly, or not at all
        torch.testing.assert_close(bank.predict_all(arms, chunk_size=chunk_size), expected, atol=1e-6, rtol=1e-5)
        with torch.no_grad():  # the in-place path of 2-layer networks
            torch.testing.assert_close(bank.predict_all(arms, chunk_size=chunk_size), expected.detach(),
                                       atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="one round"):
        bank.predict_all(BlockArms(torch.randn(2, d_x), n_arms) if block else torch.randn(2, n_arms, d_x))
