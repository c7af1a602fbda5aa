"""The benchmark functions run (their numbers are not asserted: timing is not a unit test)."""

from __future__ import annotations

from neuralbandits.experiments.benchmark import bank_vs_loop, policy_throughput


def test_bank_vs_loop_reports_every_size() -> None:
    rows = bank_vs_loop(sizes=(2, 3), dim=3, n_arms=2, width=4, repeats=1)
    assert [r["n_networks"] for r in rows] == [2, 3]
    assert all(r["bank_ms"] > 0 and r["loop_ms"] > 0 and r["speedup"] > 0 for r in rows)


def test_policy_throughput_on_digits() -> None:
    rates = policy_throughput(env="classification:digits", rounds=20, policies=("random", "linucb"))
    assert set(rates) == {"random", "linucb"} and all(v > 0 for v in rates.values())


def test_mcnb_breakdown_reports_the_table_1_keys() -> None:
    from neuralbandits.experiments.benchmark import mcnb_breakdown

    row = mcnb_breakdown(6, rounds=2, warmup=1, width=8)
    for key in ("clustering_s", "meta_adaptation_s", "user_training_s", "meta_replay_s", "round_s",
                "clustering_floor_s"):
        assert row[key] > 0
    assert row["round_s"] >= row["user_training_s"]
    # the later schedule trains ten times less often: the same round cost plus a tenth of the training
    late = row["round_s"] - row["user_training_s"] + row["user_training_call_s"] / 100
    assert abs(row["round_after_switch_s"] - late) < 1e-12 and row["round_after_switch_s"] < row["round_s"]
    # the served case trains at most one period's users (here 6 < 10: all of them, the same work)
    assert abs((row["round_served_s"] - row["user_training_served_s"]) - (row["round_s"] - row["user_training_s"])) < 1e-12
