"""glibc's malloc keeps freed memory for reuse once :func:`keep_freed_memory` ran (CLI and workers)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from neuralbandits.allocator import keep_freed_memory

# One M-CNB meta step over 20 000 samples (a one-member bank's batched gradient: activations of a few
# megabytes each, allocated and freed in turn); its page faults are counted in a fresh process, since
# the setting is process-wide.
STEPS = """
import resource, sys, torch
if sys.argv[1] == "keep":
    from neuralbandits.allocator import keep_freed_memory
    assert keep_freed_memory()
from neuralbandits.models.bank import LearnerBank, SampleInputs
from neuralbandits.models.training import half_squared_loss
bank = LearnerBank(10, 1, seed=0)
inputs, targets = SampleInputs(torch.randn(1, 20000, 10)), torch.rand(1, 20000)
bank.loss_gradients(None, inputs, targets, half_squared_loss)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    bank.loss_gradients(None, inputs, targets, half_squared_loss)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def test_freed_blocks_are_reused_instead_of_faulted_in_again() -> None:
    if not keep_freed_memory():
        pytest.skip("the C library is not glibc")
    default, kept = page_faults("default"), page_faults("keep")
    # by default most activations are fresh pages at every step (~2 500 faults a step on our VM)
    assert kept * 2 < default, (kept, default)
