"""A decorator registry: ``@policies.register("linucb")``, ``build(key, ...)``, "did you mean" errors."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class UnknownKeyError(KeyError):
    """An unknown registry key; the message lists the closest registered keys."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


class Registry(Generic[T]):
    """Maps short lowercase keys (``"neuucb-one"``) to factories of ``T``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self._summaries: dict[str, str] = {}

    def register(self, key: str, summary: str | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator adding ``factory`` under ``key``; the summary defaults to its docstring's first line."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if key in self._factories:
                raise ValueError(f"{self.kind} {key!r} is registered twice.")
            self._factories[key] = factory
            doc = (factory.__doc__ or "").strip().splitlines()
            self._summaries[key] = summary or (doc[0] if doc else "")
            return factory

        return decorator

    def get(self, key: str) -> Callable[..., T]:
        try:
            return self._factories[key]
        except KeyError:
            raise UnknownKeyError(self.unknown_message(key)) from None

    def build(self, key: str, *args: object, **kwargs: object) -> T:
        return self.get(key)(*args, **kwargs)

    def unknown_message(self, key: str) -> str:
        close = difflib.get_close_matches(key, list(self._factories), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"Unknown {self.kind} {key!r}.{hint} Known: {', '.join(sorted(self._factories))}."

    def summary(self, key: str) -> str:
        return self._summaries[key]

    def __contains__(self, key: object) -> bool:
        return key in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._factories))

    def __len__(self) -> int:
        return len(self._factories)
