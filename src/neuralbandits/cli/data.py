"""``neuralbandits data …``: prepare rating and link data for the recommendation environments.

``neuralbandits data prepare movielens --source ratings.csv --out ml.npz`` writes ``ml.npz`` and its
manifest ``ml.manifest.json``; ``recommendation:ml.npz`` then runs on it. Bad input ends with a
one-line ``error: …`` on stderr and exit code 2, before anything is written.
"""

from __future__ import annotations

import difflib
import time
import warnings
from pathlib import Path
from typing import Optional

import typer

from neuralbandits.datasets.ratings import (
    RATING_DATASETS,
    RATING_KINDS,
    find_rating_dataset,
    manifest_path,
    prepare_ratings,
    save_prepared,
)
from neuralbandits.validation import InvalidParameterError

data_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Prepare rating and link data for recommendation bandits.",
)

_NAMES = (*RATING_KINDS, *RATING_DATASETS)
_ERRORS = (InvalidParameterError, ValueError, FileNotFoundError, TypeError, OSError)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@data_app.command("prepare")
def prepare(
    name: str = typer.Argument(
        ..., help="Input format (auto, npz, movielens, csv, parquet, edges) or a shipped dataset "
        "(movielens_latest_small, facebook_ego; --source then defaults to the data folder)."
    ),
    source: Optional[Path] = typer.Option(None, help="Rating or edge file to read."),
    out: Path = typer.Option(..., help="Prepared .npz to write (its manifest goes next to it)."),
    user_col: Optional[str] = typer.Option(None, help="User column (or first endpoint of an edge)."),
    item_col: Optional[str] = typer.Option(None, help="Item column (or second endpoint of an edge)."),
    rating_col: Optional[str] = typer.Option(None, help="Rating column."),
    n_users: int = typer.Option(10000, help="Keep at most this many users (most ratings first)."),
    n_items: int = typer.Option(10000, help="Keep at most this many items (most ratings first)."),
    labels: str = typer.Option("paper", help="paper (>4 -> 1, else 0) or reference (>4 -> +1, <2 -> -1)."),
    feature_dim: int = typer.Option(10, help="Dimension of the SVD features."),
    features: str = typer.Option("svd", help="svd, or reference (9 components + constant 1, /sqrt 2)."),
    n_groups: int = typer.Option(50, help="K-means groups of users."),
    n_arms: int = typer.Option(10, help="Arms per round; groups that cannot fill a round are dropped."),
    seed: int = typer.Option(0, help="Seed of the SVD start vector and of K-means."),
    data_dir: Optional[Path] = typer.Option(None, help="Folder with the shipped datasets."),
) -> None:
    """Prepare ratings (or an edge list) into an .npz for ``recommendation:<file>``."""
    start = time.perf_counter()
    if name not in _NAMES:
        close = difflib.get_close_matches(name, _NAMES, n=2, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        _fail(f"Unknown input {name!r}; use one of {', '.join(_NAMES)}.{hint}")
    kind = name
    try:
        if name in RATING_DATASETS:
            kind = RATING_DATASETS[name][1]
            if source is None:
                source = find_rating_dataset(name, data_dir)
        if source is None:
            raise InvalidParameterError(f"--source FILE is needed to prepare {name!r} data.")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            prepared = prepare_ratings(
                source, kind=kind, user_col=user_col, item_col=item_col, rating_col=rating_col,
                n_users=n_users, n_items=n_items, labels=labels, feature_dim=feature_dim,
                features=features, n_groups=n_groups, n_arms=n_arms, seed=seed,
            )
        save_prepared(prepared, out)
    except _ERRORS as error:
        _fail(_first_line(error))
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            typer.echo(f"warning: {warning.message}", err=True)
    groups = prepared.manifest["groups"]
    typer.echo(
        f"wrote {out} and {manifest_path(out).name}: {prepared.n_users} users, {prepared.n_items} "
        f"items, {prepared.n_entries} entries, {prepared.n_groups} groups ({groups['dropped']} "
        f"dropped), d = {prepared.dim}, in {time.perf_counter() - start:.1f} s"
    )


@data_app.command("download")
def download(
    name: str = typer.Argument(..., help="A classification dataset name (see `neuralbandits list`)."),
    force: bool = typer.Option(False, help="Download again even if a cached copy exists."),
) -> None:
    """Fetch a classification dataset from its canonical public source into the cache (sha256-checked)."""
    from neuralbandits.datasets.loaders import download_dataset

    try:
        path = download_dataset(name, force=force)
    except (*_ERRORS, KeyError) as error:
        _fail(_first_line(error))
    typer.echo(f"wrote {path}")
