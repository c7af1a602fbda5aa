"""``LearnerBank``: ``M`` small networks held as stacked tensors and run as one batched computation.

The bank stacks its members once (``torch.func.stack_module_state``); the stacked tensors are the
only copy and are trained directly.  Members are evaluated as batched contractions, per-arm
gradient features and training gradients come from a hand-written backward pass
(:func:`tail_backward`, :meth:`LearnerBank.loss_gradients`), each member's from its own samples only;
the optimiser state is per member (:class:`~neuralbandits.models.training.MaskedAdam`), so members
that did not train keep their state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn
from torch.func import stack_module_state

from neuralbandits.models.gradient_features import FactoredGradients
from neuralbandits.models.networks import (
    MLP,
    NetworkConfig,
    first_layer_blocks,
    first_layer_by_block,
    first_layer_dense,
    first_layer_gradient,
    first_layer_one_block,
    first_layer_shared,
    group_by_block,
    tail_backward,
    tail_forward,
)
from neuralbandits.models.parallel import map_chunks, thread_scratch
from neuralbandits.rng import make_generator
from neuralbandits.types import ArmFeatures, BlockArms
from neuralbandits.validation import Interval, check_params


@dataclass(frozen=True)
class SampleInputs:
    """Network inputs of ``S`` samples for each of ``N`` members: dense ``(N, S, d)``, or block contexts
    ``(N, S, d_x)`` with the block (arm) index of each sample in ``block_ids`` ``(N, S)``."""

    features: Tensor
    block_ids: Tensor | None = None

    def __len__(self) -> int:
        return int(self.features.shape[0])


LossFn = Callable[[Tensor, Tensor], Tensor]
"""``loss_fn(predictions, targets)`` → per-sample losses of the same shape.  A loss may carry a
``derivative(predictions, targets)`` attribute (``∂loss/∂f`` per sample), which spares an autograd call
per training step."""


def _rows(inputs: SampleInputs, start: int, size: int) -> SampleInputs:
    """Members ``start … start + size − 1`` of ``inputs``."""
    blocks = None if inputs.block_ids is None else inputs.block_ids[start : start + size]
    return SampleInputs(inputs.features[start : start + size], blocks)


def _key(name: str) -> str:
    return name.replace(".", "__")


class LearnerBank(nn.Module):
    """``n_members`` networks of one architecture as stacked parameters ``(M, …)``.

    Args:
        dim: input dimension ``d`` (``K·d_x`` for block-encoded arms).
        n_members: ``M``.
        network: architecture of every member.
        n_blocks: ``K`` when inputs use the block encoding (1 otherwise).
        identical: start every member as a copy of one network (paper 000 Alg. 1 line 3) instead of
            independent draws.
        seed: seed of the initialisation.
        n_jobs: threads that share the member chunks of :meth:`predict_all` and
            :meth:`loss_gradients` (:mod:`~neuralbandits.models.parallel`; the results do not depend
            on it).  An attribute, not state: it may be changed at any time.
    """

    def __init__(
        self,
        dim: int,
        n_members: int,
        *,
        network: NetworkConfig = NetworkConfig(),
        n_blocks: int = 1,
        identical: bool = True,
        seed: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        super().__init__()
        if n_members < 1:
            raise ValueError(f"LearnerBank needs n_members >= 1; got {n_members}.")
        check_params("LearnerBank", {"n_jobs": n_jobs}, {"n_jobs": Interval(1, None, integer=True)})
        self.n_jobs = n_jobs
        generator = make_generator(seed)
        template = network.build(dim, generator)
        members = [template if identical else network.build(dim, generator) for _ in range(n_members)]
        stacked, _ = stack_module_state(members)
        self.names = list(stacked)
        self.params = nn.ParameterDict(
            {_key(n): nn.Parameter(v.detach().clone()) for n, v in stacked.items()}
        )
        self.n_members, self.dim, self.n_blocks = n_members, dim, n_blocks
        self.width = network.width
        self.has_bias = network.bias
        self._tail = template.tail.to("meta")  # the tail's layout (ReLU, Linear, …); holds no data
        self._tail_names = [n for n in self.names if n.startswith("tail.")]

    # -- parameters -------------------------------------------------------------------------
    def stacked(self) -> dict[str, Tensor]:
        """Name → stacked parameter ``(M, …)`` (the trained tensors themselves)."""
        params = self.params._parameters  # not ParameterDict's __getitem__: called at every training step
        return {n: params[_key(n)] for n in self.names}

    def gather(self, member_ids: Tensor | None) -> dict[str, Tensor]:
        """Parameters of ``member_ids`` ``(N,)`` as ``(N, …)`` tensors (all members for ``None``)."""
        stacked = self.stacked()
        if member_ids is None:
            return stacked
        if member_ids.numel() == 1:  # one member: a view, not a copy (3 MB per call for an mnist learner)
            start = int(member_ids[0])
            return {n: v[start : start + 1] for n, v in stacked.items()}
        # index_select (not v[ids]): its backward is index_add_, far cheaper than index_put_
        return {n: v.index_select(0, member_ids) for n, v in stacked.items()}

    @torch.no_grad()
    def copy_members(self, source_ids: Tensor, target_ids: Tensor) -> None:
        """Overwrite members ``target_ids`` with the parameters of ``source_ids``."""
        for value in self.stacked().values():
            value[target_ids] = value[source_ids]

    @property
    def n_params(self) -> int:
        """``p``, parameters of one member."""
        return sum(v[0].numel() for v in self.stacked().values())

    # -- evaluation ---------------------------------------------------------------------------
    def _tail_forward(self, params: dict[str, Tensor], hidden: Tensor) -> Tensor:
        """``tail`` of every member on its own rows: hidden ``(N, S, m)`` → ``(N, S)``.

        Batched contractions (:func:`tail_forward`) rather than ``vmap(functional_call)``: the
        batching rule of ``linear`` falls back to a per-member loop in the backward pass, ten times
        slower here.
        """
        return tail_forward(hidden, {n: params[n] for n in self._tail_names})[0]

    def predict(self, member_ids: Tensor | None, inputs: SampleInputs) -> Tensor:
        """``f(x_{n,s}; θ_{member_n})`` for ``S`` samples of each of ``N`` members → ``(N, S)``
        (``member_ids=None``: every member, ``N = M``)."""
        params = self.gather(member_ids)
        bias = params.get("first.bias")
        if inputs.block_ids is None:
            hidden = first_layer_dense(params["first.weight"], bias, inputs.features)
        else:
            hidden = first_layer_one_block(
                params["first.weight"], bias, inputs.features, inputs.block_ids, self.n_blocks
            )
        return self._tail_forward(params, hidden)

    def loss_gradients(
        self, member_ids: Tensor | None, inputs: SampleInputs, targets: Tensor, loss_fn: LossFn,
        *, chunk_size: int = 256,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Each member's mean loss over its ``S`` samples and its gradient, by hand.

        ``member_ids`` ``(N,)`` unique (``None``: every member), ``inputs`` and ``targets`` ``(N, S)``.
        Returns losses ``(N,)`` and name → ``(N, …)``, the gradient of ``loss_fn(f(x_s), r_s).mean()``
        for each member — what one autograd backward pass of the summed losses gives, without the
        graph: only ``∂loss/∂f`` ``(N, S)`` comes from autograd (so any loss works) or from the loss's
        ``derivative`` (:data:`LossFn`), the layers are
        backpropagated with :func:`tail_backward` and :func:`first_layer_gradient`, and no gradient
        of the whole bank is formed when a few members train (one of 20 000 members, 50 steps:
        0.79 s with autograd through the gathered bank, 0.026 s here).  Members run in chunks of
        ``chunk_size`` so that a chunk's ``(chunk, S, m)`` activations stay in cache through the
        dozen passes over them, and the chunks are shared among ``n_jobs`` threads
        (:func:`~neuralbandits.models.parallel.map_chunks`).
        """
        if member_ids is not None:
            params = self.gather(member_ids)
        else:
            params = self.stacked()
        if len(inputs) <= chunk_size:  # one chunk: no slicing (a small bank's step is mostly overhead)
            return self._chunk_loss_gradients(params, inputs, targets, loss_fn)
        chunks = map_chunks(
            lambda start, stop: self._chunk_loss_gradients(
                {n: v[start:stop] for n, v in params.items()}, _rows(inputs, start, stop - start),
                targets[start:stop], loss_fn),
            len(inputs), chunk_size, n_jobs=self.n_jobs)
        if len(chunks) == 1:
            return chunks[0]
        return (torch.cat([losses for losses, _ in chunks]),
                {n: torch.cat([grads[n] for _, grads in chunks]) for n in chunks[0][1]})

    @torch.no_grad()
    def _chunk_loss_gradients(self, params: dict[str, Tensor], inputs: SampleInputs, targets: Tensor,
                              loss_fn: LossFn) -> tuple[Tensor, dict[str, Tensor]]:
        bias = params.get("first.bias")
        if inputs.block_ids is None:
            hidden = first_layer_dense(params["first.weight"], bias, inputs.features)
        else:
            hidden = first_layer_one_block(params["first.weight"], bias, inputs.features,
                                           inputs.block_ids, self.n_blocks)
        tail = {n: params[n] for n in self._tail_names}
        values, activations = tail_forward(hidden, tail)
        derivative = getattr(loss_fn, "derivative", None)
        if derivative is not None:
            losses = loss_fn(values, targets).mean(1)
            upstream = derivative(values, targets) / values.shape[1]
        else:  # ∂loss/∂f from autograd, on the (N, S) predictions only
            with torch.enable_grad():
                predictions = values.requires_grad_()
                losses = loss_fn(predictions, targets).mean(1)
                (upstream,) = torch.autograd.grad(losses.sum(), predictions)
            losses = losses.detach()
        delta, grads = tail_backward(tail, activations, upstream)
        grads["first.weight"] = first_layer_gradient(delta, inputs.features, inputs.block_ids, self.n_blocks)
        if bias is not None:
            grads["first.bias"] = delta.sum(1)
        return losses, grads

    def _hidden_arms(self, params: dict[str, Tensor], arms: ArmFeatures) -> Tensor:
        bias = params.get("first.bias")
        if isinstance(arms, BlockArms):
            return first_layer_blocks(params["first.weight"], bias, arms.contexts, self.n_blocks)
        return first_layer_dense(params["first.weight"], bias, arms)

    def predict_arms(self, member_ids: Tensor, arms: ArmFeatures) -> Tensor:
        """Every arm of round ``b`` under member ``member_ids[b]`` → ``(B, K)``."""
        params = self.gather(member_ids)
        return self._tail_forward(params, self._hidden_arms(params, arms))

    def embed_arms(self, member_ids: Tensor, arms: ArmFeatures) -> Tensor:
        """The last hidden layer ``φ(x)`` (after its ReLU) of every arm → ``(B, K, m)``.

        The representation a linear head reads (NeuralLinear: Riquelme et al. 2018)."""
        params = self.gather(member_ids)
        return self._embedding(params, self._hidden_arms(params, arms))

    @torch.no_grad()
    def embed_samples(self, member_id: int, inputs: SampleInputs) -> Tensor:
        """``φ(x_s)`` of ``S`` stored samples under one member: ``inputs`` of one row (``(1, S, …)``),
        block sample ``s`` through its own block ``block_ids[0, s]`` only → ``(S, m)``.

        The first layer runs one block at a time on a view of the member's ``W_1``
        (:func:`first_layer_by_block`): no copy of ``W_1`` per sample (NeuralLinear re-embeds every
        stored sample after each training; on mnist a copy per sample was 3 MB each) and not the ``K×``
        arithmetic of every arm."""
        params = self.gather(torch.tensor([member_id]))
        weight, bias = params["first.weight"][0], params.get("first.bias")
        features = inputs.features[0]
        if inputs.block_ids is None:
            hidden = features @ weight.T
        else:
            order, counts = group_by_block(inputs.block_ids[0], self.n_blocks)
            hidden = features.new_empty(features.shape[0], weight.shape[0])
            hidden[order] = first_layer_by_block(weight, features[order].split(counts))
        if bias is not None:
            hidden = hidden + bias
        return self._embedding(params, hidden[None])[0]

    def _embedding(self, params: dict[str, Tensor], hidden: Tensor) -> Tensor:
        """The tail's hidden layers (all but the output) on first-layer outputs ``(N, S, m)``."""
        for index in range(1, len(self._tail) - 2, 2):  # every tail Linear but the output layer
            hidden = torch.einsum("nsh,noh->nso", hidden.relu(), params[f"tail.{index}.weight"])
            bias = params.get(f"tail.{index}.bias")
            if bias is not None:
                hidden = hidden + bias[:, None, :]
        return hidden.relu()

    def predict_all(self, arms: ArmFeatures, *, chunk_size: int = 256) -> Tensor:
        """The arms of one round under **every** member → ``(M, K)``: dense arms ``(1, K, d)`` or block
        arms with one context.

        Members run in chunks of ``chunk_size`` so that a chunk's first-layer output ``(chunk, K, m)``
        stays in cache between the first layer and the tail (the whole ``(M, K, m)`` tensor would make
        three trips through memory; at ``M = 20 000`` that was 10× slower), and each chunk's first layer
        is one wide matrix product shared by all its members (:func:`first_layer_shared`).  Without
        autograd, a 2-layer network's ReLU and output weights are applied in place on the chunk's
        fresh hidden layer (M-CNB's clustering at ``M = 20 000``: 25 → 18 ms).  The chunks are shared
        among ``n_jobs`` threads (:func:`~neuralbandits.models.parallel.map_chunks`; with two on two
        idle cores, 20 → 11 ms).
        """
        batch = arms.batch_size if isinstance(arms, BlockArms) else arms.shape[0]
        if batch != 1:
            raise ValueError(f"predict_all needs the arms of one round; got a batch of {batch}.")
        in_place = not torch.is_grad_enabled() and len(self._tail) == 2  # tail = ReLU, Linear(m → 1)
        params = self.stacked()

        def chunk(start: int, stop: int) -> Tensor:
            part = {n: v[start:stop] for n, v in params.items()}
            bias = part.get("first.bias")
            if isinstance(arms, BlockArms):
                hidden = first_layer_blocks(part["first.weight"], bias, arms.contexts, self.n_blocks)
            elif in_place:  # into the thread's scratch tensor: nothing of it is returned
                scratch = thread_scratch((stop - start) * arms.shape[1] * self.width, arms.dtype)
                hidden = first_layer_shared(part["first.weight"], bias, arms[0], out=scratch)
            else:
                hidden = first_layer_shared(part["first.weight"], bias, arms[0])
            if in_place:  # f = w_2 · ReLU(h) (+ b_2), without allocating ReLU(h) or the product
                output = hidden.relu_().mul_(part["tail.1.weight"]).sum(-1)
                return output + part["tail.1.bias"] if "tail.1.bias" in part else output
            return self._tail_forward(part, hidden)

        return torch.cat(map_chunks(chunk, self.n_members, chunk_size, n_jobs=self.n_jobs))

    @torch.no_grad()
    def gradient_features(
        self, member_ids: Tensor, arms: ArmFeatures
    ) -> tuple[Tensor, FactoredGradients]:
        """Predictions ``(B, K)`` and per-arm gradients ``g(x; θ_{member_b})`` in factored form.

        The gradient with respect to the first layer is ``δ ⊗ x`` with ``δ = ∂f/∂h₁``; it is returned
        as ``δ`` ``(B, K, m)`` plus the inputs, and the gradient of the remaining layers as ``(B, K, p_rest)``.
        """
        params = self.gather(member_ids)
        hidden = self._hidden_arms(params, arms)
        tail = {n: params[n] for n in self._tail_names}
        values, activations = tail_forward(hidden, tail)
        # backpropagation by hand: one contraction per layer instead of vmap(grad)'s per-arm graphs
        delta, tail_grads = tail_backward(tail, activations, torch.ones_like(values), per_sample=True)
        batch, n_arms = values.shape
        rest = torch.cat([tail_grads[n].reshape(batch, n_arms, -1) for n in self._tail_names], -1)
        if isinstance(arms, BlockArms):
            inputs, n_blocks = arms.contexts, arms.n_arms
        else:
            inputs, n_blocks = arms, 1
        return values, FactoredGradients(
            delta=delta, inputs=inputs, n_blocks=n_blocks, has_bias=self.has_bias, rest=rest
        )

    def forward(self, member_ids: Tensor, inputs: SampleInputs) -> Tensor:
        return self.predict(member_ids, inputs)


def members_as_modules(bank: LearnerBank, network: NetworkConfig) -> list[MLP]:
    """Unstack the bank into ``M`` independent ``MLP`` modules (copies; for tests and export)."""
    modules = []
    for index in range(bank.n_members):
        module = network.build(bank.dim)
        module.load_state_dict({n: v[index].detach().clone() for n, v in bank.stacked().items()})
        modules.append(module)
    return modules
