"""The kit plugin module: registers kit-otel's tracing URL schemes."""

from __future__ import annotations

from typing import Any

from kitcore import hookimpl
from kitcore.plugins.hookspecs import Register


def otel_tracing(url: str, **options: Any) -> Any:
    """Open a tracing URL (``otlp://h:4317``, ``console``, ``otel``...): a ``kit_otel.Tracing``."""
    from kit_otel.tracing import Tracing

    return Tracing.from_url(url, **options)


@hookimpl
def kit_register_tracing(register: Register) -> None:
    """Register ``otel`` and the schemes ``otlp``, ``otlp+http``, ``zipkin``, ``console``."""
    from kit_otel.config import SCHEMES

    for scheme in SCHEMES:
        register(scheme, otel_tracing, description=f"OpenTelemetry tracing ({scheme})")
