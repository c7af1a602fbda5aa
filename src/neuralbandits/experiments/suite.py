"""Reproduction suites: one readable TOML file per paper experiment, validated before anything runs.

A suite names environments, policies (fixed ``params``, a ``grid`` searched on separate tuning
seeds, or a ``sweep`` whose every value is reported, for sensitivity studies), the horizon and the
seeds (and optionally ``tune_rounds``, a shorter horizon for the grid search); a ``[quick]`` table
shrinks it to a smoke run.  The files live in
``neuralbandits/experiments/suites/``; ``neuralbandits reproduce --list`` shows them.

Grid search: the paper picks each baseline's best setting from the reported runs themselves; we
search on ``tune_seeds`` (distinct from the reported seeds ``0..seeds-1``) so that no number we
report was tuned on its own stream.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from neuralbandits.experiments.sweep import RunSpec, env_label, expand_grid
from neuralbandits.validation import InvalidParameterError, check_params

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class EnvEntry:
    spec: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyEntry:
    """A policy of a suite: ``params`` fixed, ``grid`` searched, ``sweep`` reported value by value."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    sweep: dict[str, list[Any]] = field(default_factory=dict)
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.key

    def variants(self) -> list[tuple[str, dict[str, Any]]]:
        """``(label, params)`` per reported variant: one, or one per sweep value."""
        if not self.sweep:
            return [(self.name, dict(self.params))]
        settings = expand_grid(self.sweep, owner=f"policy {self.name!r} (sweep)")
        return [
            (f"{self.name}(" + ",".join(f"{k}={v}" for k, v in s.items()) + ")", {**self.params, **s})
            for s in settings
        ]


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    envs: tuple[EnvEntry, ...]
    policies: tuple[PolicyEntry, ...]
    rounds: int
    seeds: int
    tune_seeds: tuple[int, ...] = (100, 101, 102)
    tune_rounds: int | None = None  # horizon of the grid search (default: ``rounds``)
    proposed: str | None = None
    time_reference: str | None = None  # the policy label whose time is 1.0 in the report (paper 000 Fig. 5)
    quick: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    # -- loading and validation ---------------------------------------------------------------
    @classmethod
    def from_toml(cls, text: str, *, source: str = "") -> "Suite":
        data = tomllib.loads(text)
        where = source or data.get("name", "suite")
        try:
            suite = cls(
                name=str(data["name"]),
                description=str(data.get("description", "")),
                envs=tuple(EnvEntry(e["spec"], dict(e.get("params", {}))) for e in data["env"]),
                policies=tuple(
                    PolicyEntry(p["key"], dict(p.get("params", {})), dict(p.get("grid", {})),
                                dict(p.get("sweep", {})), str(p.get("label", "")))
                    for p in data["policy"]
                ),
                rounds=int(data["rounds"]),
                seeds=int(data["seeds"]),
                tune_seeds=tuple(int(s) for s in data.get("tune_seeds", (100, 101, 102))),
                tune_rounds=None if data.get("tune_rounds") is None else int(data["tune_rounds"]),
                proposed=data.get("proposed"),
                time_reference=data.get("time_reference"),
                quick=dict(data.get("quick", {})),
                source=source,
            )
        except KeyError as missing:
            raise InvalidParameterError(f"Suite {where} lacks the required field {missing}.") from None
        suite.validate()
        return suite

    def validate(self) -> None:
        """Reject unknown policies, unknown parameters, bad grids and overlapping seeds up front."""
        from neuralbandits.policies import POLICIES

        if self.rounds <= 0 or self.seeds <= 0 or (self.tune_rounds is not None and self.tune_rounds <= 0):
            raise InvalidParameterError(f"Suite {self.name}: rounds, tune_rounds and seeds must be positive.")
        if set(self.tune_seeds) & set(range(self.seeds)):
            raise InvalidParameterError(
                f"Suite {self.name}: tune_seeds {list(self.tune_seeds)} overlap the reported seeds "
                f"0..{self.seeds - 1}; tuning on the reported stream is not allowed."
            )
        labels = set()
        for entry in self.policies:
            cls = POLICIES.get(entry.key)  # "did you mean" on unknown keys
            known = set(cls.param_names())  # type: ignore[attr-defined]
            for part in ("params", "grid", "sweep"):
                unknown = sorted(set(getattr(entry, part)) - known)
                if unknown:
                    raise InvalidParameterError(
                        f"Suite {self.name}: policy {entry.name!r} has no parameter "
                        f"{', '.join(map(repr, unknown))} (in its {part}); it takes {', '.join(sorted(known))}."
                    )
            settings = expand_grid(entry.grid, owner=f"policy {entry.name!r} in suite {self.name}")
            for label, params in entry.variants():
                for setting in settings:  # every value the suite would pass, against the class's constraints
                    for quick in ({}, self.quick_params(entry)):
                        check_params(f"{cls.__name__} (policy {label!r} in suite {self.name})",  # type: ignore[attr-defined]
                                     {**params, **quick, **setting}, cls.constraints)  # type: ignore[attr-defined]
                if label in labels:
                    raise InvalidParameterError(f"Suite {self.name}: two policies are labelled {label!r}.")
                labels.add(label)
        if self.time_reference is not None and self.time_reference not in labels:
            raise InvalidParameterError(
                f"Suite {self.name}: time_reference {self.time_reference!r} is not one of its policy labels "
                f"({', '.join(sorted(labels))})."
            )

    def scaled(self, *, rounds: int | None = None, seeds: int | None = None,
               tune_rounds: int | None = None) -> "Suite":
        """The same suite with another horizon, number of reported seeds or grid-search horizon
        (for a reduced but otherwise identical run; the store records the values used)."""
        suite = replace(
            self,
            rounds=self.rounds if rounds is None else rounds,
            seeds=self.seeds if seeds is None else seeds,
            tune_rounds=self.tune_rounds if tune_rounds is None else tune_rounds,
        )
        suite.validate()
        return suite

    # -- planning ---------------------------------------------------------------------------
    def settings(self, quick: bool) -> tuple[tuple[EnvEntry, ...], int, int, tuple[int, ...]]:
        if not quick:
            return self.envs, self.rounds, self.seeds, self.tune_seeds
        envs = self.envs
        if "env" in self.quick:
            envs = tuple(EnvEntry(e["spec"], dict(e.get("params", {}))) for e in self.quick["env"])
        return (envs, int(self.quick.get("rounds", 300)), int(self.quick.get("seeds", 2)),
                tuple(int(s) for s in self.quick.get("tune_seeds", self.tune_seeds[:1])))

    def quick_params(self, entry: PolicyEntry) -> dict[str, Any]:
        return dict(self.quick.get("policy_params", {}).get(entry.key, {}))

    def tune_jobs(self, quick: bool = False) -> list[RunSpec]:
        """Every grid point of every gridded policy on every environment, on the tuning seeds."""
        envs, rounds, _, tune_seeds = self.settings(quick)
        if not quick and self.tune_rounds is not None:
            rounds = self.tune_rounds
        jobs = []
        for env in envs:
            for entry in self.policies:
                grid = self._grid(entry, quick)
                if not grid or grid == [{}]:
                    continue
                for setting in grid:
                    for seed in tune_seeds:
                        jobs.append(RunSpec(
                            suite=self.name, env=env.spec, env_params=env.params, policy=entry.key,
                            params=self._params(entry, setting, quick),
                            rounds=rounds, seed=seed, label=entry.name, phase="tune",
                        ))
        return jobs

    def final_jobs(self, chosen: dict[tuple[str, str], dict[str, Any]], quick: bool = False) -> list[RunSpec]:
        """The reported runs: seeds ``0..seeds-1``, each gridded policy with its chosen setting.

        Seed-major order: a sweep stopped part-way has whole seeds (every environment and policy on
        seeds 0..k), which compare fairly, rather than some policies on all seeds and others on none."""
        envs, rounds, seeds, _ = self.settings(quick)
        jobs = []
        for seed in range(seeds):
            for env in envs:
                for entry in self.policies:
                    setting = chosen.get((env_label(env.spec, env.params), entry.name), {})
                    for label, params in entry.variants():
                        jobs.append(RunSpec(
                            suite=self.name, env=env.spec, env_params=env.params, policy=entry.key,
                            params=self._params(entry, setting, quick, base=params),
                            rounds=rounds, seed=seed, label=label, phase="final",
                        ))
        return jobs

    def settings_from(self, chosen: Mapping[str, Mapping[str, Any]], *, quick: bool = False,
                      source: str = "chosen settings") -> dict[tuple[str, str], dict[str, Any]]:
        """An earlier grid search's choices (a ``<suite>.chosen.json``: ``"env | policy" → setting``),
        checked against this suite: every gridded policy on every environment needs a setting, each
        setting must be a point of the policy's grid, and the parameters it was chosen under must be
        the ones the suite fixes. Entries for other pairs are ignored."""
        picked: dict[tuple[str, str], dict[str, Any]] = {}
        missing = []
        for env in self.settings(quick)[0]:
            for entry in self.policies:
                grid = self._grid(entry, quick)
                if not grid or grid == [{}]:
                    continue
                pair = (env_label(env.spec, env.params), entry.name)
                key = " | ".join(pair)
                if key in chosen:
                    picked[pair] = self._reused_point(entry, grid, dict(chosen[key]), quick, f"{source}: {key!r}")
                else:
                    missing.append(key)
        if missing:
            raise InvalidParameterError(
                f"{source} has no setting for {', '.join(map(repr, missing))}; suite {self.name} grid-searches "
                "these pairs, so a reused search must cover them."
            )
        return picked

    def _reused_point(self, entry: PolicyEntry, grid: list[dict[str, Any]], setting: dict[str, Any],
                      quick: bool, where: str) -> dict[str, Any]:
        """The grid point of a reused choice (a chosen file records every parameter of the run)."""
        point = {name: setting[name] for name in entry.grid if name in setting}
        if point not in grid:
            raise InvalidParameterError(
                f"{where}: the setting {setting} is not a point of the grid of suite {self.name} ({entry.grid})."
            )
        fixed = self._params(entry, {}, quick)
        differ = {name: value for name, value in setting.items()
                  if name not in point and fixed.get(name, "<default>") != value}
        if differ:
            raise InvalidParameterError(
                f"{where} was chosen with {differ}, but suite {self.name} sets "
                f"{ {name: fixed.get(name, '<default>') for name in differ} }."
            )
        return point

    def _grid(self, entry: PolicyEntry, quick: bool) -> list[dict[str, Any]]:
        grid = entry.grid
        if quick:  # a smoke run searches the first two values of each parameter
            grid = {k: v[: int(self.quick.get("grid_values", 2))] for k, v in grid.items()}
        return expand_grid(grid, owner=f"policy {entry.name!r}")

    def _params(self, entry: PolicyEntry, setting: dict[str, Any], quick: bool,
                base: dict[str, Any] | None = None) -> dict[str, Any]:
        extra = self.quick_params(entry) if quick else {}
        return {**(entry.params if base is None else base), **extra, **setting}


def suite_names() -> list[str]:
    folder = resources.files("neuralbandits.experiments") / "suites"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_suite(name_or_path: str) -> Suite:
    """A bundled suite by name, or a TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return Suite.from_toml(path.read_text(), source=str(path))
    names = suite_names()
    if name_or_path not in names:
        import difflib

        close = difflib.get_close_matches(name_or_path, names, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise InvalidParameterError(f"Unknown suite {name_or_path!r}.{hint} Known: {', '.join(names)}.")
    text = (resources.files("neuralbandits.experiments") / "suites" / f"{name_or_path}.toml").read_text()
    return Suite.from_toml(text, source=f"{name_or_path}.toml")
