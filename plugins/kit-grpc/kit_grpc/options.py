"""Server options, as Go kit's ``grpctransport.ServerOption``: all optional, all plain functions.

- ``before(metadata) -> Mapping | None``: read the incoming metadata (a tuple of
  ``(key, value)`` pairs); the values returned are bound into ``kitcore.context`` for the
  call (Go kit's ServerBefore).
- ``after(outgoing)``: add response header and trailer metadata once the endpoint has
  answered (Go kit's ServerAfter).
- ``error_handler(error)``: see every error, e.g. to log it (Go kit's ErrorHandler).
- ``finalizer(metadata, code, seconds)``: runs once per call, whatever happened, with the
  ``grpc.StatusCode`` sent (Go kit's ServerFinalizer).
- ``timeout``: the longest a call may run; caps the caller's deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

import grpc  # type: ignore[import-untyped]

Metadata: TypeAlias = Sequence[tuple[str, "str | bytes"]]
"""gRPC metadata: ``(key, value)`` pairs; keys ending in ``-bin`` have bytes values."""


@dataclass
class Outgoing:
    """The metadata a call answers with; ``after`` functions append to it."""

    header: list[tuple[str, str | bytes]] = field(default_factory=list)
    trailer: list[tuple[str, str | bytes]] = field(default_factory=list)


Before: TypeAlias = Callable[[Metadata], "Mapping[str, Any] | None"]
"""Reads the incoming metadata; returns values to bind into ``kitcore.context`` (or None)."""

After: TypeAlias = Callable[[Outgoing], None]
"""Adds header or trailer metadata to a successful answer."""

ErrorHandler: TypeAlias = Callable[[BaseException], None]
"""Sees every error (decode, endpoint, encode), e.g. to log it."""

Finalizer: TypeAlias = Callable[[Metadata, grpc.StatusCode, float], None]
"""Sees every call's final status code and duration in seconds."""


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return (value,) if callable(value) else tuple(value)


@dataclass(frozen=True)
class ServerOptions:
    """Everything configurable about how a method is served; all fields optional."""

    before: tuple[Before, ...] = ()
    after: tuple[After, ...] = ()
    error_handler: ErrorHandler | None = None
    finalizer: tuple[Finalizer, ...] = ()
    timeout: float | None = None
    """Longest a call may run, in seconds; caps the caller's deadline."""

    @classmethod
    def build(cls, **options: Any) -> ServerOptions:
        """Build options from keywords; before/after/finalizer take one function or several."""
        return cls().merge(**options)

    def merge(self, **options: Any) -> ServerOptions:
        """Return a copy with ``options`` replacing these; unknown names raise TypeError."""
        changes: dict[str, Any] = {}
        for name, value in options.items():
            if name not in self.__dataclass_fields__:
                raise TypeError(f"unknown server option {name!r}")
            if name in ("before", "after", "finalizer"):
                value = _tuple(value)
            elif name == "timeout" and value is not None and value <= 0:
                raise ValueError(f"timeout must be > 0, got {value!r}")
            changes[name] = value
        return replace(self, **changes) if changes else self

    @property
    def plain(self) -> bool:
        """True when no option reads the call, so the server takes its shortest path."""
        return not (self.before or self.after or self.finalizer or self.error_handler)
