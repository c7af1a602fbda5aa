"""Diagnostic (tuning seed only, never a reported seed): how large are M-CNB's relative clusters?

For faithful and reference mode on one environment, play T rounds and record, every round, the
size of the relative cluster of the played arm (faithful: |Δf| ≤ (ν−1)/ν·γ; reference: |Δf| < γ,
before the code's n/5 cap), as a fraction of all users.  Writes a CSV and prints window means.

    python docs/results/mcnb/cluster_sizes.py recommendation:movielens_latest_small 2000 100
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from neuralbandits.envs.registry import build_env
from neuralbandits.experiments.runner import run_seeds
from neuralbandits.policies import build_policy
from neuralbandits.types import Feedback


def cluster_fraction(policy, context, action: int) -> float:  # type: ignore[no-untyped-def]
    predictions = policy.user_predictions(context)[0, :, action]  # (n,)
    own = predictions[int(context.user_ids[0])]
    if policy.mode == "reference":
        inside = (predictions - own).abs() < policy.gamma
    else:
        inside = (predictions - own).abs() <= policy.threshold
    return float(inside.float().mean())


def main(env_spec: str, rounds: int, seed: int) -> None:
    torch.set_num_threads(1)
    env = build_env(env_spec)
    env_seed, policy_seed = run_seeds(seed)
    rows = []
    for mode in ("faithful", "reference"):
        policy = build_policy("mcnb", env.info, seed=policy_seed, mode=mode)
        context = env.reset(seed=env_seed)
        for t in range(rounds):
            action = policy.select(context)
            rows.append({"mode": mode, "round": t + 1, "cluster_fraction": cluster_fraction(policy, context, int(action[0]))})
            outcome = env.step(action)
            policy.update(Feedback(context, action, outcome.rewards))
            context = outcome.next_context
    frame = pd.DataFrame(rows)
    out = Path(__file__).with_name(f"cluster_sizes-{env_spec.replace(':', '-')}.csv")
    frame.to_csv(out, index=False)
    frame["window"] = (frame["round"] - 1) // max(1, rounds // 5)
    print(frame.groupby(["mode", "window"])["cluster_fraction"].mean().unstack().round(3).to_string())
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 100)
