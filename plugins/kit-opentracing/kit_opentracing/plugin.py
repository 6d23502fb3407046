"""The kit plugin module: registers the ``opentracing`` tracer."""

from __future__ import annotations

from typing import Any

from kitcore import hookimpl
from kitcore.plugins.hookspecs import Register


def opentracing_tracing(url: str, **options: Any) -> Any:
    """Open ``opentracing``: kit's tracer contract over OpenTracing's global (or given) tracer."""
    from kit_opentracing.tracer import OpenTracing

    return OpenTracing.from_url(url, **options)


@hookimpl
def kit_register_tracing(register: Register) -> None:
    """Register ``opentracing``."""
    register("opentracing", opentracing_tracing, description="OpenTracing (Go kit's tracing)")
