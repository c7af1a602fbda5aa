"""The command line through a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "neuralbandits.cli.main", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def test_run_writes_curves_summary_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli("run", "--env", "classification:digits", "--policies", "random,linucb,neuucb-one",
                 "--rounds", "60", "--seeds", "2", "--out", str(out), "--quiet",
                 "--param", "neuucb-one.width=16", "--param", "neuucb-one.n_steps=3")
    assert result.returncode == 0, result.stderr
    curves = pd.read_csv(out / "curves.csv")
    assert list(curves.columns) == ["policy", "seed", "t", "cumulative_regret"]
    assert len(curves) == 3 * 2 * 60
    summary = json.loads((out / "summary.json").read_text())
    assert summary["env"] == "classification:digits" and summary["rounds"] == 60 and summary["seeds"] == [0, 1]
    assert set(summary["policies"]) == {"random", "linucb", "neuucb-one"}
    for values in summary["policies"].values():
        assert {"final_regret_mean", "final_regret_std", "seconds_mean"} <= set(values)
    final = curves[curves.t == 60].groupby("policy").cumulative_regret.mean()
    assert summary["policies"]["linucb"]["final_regret_mean"] == pytest.approx(final["linucb"])
    assert (out / "regret.png").stat().st_size > 10_000
    assert "linucb" in result.stdout and "final regret" in result.stdout


def test_list_shows_policies_environments_and_datasets() -> None:
    result = cli("list")
    assert result.returncode == 0, result.stderr
    for word in ["linucb", "neuucb-one", "neuucb-ind", "random", "classification:<name>", "synthetic:cosine",
                 "digits", "shuttle"]:
        assert word in result.stdout


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


BAD_INPUTS = [
    (["--policies", "linucbb"], "Did you mean 'linucb'"),
    (["--env", "clasification:digits"], "Unknown environment"),
    (["--env", "classification:mnsit"], "Did you mean 'mnist'"),
    (["--rounds", "0"], "--rounds must be a positive integer"),
    (["--rounds", "-5"], "--rounds must be a positive integer"),
    (["--seeds", "0"], "--seeds must be a positive integer"),
    (["--param", "linucb.alpha=-1"], "'alpha' parameter of LinUCB"),
    (["--param", "nosuch.alpha=1"], "--param must look like POLICY.NAME=VALUE"),
    (["--env-param", "users=everyone"], "'users' parameter of ClassificationEnv"),
    ("no_xy", "'X'"),
    ("nan", "NaN or infinite"),
    ("negative_labels", "label"),
]


def cli_in_process(*args: str):  # type: ignore[no-untyped-def]
    """The same app in this process (a subprocess per bad-input case would cost seconds of imports)."""
    from typer.testing import CliRunner

    from neuralbandits.cli.main import app

    return CliRunner().invoke(app, list(args))


def test_run_summary_gives_the_final_policy_diagnostics(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli_in_process("run", "--env", "logistic:h1", "--env-param", "n_pool=10", "--policies",
                            "random,logistic-ucb-1", "--rounds", "30", "--seeds", "2", "--out", str(out), "--quiet",
                            "--param", "logistic-ucb-1.train_every=5", "--param", "logistic-ucb-1.n_steps=2")
    assert result.exit_code == 0, result.stdout + result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert "diagnostics" not in summary["policies"]["random"]
    diagnostics = summary["policies"]["logistic-ucb-1"]["diagnostics"]
    assert set(diagnostics) == {"lambda_t", "effective_dim", "radius", "kappa"}
    records = pd.read_parquet(out / "records.parquet")
    last = records[(records.policy == "logistic-ucb-1") & (records.t == 30)]
    assert len(last) == 2
    for name, value in diagnostics.items():
        assert value == pytest.approx(last[f"policy_{name}"].mean())


def test_bad_input_through_a_real_subprocess(tmp_path: Path) -> None:
    result = cli("run", "--policies", "linucbb", "--rounds", "5", "--out", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 2 and result.stderr.strip().startswith("error: ")
    assert "Did you mean 'linucb'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args,message", BAD_INPUTS)
def test_bad_input_one_line_exit_2_nothing_written(args, message: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if isinstance(args, str):
        X = np.random.default_rng(0).random((20, 3))
        y = np.arange(20) % 3
        arrays = {"no_xy": {"features": X, "y": y},
                  "nan": {"X": np.where(X > 0.9, np.nan, X), "y": y},
                  "negative_labels": {"X": X, "y": y - 1}}[args]
        args = ["--env", f"classification:{write_npz(tmp_path / 'data.npz', **arrays)}"]
    out = tmp_path / "out"
    result = cli_in_process("run", *args, "--rounds" if "--rounds" not in args else "--seeds",
                            "5" if "--rounds" not in args else "1", "--out", str(out), "--quiet")
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()



def test_reproduce_then_report_then_resume(tmp_path: Path) -> None:
    """``reproduce`` logs its command and suite, ``report`` reads them; a second call runs nothing.
    The bundled ``mcnb-runtime`` suite (quick) sets ``time_reference``, as paper 000's Fig. 5 does."""
    out = tmp_path / "store"
    result = cli_in_process("reproduce", "mcnb-runtime", "--quick", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert "4 runs done, 0 already stored, 0 failed" in result.output  # 4 policies x 1 seed, no grid
    logged = json.loads((out / "commands.jsonl").read_text().splitlines()[-1])
    assert logged["command"] == f"neuralbandits reproduce mcnb-runtime --out {out} --quick --quiet"
    assert logged["suite"] == "mcnb-runtime" and logged["proposed"] == "mcnb"
    assert logged["time_reference"] == "neuucb-one"
    assert cli_in_process("report", str(out)).exit_code == 0
    text = (out / "report.md").read_text()
    assert "| policy | final regret | seconds/run | time ÷ neuucb-one | seeds |" in text
    reference_row = next(line for line in text.splitlines() if line.startswith("| neuucb-one |"))
    assert reference_row.split(" | ")[3] == "1.00"
    assert "- commands:\n  - `neuralbandits reproduce " in text
    published = tmp_path / "published"
    assert cli_in_process("report", str(out), "--whole-seeds", "--out", str(published)).exit_code == 0
    lines = (published / "report.md").read_text().splitlines()
    assert "T = 100, seeds [0]" in lines and "left out" not in "\n".join(lines)  # seed 0 is whole
    clash = cli_in_process("report", str(out), "--out", str(out / "commands.jsonl"))
    assert clash.exit_code == 2 and "is not a folder" in clash.stderr
    again = cli_in_process("reproduce", "mcnb-runtime", "--quick", "--out", str(out), "--quiet")
    assert "0 runs done, 4 already stored" in again.output


def test_report_of_a_sweep_stopped_mid_seed_says_so(tmp_path: Path) -> None:
    suite = tmp_path / "two-seeds.toml"
    suite.write_text('name = "two-seeds"\ndescription = "d"\nrounds = 20\nseeds = 2\n'
                     '[[env]]\nspec = "classification:digits"\n'
                     '[[policy]]\nkey = "random"\n[[policy]]\nkey = "linucb"\n')
    out = tmp_path / "store"
    assert cli_in_process("reproduce", str(suite), "--out", str(out), "--quiet").exit_code == 0
    assert "note:" not in cli_in_process("report", str(out)).output  # every seed is whole
    index = out / "index.jsonl"  # as if the sweep had stopped before seed 1's last run
    index.write_text("".join(index.read_text().splitlines(keepends=True)[:-1]))
    hint = cli_in_process("report", str(out)).output
    assert "note: two-seeds: seeds [1] are unfinished" in hint and "--whole-seeds" in hint
    assert "note:" not in cli_in_process("report", str(out), "--whole-seeds").output


def test_reproduce_rejects_a_reused_search_that_does_not_fit_the_suite(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen.json"
    chosen.write_text(json.dumps({"classification:elsewhere | linucb": {"alpha": 0.1}}))
    out = tmp_path / "store"
    result = cli_in_process("reproduce", "mcnb-classification", "--quick", "--settings-from", str(chosen),
                            "--out", str(out), "--quiet")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and "has no setting for" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_bench_mcnb_with_two_jobs_writes_its_rows(tmp_path: Path) -> None:
    out = tmp_path / "table1.json"
    result = cli_in_process("bench", "mcnb", "--users", "6", "--rounds", "2", "--jobs", "2", "--json", str(out))
    assert result.exit_code == 0, result.stdout
    payload = json.loads(out.read_text())
    assert payload["jobs"] == 2 and payload["threads"] == 1 and set(payload["rows"]) == {"6"}
    assert "with 2 job(s)" in result.stdout
    bad = cli_in_process("bench", "mcnb", "--users", "6", "--jobs", "0")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: ") and "--jobs" in bad.stderr
