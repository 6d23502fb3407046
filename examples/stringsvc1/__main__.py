"""Run stringsvc1: ``python -m examples.stringsvc1 --listen :8080``."""

from __future__ import annotations

import click
from kit_http.health import add_health
from kit_http.openapi import add_openapi
from kit_http.serve import run, serve

from examples.stringsvc1.service import StringService
from examples.stringsvc1.transport import make_app
from kitcore.log import Logger


@click.command()
@click.option("--listen", default=":8080", show_default=True, help="HTTP listen address.")
def main(listen: str) -> None:
    """Serve the string service over HTTP."""
    logger = Logger()
    app = make_app(StringService())
    add_health(add_openapi(app, title="stringsvc1"))
    run(serve(app, listen, started=lambda host, port: logger.log(msg="HTTP", addr=listen)))


if __name__ == "__main__":
    main()
