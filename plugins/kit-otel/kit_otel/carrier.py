"""Trace context on any transport's metadata: a mapping of lower-case str keys to str.

HTTP headers, gRPC metadata and JSON-RPC's params all reduce to that shape, so one
getter and one setter serve every kit transport, and OpenTelemetry's propagators
(W3C, B3) read and write it unchanged. Extraction never fails: a malformed header is
ignored by the propagator and the call starts a new trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping

from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter, TextMapPropagator

_log = logging.getLogger("kit_otel")


class MetadataGetter(Getter[Mapping[str, str]]):
    """Reads a header from a mapping, trying the name as given, then in lower case."""

    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        """The header's value as a one-item list, or None when absent."""
        value = carrier.get(key)
        if value is None:
            value = carrier.get(key.lower())
        return None if value is None else [value]

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        """Every header name."""
        return list(carrier)


class MetadataSetter(Setter[MutableMapping[str, str]]):
    """Writes a header into a mutable mapping."""

    def set(self, carrier: MutableMapping[str, str], key: str, value: str) -> None:
        """Set ``key`` to ``value``."""
        carrier[key] = value


getter = MetadataGetter()
"""The getter every kit transport uses."""
setter = MetadataSetter()
"""The setter every kit transport uses."""


def extract(propagator: TextMapPropagator, metadata: Mapping[str, str] | None) -> Context | None:
    """The remote parent context in ``metadata``, or None (a new trace) when there is none.

    A propagator that raises on a malformed header is logged and treated as absent:
    tracing must never fail a request.
    """
    if not metadata:
        return None
    try:
        return propagator.extract(metadata, getter=getter)
    except Exception:
        _log.warning("ignoring malformed trace context", exc_info=True)
        return None


def inject(
    propagator: TextMapPropagator,
    metadata: MutableMapping[str, str],
    context: Context | None = None,
) -> None:
    """Write ``context`` (the current one by default) into ``metadata``."""
    propagator.inject(metadata, context, setter)
