"""Run stringsvc2: ``python -m examples.stringsvc2 --listen :8080``."""

from __future__ import annotations

import click
from kit_http import App
from kit_http.health import add_health
from kit_http.openapi import add_openapi
from kit_http.serve import run, serve

from examples.stringsvc1.service import StringService
from examples.stringsvc1.transport import Service, make_app
from examples.stringsvc2.instrumenting import string_service_metrics, wire_metrics
from examples.stringsvc2.logging_middleware import LoggingMiddleware
from kitcore.log import Logger, caller


@click.command()
@click.option("--listen", default=":8080", show_default=True, help="HTTP listen address.")
def main(listen: str) -> None:
    """Serve the string service with logging and metrics."""
    logger = Logger().with_(listen=listen, caller=caller)
    app = App()
    svc: Service = StringService()
    svc = LoggingMiddleware(logger, svc)
    server_app, svc = wire_metrics(app, svc, string_service_metrics(), logger)
    make_app(svc, app)
    add_health(add_openapi(app, title="stringsvc2"))
    run(serve(server_app, listen, started=lambda host, port: logger.log(msg="HTTP", addr=listen)))


if __name__ == "__main__":
    main()
