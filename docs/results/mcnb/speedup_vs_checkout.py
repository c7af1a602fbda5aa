"""Seconds per round of some policies on one environment: this checkout against an older one given by
``--old``.  Used for the clustered linear baselines on mnist blocks (d = 7840 as 10 blocks of 784) against
commit 5526a6a, which aggregated and inverted the clusters afresh every round (before ``ClusterStats``),
or 73069b2 (``ClusterStats`` without the Woodbury steps on membership changes); and for the neural
policies against commit 3b5ee11 (training through autograd, unfused Adam).

Both versions run in the same invocation, alternating, each in its own process; the policy's own
seconds (select + update) per round are reported as the median over repeats, with the final regret
of each version (the same choices give the same regret).

    git worktree add /tmp/old 5526a6a
    export NEURALBANDITS_DATA=/path/to/datasets
    python docs/results/mcnb/speedup_vs_checkout.py --old /tmp/old/src --policies club,cofiba --rounds 40 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ONE_RUN = r"""
import json, sys, torch
torch.set_num_threads(1)
from neuralbandits.envs.registry import build_env
from neuralbandits.experiments.runner import run_policy
from neuralbandits.policies import build_policy
env = build_env(sys.argv[3])
out = {}
for key in sys.argv[1].split(","):
    run = run_policy(env, build_policy(key, env.info, seed=0), int(sys.argv[2]), env_seed=1)
    out[key] = [run.policy_s / len(run.regrets), float(run.regrets.sum())]
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="src/ of the older checkout")
    parser.add_argument("--policies", default="club,sclub,locb,cofiba")
    parser.add_argument("--env", default="classification:mnist")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    new_src = Path(__file__).resolve().parents[3] / "src"
    results: dict[str, list[dict]] = {"old": [], "new": []}
    for _ in range(args.repeats):
        for name, src in (("old", args.old), ("new", new_src)):
            env = {**os.environ, "PYTHONPATH": str(src)}
            done = subprocess.run([sys.executable, "-c", ONE_RUN, args.policies, str(args.rounds), args.env],
                                  env=env, capture_output=True, text=True, check=True)
            results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    for key in args.policies.split(","):
        old = statistics.median(r[key][0] for r in results["old"])
        new = statistics.median(r[key][0] for r in results["new"])
        print(f"{key}: --old checkout {old * 1000:.1f} ms/round, this checkout {new * 1000:.1f} ms/round, "
              f"speed-up {old / new:.1f}x; final regret {results['old'][0][key][1]:.0f} vs "
              f"{results['new'][0][key][1]:.0f}")


if __name__ == "__main__":
    main()
