"""The training schedule, the sample buffer and batched training."""

from __future__ import annotations

import copy

import pytest
import torch

from neuralbandits.models import training
from neuralbandits.models.bank import LearnerBank
from neuralbandits.models.networks import NetworkConfig
from neuralbandits.models.training import MaskedAdam, SampleBuffer, TrainSchedule, train_members
from neuralbandits.validation import InvalidParameterError


def test_paper_schedule_rounds() -> None:
    schedule = TrainSchedule()
    rounds = [t for t in range(1, 1301) if schedule.is_training_round(t)]
    assert rounds[:3] == [10, 20, 30] and 990 in rounds and 1000 in rounds
    assert [t for t in rounds if t > 990] == [1000, 1100, 1200, 1300]


@pytest.mark.parametrize("field,value", [("every", 0), ("lr", 0.0), ("optimizer", "rmsprop"), ("batch_size", 0)])
def test_schedule_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(InvalidParameterError, match=field):
        TrainSchedule(**{field: value})


def test_buffer_grows_and_links_samples_to_several_owners() -> None:
    buffer = SampleBuffer(2, capacity=2)
    buffer.add(torch.ones(3, 2), None, torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0, 1, 1, 2]),
               torch.tensor([0, 0, 1, 2]))
    assert buffer.n_samples == 3 and buffer.n_links == 4
    owners, samples = buffer.grouped_links()
    assert owners.tolist() == [0, 1, 1, 2] and samples.tolist() == [0, 0, 1, 2]


def test_training_fits_each_member_to_its_own_target() -> None:
    bank = LearnerBank(2, 3, network=NetworkConfig(width=16), identical=True, seed=0)
    buffer = SampleBuffer(2)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    for member, target in enumerate([0.9, 0.1, 0.5]):
        buffer.add(x, None, torch.full((2,), target), torch.tensor([member, member]), torch.tensor([0, 1]))
    schedule = TrainSchedule(n_steps=300, batch_size=4, lr=0.01, early_stop_loss=0.0)
    optimizer = MaskedAdam(bank, lr=0.01)
    train_members(bank, optimizer, buffer, torch.tensor([0, 1]), schedule, torch.Generator().manual_seed(0),
                  blocks=False)
    from neuralbandits.models.bank import SampleInputs

    predictions = bank.predict(None, SampleInputs(x.expand(3, 2, 2)))
    torch.testing.assert_close(predictions[0], torch.full((2,), 0.9), atol=0.05, rtol=0)
    torch.testing.assert_close(predictions[1], torch.full((2,), 0.1), atol=0.05, rtol=0)
    assert optimizer.steps[2] == 0  # member 2 was not asked to train


def test_a_sample_table_trains_exactly_like_the_buffer_links() -> None:
    generator = torch.Generator().manual_seed(1)
    n_members, n_samples = 5, 30
    buffer = SampleBuffer(3)
    owners = torch.randint(n_members, (n_samples,), generator=generator)
    extra = torch.randint(n_members, (n_samples,), generator=generator)  # a second owner per sample
    buffer.add(torch.randn(n_samples, 3, generator=generator), None, torch.rand(n_samples, generator=generator),
               torch.stack([owners, extra], 1).flatten(), torch.arange(n_samples).repeat_interleave(2))
    # the same links as a table: row u lists u's samples in arrival order
    links = [[s for s in range(n_samples) for o in (owners[s], extra[s]) if int(o) == u] for u in range(n_members)]
    counts = torch.tensor([len(row) for row in links])
    table = torch.full((n_members, int(counts.max()) + 3), -1, dtype=torch.int64)  # spare columns unused
    for u, row in enumerate(links):
        table[u, : len(row)] = torch.tensor(row, dtype=torch.int64)
    schedule = TrainSchedule(n_steps=20, batch_size=4, lr=0.01, early_stop_loss=0.0)
    banks, losses = [], []
    for sample_table in (None, (table, counts)):
        bank = LearnerBank(3, n_members, network=NetworkConfig(width=8), identical=False, seed=2)
        losses.append(train_members(bank, MaskedAdam(bank, lr=0.01), buffer, torch.tensor([0, 2, 3, 4]),
                                    schedule, torch.Generator().manual_seed(5), blocks=False,
                                    sample_table=sample_table))
        banks.append(bank)
    torch.testing.assert_close(losses[0], losses[1], equal_nan=True, rtol=0, atol=0)
    for name, value in banks[0].stacked().items():
        assert torch.equal(value, banks[1].stacked()[name]), name
    assert not torch.equal(banks[0].stacked()["first.weight"][0],
                           LearnerBank(3, n_members, network=NetworkConfig(width=8), identical=False,
                                       seed=2).stacked()["first.weight"][0])  # it did train


@pytest.mark.parametrize("kind,views_limit", [("adam", 4096), ("adam", 1), ("sgd", 4096)])
def test_every_update_path_equals_one_torch_optimizer_per_member(kind: str, views_limit: int,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Few members (fused on slices), all with equal counts (fused on whole tensors), many of them
    (vectorised on gathered rows) and all with unequal counts (vectorised in place): each member must
    end where its own torch optimiser takes it, whether the slices' views are kept or made again."""
    monkeypatch.setattr(training, "MEMBER_VIEWS_LIMIT", views_limit)
    n = 40  # above FUSED_MEMBER_LIMIT, so the vectorised paths run too
    bank = LearnerBank(2, n, network=NetworkConfig(width=3, bias=True), identical=False, seed=3)
    optimizer = MaskedAdam(bank, lr=0.05, kind=kind)
    singles = [{name: value[i].detach().clone().requires_grad_() for name, value in bank.stacked().items()}
               for i in range(n)]
    make = torch.optim.Adam if kind == "adam" else torch.optim.SGD
    references = [make(list(single.values()), lr=0.05) for single in singles]
    generator = torch.Generator().manual_seed(4)
    subsets = [torch.arange(n), torch.tensor([5, 17, 39]), torch.arange(10, 35), torch.tensor([2, 5, 17]),
               torch.arange(n)]
    for members in subsets:
        grads = {name: torch.randn(members.numel(), *value.shape[1:], generator=generator)
                 for name, value in bank.stacked().items()}
        optimizer.step(bank.stacked(), members, grads)
        for row, member in enumerate(members.tolist()):
            for name, value in singles[member].items():
                value.grad = grads[name][row].clone()
            references[member].step()
    assert optimizer.steps[:5].tolist() == [2, 2, 3, 2, 2] and optimizer.steps[5] == 4
    for member in range(n):
        for name, value in bank.stacked().items():
            torch.testing.assert_close(value[member], singles[member][name].detach(), atol=1e-6, rtol=1e-5)


def test_a_copied_or_converted_optimizer_steps_its_own_tensors() -> None:
    """MaskedAdam keeps views of its members' rows between steps: a deep copy (a cloned policy) must
    step the copy's tensors and leave the original alone, and a conversion to float64 (which swaps
    the parameters' memory, not the objects) must step the new tensors."""
    bank = LearnerBank(3, 6, network=NetworkConfig(width=4), identical=False, seed=5)
    holder = torch.nn.ModuleDict({"bank": bank, "optimizer": MaskedAdam(bank, lr=0.1)})
    members = torch.tensor([1, 4])
    generator = torch.Generator().manual_seed(6)

    def step(module: torch.nn.ModuleDict, grads: dict[str, torch.Tensor]) -> None:
        module["optimizer"].step(module["bank"].stacked(), members, grads)

    def draw(dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
        return {n: torch.randn(2, *v.shape[1:], generator=generator).to(dtype) for n, v in bank.stacked().items()}

    step(holder, draw())  # the views are made here
    twin = copy.deepcopy(holder)
    before = {n: v.detach().clone() for n, v in bank.stacked().items()}
    grads = draw()
    step(twin, grads)
    assert all(torch.equal(v, before[n]) for n, v in bank.stacked().items())  # the original did not move
    step(holder, grads)
    for name, value in bank.stacked().items():
        assert torch.equal(value, twin["bank"].stacked()[name])
        assert not torch.equal(value[members], before[name][members])
    holder.double()
    before = {n: v.detach().clone() for n, v in bank.stacked().items()}
    step(holder, draw(torch.float64))
    for name, value in bank.stacked().items():
        assert value.dtype == torch.float64 and not torch.equal(value[members], before[name][members])
        assert torch.equal(value[[0, 2, 3, 5]], before[name][[0, 2, 3, 5]])
