"""Regret plots: the ± std band of a policy whose seeds differ widely stays at or above zero."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from neuralbandits.reporting.plots import draw_curves, draw_regret  # noqa: E402


def _records() -> pd.DataFrame:
    t = np.arange(1, 51)
    # two seeds never err, one errs 3 times a round: mean t, std ≈ 1.4 t, so mean − std < 0
    rows = [pd.DataFrame({"policy": "p", "seed": seed, "t": t, "cumulative_regret": t * scale,
                          "other": t * scale - 10.0})
            for seed, scale in enumerate((0.0, 0.0, 3.0))]
    return pd.concat(rows, ignore_index=True)


def _band_bottom(ax) -> float:  # type: ignore[no-untyped-def]
    (band,) = ax.collections
    return float(min(path.vertices[:, 1].min() for path in band.get_paths()))


def test_regret_band_is_cut_at_zero_and_other_columns_are_not() -> None:
    records = _records()
    figure, (regret_ax, other_ax) = plt.subplots(1, 2)
    draw_regret(regret_ax, records)
    draw_curves(other_ax, records, "other")
    assert _band_bottom(regret_ax) == 0.0
    assert _band_bottom(other_ax) < -10.0  # mean − std goes negative without a floor
    plt.close(figure)
