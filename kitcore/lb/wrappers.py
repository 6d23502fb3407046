"""Wrappers: one stateful wrapper per endpoint of a changing source, dropped when it leaves.

Balancers and filters that learn about instances (calls in flight, latency, failures)
wrap each source endpoint once and must forget the wrappers of instances that left,
or a fleet that churns would grow their state without bound. This is that bookkeeping,
written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Generic, Protocol, TypeVar

from kitcore.endpoint import Endpoint


class Wrapper(Protocol):
    """What a wrapper exposes: the source endpoint it wraps."""

    @property
    def endpoint(self) -> Endpoint:
        """The wrapped source endpoint."""
        ...


W = TypeVar("W", bound=Wrapper)


class Wrappers(Generic[W]):
    """The wrapper of each source endpoint, made by ``wrap`` on first sight."""

    def __init__(self, wrap: Callable[[Endpoint], W]) -> None:
        self._wrap = wrap
        # Keyed by id(); each entry keeps its endpoint alive, so an id cannot be reused
        # while the entry exists, and the identity check in get() guards the rest.
        self._by_id: dict[int, W] = {}

    def get(self, endpoint: Endpoint) -> W:
        """The wrapper of ``endpoint``, made now if it is new."""
        wrapper = self._by_id.get(id(endpoint))
        if wrapper is None or wrapper.endpoint is not endpoint:
            wrapper = self._by_id[id(endpoint)] = self._wrap(endpoint)
        return wrapper

    def prune(self, endpoints: Sequence[Endpoint]) -> None:
        """Forget the wrappers of endpoints not in ``endpoints``, when there are some."""
        if len(self._by_id) <= len(endpoints):
            return
        current = {id(e): e for e in endpoints}
        self._by_id = {
            key: wrapper
            for key, wrapper in self._by_id.items()
            if current.get(key) is wrapper.endpoint
        }

    def __iter__(self) -> Iterator[W]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)
