"""Run records as tables and the files a run writes: ``curves.csv``, ``summary.json``, ``records.parquet``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from neuralbandits.experiments.runner import RunResult


def records_frame(results: Iterable[RunResult]) -> pd.DataFrame:
    """One row per (policy, seed, round ``t`` = 1..T): action, reward, regret, cumulative regret, seconds,
    and every ``Outcome.extras`` diagnostic.  A slate is written as its arms separated by spaces."""
    frames = []
    for r in results:
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
        frames.append(pd.DataFrame({**columns, **r.extras}))
    return pd.concat(frames, ignore_index=True)


def summary_frame(records: pd.DataFrame) -> pd.DataFrame:
    """Per policy (in first-seen order): final cumulative regret mean/std over seeds, seconds, rounds/s."""
    last = records.sort_values("t").groupby(["policy", "seed"], sort=False).tail(1)
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
    """Write ``curves.csv``, ``records.parquet`` and ``summary.json`` into ``out_dir``; returns the summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records[["policy", "seed", "t", "cumulative_regret"]].to_csv(out_dir / "curves.csv", index=False)
    records.to_parquet(out_dir / "records.parquet", index=False)
    table = summary_frame(records)
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
            }
            for name, row in table.iterrows()
        },
        **(extra or {}),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
