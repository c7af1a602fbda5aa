"""Run records as tables and the files a run writes: ``curves.csv``, ``summary.json``, ``records.parquet``.

Columns of the records: ``policy``, ``seed``, ``t`` (1..T), ``action``, ``reward``, ``regret``,
``cumulative_regret``, ``elapsed_s``, then every ``Outcome.extras`` series under its own name, then
every policy diagnostic (:meth:`PolicyBase.diagnostics`) as ``policy_<name>`` (e.g.
``policy_effective_dim``), NaN for rounds before the policy's first update and for policies
without diagnostics.  Environment extras may not start with ``policy_``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from neuralbandits.experiments.runner import RunResult

#: prefix of the policy-diagnostic columns; keeps them apart from the environment's extras
DIAGNOSTIC_PREFIX = "policy_"


def records_frame(results: Iterable[RunResult]) -> pd.DataFrame:
    """One row per (policy, seed, round ``t`` = 1..T): action, reward, regret, cumulative regret, seconds,
    every ``Outcome.extras`` diagnostic and every policy diagnostic (``policy_<name>``).  A slate is
    written as its arms separated by spaces."""
    frames = []
    for r in results:
        clashing = sorted(name for name in r.extras if name.startswith(DIAGNOSTIC_PREFIX))
        if clashing:
            raise ValueError(f"Outcome.extras names may not start with {DIAGNOSTIC_PREFIX!r} (kept for policy "
                             f"diagnostics); got {', '.join(map(repr, clashing))}.")
        actions = r.actions if r.actions.ndim == 1 else [" ".join(map(str, row)) for row in r.actions]
        columns = {
            "policy": r.policy,
            "seed": r.seed,
            "t": np.arange(1, len(r.regrets) + 1),
            "action": actions,
            "reward": r.rewards,
            "regret": r.regrets,
            "cumulative_regret": r.cumulative_regret,
            "elapsed_s": r.elapsed_s,
        }
        diagnostics = {DIAGNOSTIC_PREFIX + name: values for name, values in r.diagnostics.items()}
        frames.append(pd.DataFrame({**columns, **r.extras, **diagnostics}))
    return pd.concat(frames, ignore_index=True)


def diagnostic_columns(records: pd.DataFrame) -> list[str]:
    """The policy-diagnostic columns of a records table that hold any value."""
    return [c for c in records.columns if c.startswith(DIAGNOSTIC_PREFIX) and records[c].notna().any()]


def final_diagnostics(records: pd.DataFrame) -> pd.DataFrame:
    """Per policy (rows, first-seen order) and diagnostic (columns, without the prefix): the value at each
    seed's last round, mean over the seeds that have one; policies without diagnostics are left out."""
    columns = diagnostic_columns(records)
    last = records.sort_values("t", kind="stable").groupby(["policy", "seed"], sort=False).tail(1)
    means = last.groupby("policy", sort=False)[columns].mean()
    means.columns = [c[len(DIAGNOSTIC_PREFIX):] for c in columns]
    order = [p for p in dict.fromkeys(records["policy"]) if p in means.index]
    return means.loc[order].dropna(how="all")


def summary_frame(records: pd.DataFrame) -> pd.DataFrame:
    """Per policy (in first-seen order): final cumulative regret mean/std over seeds, seconds, rounds/s."""
    last = records.sort_values("t", kind="stable").groupby(["policy", "seed"], sort=False).tail(1)
    grouped = last.groupby("policy", sort=False)
    summary = pd.DataFrame(
        {
            "final_regret_mean": grouped["cumulative_regret"].mean(),
            "final_regret_std": grouped["cumulative_regret"].std(ddof=0),
            "seconds_mean": grouped["elapsed_s"].mean(),
            "rounds": grouped["t"].max(),
            "n_seeds": grouped["seed"].nunique(),
        }
    )
    summary["rounds_per_s"] = summary["rounds"] / summary["seconds_mean"]
    order = list(dict.fromkeys(records["policy"]))
    return summary.loc[order]


def write_outputs(records: pd.DataFrame, out_dir: Path, *, env: str, rounds: int,
                  seeds: list[int], extra: dict | None = None) -> dict:
    """Write ``curves.csv``, ``records.parquet`` and ``summary.json`` into ``out_dir``; returns the summary.

    A policy with diagnostics gets ``"diagnostics"``: each one's final value, mean over seeds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records[["policy", "seed", "t", "cumulative_regret"]].to_csv(out_dir / "curves.csv", index=False)
    records.to_parquet(out_dir / "records.parquet", index=False)
    table = summary_frame(records)
    finals = final_diagnostics(records)
    summary = {
        "env": env,
        "rounds": rounds,
        "seeds": seeds,
        "policies": {
            name: {
                "final_regret_mean": float(row.final_regret_mean),
                "final_regret_std": float(row.final_regret_std),
                "seconds_mean": float(row.seconds_mean),
                "rounds_per_s": float(row.rounds_per_s),
                **({"diagnostics": {k: float(v) for k, v in finals.loc[name].dropna().items()}}
                   if name in finals.index else {}),
            }
            for name, row in table.iterrows()
        },
        **(extra or {}),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
