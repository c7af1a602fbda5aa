"""Freed memory kept for reuse: glibc's ``malloc`` tuned for tensors that come and go every step.

PyTorch's CPU tensors come from ``malloc``.  By default glibc serves a block above 128 KB with a
fresh ``mmap`` (raising that threshold, up to 32 MB, as such blocks are freed) and hands the free
memory at the top of its heap back to the system once more than twice that threshold is free.  A
training step that allocates megabytes of activations and gradients and frees them then touches
fresh pages at every step, each at the cost of a page fault: one M-CNB meta step over 20 000
samples took 9.8 ms with 3 500 page faults, 3.4 ms with 330 once freed memory is kept (one batched
gradient of a learner bank, on a 2-core VM); one training of 20 000 M-CNB user-learners (whose
gradients are 80 MB), 5.7 s against 4.0 s.  Where a block comes from never changes a result:
PyTorch aligns every CPU tensor the same way.

:func:`keep_freed_memory` serves blocks up to 512 MB from the heap (32 MB where a glibc allows
no more) and keeps up to 1 GB of freed memory for reuse.  The command line and the workers
of a sweep call it; a program that uses the library directly may call it once at start.  The cost
is memory: a process keeps up to that much of what it freed instead of returning it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
MMAP_THRESHOLDS = (512 * 2**20, 32 * 2**20)  # the first one glibc accepts (older ones: at most 32 MB)
TRIM_THRESHOLD = 2**30


@lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Make glibc's ``malloc`` keep freed memory for reuse (see the module); ``False`` where the C
    library is not glibc (macOS, musl), which then keeps its own policy."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    # mallopt returns 1 on success; setting the mmap threshold stops glibc's own adjustment of both
    # thresholds, so it comes first
    if not any(mallopt(M_MMAP_THRESHOLD, threshold) for threshold in MMAP_THRESHOLDS):
        return False
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
