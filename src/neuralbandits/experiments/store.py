"""``ResultStore``: one Parquet file per finished run plus an append-only index, keyed by run id.

The index (``index.jsonl``) gets one line per finished or failed run, written by the driver only;
the last line of a run id wins.  ``commands.jsonl`` logs the commands that filled the store.  A re-run
skips every run whose last status is ``ok``, so an interrupted sweep resumes where it stopped and
failed runs are tried again.  A run's file is written compactly (:func:`write_run`: about 37 KB for
10 000 rounds instead of 194 KB), so that the store of a whole sweep can be kept, moved and published.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from neuralbandits.experiments.records import records_frame
from neuralbandits.experiments.runner import RunResult
from neuralbandits.experiments.sweep import RunSpec, env_label

if TYPE_CHECKING:
    from neuralbandits.experiments.suite import Suite


#: a run file's ``elapsed_s`` is kept as whole microseconds under this name (timer noise is larger)
ELAPSED_US = "elapsed_us"


def write_run(frame: pd.DataFrame, path: Path) -> None:
    """Write one run's records to ``path``: zstd, integers delta-encoded, floats byte-stream-split,
    ``elapsed_s`` as integer microseconds (:data:`ELAPSED_US`): the cumulative seconds' float bits are
    nearly incompressible and were half of a 194 KB file.  :func:`read_run` restores ``elapsed_s``."""
    frame = frame.assign(elapsed_s=(frame["elapsed_s"] * 1e6).round().astype("int64")).rename(
        columns={"elapsed_s": ELAPSED_US})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    encodings = {f.name: "DELTA_BINARY_PACKED" if pa.types.is_integer(f.type) else "BYTE_STREAM_SPLIT"
                 for f in table.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)}
    others = [f.name for f in table.schema if f.name not in encodings]
    pq.write_table(table, path, compression="zstd", use_dictionary=others, column_encoding=encodings)


def read_run(path: Path) -> pd.DataFrame:
    """A run file as written by :func:`write_run` (or plainly, by earlier versions)."""
    frame = pd.read_parquet(path)
    if ELAPSED_US in frame:
        frame[ELAPSED_US] = frame[ELAPSED_US] / 1e6
        frame = frame.rename(columns={ELAPSED_US: "elapsed_s"})
    return frame


class ResultStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        self.index_path = self.root / "index.jsonl"
        self.commands_path = self.root / "commands.jsonl"

    def record_command(self, command: str, suite: Suite) -> None:
        """Log a command that filled the store, with what the report needs of its suite."""
        entry = {"suite": suite.name, "command": command, "proposed": suite.proposed,
                 "time_reference": suite.time_reference, "time": time.time(),
                 "policies": [label for policy in suite.policies for label, _ in policy.variants()],
                 "envs": [env_label(env.spec, env.params) for env in suite.envs]}
        with self.commands_path.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")

    def commands(self) -> list[dict[str, Any]]:
        """The logged commands, oldest first."""
        if not self.commands_path.exists():
            return []
        return [json.loads(line) for line in self.commands_path.read_text().splitlines() if line.strip()]

    def entries(self) -> dict[str, dict[str, Any]]:
        """Run id → its latest index entry."""
        latest: dict[str, dict[str, Any]] = {}
        if self.index_path.exists():
            for line in self.index_path.read_text().splitlines():
                if line.strip():
                    entry = json.loads(line)
                    latest[entry["run_id"]] = entry
        return latest

    def completed(self) -> set[str]:
        return {k for k, e in self.entries().items() if e["status"] == "ok"}

    def _append(self, entry: dict[str, Any]) -> None:
        with self.index_path.open("a") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def record_success(self, spec: RunSpec, result: RunResult) -> None:
        frame = records_frame([result])
        frame.insert(0, "run_id", spec.run_id)
        target = self.root / "runs" / f"{spec.run_id}.parquet"
        partial = target.with_suffix(".parquet.partial")
        write_run(frame, partial)
        os.replace(partial, target)  # a crash never leaves a half-written run behind
        self._append({"run_id": spec.run_id, "status": "ok", "spec": spec.to_json(),
                      "final_regret": float(result.cumulative_regret[-1]), "seconds": result.seconds,
                      "finished_at": time.time(), "host": result.host})

    def record_failure(self, spec: RunSpec, error: str) -> None:
        self._append({"run_id": spec.run_id, "status": "failed", "spec": spec.to_json(), "error": error,
                      "finished_at": time.time()})

    def runs(self, status: str | None = "ok") -> Iterator[dict[str, Any]]:
        for entry in self.entries().values():
            if status is None or entry["status"] == status:
                yield entry

    def records(self, run_ids: list[str]) -> pd.DataFrame:
        frames = [read_run(self.root / "runs" / f"{run_id}.parquet") for run_id in run_ids]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
