"""Run stringsvc3: ``python -m examples.stringsvc3 --listen :8080 --proxy h1:p1,h2:p2``."""

from __future__ import annotations

import click
from kit_http import App
from kit_http.health import add_health
from kit_http.openapi import add_openapi
from kit_http.serve import run, serve
from kit_otel import Tracing, correlated
from kit_prometheus import PrometheusProvider

from examples.stringsvc1.service import StringService
from examples.stringsvc1.transport import Service, make_app
from examples.stringsvc2.instrumenting import string_service_metrics, wire_metrics
from examples.stringsvc2.logging_middleware import LoggingMiddleware
from examples.stringsvc3.proxying import BreakerSettings, proxying_middleware
from kitcore.log import Logger, caller

DEFAULT_BREAKER = BreakerSettings()


@click.command()
@click.option("--listen", default=":8080", show_default=True, help="HTTP listen address.")
@click.option(
    "--proxy",
    default="",
    help="Instances to proxy uppercase to: h1:p1,h2:p2,... or a discovery URL (etcd://...).",
)
@click.option(
    "--breaker-fail-max",
    type=click.IntRange(min=1),
    default=DEFAULT_BREAKER.fail_max,
    show_default=True,
    help="Consecutive failures that open an instance's circuit.",
)
@click.option(
    "--breaker-reset",
    type=click.FloatRange(min=0),
    default=DEFAULT_BREAKER.reset_timeout,
    show_default=True,
    help="Seconds an open circuit refuses calls before a trial call.",
)
@click.option(
    "--trace",
    default="",
    help="Trace with OpenTelemetry to this URL: console, otlp://h:4317, zipkin://h:9411/...",
)
def main(listen: str, proxy: str, breaker_fail_max: int, breaker_reset: float, trace: str) -> None:
    """Serve the string service, proxying uppercase to other instances."""
    logger = Logger().with_(listen=listen, caller=caller)
    tracing = None
    if trace:
        resource = {"service.name": "stringsvc3", "service.instance.id": listen}
        tracing = Tracing.from_url(trace, resource=resource)
        logger = correlated(logger)
    metrics = string_service_metrics()
    # The breakers' kit_circuit_breaker_* metrics go into the same registry, unprefixed.
    breaker_metrics = PrometheusProvider(metrics.registry)
    breaker = BreakerSettings(fail_max=breaker_fail_max, reset_timeout=breaker_reset)
    proxying, close = proxying_middleware(proxy, logger, breaker_metrics, breaker, tracing)
    shutdown = [close] if close else []
    if tracing is None:
        app = App(on_shutdown=shutdown)
    else:
        # Closed last: spans of the requests drained before it are flushed.
        app = App(on_shutdown=[*shutdown, tracing.close], **tracing.http_server())
    svc: Service = StringService()
    svc = proxying(svc)
    svc = LoggingMiddleware(logger, svc)
    server_app, svc = wire_metrics(app, svc, metrics, logger)
    make_app(svc, app)
    add_health(add_openapi(app, title="stringsvc3"))
    run(serve(server_app, listen, started=lambda host, port: logger.log(msg="HTTP", addr=listen)))


if __name__ == "__main__":
    main()
