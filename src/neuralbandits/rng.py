"""Explicit seeding: every stochastic object owns its generator; no global RNG is touched."""

from __future__ import annotations

import numpy as np
import torch


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (fresh entropy when ``None``)."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    return generator


def spawn_seeds(seed: int | None, n: int) -> list[int]:
    """``n`` independent child seeds of ``seed`` (``numpy.random.SeedSequence.spawn``).

    Adding a component that asks for more children never shifts the streams of the others.
    """
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]
