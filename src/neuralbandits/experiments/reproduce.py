"""``reproduce``: search each gridded policy's setting on the tuning seeds, then run the reported seeds.

Every finished run goes to a :class:`~neuralbandits.experiments.store.ResultStore`; runs already
stored are skipped, failed runs are reported and tried again next time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from neuralbandits.experiments.backends import Backend
from neuralbandits.experiments.store import ResultStore
from neuralbandits.experiments.suite import Suite
from neuralbandits.experiments.sweep import RunSpec
from neuralbandits.validation import InvalidParameterError


@dataclass
class ReproduceSummary:
    ran: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (run label, error)
    chosen: dict[str, dict[str, Any]] = field(default_factory=dict)


def _run(jobs: list[RunSpec], store: ResultStore, backend: Backend, summary: ReproduceSummary,
         progress: Callable[[int], None] | None) -> None:
    done = store.completed()
    todo = [job for job in jobs if job.run_id not in done]
    summary.skipped += len(jobs) - len(todo)
    if progress is not None and len(jobs) > len(todo):
        progress(len(jobs) - len(todo))
    for job, result in backend.run(todo):
        if isinstance(result, str):
            store.record_failure(job, result)
            summary.failed.append((f"{job.name} on {job.env_name} seed {job.seed}", result))
        else:
            store.record_success(job, result)
            summary.ran += 1
        if progress is not None:
            progress(1)


def choose_settings(suite: Suite, store: ResultStore, tune_jobs: list[RunSpec]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (environment, policy): the grid setting with the lowest mean final regret on the tuning seeds."""
    entries = store.entries()
    scores: dict[tuple[str, str, str], list[float]] = {}
    settings: dict[str, dict[str, Any]] = {}
    for job in tune_jobs:
        entry = entries.get(job.run_id)
        if entry is None or entry["status"] != "ok":
            continue
        setting_key = json.dumps(dict(job.params), sort_keys=True)
        settings[setting_key] = dict(job.params)
        scores.setdefault((job.env_name, job.name, setting_key), []).append(entry["final_regret"])
    best: dict[tuple[str, str], tuple[float, str]] = {}
    for (env, name, key), values in scores.items():
        mean = float(np.mean(values))
        if (env, name) not in best or mean < best[(env, name)][0]:
            best[(env, name)] = (mean, key)
    return {pair: settings[key] for pair, (_, key) in best.items()}


def reproduce(suite: Suite, store: ResultStore, backend: Backend, *, quick: bool = False,
              progress: Callable[[int], None] | None = None,
              settings_from: Path | None = None) -> ReproduceSummary:
    """Grid search on the tuning seeds, then the reported seeds with the chosen settings.

    ``settings_from``: a ``<suite>.chosen.json`` written by an earlier ``reproduce`` (e.g. at a shorter
    horizon); its choices are used as they are and no grid search runs. They are checked against the
    suite before anything runs."""
    summary = ReproduceSummary()
    if settings_from is None:
        tune_jobs = suite.tune_jobs(quick)
        _run(tune_jobs, store, backend, summary, progress)
        chosen = choose_settings(suite, store, tune_jobs)
    else:
        chosen = suite.settings_from(read_chosen(settings_from), quick=quick, source=str(settings_from))
    summary.chosen = {f"{env} | {name}": params for (env, name), params in chosen.items()}
    (store.root / f"{suite.name}.chosen.json").write_text(json.dumps(summary.chosen, indent=2) + "\n")
    _run(suite.final_jobs(chosen, quick), store, backend, summary, progress)
    return summary


def read_chosen(path: Path) -> dict[str, dict[str, Any]]:
    """A ``<suite>.chosen.json``, with a clear error when it is missing or not such a file."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InvalidParameterError(f"Cannot read chosen settings from {path}: {error}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InvalidParameterError(
            f"{path} is not a chosen-settings file: expected a JSON object "
            '{"<env> | <policy>": {"<parameter>": value, ...}, ...} as reproduce writes it.'
        )
    return data


def job_count(suite: Suite, quick: bool, *, tune: bool = True) -> int:
    """Upper bound on the runs of a reproduction (for progress bars)."""
    return (len(suite.tune_jobs(quick)) if tune else 0) + len(suite.final_jobs({}, quick))
