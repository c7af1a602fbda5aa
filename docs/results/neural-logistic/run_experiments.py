"""Reduced reproduction of paper 003's experiments (see docs/results/neural-logistic.md).

    python docs/results/neural-logistic/run_experiments.py tune  ENV [ENV ...]   # seed 100, T=500
    python docs/results/neural-logistic/run_experiments.py run   ENV [ENV ...]   # seeds 0,1,2, T=2000

Preset ``nlb_paper`` (docs/paper-notes.md §2.6): δ = 0.1, S = 1, κ = 1/μ̇(S), λ fixed to 1 for the
network algorithms, α from {1e-4, 1e-3, 0.01, 0.1, 1, 10} chosen on tuning seed 100 (T = 500) (never on reported seeds).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

torch.set_num_threads(1)

from neuralbandits.envs import registry as env_registry  # noqa: E402
from neuralbandits.envs.logistic import kappa_env, kappa_star, register_logistic  # noqa: E402
from neuralbandits.experiments.records import records_frame, summary_frame, write_outputs  # noqa: E402
from neuralbandits.experiments.runner import run_policy, run_seeds  # noqa: E402
from neuralbandits.policies import build_policy  # noqa: E402
import neuralbandits.policies.neural_logistic  # noqa: E402,F401  (registration)
from neuralbandits.reporting.plots import plot_regret  # noqa: E402

OUT = Path(__file__).resolve().parent
POLICIES = ["neurallog-ucb-1", "neurallog-ucb-2", "ncbf-ucb", "logistic-ucb-1", "ada-ofu-ecolog"]
NEURAL_PRESET = {"lambda_schedule": "fixed", "l2_reg": 1.0}
ALPHAS = [0.0001, 0.001, 0.01, 0.1, 1.0, 10.0]

if "logistic:h1" not in env_registry.ENVIRONMENTS:
    register_logistic(env_registry.ENVIRONMENTS)


def preset(key: str) -> dict:
    params = dict(NEURAL_PRESET) if key in ("neurallog-ucb-1", "neurallog-ucb-2") else {}
    return params


def one_run(env, key: str, seed: int, rounds: int, params: dict):  # type: ignore[no-untyped-def]
    env_seed, policy_seed = run_seeds(seed)
    policy = build_policy(key, env.info, seed=policy_seed, **params)
    start = time.perf_counter()
    result = run_policy(env, policy, rounds, env_seed=env_seed, label=key, seed=seed)
    return result, policy, time.perf_counter() - start


def tune(env_name: str, rounds: int = 500, seed: int = 100) -> None:
    env = env_registry.build_env(f"logistic:{env_name}")
    table = {}
    for key in POLICIES:
        table[key] = {}
        for alpha in ALPHAS:
            result, _, seconds = one_run(env, key, seed, rounds, {**preset(key), "alpha": alpha})
            table[key][alpha] = float(result.cumulative_regret[-1])
            print(env_name, key, alpha, table[key][alpha], f"{seconds:.1f}s", flush=True)
    (OUT / f"tune_{env_name}.json").write_text(json.dumps(table, indent=2) + "\n")


def run(env_name: str, alphas: dict, rounds: int = 2000, seeds=(0, 1, 2)) -> None:
    env = env_registry.build_env(f"logistic:{env_name}")
    results, diagnostics = [], {}
    for key in POLICIES:
        for seed in seeds:
            params = {**preset(key), "alpha": alphas[key]}
            result, policy, seconds = one_run(env, key, seed, rounds, params)
            results.append(result)
            diag = policy.diagnostics()
            diagnostics.setdefault(key, []).append({
                "seed": seed, "seconds": seconds, "final_regret": float(result.cumulative_regret[-1]),
                "lambda_T": float(diag["lambda_t"][-1]), "effective_dim_T": float(diag["effective_dim"][-1]),
                "radius_T": float(diag["radius"][-1]), "kappa": float(diag["kappa"][-1]),
            })
            print(env_name, key, seed, diagnostics[key][-1], flush=True)
    records = records_frame(results)
    extra = {"alphas": alphas, "preset": NEURAL_PRESET, "diagnostics": diagnostics,
             "kappa_star_seed0": kappa_star(env, rounds, env_seed=run_seeds(0)[0])}
    if env_name.startswith("h"):
        extra["kappa_env"] = kappa_env(env)
    out = OUT / env_name
    write_outputs(records, out, env=f"logistic:{env_name}", rounds=rounds, seeds=list(seeds), extra=extra)
    (out / "records.parquet").unlink()  # the curves and the summary are enough for the report
    plot_regret(records, OUT / f"{env_name}.png", title=f"logistic:{env_name} (T={rounds}, {len(seeds)} seeds)")
    print(summary_frame(records), flush=True)


def chosen_alphas() -> dict:
    """Per algorithm, the α with the lowest tuning regret summed (rank-normalised) over tuned envs."""
    tables = [json.loads(p.read_text()) for p in sorted(OUT.glob("tune_*.json"))]
    alphas = {}
    for key in POLICIES:
        scores = {a: 0.0 for a in ALPHAS}
        for table in tables:
            values = {float(a): v for a, v in table[key].items()}
            best = min(values.values())
            for a, v in values.items():
                scores[a] += v / best
        alphas[key] = min(scores, key=scores.get)
    return alphas


if __name__ == "__main__":
    mode, envs = sys.argv[1], sys.argv[2:]
    for name in envs:
        if mode == "tune":
            tune(name)
        else:
            run(name, chosen_alphas(), rounds=int(__import__("os").environ.get("ROUNDS", "2000")))
