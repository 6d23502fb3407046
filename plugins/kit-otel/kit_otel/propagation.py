"""Propagators by name, as ``OTEL_PROPAGATORS`` names them.

``tracecontext`` (W3C traceparent/tracestate) and ``baggage`` are the default; ``b3``
(single header) and ``b3multi`` (X-B3-* headers) speak to Zipkin-era peers. Each
Tracing builds its own composite instead of touching OpenTelemetry's global one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

PROPAGATORS: dict[str, Callable[[], TextMapPropagator]] = {
    "tracecontext": TraceContextTextMapPropagator,
    "baggage": W3CBaggagePropagator,
    "b3": B3SingleFormat,
    "b3multi": B3MultiFormat,
}
"""Every propagator by its ``OTEL_PROPAGATORS`` name."""

DEFAULT = "tracecontext,baggage"
"""What ``OTEL_PROPAGATORS`` defaults to."""


def propagator(names: str | Sequence[str] | None = None) -> TextMapPropagator:
    """The composite of the named propagators (comma-separated or a list).

    None reads ``OTEL_PROPAGATORS`` (default ``tracecontext,baggage``); ``none`` means
    no propagation. An unknown name raises ValueError listing the known ones.
    """
    if names is None:
        names = os.environ.get("OTEL_PROPAGATORS") or DEFAULT
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    chosen: list[TextMapPropagator] = []
    for name in filter(None, (n.strip().lower() for n in names)):
        if name == "none":
            continue
        make = PROPAGATORS.get(name)
        if make is None:
            raise ValueError(f"unknown propagator {name!r}; known: {', '.join(PROPAGATORS)}, none")
        chosen.append(make())
    return CompositePropagator(chosen)
