"""Reproduction suites end to end: validation, both backends, resume, the report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuralbandits.experiments.backends import execute
from neuralbandits.experiments.backends.local import LocalBackend
from neuralbandits.experiments.reproduce import reproduce
from neuralbandits.experiments.runner import RunResult
from neuralbandits.experiments.store import ResultStore
from neuralbandits.experiments.suite import Suite, load_suite, suite_names
from neuralbandits.experiments.host import describe, host_info
from neuralbandits.reporting.report import command_lines, run_hosts, whole_seed_runs, write_report
from neuralbandits.validation import InvalidParameterError

from crashing import dies_on_seed_1_of_random  # tests/experiments, on the path as this file is

TINY = """
name = "tiny"
description = "a tiny suite"
rounds = 25
seeds = 2
tune_seeds = [100]
proposed = "linucb"

[[env]]
spec = "classification:digits"

[[policy]]
key = "random"

[[policy]]
key = "linucb"
grid = { alpha = [0.1, 1.0] }
"""


def test_every_bundled_suite_loads_and_validates() -> None:
    assert "mcnb-classification" in suite_names()
    for name in suite_names():
        suite = load_suite(name)
        assert suite.final_jobs({}, quick=True)


def test_tiny_suite_local_then_resume_skips_everything(tmp_path: Path) -> None:
    suite = Suite.from_toml(TINY)
    store = ResultStore(tmp_path)
    summary = reproduce(suite, store, LocalBackend(1))
    assert summary.ran == 2 + 4 and not summary.failed  # 2 grid points x 1 tune seed, 2 policies x 2 seeds
    assert set(summary.chosen) == {"classification:digits | linucb"}
    again = reproduce(suite, store, LocalBackend(1))
    assert again.ran == 0 and again.skipped == 6


def test_failed_runs_are_reported_do_not_stop_others_and_rerun(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    suite = Suite.from_toml(TINY)
    store = ResultStore(tmp_path)

    def flaky(job):  # type: ignore[no-untyped-def]
        return "RuntimeError: injected failure" if job.policy == "random" else execute(job)

    monkeypatch.setattr("neuralbandits.experiments.backends.local.execute", flaky)
    first = reproduce(suite, store, LocalBackend(1))
    assert len(first.failed) == 2 and first.ran == 4
    assert all("injected failure" in error for _, error in first.failed)
    monkeypatch.undo()
    second = reproduce(suite, store, LocalBackend(1))
    assert second.ran == 2 and second.skipped == 4 and not second.failed


def test_a_worker_that_dies_fails_its_own_job_and_no_other(tmp_path: Path) -> None:
    suite = Suite.from_toml(TINY)
    store = ResultStore(tmp_path)
    summary = reproduce(suite, store, LocalBackend(2, runner=dies_on_seed_1_of_random))
    assert len(summary.failed) == 1 and summary.ran == 5  # 2 tuning runs + 3 of the 4 reported runs
    label, error = summary.failed[0]
    assert label.startswith("random on ") and label.endswith("seed 1") and "worker process died" in error
    again = reproduce(suite, store, LocalBackend(1))  # the failure is retried, nothing else is
    assert again.ran == 1 and again.skipped == 5 and not again.failed


def test_a_ray_task_whose_worker_dies_fails_its_own_job_and_no_other(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("ray")
    from neuralbandits.experiments.backends.ray import RayBackend

    # the local Ray instance's workers inherit the environment: let them import the runner too
    here = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
    jobs = [job for job in Suite.from_toml(TINY).final_jobs({}) if job.policy == "random"]  # seeds 0, 1
    backend = RayBackend(workers=2, runner=dies_on_seed_1_of_random, retries=0)
    outcomes = {job.seed: outcome for job, outcome in backend.run(jobs)}  # one Ray instance, two tasks
    assert isinstance(outcomes[0], RunResult)
    assert isinstance(outcomes[1], str) and outcomes[1].startswith("WorkerCrashedError: ")


def test_process_pool_and_ray_give_the_stored_results_of_the_in_process_run(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    from neuralbandits.experiments.backends.ray import RayBackend

    suite = Suite.from_toml(TINY)
    finals = {}
    for name, backend in [("inline", LocalBackend(1)), ("pool", LocalBackend(2)), ("ray", RayBackend(workers=2))]:
        store = ResultStore(tmp_path / name)
        assert not reproduce(suite, store, backend).failed
        finals[name] = {k: e["final_regret"] for k, e in store.entries().items()}
    assert finals["inline"] == finals["pool"] == finals["ray"]


def test_report_lists_every_run_and_marks_the_best(tmp_path: Path) -> None:
    suite = Suite.from_toml(TINY.replace('proposed = "linucb"', 'proposed = "linucb"\ntime_reference = "random"'))
    store = ResultStore(tmp_path)
    reproduce(suite, store, LocalBackend(1))
    store.record_command("neuralbandits reproduce tiny.toml", suite)
    html_path, md_path = write_report(tmp_path)
    text, page = md_path.read_text(), html_path.read_text()
    for run_id in store.entries():
        assert run_id in text and run_id in page
    assert "**" in text and "<b>" in page and "data:image/png;base64," in page
    assert "neuralbandits 0.1.0" in text
    assert "effective-dim" not in text and "Policy diagnostics" not in text  # no policy records any
    assert "`neuralbandits reproduce tiny.toml`" in text and "linucb's final regret is" in text
    # Fig. 5's normalisation: each policy's mean seconds per run over the reference policy's
    seconds = {e["spec"]["label"] or e["spec"]["policy"]: [] for e in store.runs() if e["spec"]["phase"] == "final"}
    for e in store.runs():
        if e["spec"]["phase"] == "final":
            seconds[e["spec"]["policy"]].append(store.records([e["run_id"]])["elapsed_s"].iloc[-1])
    header = next(line for line in text.splitlines() if line.startswith("| policy | final regret"))
    assert header == "| policy | final regret | seconds/run | time ÷ random | seeds |"
    for name, values in seconds.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        expected = float(np.mean(values)) / float(np.mean(seconds["random"]))
        assert row.split(" | ")[3] == f"{expected:.2f}"
    assert "<th>time ÷ random</th>" in page


def test_report_lists_each_command_once_with_how_often_and_when_it_ran(tmp_path: Path) -> None:
    day = 1_795_500_000.0  # 2026-11-24 06:00 UTC
    commands = [{"command": "neuralbandits reproduce a.toml --seeds 1", "time": day},
                {"command": "neuralbandits reproduce a.toml --seeds 2", "time": day + 60},
                {"command": "neuralbandits reproduce a.toml --seeds 1", "time": day + 86_400},
                {"command": "neuralbandits reproduce a.toml --seeds 1", "time": day + 3_600},
                {"command": "neuralbandits run --env x"}]  # logged before times were
    assert command_lines(commands) == [
        ("neuralbandits reproduce a.toml --seeds 1", "3×, 2026-11-24 06:00 to 2026-11-25 06:00 UTC"),
        ("neuralbandits reproduce a.toml --seeds 2", "2026-11-24 06:01 UTC"),
        ("neuralbandits run --env x", "")]
    suite = Suite.from_toml(TINY)
    store = ResultStore(tmp_path)
    reproduce(suite, store, LocalBackend(1))
    for _ in range(2):  # a resumed sweep logs its command again
        store.record_command("neuralbandits reproduce tiny.toml", suite)
    html_path, md_path = write_report(tmp_path)
    text = md_path.read_text()
    assert text.count("neuralbandits reproduce tiny.toml") == 1 and "`neuralbandits reproduce tiny.toml` (2×, " in text
    assert "<li><code>neuralbandits reproduce tiny.toml</code> (2×, " in html_path.read_text()


def test_whole_seed_runs_keeps_the_seeds_every_policy_of_the_suite_finished() -> None:
    def run(seed: int, policy: str, suite: str = "s") -> dict:  # type: ignore[type-arg]
        return {"spec": {"suite": suite, "env": "classification:digits", "env_params": {}, "policy": policy,
                         "label": "", "seed": seed, "rounds": 25}}

    final = [run(0, "a"), run(0, "b"), run(1, "a"), run(2, "b"), run(2, "a"), run(3, "b"), run(0, "a", "t")]
    kept, left_out = whole_seed_runs(final)
    assert sorted((e["spec"]["suite"], e["spec"]["seed"], e["spec"]["policy"]) for e in kept) == [
        ("s", 0, "a"), ("s", 0, "b"), ("s", 2, "a"), ("s", 2, "b"), ("t", 0, "a")]
    assert left_out == {"s": [1, 3]}


def test_every_stored_run_records_its_host_and_the_report_lists_the_hosts(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    reproduce(Suite.from_toml(TINY), store, LocalBackend(2))  # computed in worker processes
    entries = list(store.entries().values())
    assert all(e["host"] == host_info() for e in entries)
    assert {"cpu", "python", "torch", "numpy", "neuralbandits"} <= set(host_info())
    # a run stored before hosts were recorded, and one from another machine
    other = {**host_info(), "cpu": "Other CPU", "openblas": "SkylakeX (0.3.31)"}
    old = [{**entries[0], "run_id": "old"}, {**entries[1], "run_id": "elsewhere", "host": other}]
    del old[0]["host"]
    assert run_hosts(entries + old) == [(describe(host_info()), len(entries)), ("not recorded", 1),
                                        ("Other CPU, OpenBLAS SkylakeX (0.3.31), torch " + other["torch"], 1)]
    text = write_report(tmp_path)[1].read_text()
    assert f"  - {describe(host_info())}: {len(entries)} runs" in text


def test_report_of_whole_seeds_leaves_out_a_partial_seed_and_can_be_written_elsewhere(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    suite = Suite.from_toml(TINY)
    store = ResultStore(tmp_path / "store")

    def stopped(job):  # type: ignore[no-untyped-def]  # seed 1 of one policy never finished
        return "RuntimeError: stopped" if job.policy == "random" and job.seed == 1 else execute(job)

    monkeypatch.setattr("neuralbandits.experiments.backends.local.execute", stopped)
    reproduce(suite, store, LocalBackend(1))
    out = tmp_path / "published"
    html_path, md_path = write_report(store.root, out_dir=out, whole_seeds=True)
    text = md_path.read_text()
    assert html_path == out / "report.html" and "seeds [1] are left out" in html_path.read_text()
    assert "T = 25, seeds [0]\n" in text and "seeds [1] are left out" in text
    assert next(line for line in text.splitlines() if line.startswith("| linucb |")).endswith("| 1 |")
    assert all(run_id in text for run_id in store.entries())  # the list of runs keeps every run
    assert [p.name for p in (out / "figures").iterdir()] and not (store.root / "report.md").exists()
    everything = write_report(store.root)[1].read_text()
    assert "T = 25, seeds [0, 1]\n" in everything and "left out" not in everything
    assert next(line for line in everything.splitlines() if line.startswith("| linucb |")).endswith("| 2 |")


def test_report_gives_each_horizon_of_a_suite_its_own_section(tmp_path: Path) -> None:
    suite = Suite.from_toml(TINY)
    store = ResultStore(tmp_path)
    reproduce(suite, store, LocalBackend(1))
    reproduce(suite.scaled(rounds=40), store, LocalBackend(1))  # a longer run into the same store
    text = write_report(tmp_path)[1].read_text()
    assert [line for line in text.splitlines() if line.startswith("### ")] == [
        "### classification:digits, T = 25", "### classification:digits, T = 40"]
    assert "T = 25, seeds [0, 1]\n" in text and "T = 40, seeds [0, 1]\n" in text
    rows = [line for line in text.splitlines() if line.startswith("| linucb |")]
    assert len(rows) == 2 and all(row.endswith("| 2 |") for row in rows)  # two seeds each, never four


def test_report_never_averages_one_label_over_two_settings(tmp_path: Path) -> None:
    suite = Suite.from_toml(TINY)
    store = ResultStore(tmp_path / "store")
    for alpha in (0.1, 1.0):  # two earlier searches' choices reused into one store
        chosen = tmp_path / f"chosen-{alpha}.json"
        chosen.write_text(json.dumps({"classification:digits | linucb": {"alpha": alpha}}))
        reproduce(suite, store, LocalBackend(1), settings_from=chosen)
    lines = write_report(store.root)[1].read_text().splitlines()
    rows = [line for line in lines if line.startswith(("| linucb", "| random"))]
    assert [row.split(" | ")[0] for row in rows] == ["| random", "| linucb(alpha=0.1)", "| linucb(alpha=1.0)"]
    assert all(row.endswith("| 2 |") for row in rows)  # two seeds each, never a mean over both settings


def test_report_rows_follow_the_suite_not_the_order_runs_finished_in(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    reproduce(Suite.from_toml(TINY), store, LocalBackend(1))
    swapped = TINY.replace('key = "random"', 'key = "linucb"\ngrid = { alpha = [0.1, 1.0] }', 1)
    swapped = swapped[: swapped.rindex("[[policy]]")] + '[[policy]]\nkey = "random"\n'
    for text, expected in ((TINY, ["| random", "| linucb"]), (swapped, ["| linucb", "| random"])):
        store.record_command("neuralbandits reproduce tiny.toml", Suite.from_toml(text))  # same runs
        rows = [line.split(" | ")[0] for line in write_report(tmp_path)[1].read_text().splitlines()
                if line.startswith(("| random |", "| linucb |"))]
        assert rows == expected


TWO_ENVS = """
name = "two-envs"
description = "environments listed against their text order"
rounds = 10
seeds = 1

[[env]]
spec = "classification:digits"
params = { users = "random", n_users = 3 }
[[env]]
spec = "classification:digits"

[[policy]]
key = "random"
"""


def test_report_sections_follow_the_suites_environments(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    reproduce(Suite.from_toml(TWO_ENVS), store, LocalBackend(1))
    store.record_command("neuralbandits reproduce two-envs.toml", Suite.from_toml(TWO_ENVS))  # as the CLI does
    headings = [line for line in write_report(tmp_path)[1].read_text().splitlines() if line.startswith("### ")]
    assert headings == ["### classification:digits (n_users=3, users=random)", "### classification:digits"]


TINY_LOGISTIC = """
name = "tiny-logistic"
description = "a tiny suite with policies that record diagnostics"
rounds = 30
seeds = 2
tune_seeds = [100]

[[env]]
spec = "logistic:h1"
params = { n_pool = 10 }

[[policy]]
key = "random"

[[policy]]
key = "neurallog-ucb-1"
params = { width = 8, n_steps = 2, train_every = 5 }

[[policy]]
key = "logistic-ucb-1"
params = { n_steps = 2, train_every = 5 }
"""


def test_store_keeps_policy_diagnostics_and_the_report_plots_them(tmp_path: Path) -> None:
    suite = Suite.from_toml(TINY_LOGISTIC)
    store = ResultStore(tmp_path)
    assert not reproduce(suite, store, LocalBackend(1)).failed
    for job in suite.final_jobs({}):
        stored = store.records([job.run_id])
        result = execute(job)  # the same run again, in memory
        assert not isinstance(result, str)
        assert {c for c in stored.columns if c.startswith("policy_")} == {f"policy_{n}" for n in result.diagnostics}
        for name, values in result.diagnostics.items():
            np.testing.assert_array_equal(stored[f"policy_{name}"].to_numpy(), values)
        assert bool(result.diagnostics) == (job.policy != "random")
    html_path, md_path = write_report(tmp_path)
    text = md_path.read_text()
    figure = tmp_path / "figures" / "tiny-logistic-logistic-h1-n-pool-10-effective-dim.png"
    assert figure.stat().st_size > 10_000 and f"(figures/{figure.name})" in text
    line = next(line for line in text.splitlines() if line.startswith("Policy diagnostics at T"))
    assert "neurallog-ucb-1: d̃_T = " in line and "λ_T = " in line and "κ = " in line and "random" not in line
    assert "Policy diagnostics at T" in html_path.read_text()


@pytest.mark.parametrize(
    "edit,message",
    [
        (('key = "linucb"', 'key = "linucbb"'), "Did you mean 'linucb'"),
        (("alpha = [0.1, 1.0]", "alpha = []"), "non-empty list"),
        (("alpha = [0.1, 1.0]", "alhpa = [0.1]"), "has no parameter 'alhpa'"),
        (("alpha = [0.1, 1.0]", "alpha = [0.1, -1.0]"), "'alpha' parameter of LinUCB .policy 'linucb' in suite tiny. must be"),
        (("tune_seeds = [100]", "tune_seeds = [1]"), "overlap the reported seeds"),
        (('rounds = 25', ''), "lacks the required field 'rounds'"),
        (('proposed = "linucb"', 'time_reference = "neuucb-one"'), "time_reference 'neuucb-one' is not one of"),
    ],
)
def test_bad_configs_are_rejected_before_anything_runs(edit: tuple[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises((InvalidParameterError, KeyError), match=message):
        Suite.from_toml(TINY.replace(*edit))


def test_unknown_suite_suggests_names() -> None:
    with pytest.raises(InvalidParameterError, match="Did you mean 'mcnb-classification'"):
        load_suite("mcnb-clasification")


def test_grid_search_picks_the_lowest_mean_tuning_regret(tmp_path: Path) -> None:
    suite = Suite.from_toml(TINY)
    store = ResultStore(tmp_path)
    reproduce(suite, store, LocalBackend(1))
    tune = [e for e in store.entries().values() if e["spec"]["phase"] == "tune"]
    best = min(tune, key=lambda e: e["final_regret"])["spec"]["params"]
    chosen = json.loads((tmp_path / "tiny.chosen.json").read_text())
    assert chosen["classification:digits | linucb"] == best
    finals = pd.read_parquet(tmp_path / "runs")
    assert set(finals["policy"]) >= {"random", "linucb"}


def test_settings_from_an_earlier_search_skip_the_grid_and_set_the_reported_runs(tmp_path: Path) -> None:
    short = Suite.from_toml(TINY.replace("rounds = 25", "rounds = 10"))
    reproduce(short, ResultStore(tmp_path / "short"), LocalBackend(1))
    chosen_file = tmp_path / "short" / "tiny.chosen.json"
    # a choice the search would not make, to see that the file and not a new search decides
    chosen_file.write_text(json.dumps({"classification:digits | linucb": {"alpha": 1.0, "l2_reg": 0.5},
                                       "classification:other | linucb": {"alpha": 7.0}}))  # other pairs: ignored
    # reproduce records every parameter of the chosen runs; those the suite fixes must agree
    long = Suite.from_toml(TINY.replace("rounds = 25", "rounds = 30").replace(
        "grid = { alpha", "params = { l2_reg = 0.5 }\ngrid = { alpha"))
    store = ResultStore(tmp_path / "long")
    summary = reproduce(long, store, LocalBackend(1), settings_from=chosen_file)
    assert summary.ran == 4 and not summary.failed  # the reported runs only: no grid search
    specs = [entry["spec"] for entry in store.entries().values()]
    assert {s["phase"] for s in specs} == {"final"} and {s["rounds"] for s in specs} == {30}
    assert [s["params"] for s in specs if s["policy"] == "linucb"] == [{"l2_reg": 0.5, "alpha": 1.0}] * 2
    assert json.loads((tmp_path / "long" / "tiny.chosen.json").read_text()) == {
        "classification:digits | linucb": {"alpha": 1.0}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"classification:other | linucb": {"alpha": 0.1}}, "no setting for 'classification:digits | linucb'"),
        ({"classification:digits | linucb": {"alpha": 0.5}}, "not a point of the grid"),
        ({"classification:digits | linucb": {"alpha": 0.1, "l2_reg": 0.5}}, "chosen with {'l2_reg': 0.5}, but suite tiny sets {'l2_reg': '<default>'}"),
        ([1, 2], "not a chosen-settings file"),
    ],
)
def test_bad_settings_from_are_rejected_before_anything_runs(content: object, message: str, tmp_path: Path) -> None:
    chosen_file = tmp_path / "chosen.json"
    chosen_file.write_text(json.dumps(content))
    store = ResultStore(tmp_path / "store")
    with pytest.raises(InvalidParameterError, match=message):
        reproduce(Suite.from_toml(TINY), store, LocalBackend(1), settings_from=chosen_file)
    assert store.entries() == {}
    with pytest.raises(InvalidParameterError, match="Cannot read chosen settings"):
        reproduce(Suite.from_toml(TINY), store, LocalBackend(1), settings_from=tmp_path / "absent.json")


def test_reported_runs_are_planned_seed_by_seed() -> None:
    """A sweep stopped part-way then holds whole seeds of every policy and environment."""
    jobs = Suite.from_toml(TINY.replace("seeds = 2", "seeds = 3")).final_jobs({})
    seeds = [job.seed for job in jobs]
    assert seeds == sorted(seeds) and seeds.count(0) == seeds.count(2) == 2


def test_scaled_suite_changes_horizons_and_keeps_validation() -> None:
    suite = Suite.from_toml(TINY.replace("seeds = 2\n", "seeds = 2\ntune_rounds = 10\n"))
    assert {job.rounds for job in suite.tune_jobs()} == {10}
    assert {job.rounds for job in suite.final_jobs({})} == {25}
    scaled = suite.scaled(rounds=40, seeds=3, tune_rounds=5)
    assert {job.rounds for job in scaled.tune_jobs()} == {5}
    assert {(job.rounds, job.seed) for job in scaled.final_jobs({}) if job.policy == "random"} == {(40, 0), (40, 1), (40, 2)}
    assert scaled.tune_jobs()[0].run_id != suite.tune_jobs()[0].run_id  # another horizon is another run
    with pytest.raises(InvalidParameterError, match="overlap the reported seeds"):
        suite.scaled(seeds=101)
    with pytest.raises(InvalidParameterError, match="tune_rounds"):
        suite.scaled(tune_rounds=0)


def test_improvement_compares_with_baselines_only() -> None:
    from neuralbandits.reporting.report import improvement

    table = pd.DataFrame({"final_regret_mean": [100.0, 80.0, 120.0]}, index=["mcnb", "mcnb-reference", "club"])
    # another mode of the proposed policy is not a baseline: 100 vs club's 120 is 16.7 % lower
    assert improvement(table, "mcnb", {"mcnb", "mcnb-reference"}) == \
        "mcnb's final regret is 16.7 % lower than the best baseline's (club)"
    assert "25.0 % higher" in improvement(table, "mcnb")  # without variants: vs mcnb-reference's 80
    assert improvement(table.loc[["mcnb", "mcnb-reference"]], "mcnb", {"mcnb-reference"}) == ""


def test_swept_policies_get_a_sensitivity_figure_with_one_panel_per_parameter(tmp_path: Path) -> None:
    suite = Suite.from_toml(TINY.replace('grid = { alpha = [0.1, 1.0] }', 'label = "lin-alpha"\nsweep = { alpha = [0.1, 1.0] }')
                            + '\n[[policy]]\nkey = "linucb"\nlabel = "lin-l2"\nsweep = { l2_reg = [0.5, 2.0] }\n')
    store = ResultStore(tmp_path)
    assert not reproduce(suite, store, LocalBackend(1)).failed
    _, md_path = write_report(tmp_path)
    text = md_path.read_text()
    for label in ("lin-alpha(alpha=0.1)", "lin-alpha(alpha=1.0)", "lin-l2(l2_reg=0.5)", "lin-l2(l2_reg=2.0)"):
        assert f"| {label} |" in text
    figure = tmp_path / "figures" / "tiny-classification-digits-sensitivity.png"
    assert f"(figures/{figure.name})" in text
    import matplotlib.image

    height, width = matplotlib.image.imread(figure).shape[:2]
    assert width > 1.8 * height  # two panels side by side (alpha and l2_reg), not one shared axis
