"""Small MLPs and their initialisations, with a first layer that understands block-encoded arms.

Every network here is ``f(x) = tail(first(x))``: ``first`` is a ``Linear(d → m)`` and ``tail`` is
``ReLU → Linear(m → m) → … → ReLU → Linear(m → 1)``.  Splitting off the first layer is what lets the
library exploit the disjoint "K long vectors" encoding: for ``x_{t,a} = e_a ⊗ x`` the first layer is
``W_1[:, block a] · x``, so no ``(K, K·d_x)`` copy is ever formed, and the first-layer gradient is the
outer product ``δ ⊗ x`` (see :mod:`neuralbandits.models.gradient_features`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import Tensor, nn

from neuralbandits.validation import Interval, OneOf, check_params


class MLP(nn.Module):
    """``f(x; θ) = W_L σ(… σ(W_1 x))`` with ReLU ``σ``, width ``m`` and depth ``L`` (layers with weights).

    ``init="gaussian"`` is paper 000 §5: hidden weights ``N(0, 2/m)``, output weights ``N(0, 1/m)``
    (the first layer ``N(0, 2/m)`` too), no biases unless ``bias=True``.  ``init="pytorch"`` is
    ``nn.Linear``'s default distribution (weights and biases ``U(−1/√fan_in, 1/√fan_in)``), drawn
    from ``generator`` so that it is seeded like the rest.
    """

    def __init__(
        self,
        dim: int,
        *,
        width: int = 100,
        depth: int = 2,
        bias: bool = False,
        init: str = "gaussian",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        check_params(
            "MLP",
            {"dim": dim, "width": width, "depth": depth, "init": init},
            {
                "dim": Interval(1, None, integer=True),
                "width": Interval(1, None, integer=True),
                "depth": Interval(2, None, integer=True),
                "init": OneOf(("gaussian", "pytorch")),
            },
        )
        self.first = nn.Linear(dim, width, bias=bias)
        layers: list[nn.Module] = []
        for _ in range(depth - 2):
            layers += [nn.ReLU(), nn.Linear(width, width, bias=bias)]
        layers += [nn.ReLU(), nn.Linear(width, 1, bias=bias)]
        self.tail = nn.Sequential(*layers)
        if init == "gaussian":
            self._gaussian_init(width, generator)
        else:
            self._uniform_init(generator)

    @torch.no_grad()
    def _gaussian_init(self, width: int, generator: torch.Generator | None) -> None:
        linears = [self.first] + [m for m in self.tail if isinstance(m, nn.Linear)]
        for index, layer in enumerate(linears):
            variance = (1.0 if index == len(linears) - 1 else 2.0) / width
            layer.weight.normal_(0.0, variance**0.5, generator=generator)
            if layer.bias is not None:
                layer.bias.zero_()

    @torch.no_grad()
    def _uniform_init(self, generator: torch.Generator | None) -> None:
        for layer in [self.first] + [m for m in self.tail if isinstance(m, nn.Linear)]:
            bound = layer.weight.shape[1] ** -0.5  # kaiming_uniform(a=√5) = U(±1/√fan_in)
            layer.weight.uniform_(-bound, bound, generator=generator)
            if layer.bias is not None:
                layer.bias.uniform_(-bound, bound, generator=generator)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., d) → (...)``."""
        return self.tail(self.first(x)).squeeze(-1)


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture of every member of a bank (paper 000 §5 defaults: ``m = 100``, 2 layers, no bias)."""

    width: int = 100
    depth: int = 2
    bias: bool = False
    init: str = "gaussian"

    def build(self, dim: int, generator: torch.Generator | None = None) -> MLP:
        return MLP(
            dim, width=self.width, depth=self.depth, bias=self.bias, init=self.init, generator=generator
        )


def first_layer_dense(weight: Tensor, bias: Tensor | None, inputs: Tensor) -> Tensor:
    """Per-member first layer on dense inputs: weight ``(N, m, d)``, inputs ``(N, …, d)`` → ``(N, …, m)``."""
    shape = inputs.shape
    flat = inputs.reshape(shape[0], -1, shape[-1])
    hidden = flat @ weight.transpose(1, 2)  # a batched product (the einsum it replaces ran the same)
    if bias is not None:
        hidden = hidden + bias[:, None, :]
    return hidden.reshape(*shape[:-1], weight.shape[1])


def first_layer_blocks(
    weight: Tensor, bias: Tensor | None, contexts: Tensor, n_blocks: int
) -> Tensor:
    """Per-member first layer on **every** block arm: weight ``(N, m, K·d_x)``, contexts ``(N, d_x)``,
    or ``(1, d_x)`` for one context shared by every member.

    Returns ``(N, K, m)``: row ``a`` is ``W_1[:, block a] · x`` — the first layer of the block-encoded
    arm ``a`` without building it (a strided view).
    """
    n, width, _ = weight.shape
    if contexts.shape[0] == 1:  # one context for all: one matrix–vector product over all of W_1
        hidden = weight.reshape(n * width * n_blocks, -1) @ contexts[0]
    else:  # W_1 as (N, m·K, d_x): one batched matrix–vector product, no copy of W_1 (an einsum over
        # the 4-d view copied it first: 10× slower on mnist)
        hidden = weight.view(n, width * n_blocks, -1) @ contexts[:, :, None]
    hidden = hidden.view(n, width, n_blocks).transpose(1, 2)
    if bias is not None:
        hidden = hidden + bias[:, None, :]
    return hidden


def first_layer_shared(weight: Tensor, bias: Tensor | None, inputs: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Every member on the **same** dense inputs: weight ``(N, m, d)``, inputs ``(S, d)`` → ``(N, S, m)``.

    One matrix product with the inputs on the left, ``(S, d) · (d, N·m)``: a wide product that BLAS
    runs near peak, where the per-member form is ``N`` tiny products.  The result is a strided view,
    of the first ``S·N·m`` elements of the flat tensor ``out`` when it is given (the bias is then
    added in place).
    """
    n, width, dim = weight.shape
    flat = weight.reshape(n * width, dim).T
    if out is None:
        product = inputs @ flat
    else:
        product = torch.matmul(inputs, flat, out=out[: inputs.shape[0] * n * width].view(inputs.shape[0], -1))
    hidden = product.view(-1, n, width).transpose(0, 1)
    if bias is not None:
        hidden = hidden + bias[:, None, :] if out is None else hidden.add_(bias[:, None, :])
    return hidden


def encode_blocks(contexts: Tensor, block_ids: Tensor, n_blocks: int) -> Tensor:
    """The "K long vectors" of block samples: contexts ``(N, S, d_x)`` with ``block_ids`` ``(N, S)`` →
    ``(N, S, K·d_x)``, sample ``s``'s context in block ``block_ids[s]`` and zeros elsewhere."""
    n, n_samples, d_x = contexts.shape
    encoded = contexts.new_zeros(n, n_samples, n_blocks, d_x)
    encoded.scatter_(2, block_ids[..., None, None].expand(-1, -1, 1, d_x), contexts[:, :, None, :])
    return encoded.view(n, n_samples, n_blocks * d_x)


def first_layer_one_block(
    weight: Tensor, bias: Tensor | None, contexts: Tensor, block_ids: Tensor, n_blocks: int
) -> Tensor:
    """Per-member first layer of one block arm per sample: weight ``(N, m, K·d_x)``, contexts
    ``(N, S, d_x)``, block_ids ``(N, S)`` → ``(N, S, m)``.

    With at least as many samples as blocks, one product with the encoded samples (``K×`` the
    arithmetic, but no copy of a block per sample: 7× faster for 16 mnist samples); otherwise only
    the played blocks are gathered and read."""
    n, width, _ = weight.shape
    if contexts.shape[1] >= n_blocks:
        hidden = encode_blocks(contexts, block_ids, n_blocks) @ weight.transpose(1, 2)
    else:
        blocks = weight.view(n, width, n_blocks, contexts.shape[-1]).transpose(1, 2)  # (N, K, m, d_x)
        chosen = blocks[torch.arange(n, device=weight.device)[:, None], block_ids]  # (N, S, m, d_x)
        hidden = torch.einsum("nsmd,nsd->nsm", chosen, contexts)
    if bias is not None:
        hidden = hidden + bias[:, None, :]
    return hidden


def group_by_block(block_ids: Tensor, n_blocks: int) -> tuple[Tensor, list[int]]:
    """The stable order that sorts samples by block ``(N,)``, and the number of samples per block."""
    return torch.argsort(block_ids, stable=True), torch.bincount(block_ids, minlength=n_blocks).tolist()


def first_layer_by_block(weight: Tensor, pieces: Sequence[Tensor]) -> Tensor:
    """One network's first layer on block samples grouped by block: weight ``(m, K·d_x)``,
    ``pieces[k]`` ``(n_k, d_x)`` the contexts of the samples in block ``k`` → ``(Σ n_k, m)`` in the
    pieces' order.

    One product per block with a strided view of that block's weights: no copy of ``W_1`` per
    sample (a gather of one block per sample was 25× slower for 100 mnist samples) and not the
    ``K×`` arithmetic of the encoded "long vectors"."""
    blocks = weight.view(weight.shape[0], len(pieces), -1)
    products = [piece @ blocks[:, k, :].T for k, piece in enumerate(pieces) if len(piece)]
    return torch.cat(products) if products else weight.new_zeros(0, weight.shape[0])


def first_layer_gradient(delta: Tensor, features: Tensor, block_ids: Tensor | None, n_blocks: int) -> Tensor:
    """``∂/∂W_1`` of ``Σ_s f(x_s)`` given ``δ_s = ∂f/∂(W_1 x_s)``: ``Σ_s δ_s x_sᵀ`` per member.

    ``delta`` ``(N, S, m)``; dense ``features`` ``(N, S, d)``, or block contexts ``(N, S, d_x)`` with
    ``block_ids`` ``(N, S)``, whose sample ``s`` only reaches block ``block_ids[s]`` of ``W_1``.
    Returns ``(N, m, d)`` (``d = K·d_x`` for blocks).
    """
    if block_ids is not None:
        features = encode_blocks(features, block_ids, n_blocks)
    if features.shape[-1] >= delta.shape[-1]:
        return delta.transpose(1, 2) @ features
    # d < m: (xᵀδ)ᵀ, the product of two contiguous operands, is 2–3× faster than δᵀx
    return (features.transpose(1, 2) @ delta).transpose(1, 2).contiguous()


def tail_layers(params: Iterable[str]) -> tuple[int, ...]:
    """Indices ``i`` of the tail's linear layers (``tail.{i}.weight``) among the names ``params``, in order."""
    return _tail_layers(tuple(params))


@functools.lru_cache(maxsize=64)
def _tail_layers(names: tuple[str, ...]) -> tuple[int, ...]:
    # cached: parsed at every training step otherwise
    return tuple(sorted(int(name.split(".")[1]) for name in names
                        if name.startswith("tail.") and name.endswith("weight")))


def tail_forward(hidden: Tensor, params: dict[str, Tensor]) -> tuple[Tensor, list[Tensor]]:
    """``f = W_L σ(… σ(hidden))`` for rows with their own (or shared) parameters, without autograd.

    ``hidden`` ``(R, N, m)`` is the first layer's output (pre-activation) of ``N`` samples in each of
    ``R`` rows; ``params`` maps ``tail.{i}.weight`` to ``(R, out, in)`` and ``tail.{i}.bias`` to
    ``(R, out)``, or to ``(out, in)`` / ``(out,)`` when every row shares them.  Returns ``f`` ``(R, N)``
    and the input activation ``σ(·)`` of every tail layer (for :func:`tail_backward`).
    """
    activations = []
    for index in tail_layers(params):
        activations.append(hidden.relu())
        hidden = activations[-1] @ params[f"tail.{index}.weight"].transpose(-1, -2)
        bias = params.get(f"tail.{index}.bias")
        if bias is not None:
            hidden = hidden + bias.unsqueeze(-2)
    return hidden.squeeze(-1), activations


def tail_backward(
    params: dict[str, Tensor], activations: list[Tensor], upstream: Tensor, *, per_sample: bool = False
) -> tuple[Tensor, dict[str, Tensor]]:
    """Backpropagation through the tail by hand (one batched matrix product per layer and step).

    ``activations`` are :func:`tail_forward`'s (ReLU's mask is ``σ(h) > 0``, the same as ``h > 0``).
    ``upstream`` ``(R, N)`` weights each sample (``1`` for ``∇f``, ``∂loss/∂f`` for a loss).  Returns
    ``δ = upstream · ∂f/∂hidden`` ``(R, N, m)`` and the tail gradients of each row, summed over its ``N``
    samples (``(R, …)``), or per sample (``(R, N, …)``) with ``per_sample=True``.
    """
    grads: dict[str, Tensor] = {}
    error = upstream[..., None]  # (R, N, out)
    for index, active in zip(reversed(tail_layers(params)), reversed(activations)):
        weight = params[f"tail.{index}.weight"]
        scalar = error.shape[-1] == 1  # the output layer: products with a unit dimension are broadcasts
        if per_sample:
            grads[f"tail.{index}.weight"] = error[..., :, None] * active[..., None, :]
        else:
            grads[f"tail.{index}.weight"] = error.transpose(-1, -2) @ active
        if f"tail.{index}.bias" in params:
            grads[f"tail.{index}.bias"] = error if per_sample else error.sum(-2)
        # ReLU's backward as one fused pass: multiplying by the mask `pre > 0` converts a bool
        # tensor and was 5-10x slower (the largest single cost of a training step)
        error = torch.ops.aten.threshold_backward(error * weight if scalar else error @ weight, active, 0)
    return error, grads
