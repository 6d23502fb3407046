"""Run stringsvc3: ``python -m examples.stringsvc3 --listen :8080 --proxy h1:p1,h2:p2``."""

from __future__ import annotations

import click
from kit_http import App
from kit_http.serve import run, serve

from examples.stringsvc1.service import StringService
from examples.stringsvc1.transport import Service, make_app
from examples.stringsvc2.instrumenting import wire_metrics
from examples.stringsvc2.logging_middleware import LoggingMiddleware
from examples.stringsvc3.proxying import proxying_middleware
from kitcore.log import Logger, caller


@click.command()
@click.option("--listen", default=":8080", show_default=True, help="HTTP listen address.")
@click.option("--proxy", default="", help="Instances to proxy uppercase to: h1:p1,h2:p2,...")
def main(listen: str, proxy: str) -> None:
    """Serve the string service, proxying uppercase to other instances."""
    logger = Logger().with_(listen=listen, caller=caller)
    proxying, close = proxying_middleware(proxy, logger)
    app = App(on_shutdown=[close] if close else [])
    svc: Service = StringService()
    svc = proxying(svc)
    svc = LoggingMiddleware(logger, svc)
    svc = wire_metrics(app, svc)
    make_app(svc, app)
    run(serve(app, listen, started=lambda host, port: logger.log(msg="HTTP", addr=listen)))


if __name__ == "__main__":
    main()
