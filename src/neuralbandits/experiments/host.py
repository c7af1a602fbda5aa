"""Where a run was computed: the CPU and the numeric libraries that decide how it rounds.

A run is bit-identical on one machine, but not always across machines: NumPy's OpenBLAS picks its
kernels by CPU (a VM may also force them with ``OPENBLAS_CORETYPE``), and kernels round
differently.  ``mcnb-reference`` on fashion_mnist, seed 0, T = 10 000, ended at 2170 with OpenBLAS's
SkylakeX kernels and at 2247 with its Haswell ones (``docs/results/README.md``).  So every run
records its host (:attr:`RunResult.host <neuralbandits.experiments.runner.RunResult.host>`), the
store keeps it in the run's index entry, and a report says on which hosts its runs were computed.
"""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch


@lru_cache(maxsize=1)
def host_info() -> dict[str, str]:
    """CPU model, Python, torch and NumPy versions, and the kernels of every OpenBLAS loaded here."""
    from neuralbandits import __version__

    info = {"cpu": _cpu_model(), "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "neuralbandits": __version__}
    blas = _openblas_kernels()
    if blas:
        info["openblas"] = blas
    return info


def describe(host: dict[str, str]) -> str:
    """One line for a report: ``AMD EPYC, OpenBLAS Haswell (0.3.31), torch 2.13.0+cpu``."""
    parts = [host.get("cpu", "unknown CPU")]
    if "openblas" in host:
        parts.append(f"OpenBLAS {host['openblas']}")
    parts.append(f"torch {host.get('torch', '?')}")
    return ", ".join(parts)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _openblas_kernels() -> str:
    """``"Haswell (0.3.31)"``: the kernels NumPy's OpenBLAS chose, as threadpoolctl reports them (every
    loaded OpenBLAS if none is NumPy's bundled copy: SciPy loads its own, and whether it is loaded yet
    must not change a run's host); empty if none is loaded or threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ""
    libraries = [lib for lib in threadpool_info() if lib.get("internal_api") == "openblas"]
    numpys = [lib for lib in libraries if Path(lib.get("filepath", "")).parent.name.startswith("numpy")]
    kernels = {f"{lib.get('architecture')} ({lib.get('version')})" for lib in numpys or libraries}
    return ", ".join(sorted(kernels))
