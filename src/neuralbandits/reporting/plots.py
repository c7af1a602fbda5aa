"""Figures built from the records table: cumulative regret (or any per-round column, e.g. a policy
diagnostic), mean ± std over seeds, per policy."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def mean_curves(records: pd.DataFrame, column: str = "cumulative_regret", *, max_points: int = 500) -> pd.DataFrame:
    """Mean and std of ``column`` over seeds per (policy, t), thinned to ``max_points`` rounds; rounds
    without any value (NaN, e.g. a diagnostic before the first update) are left out."""
    horizon = int(records["t"].max())
    keep = np.unique(np.linspace(1, horizon, min(max_points, horizon)).round().astype(int))
    thinned = records[records["t"].isin(keep)]
    stats = thinned.groupby(["policy", "t"], sort=False)[column].agg(["mean", "std"])
    stats["std"] = stats["std"].fillna(0.0)  # one seed: no band
    return stats.dropna(subset=["mean"]).reset_index()


def line_style(index: int) -> dict[str, object]:
    """Colour and dash of the ``index``-th curve: the ten tab10 colours, then dashed, then dotted,
    so that more than ten policies stay distinguishable."""
    return {"color": plt.get_cmap("tab10")(index % 10), "linestyle": ("-", "--", ":")[(index // 10) % 3]}


def draw_curves(ax, records: pd.DataFrame, column: str,  # type: ignore[no-untyped-def]
                *, floor: float | None = None) -> None:
    """``column`` of every policy that has it on ``ax``: mean line and ± std band over seeds, the band
    cut at ``floor`` (a value the column cannot go below).  A policy keeps its colour (its place in
    ``records``) whether or not the others have the column."""
    curves = mean_curves(records, column)
    for index, policy in enumerate(dict.fromkeys(records["policy"])):
        c = curves[curves["policy"] == policy]
        if c.empty:
            continue
        ax.plot(c["t"], c["mean"], label=policy, linewidth=1.6, **line_style(index))
        lower = c["mean"] - c["std"]
        ax.fill_between(c["t"], lower if floor is None else lower.clip(lower=floor), c["mean"] + c["std"],
                        color=line_style(index)["color"], alpha=0.18, linewidth=0)


def draw_regret(ax, records: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    """Cumulative regret of every policy on ``ax``: mean line and ± std band (never below 0: a
    policy whose seeds differ widely would otherwise show a band of impossible negative regret)."""
    draw_curves(ax, records, "cumulative_regret", floor=0.0)


def plot_regret(records: pd.DataFrame, path: Path, *, title: str = "") -> Path:
    """Write a PNG of cumulative regret (mean line, ± std band) for every policy."""
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    draw_regret(ax, records)
    n_seeds = records["seed"].nunique()
    ax.set_xlabel("round t")
    ax.set_ylabel("cumulative regret")
    ax.set_title(title or "Cumulative regret")
    ax.grid(alpha=0.3)
    ax.legend(title=f"mean ± std, {n_seeds} seed{'s' if n_seeds > 1 else ''}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
