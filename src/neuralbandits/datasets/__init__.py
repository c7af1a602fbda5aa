"""Classification datasets as validated arrays: registry, local search and cache, download, transforms.

No bandit logic lives here; environments turn :class:`ClassificationData` into rounds.
"""

from neuralbandits.datasets.cache import resolve_data_dir
from neuralbandits.datasets.loaders import ClassificationData, DatasetNotFoundError, load
from neuralbandits.datasets.ratings import (
    PreparedRatings,
    load_or_prepare,
    load_prepared,
    prepare_ratings,
    save_prepared,
)
from neuralbandits.datasets.registry import dataset_names, describe
from neuralbandits.datasets.transforms import (
    average_pool,
    l2_normalize_rows,
    minmax_scale,
    random_category_values,
)

__all__ = [
    "ClassificationData",
    "DatasetNotFoundError",
    "PreparedRatings",
    "average_pool",
    "dataset_names",
    "describe",
    "l2_normalize_rows",
    "load",
    "load_or_prepare",
    "load_prepared",
    "prepare_ratings",
    "save_prepared",
    "minmax_scale",
    "random_category_values",
    "resolve_data_dir",
]
