"""Tables, slopes and the Theorem-1 figure of docs/results/ccbm.md from the runs' records.

Usage (after the three ``neuralbandits run`` commands of docs/results/ccbm.md):

    python docs/results/ccbm/make_report.py RUNS_DIR

``RUNS_DIR`` holds ``T1000/``, ``T10000/`` and (optionally) ``T100000/``, each written by
``neuralbandits run --out``.  Prints the Markdown tables and writes ``bound.png`` next to this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from neuralbandits.reporting.bounds import (  # noqa: E402
    ccbm_bound,
    ccbm_bound_terms,
    fit_bound_shape,
    loglog_slope,
    t34_log_t,
)

HERE = Path(__file__).parent
# combinatorial:synthetic defaults: M = 5 users, B = 3, r_max = 0.9, L = 1.6, K_max = 50 arms
M, B, R_MAX, L, N_AVAIL = 5, 3, 0.9, 1.6, 50


def load(runs: Path) -> dict[int, pd.DataFrame]:
    frames = {}
    for horizon in (1000, 10000, 100000):
        path = runs / f"T{horizon}" / "records.parquet"
        if path.exists():
            frames[horizon] = pd.read_parquet(path, columns=["policy", "seed", "t", "regret", "alpha_regret",
                                                             "cumulative_regret", "elapsed_s"])
    return frames


def finals(records: pd.DataFrame) -> pd.DataFrame:
    """Per policy: final plain and α-regret (mean ± std over seeds), seconds per run."""
    per_seed = records.groupby(["policy", "seed"], sort=False).agg(
        regret=("regret", "sum"), alpha=("alpha_regret", "sum"), seconds=("elapsed_s", "max"))
    table = per_seed.groupby("policy", sort=False).agg(
        regret_mean=("regret", "mean"), regret_std=("regret", lambda x: x.std(ddof=0)),
        alpha_mean=("alpha", "mean"), alpha_std=("alpha", lambda x: x.std(ddof=0)),
        seconds=("seconds", "mean"), seeds=("regret", "size"))
    return table


def main(runs: Path) -> None:
    frames = load(runs)
    tables = {T: finals(frame) for T, frame in frames.items()}
    for T, table in tables.items():
        print(f"\n### T = {T}\n")
        print("| policy | plain regret (mean ± std) | α-regret (mean ± std) | s/run | seeds |")
        print("|---|---|---|---|---|")
        for name, row in table.iterrows():
            print(f"| {name} | {row.regret_mean:.1f} ± {row.regret_std:.1f} | "
                  f"{row.alpha_mean:.1f} ± {row.alpha_std:.1f} | {row.seconds:.1f} | {int(row.seeds)} |")

    print("\n### log–log slope of final plain regret against T (separate runs, h_T tuned to each T)\n")
    print("| policy | horizons | final regret per horizon | slope |")
    print("|---|---|---|---|")
    policies = list(dict.fromkeys(p for table in tables.values() for p in table.index))
    slopes = {}
    for policy in policies:
        horizons = [T for T, table in tables.items() if policy in table.index]
        values = [tables[T].loc[policy, "regret_mean"] for T in horizons]
        if len(horizons) >= 2:
            slopes[policy] = loglog_slope(horizons, values)[0]
            shown = ", ".join(f"{v:.0f}" for v in values)
            print(f"| {policy} | {', '.join(f'{T:g}' for T in horizons)} | {shown} | {slopes[policy]:.3f} |")

    longest = max(frames)
    frame = frames[longest]
    print(f"\n### anytime slope inside the T = {longest} runs (mean curve, t from {longest // 100} to {longest})\n")
    curves = {}
    for policy, group in frame.groupby("policy", sort=False):
        mean = group.groupby("t")["cumulative_regret"].mean()
        curves[policy] = mean
        t = mean.index.to_numpy()
        keep = t >= longest // 100
        slope = loglog_slope(t[keep], mean.to_numpy()[keep])[0]
        print(f"- {policy}: {slope:.3f}")

    # -- the figure: Theorem 1 next to the empirical curves ---------------------------------------
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), dpi=120)
    grid = np.unique(np.logspace(1, np.log10(longest), 200).round())
    left.plot(grid, ccbm_bound(grid, M, B, R_MAX, L, N_AVAIL), "k-", label="Theorem 1 bound (as printed)")
    left.plot(grid, ccbm_bound(grid, M, B, R_MAX, L, N_AVAIL, variant="proof_end"), "k--",
              label="Theorem 1, proof's last line (no M)")
    terms = ccbm_bound_terms(grid, M, B, R_MAX, L, N_AVAIL)
    left.plot(grid, terms["explore"] + terms["near_optimal"], "k:",
              label="Theorem 1 without its constant C(50,3)·π²/3 term")
    for policy, mean in curves.items():
        t = mean.index.to_numpy()
        step = max(1, len(t) // 400)
        left.plot(t[::step], mean.to_numpy()[::step], label=f"{policy}: empirical regret (T = {longest})")
    if "ccbm" in slopes:
        horizons = np.array([T for T in tables if "ccbm" in tables[T].index], dtype=float)
        values = np.array([tables[int(T)].loc["ccbm", "regret_mean"] for T in horizons])
        c = fit_bound_shape(horizons, values)
        left.plot(grid, c * t34_log_t(grid), ":", color="C0",
                  label=f"fitted {c:.3f}·T^(3/4) ln T (ccbm finals)")
        left.plot(horizons, values, "o", color="C0", label="ccbm final regret, run with h_T of T")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("T")
    left.set_ylabel("cumulative plain regret (sum over M users)")
    left.set_title("combinatorial:synthetic (coverage): Theorem 1 vs empirical")
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=7)

    ten = frames.get(10000, frame)
    for policy, group in ten.groupby("policy", sort=False):
        per_seed = group.pivot(index="t", columns="seed", values="alpha_regret").cumsum()
        mean, std = per_seed.mean(axis=1), per_seed.std(axis=1, ddof=0)
        line = right.plot(mean.index, mean, label=policy)[0]
        right.fill_between(mean.index, mean - std, mean + std, color=line.get_color(), alpha=0.15, linewidth=0)
    right.axhline(0, color="k", linewidth=0.8)
    right.set_xlabel("round t")
    right.set_ylabel("cumulative α-regret, (1 − 1/e)·OPT − R(S)")
    right.set_title("α-regret (T = 10 000, mean ± std): negative for every policy")
    right.grid(alpha=0.3)
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "bound.png")
    print(f"\nwrote {HERE / 'bound.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/ccbm"))
