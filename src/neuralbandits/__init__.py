"""neuralbandits: contextual bandits — neural, clustered, logistic and combinatorial."""

from neuralbandits.types import (
    Belief,
    BlockArms,
    Context,
    Feedback,
    Outcome,
    ProblemInfo,
    Selection,
)

__version__ = "0.1.0"

__all__ = [
    "Belief",
    "BlockArms",
    "Context",
    "Feedback",
    "Outcome",
    "ProblemInfo",
    "Selection",
    "__version__",
]
