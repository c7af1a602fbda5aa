"""Text tables of run summaries, for the terminal and Markdown reports."""

from __future__ import annotations

import pandas as pd


def format_summary(summary: pd.DataFrame, *, markdown: bool = False) -> str:
    """Final regret (mean ± std over seeds), seconds per run and rounds/s, one line per policy."""
    best = summary["final_regret_mean"].min()
    rows = []
    for name, row in summary.iterrows():
        regret = f"{row.final_regret_mean:.1f} ± {row.final_regret_std:.1f}"
        if markdown and row.final_regret_mean == best:
            regret = f"**{regret}**"
        rows.append((str(name), regret, f"{row.seconds_mean:.2f}", f"{row.rounds_per_s:.0f}"))
    header = ("policy", "final regret", "seconds/run", "rounds/s")
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header)] + [fmt.format(*r) for r in rows])
