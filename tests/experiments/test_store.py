"""The store's run files: compact, and read back as the records that were stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from neuralbandits.experiments.records import records_frame
from neuralbandits.experiments.runner import RunResult
from neuralbandits.experiments.store import ELAPSED_US, ResultStore, read_run
from neuralbandits.experiments.sweep import RunSpec


def _result(rounds: int, *, slate: bool = False) -> RunResult:
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 10, (rounds, 3) if slate else rounds)
    rewards = rng.integers(0, 2, rounds).astype(float)
    diagnostic = np.where(np.arange(rounds) < 5, np.nan, rng.random(rounds))  # NaN before the first update
    return RunResult(policy="p", seed=3, actions=actions, rewards=rewards, regrets=1.0 - rewards,
                     elapsed_s=np.cumsum(rng.uniform(0.001, 0.04, rounds)), extras={"optimal": rewards + 1},
                     diagnostics={"effective_dim": diagnostic})


def _spec(seed: int = 3) -> RunSpec:
    return RunSpec(suite="s", env="synthetic:cosine", policy="p", rounds=10, seed=seed)


def test_a_stored_run_reads_back_as_its_records(tmp_path: Path) -> None:
    for slate in (False, True):
        store = ResultStore(tmp_path / str(slate))
        result = _result(2000, slate=slate)
        store.record_success(_spec(), result)
        expected = records_frame([result])
        stored = store.records([_spec().run_id]).drop(columns="run_id")
        assert list(stored.columns) == list(expected.columns)
        pd.testing.assert_frame_equal(stored.drop(columns="elapsed_s"), expected.drop(columns="elapsed_s"))
        # seconds are kept to the microsecond
        np.testing.assert_allclose(stored["elapsed_s"], expected["elapsed_s"], rtol=0, atol=5e-7)
        assert stored["elapsed_s"].dtype == np.float64


def test_a_run_file_is_a_fraction_of_a_plain_parquet_file(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store")
    result = _result(10_000)
    store.record_success(_spec(), result)
    stored = tmp_path / "store" / "runs" / f"{_spec().run_id}.parquet"
    plain = tmp_path / "plain.parquet"
    records_frame([result]).assign(run_id=_spec().run_id).to_parquet(plain, index=False)
    assert stored.stat().st_size < 0.5 * plain.stat().st_size
    assert ELAPSED_US in pq.read_schema(stored).names  # what a reader of the raw file sees


def test_run_files_written_plainly_by_earlier_versions_still_read(tmp_path: Path) -> None:
    frame = records_frame([_result(50)])
    frame.to_parquet(tmp_path / "old.parquet", index=False)
    pd.testing.assert_frame_equal(read_run(tmp_path / "old.parquet"), frame)
