"""``neuralbandits report DIR``: one self-contained HTML page and a Markdown summary of a result store.

Everything is built from the store's index and per-run records; nothing is re-run.  Per suite and
environment: cumulative-regret curves (mean ± std over seeds), the final-regret table (best in bold,
the proposed method's improvement over the best baseline in %), a time-vs-regret scatter, for
policies swept over a parameter a sensitivity plot, and, for policies that record diagnostics
(``policy_*`` columns), their final values and the effective dimension over t (with λ_t when it
changes).  Then every run of the store, the settings the grid search chose, the commands that filled
the store, and the library version and machine.
"""

from __future__ import annotations

import base64
import html
import io
import json
import platform
import re
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from neuralbandits.experiments.records import (  # noqa: E402
    DIAGNOSTIC_PREFIX,
    diagnostic_columns,
    final_diagnostics,
    summary_frame,
)
from neuralbandits.experiments.host import describe, host_info  # noqa: E402
from neuralbandits.reporting.plots import draw_curves, draw_regret  # noqa: E402

T = TypeVar("T")
SWEEP_LABEL = re.compile(r"^(?P<name>.+)\((?P<param>\w+)=(?P<value>[^,()]+)\)$")
#: how the summary line and the figure name known policy diagnostics (others keep their own name)
FINAL_LABELS = {"effective_dim": "d̃_T", "lambda_t": "λ_T", "kappa": "κ", "radius": "radius_T"}
AXIS_LABELS = {"effective_dim": "effective dimension d̃_t", "lambda_t": "λ_t"}


def _figure_bytes(fig: plt.Figure) -> bytes:
    """The figure as PNG bytes, titles wrapped and the layout tightened."""
    for ax in fig.axes:  # long suite/env titles would run off the figure: wrap them to its width
        width = int(ax.get_position().width * fig.get_figwidth() * 11)  # ≈ characters per line
        ax.set_title(textwrap.fill(ax.get_title(), max(width, 20)), fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _curves_figure(records: pd.DataFrame, title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    draw_regret(ax, records)
    ax.set(xlabel="round t", ylabel="cumulative regret", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _figure_bytes(fig)


def _scatter_figure(table: pd.DataFrame, title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.scatter(table["seconds_mean"], table["final_regret_mean"])
    for name, row in table.iterrows():
        ax.annotate(str(name), (row["seconds_mean"], row["final_regret_mean"]), fontsize=7)
    ax.set(xlabel="seconds per run", ylabel="final regret", title=title, xscale="log")
    ax.grid(alpha=0.3)
    return _figure_bytes(fig)


def _diagnostics_figure(records: pd.DataFrame, title: str) -> bytes | None:
    """The effective dimension over t per policy (mean ± std over seeds), and λ_t beside it when it
    changes during a run; ``None`` when no policy records an effective dimension."""
    columns = diagnostic_columns(records)
    if DIAGNOSTIC_PREFIX + "effective_dim" not in columns:
        return None
    names = ["effective_dim"]
    lam = DIAGNOSTIC_PREFIX + "lambda_t"
    if lam in columns and records.groupby(["policy", "seed"], sort=False)[lam].nunique().max() > 1:
        names.append("lambda_t")
    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        draw_curves(ax, records, DIAGNOSTIC_PREFIX + name)
        ax.set(xlabel="round t", ylabel=AXIS_LABELS[name], title=f"{title}: {AXIS_LABELS[name]}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _figure_bytes(fig)


def diagnostics_note(records: pd.DataFrame) -> str:
    """One line: every policy's diagnostics at the last round, mean over seeds ("" when none has any)."""
    finals = final_diagnostics(records)
    known = [name for name in FINAL_LABELS if name in finals.columns]
    finals = finals[known + [name for name in finals.columns if name not in known]]
    parts = [f"{policy}: " + ", ".join(f"{FINAL_LABELS.get(name, name)} = {value:.4g}"
                                       for name, value in row.dropna().items())
             for policy, row in finals.iterrows()]
    return "Policy diagnostics at T (mean over seeds): " + "; ".join(parts) if parts else ""


def _sensitivity_figure(table: pd.DataFrame, title: str) -> bytes | None:
    groups: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for label, row in table.iterrows():
        match = SWEEP_LABEL.match(str(label))
        if match:
            try:
                value = float(match["value"])
            except ValueError:
                continue
            groups.setdefault((match["name"], match["param"]), []).append(
                (value, row["final_regret_mean"], row["final_regret_std"]))
    if not groups:
        return None
    # one panel per swept parameter (paper 000 Figs. 6-7): their ranges differ (γ ≤ 0.5, ν ≥ 1.1)
    params = sorted({param for _, param in groups})
    fig, axes = plt.subplots(1, len(params), figsize=(4.2 * len(params), 3.6), sharey=True, squeeze=False)
    for ax, param in zip(axes[0], params):
        for (name, swept), points in groups.items():
            if swept != param:
                continue
            points.sort()
            x, y, e = map(np.array, zip(*points))
            ax.errorbar(x, y, yerr=e, marker="o", capsize=3, label=name)
        ax.set(xlabel=param)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("final regret (mean ± std)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _figure_bytes(fig)


def in_suite_order(items: Iterable[T], order: list[str] | None, key: Callable[[T], str] = str) -> list[T]:
    """``items`` in the suite file's ``order`` of their ``key`` (a store lists runs in the order they
    finished; environments would sort as text: pool sizes 10, 10000, 2500, 50); keys the suite does not
    name (runs of an older version of it) go last, in their given order."""
    rank = {name: i for i, name in enumerate(order or [])}
    return sorted(items, key=lambda item: rank.get(key(item), len(rank)))


def improvement(table: pd.DataFrame, proposed: str | None, variants: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    """``proposed``'s final regret vs the best baseline, as a % reduction (negative = worse).

    ``variants`` are other labels of the proposed policy itself (e.g. another mode); they are not
    baselines."""
    if not proposed or proposed not in table.index:
        return ""
    others = table.drop(index=[proposed, *sorted(set(variants) & set(table.index))])["final_regret_mean"]
    if others.empty:
        return ""
    best = others.min()
    if not best:
        return ""
    gain = 100.0 * (best - table.loc[proposed, "final_regret_mean"]) / best
    direction = "lower" if gain >= 0 else "higher"
    return (f"{proposed}'s final regret is {abs(gain):.1f} % {direction} than the best baseline's "
            f"({others.idxmin()})")


def relative_time(table: pd.DataFrame, reference: str | None) -> pd.Series | None:
    """Each policy's seconds per run over ``reference``'s (paper 000 Fig. 5: NeuUCB-ONE = 1.0), or
    ``None`` without a reference in the table."""
    if reference is None or reference not in table.index or not table.loc[reference, "seconds_mean"]:
        return None
    return table["seconds_mean"] / table.loc[reference, "seconds_mean"]


def _table_rows(table: pd.DataFrame, reference: str | None, bold: tuple[str, str]) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the final-regret table, the best regret wrapped in ``bold``."""
    best = table["final_regret_mean"].min()
    ratios = relative_time(table, reference)
    header = ["policy", "final regret", "seconds/run"] + ([f"time ÷ {reference}"] if ratios is not None else [])
    rows = []
    for name, row in table.iterrows():
        cell = f"{row.final_regret_mean:.1f} ± {row.final_regret_std:.1f}"
        cell = f"{bold[0]}{cell}{bold[1]}" if row.final_regret_mean == best else cell
        ratio = [f"{ratios[name]:.2f}"] if ratios is not None else []
        rows.append([str(name), cell, f"{row.seconds_mean:.2f}", *ratio, str(int(row.n_seeds))])
    return header + ["seeds"], rows


def _markdown_table(table: pd.DataFrame, reference: str | None = None) -> str:
    header, rows = _table_rows(table, reference, ("**", "**"))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in rows])


def _html_table(table: pd.DataFrame, reference: str | None = None) -> str:
    header, rows = _table_rows(table, reference, ("<b>", "</b>"))
    cells = ["<tr>" + "".join(f"<td>{c if i == 1 else html.escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
             for row in rows]
    return ("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
            + "".join(cells) + "</table>")


def final_runs(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The finished runs of the reported seeds (no grid-search run, no failure)."""
    return [e for e in entries if e["status"] == "ok" and e["spec"]["phase"] == "final"]


def whole_seed_runs(final: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, list[int]]]:
    """The runs of ``final`` whose seed is whole in its suite — every (environment, horizon, policy)
    with a finished run in the suite finished that seed too — and, per suite, the seeds left out.
    A sweep runs seed by seed; stopped mid-seed, the finished runs of that seed would bias the means
    towards the faster policies."""
    kept: list[dict[str, Any]] = []
    left_out: dict[str, list[int]] = {}
    for suite in sorted({e["spec"]["suite"] for e in final}):
        runs = [e for e in final if e["spec"]["suite"] == suite]
        by_seed: dict[int, set[tuple[str, int, str]]] = {}
        for e in runs:
            by_seed.setdefault(e["spec"]["seed"], set()).add((_env_name(e), e["spec"]["rounds"], _label(e)))
        cells = set().union(*by_seed.values())
        whole = {seed for seed, done in by_seed.items() if done == cells}
        kept += [e for e in runs if e["spec"]["seed"] in whole]
        if len(whole) < len(by_seed):
            left_out[suite] = sorted(set(by_seed) - whole)
    return kept, left_out


def write_report(store_dir: str | Path, *, out_dir: str | Path | None = None,
                 whole_seeds: bool = False) -> tuple[Path, Path]:
    """Write ``report.html`` (self-contained) and ``report.md`` (+ ``figures/``) into ``out_dir``
    (default: the store).  With ``whole_seeds``, the tables and curves leave out every seed that some
    run of its suite has not finished (:func:`whole_seed_runs`); the list of runs still has them all."""
    from neuralbandits import __version__
    from neuralbandits.experiments.store import ResultStore

    store = ResultStore(store_dir)
    entries = list(store.entries().values())
    if not entries:
        raise ValueError(f"{store_dir} holds no runs (no index.jsonl entries).")
    out = store.root if out_dir is None else Path(out_dir)
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    md: list[str] = ["# neuralbandits report", ""]
    body: list[str] = ["<h1>neuralbandits report</h1>"]

    def add_figure(data: bytes, name: str, caption: str) -> None:
        (figures / name).write_bytes(data)
        md.append(f"![{caption}](figures/{name})")
        encoded = base64.b64encode(data).decode()
        body.append(f'<figure><img src="data:image/png;base64,{encoded}"><figcaption>{html.escape(caption)}'
                    "</figcaption></figure>")

    final = final_runs(entries)
    suites = sorted({e["spec"]["suite"] for e in final})  # before the filter: a suite may lose every seed
    left_out: dict[str, list[int]] = {}
    if whole_seeds:
        final, left_out = whole_seed_runs(final)
    meta = {entry["suite"]: entry for entry in store.commands()}  # the suite's last command wins
    for suite in suites:
        md += [f"## {suite}", ""]
        body.append(f"<h2>{html.escape(suite)}</h2>")
        if suite in left_out:
            line = (f"Whole seeds only: seeds {left_out[suite]} are left out of the tables and curves, "
                    "not every run of them has finished.")
            md += [line, ""]
            body.append(f"<p>{html.escape(line)}</p>")
        suite_runs = [e for e in final if e["spec"]["suite"] == suite]
        suite_meta = meta.get(suite, {})
        # a store may hold a suite at several horizons (`--rounds`): one section per horizon, never a mean over both
        horizons = sorted({e["spec"]["rounds"] for e in suite_runs})
        sections = [(env, rounds) for env in in_suite_order(sorted({_env_name(e) for e in suite_runs}),
                                                            suite_meta.get("envs"))
                    for rounds in horizons]
        for env, rounds in sections:
            runs = in_suite_order([e for e in suite_runs if _env_name(e) == env and e["spec"]["rounds"] == rounds],
                                  suite_meta.get("policies"), key=_label)
            if not runs:
                continue
            title = env if len(horizons) == 1 else f"{env}, T = {rounds}"
            records = _labelled_records(store, runs)
            table = summary_frame(records)
            slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{suite}-{title}").strip("-")
            seeds = sorted({e["spec"]["seed"] for e in runs})
            reference = suite_meta.get("time_reference")
            md += [f"### {title}", "", f"T = {rounds}, seeds {seeds}", "", _markdown_table(table, reference), ""]
            body += [f"<h3>{html.escape(title)}</h3>", f"<p>T = {rounds}, seeds {seeds}</p>",
                     _html_table(table, reference)]
            proposed = suite_meta.get("proposed")
            variants = {e["spec"]["label"] for e in runs if e["spec"]["policy"] == proposed}
            note = improvement(table, proposed, variants)
            diagnostics = diagnostics_note(records)
            for line in (note, diagnostics):
                if line:
                    md += [line, ""]
                    body.append(f"<p>{html.escape(line)}</p>")
            add_figure(_curves_figure(records, f"{suite}: {env}"), f"{slug}-regret.png", "cumulative regret")
            add_figure(_scatter_figure(table, env), f"{slug}-time.png", "running time vs final regret")
            sensitivity = _sensitivity_figure(table, env)
            if sensitivity is not None:
                add_figure(sensitivity, f"{slug}-sensitivity.png", "sensitivity")
            effective_dim = _diagnostics_figure(records, env)
            if effective_dim is not None:
                add_figure(effective_dim, f"{slug}-effective-dim.png", "effective dimension over t")
            md.append("")

    _append_runs_and_provenance(store.root, entries, command_lines(store.commands()), md, body, __version__)
    html_path, md_path = out / "report.html", out / "report.md"
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}img{max-width:100%}")
    html_path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>neuralbandits report</title>"
                         f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")
    md_path.write_text("\n".join(md) + "\n")
    return html_path, md_path


def run_labels(runs: list[dict[str, Any]]) -> dict[str, str]:
    """Each run's row label: its policy label, followed by the parameters that differ when runs of one
    label were stored with several settings (two ``--settings-from`` files into one store), so that
    no row is a mean over settings."""
    settings: dict[str, list[dict[str, Any]]] = {}
    for e in runs:
        if e["spec"]["params"] not in settings.setdefault(_label(e), []):
            settings[_label(e)].append(e["spec"]["params"])
    differing = {label: sorted({k for option in options for k in option
                                if any(other.get(k) != option.get(k) for other in options)})
                 for label, options in settings.items()}
    names = {}
    for e in runs:
        suffix = ", ".join(f"{k}={e['spec']['params'].get(k)}" for k in differing[_label(e)])
        names[e["run_id"]] = f"{_label(e)}({suffix})" if suffix else _label(e)
    return names


def _labelled_records(store: Any, runs: list[dict[str, Any]]) -> pd.DataFrame:
    """The runs' per-round records, each under its :func:`run_labels` name."""
    names = run_labels(runs)
    frames = [store.records([e["run_id"]]).assign(policy=names[e["run_id"]]) for e in runs]
    return pd.concat(frames, ignore_index=True)


def run_hosts(entries: Iterable[dict[str, Any]]) -> list[tuple[str, int]]:
    """The hosts the store's finished runs were computed on, with their numbers of runs, most first;
    runs stored before hosts were recorded count as ``not recorded``."""
    counts = Counter(describe(e["host"]) if e.get("host") else "not recorded"
                     for e in entries if e["status"] == "ok")
    return counts.most_common()


def command_lines(commands: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """The store's logged commands, each distinct one once in order of first use, with a note of how
    often and when it ran (a sweep resumed seed by seed logs the same command many times)."""
    seen: dict[str, list[float | None]] = {}
    for entry in commands:
        seen.setdefault(entry["command"], []).append(entry.get("time"))
    lines = []
    for command, times in seen.items():
        known = sorted(time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) for t in times if t is not None)
        parts = [f"{len(times)}×"] if len(times) > 1 else []
        if known:
            parts.append(" to ".join(sorted({known[0], known[-1]})) + " UTC")
        lines.append((command, ", ".join(parts)))
    return lines


def _label(entry: dict[str, Any]) -> str:
    """A run's policy label (the policy key when the suite gave none)."""
    return entry["spec"]["label"] or entry["spec"]["policy"]


def _env_name(entry: dict[str, Any]) -> str:
    from neuralbandits.experiments.sweep import env_label

    return env_label(entry["spec"]["env"], entry["spec"]["env_params"])


def _append_runs_and_provenance(root: Path, entries: list[dict[str, Any]], commands: list[tuple[str, str]], md: list[str],
                                body: list[str], version: str) -> None:
    md += ["## Every run in the store", "",
           "| run id | suite | phase | env | policy | params | seed | status | final regret |",
           "|---|---|---|---|---|---|---|---|---|"]
    rows = []
    for e in sorted(entries, key=lambda e: (e["spec"]["suite"], e["spec"]["phase"], e["spec"]["env"],
                                            _label(e), e["spec"]["seed"])):
        s = e["spec"]
        regret = f"{e['final_regret']:.1f}" if e["status"] == "ok" else html.escape(e.get("error", ""))
        params = ", ".join(f"{k}={v}" for k, v in sorted(s["params"].items()))
        cells = [e["run_id"], s["suite"], s["phase"], _env_name(e), _label(e), params,
                 str(s["seed"]), e["status"], regret]
        md.append("| " + " | ".join(cells) + " |")
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    body.append("<h2>Every run in the store</h2><table><tr><th>run id</th><th>suite</th><th>phase</th><th>env"
                "</th><th>policy</th><th>params</th><th>seed</th><th>status</th><th>final regret / error</th></tr>"
                + "".join(rows) + "</table>")
    chosen = {p.name: json.loads(p.read_text()) for p in sorted(root.glob("*.chosen.json"))}
    machine = f"{platform.platform()}, {describe(host_info())}, Python {platform.python_version()}"
    hosts = run_hosts(entries)
    md += ["", "## Provenance", "", f"- neuralbandits {version}", f"- report made on: {machine}",
           "- runs computed on (results can round differently on another CPU):"]
    md += [f"  - {host}: {count} runs" for host, count in hosts]
    md += [f"- generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')}", "- commands:"]
    md += [f"  - `{command}`" + (f" ({note})" if note else "") for command, note in commands]
    md += ["", "Settings chosen by the grid search (on the tuning seeds):", "", "```json",
           json.dumps(chosen, indent=2), "```"]
    body.append("<h2>Provenance</h2><ul>" + f"<li>neuralbandits {html.escape(version)}</li>"
                f"<li>report made on: {html.escape(machine)}</li>"
                + "<li>runs computed on (results can round differently on another CPU):<ul>"
                + "".join(f"<li>{html.escape(host)}: {count} runs</li>" for host, count in hosts) + "</ul></li>"
                + "<li>commands:<ul>" + "".join(f"<li><code>{html.escape(command)}</code>"
                                                + (f" ({html.escape(note)})" if note else "") + "</li>"
                                                for command, note in commands)
                + "</ul></li></ul>"
                f"<h3>Settings chosen by the grid search</h3><pre>{html.escape(json.dumps(chosen, indent=2))}</pre>")
