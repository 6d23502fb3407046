"""The kit plugin module: registers the ``prometheus`` metrics provider."""

from __future__ import annotations

from typing import Any

from kitcore import hookimpl
from kitcore.plugins.hookspecs import Register


def prometheus_provider(url: str, **options: Any) -> Any:
    """Open ``prometheus`` or ``prometheus://?namespace=...``: a PrometheusProvider."""
    from kit_prometheus.provider import PrometheusProvider

    return PrometheusProvider.from_url(url, **options)


@hookimpl
def kit_register_metrics(register: Register) -> None:
    """Register the ``prometheus`` metrics provider."""
    register(
        "prometheus",
        prometheus_provider,
        description="Prometheus metrics via prometheus-client, with a /metrics ASGI app",
    )
