"""Print the markdown results table of docs/results/neural-logistic.md from the summary.json files."""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent
ENVS = ["h1", "h2", "h3", "mnist", "mushroom", "shuttle"]
POLICIES = ["neurallog-ucb-1", "neurallog-ucb-2", "ncbf-ucb", "logistic-ucb-1", "ada-ofu-ecolog"]

rows = ["| env | T | " + " | ".join(POLICIES) + " | κ* (seed 0) |", "|---" * (len(POLICIES) + 3) + "|"]
speed = {p: [] for p in POLICIES}
for env in ENVS:
    path = OUT / env / "summary.json"
    if not path.exists():
        rows.append(f"| {env} | – | " + " | ".join("not run" for _ in POLICIES) + " | – |")
        continue
    summary = json.loads(path.read_text())
    stats = summary["policies"]
    best = min(stats[p]["final_regret_mean"] for p in POLICIES)
    cells = []
    for p in POLICIES:
        s = stats[p]
        cell = f"{s['final_regret_mean']:.1f} ± {s['final_regret_std']:.1f}"
        cells.append(f"**{cell}**" if s["final_regret_mean"] == best else cell)
        speed[p].append(f"{env} {s['rounds_per_s']:.0f}")
    kstar = summary.get("kappa_star_seed0", float("nan"))
    rows.append(f"| {env} | {summary['rounds']} | " + " | ".join(cells) + f" | {kstar:.2f} |")
print("\n".join(rows))
print()
for p in POLICIES:
    print(f"- `{p}`: " + ", ".join(speed[p]) + " rounds/s")
print()
for env in ENVS:
    path = OUT / env / "summary.json"
    if path.exists():
        summary = json.loads(path.read_text())
        diag = summary["diagnostics"]
        parts = [f"{p}: λ_T={d[0]['lambda_T']:.3g}, D_T={d[0]['effective_dim_T']:.3g}, radius_T={d[0]['radius_T']:.3g}"
                 for p, d in diag.items()]
        print(f"- {env} (seed 0): " + "; ".join(parts) + (f"; κ_env={summary['kappa_env']:.1f}" if "kappa_env" in summary else ""))
