"""The ``neuralbandits`` command: ``run``, ``list``, ``bench``.

Bad input (an unknown policy, environment or dataset, a bad value) ends with a one-line
``error: …`` on stderr and exit code 2, before anything is written.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import torch
import typer

from neuralbandits.registry import UnknownKeyError
from neuralbandits.validation import InvalidParameterError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Contextual bandits — neural, clustered, logistic and combinatorial.",
)

DEFAULT_ENV = "classification:digits"
DEFAULT_POLICIES = "random,linucb,neuucb-one"
USER_ERRORS = (UnknownKeyError, InvalidParameterError, ValueError, FileNotFoundError, TypeError)


class UsageError(Exception):
    """A bad command line; reported as one line with exit code 2."""


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def guarded(action: Callable[[], Any]) -> Any:
    """Run ``action``; user errors become ``error: …`` + exit 2 (no traceback)."""
    try:
        return action()
    except (UsageError, *USER_ERRORS) as error:  # noqa: B030
        fail(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)


def parse_value(text: str) -> Any:
    """``"0.1"`` → 0.1, ``"3"`` → 3, ``"true"`` → True, ``"none"`` → None, else the string."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_assignments(items: list[str], what: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} must look like NAME=VALUE; got {item!r}.")
        params[key.strip()] = parse_value(value.strip())
    return params


def policy_params(names: list[str], items: list[str]) -> dict[str, dict[str, Any]]:
    """``--param linucb.alpha=0.5`` → ``{"linucb": {"alpha": 0.5}}``."""
    per_policy: dict[str, dict[str, Any]] = {name: {} for name in names}
    for item in items:
        target, dot, rest = item.partition(".")
        if not dot or target not in per_policy:
            raise UsageError(
                f"--param must look like POLICY.NAME=VALUE with POLICY one of {', '.join(names)}; "
                f"got {item!r}."
            )
        per_policy[target].update(parse_assignments([rest], "--param"))
    return per_policy


@app.command()
def run(
    env: str = typer.Option(DEFAULT_ENV, help="classification:<dataset or .npz> or synthetic:<kind>."),
    policies: str = typer.Option(DEFAULT_POLICIES, help="Comma-separated policy keys."),
    rounds: int = typer.Option(2000, help="Rounds T per run."),
    seeds: int = typer.Option(2, help="Number of seeds (0..N-1)."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/<env>-<time>)."),
    data_dir: Optional[Path] = typer.Option(None, help="Folder with the datasets (else $NEURALBANDITS_DATA)."),
    param: list[str] = typer.Option([], help="Policy hyperparameter POLICY.NAME=VALUE (repeatable)."),
    env_param: list[str] = typer.Option([], help="Environment parameter NAME=VALUE (repeatable)."),
    delay: int = typer.Option(0, help="Deliver feedback this many rounds late."),
    threads: int = typer.Option(1, help="PyTorch threads (1 is fastest for per-round work)."),
    batch_seeds: bool = typer.Option(False, help="Run all seeds of a policy as one batched computation "
                                                 "where the policy allows it (per-user state only)."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Run policies × seeds on an environment; write curves.csv, summary.json and regret.png.

    records.parquet has every round, with a policy's diagnostics as policy_* columns; summary.json
    gives their final values (mean over seeds) under the policy's "diagnostics"."""
    from neuralbandits.experiments.records import records_frame, summary_frame, write_outputs
    from neuralbandits.experiments.runner import iter_runs
    from neuralbandits.reporting.plots import plot_regret
    from neuralbandits.reporting.tables import format_summary

    torch.set_num_threads(threads)
    spec, environment = guarded(lambda: prepare_run(env, policies, rounds, seeds, data_dir, param,
                                                    env_param, delay))
    out_dir = out or Path("runs") / f"{env.replace(':', '-').replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
    total = len(spec.policies) * len(spec.seeds) * spec.rounds
    from tqdm import tqdm

    with tqdm(total=total, unit="round", disable=quiet, file=sys.stderr, desc=env) as bar:
        if batch_seeds:
            results = run_batching_seeds(spec, environment, bar.update)
        else:
            results = list(iter_runs(spec, environment, progress=bar.update))
    records = records_frame(results)
    write_outputs(records, out_dir, env=env, rounds=rounds, seeds=list(spec.seeds))
    plot_regret(records, out_dir / "regret.png", title=f"{env}, T = {rounds}")
    typer.echo(format_summary(summary_frame(records)))
    typer.echo(f"\nwrote {out_dir}/curves.csv, summary.json, records.parquet, regret.png")


def run_batching_seeds(spec, environment, progress):  # type: ignore[no-untyped-def]
    """Every policy's seeds as one batch where it allows it, else one run per seed."""
    from neuralbandits.experiments.parallel_seeds import run_seeds_batched
    from neuralbandits.experiments.runner import run_one
    from neuralbandits.policies import POLICIES

    results = []
    for policy_spec in spec.policies:
        if spec.delay == 0 and getattr(POLICIES.get(policy_spec.key), "seed_batchable", False):
            n_seeds = len(spec.seeds)
            results += run_seeds_batched(environment, policy_spec.key, list(spec.seeds), spec.rounds,
                                         params=policy_spec.params, label=policy_spec.label,
                                         progress=lambda k: progress(k * n_seeds))
        else:
            results += [run_one(spec, policy_spec, seed, environment, progress=progress) for seed in spec.seeds]
    return results


def prepare_run(env: str, policies: str, rounds: int, seeds: int, data_dir: Optional[Path],
                param: list[str], env_param: list[str], delay: int):  # type: ignore[no-untyped-def]
    """Validate everything (build the environment and every policy once) before running anything."""
    from neuralbandits.envs.registry import build_env
    from neuralbandits.experiments.spec import ExperimentSpec, PolicySpec
    from neuralbandits.policies import build_policy

    if rounds <= 0:
        raise UsageError(f"--rounds must be a positive integer; got {rounds}.")
    if seeds <= 0:
        raise UsageError(f"--seeds must be a positive integer; got {seeds}.")
    names = [p.strip() for p in policies.split(",") if p.strip()]
    if not names:
        raise UsageError("--policies names no policy.")
    params = policy_params(names, param)
    env_kwargs = parse_assignments(env_param, "--env-param")
    if data_dir is not None:
        env_kwargs["data_dir"] = data_dir
    environment = build_env(env, **env_kwargs)
    for name in names:
        build_policy(name, environment.info, seed=0, **params[name])
    spec = ExperimentSpec(
        env=env, policies=tuple(PolicySpec(n, params[n]) for n in names), rounds=rounds,
        seeds=tuple(range(seeds)), env_params=env_kwargs, delay=delay,
    )
    return spec, environment


@app.command("list")
def list_all() -> None:
    """Show policies, environments and datasets, one line each."""
    from neuralbandits.datasets import dataset_names, describe
    from neuralbandits.envs.registry import ENVIRONMENTS
    from neuralbandits.policies import POLICIES

    typer.echo("policies:")
    for key in POLICIES:
        typer.echo(f"  {key:<22} {POLICIES.summary(key)}")
    typer.echo("environments:")
    typer.echo(f"  {'classification:<name>':<22} a K-class dataset as a K-armed bandit (block encoding)")
    typer.echo(f"  {'recommendation:<name>':<22} rating or link data (movielens_latest_small, facebook_ego, "
               "a prepared .npz): 1 liked item among 10 rated by the user's group")
    for key in ENVIRONMENTS:
        typer.echo(f"  {key:<22} {ENVIRONMENTS.summary(key)}")
    typer.echo("datasets (classification:<name>):")
    for name in dataset_names():
        typer.echo(f"  {name:<22} {describe(name)}")


from neuralbandits.cli.data import data_app  # noqa: E402

app.add_typer(data_app, name="data")

bench_app = typer.Typer(add_completion=False, help="Benchmarks (not tests): speed as ratios and medians.")
app.add_typer(bench_app, name="bench")


@bench_app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the results to this JSON file."),
    data_dir: Optional[Path] = typer.Option(None, help="Folder with the datasets (else $NEURALBANDITS_DATA)."),
    rounds: int = typer.Option(2000, help="Rounds per policy on shuttle."),
    repeats: int = typer.Option(5, help="Repeats of the bank-vs-loop timing (median reported)."),
    threads: int = typer.Option(1, help="PyTorch threads."),
) -> None:
    """Rounds/s of every policy on shuttle and the LearnerBank-vs-loop speed ratio."""
    if ctx.invoked_subcommand is not None:
        return
    from neuralbandits.experiments.benchmark import bank_vs_loop, policy_throughput

    torch.set_num_threads(threads)
    throughput = guarded(lambda: policy_throughput(rounds=rounds, data_dir=data_dir))
    typer.echo(f"{'policy':<14}{'rounds/s':>12}  (classification:shuttle, T = {rounds})")
    for name, value in throughput.items():
        typer.echo(f"{name:<14}{value:>12.0f}")
    digits = policy_throughput(env="classification:digits", rounds=1797, policies=("linucb",), repeats=repeats)
    digits_policy = policy_throughput(env="classification:digits", rounds=1797, policies=("linucb",),
                                      repeats=repeats, policy_only=True)
    typer.echo(f"{'linucb':<14}{digits['linucb']:>12.0f}  (classification:digits, T = 1797, whole loop, median of {repeats})")
    typer.echo(f"{'linucb':<14}{digits_policy['linucb']:>12.0f}  (classification:digits, select + update only)")
    ratios = bank_vs_loop(sizes=(50, 1000), repeats=repeats, threads=(threads,))
    typer.echo(f"\n{'networks':<10}{'threads':>8}{'bank ms':>10}{'loop ms':>10}{'speed-up':>10}"
               "  (forward+backward, width 100, 10 arms; median of repeats)")
    for row in ratios:
        typer.echo(f"{row['n_networks']:<10}{row['threads']:>8}{row['bank_ms']:>10.2f}{row['loop_ms']:>10.2f}"
                   f"{row['speedup']:>9.1f}x")
    if json_path is not None:
        payload = {"threads": threads, "rounds": rounds, "rounds_per_s_shuttle": throughput,
                   "linucb_rounds_per_s_digits": digits["linucb"],
                   "linucb_policy_rounds_per_s_digits": digits_policy["linucb"], "bank_vs_loop": ratios}
        json_path.write_text(json.dumps(payload, indent=2) + "\n")
        typer.echo(f"\nwrote {json_path}")


def command_line(ctx: typer.Context) -> str:
    """The invoked command, rebuilt from its parsed values (options left at their defaults are
    omitted), so the store logs what ran however the command was called (shell or test runner)."""
    import shlex

    parts = ["neuralbandits", ctx.info_name or ""]
    for param in ctx.command.params:  # by param_type_name: typer may bring its own copy of click
        value = ctx.params.get(param.name or "")
        if param.param_type_name == "argument":
            parts.append(shlex.quote(str(value)))
        elif value is not None and value != param.default:
            flag = getattr(param, "is_flag", False)
            parts.append(param.opts[0] if flag else f"{param.opts[0]} {shlex.quote(str(value))}")
    return " ".join(parts)


@app.command()
def reproduce(
    ctx: typer.Context,
    suite: str = typer.Argument(..., help="Suite name (see --list) or a path to a suite .toml."),
    out: Path = typer.Option(..., help="Result store folder (runs are added; finished runs are skipped)."),
    quick: bool = typer.Option(False, help="The suite's small smoke version (minutes, not hours)."),
    backend: str = typer.Option("local", help="local (process pool) or ray."),
    workers: int = typer.Option(1, help="Parallel runs (processes or Ray CPUs)."),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (default: a local instance)."),
    data_dir: Optional[Path] = typer.Option(None, help="Folder with the datasets (sets $NEURALBANDITS_DATA)."),
    rounds: Optional[int] = typer.Option(None, help="Override the suite's horizon T of the reported runs."),
    seeds: Optional[int] = typer.Option(None, help="Override the suite's number of reported seeds."),
    tune_rounds: Optional[int] = typer.Option(None, help="Override the horizon of the grid search."),
    settings_from: Optional[Path] = typer.Option(
        None, help="Reuse the settings an earlier reproduce chose (its <suite>.chosen.json) instead of "
                   "grid-searching again, e.g. to rerun a search's choices at a longer horizon."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Grid-search each baseline on tuning seeds, then run the reported seeds; store every run."""
    import os

    from neuralbandits.experiments.reproduce import job_count
    from neuralbandits.experiments.reproduce import reproduce as run_suite
    from neuralbandits.experiments.store import ResultStore
    from neuralbandits.experiments.suite import load_suite

    if backend not in ("local", "ray"):
        fail(f"--backend must be 'local' or 'ray'; got {backend!r}.")
    if workers < 1:
        fail(f"--workers must be a positive integer; got {workers}.")
    if data_dir is not None:  # child processes and Ray workers read it from the environment
        os.environ["NEURALBANDITS_DATA"] = str(data_dir.resolve())
    loaded = guarded(lambda: load_suite(suite).scaled(rounds=rounds, seeds=seeds, tune_rounds=tune_rounds))
    for env in loaded.settings(quick)[0]:  # every environment builds before any run starts
        guarded(lambda: _check_env(env.spec, env.params))
    if settings_from is not None:  # a reused search must fit the suite before anything runs
        from neuralbandits.experiments.reproduce import read_chosen

        guarded(lambda: loaded.settings_from(read_chosen(settings_from), quick=quick, source=str(settings_from)))
    if backend == "ray":
        from neuralbandits.experiments.backends.ray import RayBackend

        engine = guarded(lambda: RayBackend(workers=workers, address=address))
    else:
        from neuralbandits.experiments.backends.local import LocalBackend

        engine = LocalBackend(workers)
    store = ResultStore(out)
    store.record_command(command_line(ctx), loaded)
    from tqdm import tqdm

    with tqdm(total=job_count(loaded, quick, tune=settings_from is None), unit="run", disable=quiet,
              file=sys.stderr, desc=loaded.name) as bar:
        summary = run_suite(loaded, store, engine, quick=quick, progress=bar.update, settings_from=settings_from)
    typer.echo(f"{loaded.name}: {summary.ran} runs done, {summary.skipped} already stored, "
               f"{len(summary.failed)} failed; store: {out}")
    for label, error in summary.failed:
        typer.echo(f"  failed: {label}: {error}", err=True)
    typer.echo(f"next: neuralbandits report {out}")


def _check_env(spec: str, params: dict) -> None:  # type: ignore[type-arg]
    from neuralbandits.envs.registry import build_env

    build_env(spec, **params)


@app.command()
def report(
    store: Path = typer.Argument(..., help="A result store written by `neuralbandits reproduce`."),
    out: Optional[Path] = typer.Option(None, help="Folder for report.html, report.md and figures/ "
                                                  "(default: the store)."),
    whole_seeds: bool = typer.Option(False, help="Leave out of the tables and curves every seed that some "
                                                 "run of its suite has not finished (a sweep stopped mid-seed)."),
) -> None:
    """Write report.html (self-contained) and report.md from a result store."""
    from neuralbandits.reporting.report import write_report

    if not store.is_dir():
        fail(f"{store} is not a folder.")
    if out is not None and out.exists() and not out.is_dir():
        fail(f"--out {out} exists and is not a folder.")
    html_path, md_path = guarded(lambda: write_report(store, out_dir=out, whole_seeds=whole_seeds))
    typer.echo(f"wrote {html_path} and {md_path}")
    if not whole_seeds:
        from neuralbandits.experiments.store import ResultStore
        from neuralbandits.reporting.report import final_runs, whole_seed_runs

        for suite, seeds in whole_seed_runs(final_runs(ResultStore(store).entries().values()))[1].items():
            typer.echo(f"note: {suite}: seeds {seeds} are unfinished for some policies, whose means cover "
                       "fewer seeds than the others'; --whole-seeds leaves those seeds out.")


@bench_app.command("mcnb")
def bench_mcnb(
    users: str = typer.Option("500,5000,10000,20000", help="Comma-separated numbers of users n."),
    rounds: int = typer.Option(50, help="Measured rounds per n (after 30 warm-up rounds)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the rows to this JSON file."),
    threads: int = typer.Option(1, help="PyTorch (intra-op) threads."),
    jobs: int = typer.Option(1, help="Threads sharing the user bank's chunks (M-CNB's n_jobs)."),
) -> None:
    """Paper 000 Table 1: median seconds per round of M-CNB's components (d = 10, K = 10, m = 100)."""
    from neuralbandits.experiments.benchmark import mcnb_breakdown

    torch.set_num_threads(threads)
    sizes = guarded(lambda: [int(u) for u in users.split(",")])
    if rounds < 1 or jobs < 1 or any(n < 1 for n in sizes):
        fail("--users must list positive integers and --rounds and --jobs must be >= 1.")
    header = (f"{'n':>7}{'clustering':>12}{'meta adapt':>12}{'user train':>12}{'meta replay':>13}{'round':>10}"
              f"{'round>1000':>12}{'round served':>14}{'floor':>10}")
    typer.echo(header + f"\n(seconds per round with {jobs} job(s) and {threads} PyTorch thread(s), all n learners "
                        "training every 10 rounds; meta replay: a round's line-13 step replayed at "
                        "training; round>1000: training every 100 rounds; round served: only the served "
                        "users' learners train; floor: user parameters read / memory bandwidth)")
    rows = []
    for n in sizes:
        row = mcnb_breakdown(n, rounds=rounds, n_jobs=jobs)
        rows.append(row)
        typer.echo(f"{n:>7}{row['clustering_s']:>12.4f}{row['meta_adaptation_s']:>12.4f}"
                   f"{row['user_training_s']:>12.4f}{row['meta_replay_s']:>13.4f}{row['round_s']:>10.4f}"
                   f"{row['round_after_switch_s']:>12.4f}"
                   f"{row['round_served_s']:>14.4f}{row['clustering_floor_s']:>10.5f}")
    if json_path is not None:
        payload = {"threads": threads, "jobs": jobs, "d": 10, "K": 10, "m": 100,
                   "rows": {str(r["n_users"]): r for r in rows}}
        json_path.write_text(json.dumps(payload, indent=2) + "\n")
        typer.echo(f"wrote {json_path}")


@bench_app.command("seeds")
def bench_seeds(
    env: str = typer.Option("classification:letter", help="Environment (classification: users = class)."),
    policy: str = typer.Option("neuucb-ind", help="A policy whose seeds can share one batch."),
    seeds: int = typer.Option(8, help="Number of seeds S."),
    rounds: int = typer.Option(300, help="Rounds per seed."),
    repeats: int = typer.Option(3, help="Repeats (medians are reported)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the result to this JSON file."),
    threads: int = typer.Option(1, help="PyTorch threads."),
) -> None:
    """S seeds one after the other vs as one batched computation: seconds and speed-up."""
    from neuralbandits.experiments.benchmark import seeds_batched_speedup
    from neuralbandits.experiments.parallel_seeds import check_batchable

    torch.set_num_threads(threads)
    if seeds < 1 or rounds < 1 or repeats < 1:
        fail("--seeds, --rounds and --repeats must be >= 1.")
    guarded(lambda: check_batchable(policy))
    row = guarded(lambda: seeds_batched_speedup(env=env, key=policy, n_seeds=seeds, rounds=rounds, repeats=repeats))
    typer.echo(f"{policy} on {env}, {seeds} seeds x {rounds} rounds: one after the other "
               f"{row['sequential_s']:.2f} s, one batch {row['batched_s']:.2f} s, speed-up {row['speedup']:.1f}x "
               f"(mean final regret {row['sequential_mean_regret']:.1f} vs {row['batched_mean_regret']:.1f})")
    if json_path is not None:
        json_path.write_text(json.dumps({**row, "threads": threads}, indent=2) + "\n")
        typer.echo(f"wrote {json_path}")


def main() -> None:
    from neuralbandits.allocator import keep_freed_memory

    keep_freed_memory()  # activations freed and allocated again every step: no page faults each time
    app()


if __name__ == "__main__":
    main()
